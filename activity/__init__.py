"""The activity timeline: one newest-first history per object, service map, cluster and workspace,
merging what people did through the portal (object actions, exec sessions, releases and rollouts),
what Kubernetes reported next (events from the read model) and changes made outside the portal
(recorded from ``managedFields`` by a watcher listener), each entry only for who may see its
namespace."""
