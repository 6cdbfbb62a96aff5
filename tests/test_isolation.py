"""Workspace isolation, generated from the URL routes and the registered WebSocket group kinds.

Workspace A owns cluster X (allocated to nobody else) and the namespace ``secret-ns-a`` on X and
on the shared cluster Z, with read-model objects whose names carry :data:`MARKER`. Workspace B
owns cluster Y and a namespace on Z. Every member of B (each built-in role and a custom one) and a
user in no workspace then tries every /api/ route with A's identifiers filled in, with every
method the route declares (unsafe ones with an empty JSON body): paths that name A's objects
answer 403 or 404, lists answer without A's names, namespaces or ids, nothing answers 5xx, and the
database does not change. Each socket group kind is tried with keys that point at A.

The routes are walked, not listed: a new route (or a new path parameter) that is not in
:data:`ROUTES` fails here until someone decides how it is scoped; likewise a new group kind that
is not in :func:`group_keys`. An insider (a system admin, or A's own member) must reach every
filled path, so a wrong entry in the table cannot make a route pass by answering 404 to everyone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import models, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from builds.models import (
    BuildDefinition,
    BuildRun,
    BuildStep,
    ImageScan,
    ScanException,
    ScanPolicy,
    WebhookDelivery,
)
from builds.models import Registry as BuildRegistry
from catalog import helm
from catalog.models import (
    CatalogSource,
    ClusterIntent,
    Move,
    MoveRelease,
    Package,
    PackageVersion,
    Release,
    Revision,
    Rollout,
    RolloutTarget,
)
from clusters.models import Cluster, KubeObject, NodeOperation, ObjectAction
from monitoring import alert_actions, store
from monitoring.models import (
    Alert,
    AlertRule,
    AlertTransition,
    DeliveryAttempt,
    EventRecord,
    Notification,
    NotificationChannel,
    PriceSheet,
    Silence,
)
from monitoring.samples import SeriesKey
from portal import access as portal_access
from portal.events import can_subscribe, group_kinds
from portal.models import ApiToken, AuditRecord, TableView, User
from portal.testing import api_request as request
from provisioning.models import ClusterTemplate, ManagementCluster, ProvisionedCluster, ProvisioningOperation
from workspaces.models import ClusterAllocation, Membership, RegistryAllocation, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db

MARKER = "leakmarker"
SECRET_NS = "secret-ns-a"
# Every object of workspace A gets an id from this range, so an id of A's in any response is
# recognisable whatever table the row comes from (the sequences of a test database never get here).
A_BASE = 7_340_000
# The digest of an image in A's build repository, which A's scan is of.
A_DIGEST = "sha256:" + "a1" * 32

FORBIDDEN = frozenset({403, 404})
UNSAFE = ("post", "put", "patch", "delete")


# ---------------------------------------------------------------------------- the isolation table


@dataclass(frozen=True)
class Route:
    """How one route is scoped: keyed by URL name (``workspace-quota-overview``), else by the
    viewset's basename (``workspace``: list, detail and the actions without an entry of their own),
    else by the view's dotted name.

    ``pk`` / ``name`` say which of A's objects those path parameters name (keys of
    :attr:`World.pks` / :attr:`World.names`). A route that is not ``public`` and has path
    parameters is about A's objects: a foreign user gets 403 or 404 for every method. Routes
    without path parameters (top-level lists) and public routes answer ``expect[method]`` (default
    GET 200, anything else 403), and never show A's data.
    """

    why: str
    pk: str | None = None
    name: str | None = None
    public: bool = False
    expect: dict[str, frozenset[int]] = field(default_factory=dict)
    queries: tuple[str, ...] = ("",)
    insider: str = "admin"  # who must reach the filled path ("admin", "a_dev", or "" for nobody)
    insider_status: frozenset[int] = frozenset({200})
    insider_sees_a: bool = True  # the insider's answer must show something of A (the fill is right)
    path: str | None = None  # a concrete path, for routes whose pattern is not one (the catch-all)
    accept: str = "application/json"


NS_QUERIES = ("", f"?namespace={SECRET_NS}")
S200 = frozenset({200})
S400 = frozenset({400})
S403 = frozenset({403})
S404 = frozenset({404})
S405 = frozenset({405})

ROUTES: dict[str, Route] = {
    # clusters: X is A's alone, Z is shared (B sees it, but not A's namespace there)
    "cluster": Route("clusters allocated to the caller's workspaces", pk="cluster",
                     queries=("", f"?q={MARKER}", "?ordering=-name")),
    "cluster-node": Route("nodes: operators only", name="node"),
    "cluster-node-drain-preview": Route("drain preview: operators only; it lists the node's pods live, which the "
                                        "dummy server never answers (502/503)", name="node",
                                        insider_status=frozenset({502, 503}), insider_sees_a=False),
    "cluster-namespace": Route("namespaces of the caller's service maps", queries=("", f"?q={SECRET_NS}")),
    "cluster-workload": Route("namespaced read model", queries=(*NS_QUERIES, f"?q={MARKER}", "?top_level=true",
                                                                 f"?top_level=false&namespace={SECRET_NS}")),
    "cluster-pod": Route("namespaced read model", queries=(*NS_QUERIES, f"?name_prefix={MARKER}")),
    "cluster-pod-detail": Route("one pod; the live fetch fails on the dummy server (502/503)", name="pod",
                                insider_status=frozenset({200, 502, 503}), insider_sees_a=False),
    "cluster-pod-log": Route("a container's log: the namespace scope and pods.logs first, then asked live (the "
                             "dummy server never answers: 502/503)", name="pod",
                             insider_status=frozenset({502, 503}), insider_sees_a=False),
    "cluster-service": Route("namespaced read model", queries=NS_QUERIES),
    "cluster-ingress": Route("namespaced read model", queries=NS_QUERIES),
    "cluster-volume": Route("persistent volumes: operators only", queries=NS_QUERIES),
    "cluster-claim": Route("namespaced read model", queries=NS_QUERIES),
    "cluster-storageclass": Route("storage classes of visible clusters", queries=NS_QUERIES),
    "cluster-quota": Route("namespaced read model (our portal-quota)", queries=NS_QUERIES),
    "cluster-hpa": Route("namespaced read model", queries=NS_QUERIES),
    "cluster-event": Route("namespaced read model", queries=(*NS_QUERIES, f"?involved_name={MARKER}-pod")),
    "cluster-operation": Route("node operations: operators only", pk="operation"),
    # the activity timeline: a scope the caller may not see answers 404; A's ids in every scope parameter
    "activity-timeline": Route("the timeline of a cluster, namespace, object, service map or workspace the caller "
                               "sees", expect={"get": S404}, queries=(
                                   f"?cluster={A_BASE + 31}", f"?cluster={A_BASE + 31}&namespace={SECRET_NS}",
                                   f"?cluster={A_BASE + 31}&namespace={SECRET_NS}&kind=Pod&name={MARKER}-pod",
                                   f"?service_map={A_BASE + 61}", f"?workspace={A_BASE + 1}")),
    "activity-diff": Route("the diff of a timeline entry in a namespace the caller sees"),
    # the generic resource browser: discovery and non-read-model kinds ask the cluster, which the
    # dummy server never answers (503); read-model kinds (pods) come from the read model
    "cluster-resource-kinds": Route("kinds the cluster serves (asked live; the read model's when it does not "
                                    "answer)", insider_sees_a=False),
    "cluster-resource-list": Route("a page of a kind, scoped to the caller's namespaces (pods: read model)",
                                   queries=("", f"?namespace={SECRET_NS}", f"?labelSelector=team={MARKER}")),
    "cluster-resource-detail": Route("one object, asked live after the namespace scope", name="pod",
                                     queries=(f"?namespace={SECRET_NS}",), insider_status=frozenset({502, 503}),
                                     insider_sees_a=False),
    # workload actions on one object (clusters/api/workload_actions.py), filled with a pod of A's namespace: the
    # object grant in that namespace is checked before the kind (a pod takes none of them: 400 to those who may act)
    **{f"cluster-object-{verb}": Route(f"{verb} one object: the object grant in its namespace first", name="pod",
                                       queries=(f"?namespace={SECRET_NS}",))
       for verb in ("scale", "restart", "pause", "resume", "rollback", "delete")},
    "cluster-object-revisions": Route("revisions of a workload, asked live after the namespace scope (a pod has "
                                      "none: 400)", name="pod", queries=(f"?namespace={SECRET_NS}",),
                                      insider_status=S400, insider_sees_a=False),
    "cluster-object-dependents": Route("what an object owns, from the read model after the namespace scope",
                                       name="pod", queries=(f"?namespace={SECRET_NS}",), insider_sees_a=False),
    # editing and creating objects from YAML (clusters/api/objects.py), filled with a pod of A's namespace: the
    # namespace's visibility and the object grant come before the body is read; the live read fails on the dummy
    # server (502/503) for the insider
    "cluster-object": Route("one object for the YAML editor, asked live after the namespace scope", name="pod",
                            queries=(f"?namespace={SECRET_NS}",), insider_status=frozenset({502, 503}),
                            insider_sees_a=False),
    "cluster-object-preview": Route("a dry run of an edit: the namespace scope and objects.edit first", name="pod"),
    "cluster-object-apply": Route("apply an edit: the namespace scope and objects.edit first", name="pod"),
    "cluster-objects-preview": Route("a dry run of a create: objects.edit in ?namespace= (none: operators) first"),
    "cluster-objects-create": Route("create from YAML: objects.edit in ?namespace= (none: operators) first"),
    "cluster-action-list": Route("object actions in the caller's namespaces (and their own)",
                                 queries=("", f"?namespace={SECRET_NS}", f"?name={MARKER}-web")),
    "cluster-action-detail": Route("an object action in a namespace the caller sees (or their own)",
                                   pk="objectaction"),
    "cluster-search": Route("search over visible namespaces", queries=(
        f"?q={MARKER}", f"?q={MARKER}&namespace={SECRET_NS}", f"?label_selector=team={MARKER}",
        f"?q={MARKER}&kind=pods,workloads,services")),
    # workspaces
    "workspace": Route("workspaces the caller is a member of", pk="workspace",
                       queries=("", f"?q={MARKER}", "?ordering=-created")),
    "workspace-quota-overview": Route("quota use of every workspace: operators and admins only",
                                      expect={"get": S403}),
    "workspace-member": Route("members of a visible workspace", pk="member"),
    "workspace-allocation": Route("allocations of a visible workspace", pk="allocation"),
    "workspace-registry": Route("registries of a visible workspace", pk="registry"),
    "workspace-servicemap": Route("service maps of a visible workspace", pk="servicemap"),
    "servicemap-all": Route("service maps of the caller's workspaces", queries=(
        "", f"?workspace={A_BASE + 1}", f"?cluster={A_BASE + 31}", f"?q={SECRET_NS}", f"?q={MARKER}",
        "?ordering=cluster", "?ordering=-status", "?ordering=-created")),
    # catalog: releases and rollouts of visible workspaces
    "catalog-release": Route("releases of the caller's workspaces", pk="release",
                             queries=("", f"?workspace={A_BASE + 1}", f"?service_map={A_BASE + 61}", f"?q={MARKER}",
                                      "?status=deployed", "?ordering=-status", "?ordering=updated"),
                             expect={"get": S200, "post": S400}),
    "catalog-release-plan": Route("plans a deploy into a visible service map (an empty body is invalid)",
                                  expect={"post": S400}),
    "catalog-release-revision": Route("a revision of a visible release", pk="release"),
    "catalog-release-diff": Route("revision diff of a visible release", pk="release", queries=("?from=1&to=1",),
                                  insider_sees_a=False),
    "catalog-release-drift": Route("drift of a visible release (202: a task asks the cluster)", pk="release",
                                   insider_status=frozenset({202}), insider_sees_a=False),
    "catalog-intent": Route("a cluster intent (config change, plan, drift): only who asked reads it back",
                            pk="intent"),
    "catalog-release-promote": Route("promotes a blue/green or canary upgrade of a visible release", pk="release"),
    "catalog-release-confirm": Route("confirms a blue/green promote of a visible release", pk="release"),
    "catalog-release-abort": Route("aborts a blue/green or canary upgrade of a visible release", pk="release"),
    "catalog-release-pods": Route("old, new and canary pods of a visible release (read model)", pk="release",
                                  insider_sees_a=False),
    "catalog-rollout": Route("rollouts of the caller's workspaces", pk="rollout",
                             queries=("", f"?workspace={A_BASE + 1}"), expect={"get": S200, "post": S400}),
    # moves of service maps (issue 17): a move is its workspace's (B shares Z, where A's move went, and sees nothing)
    "catalog-move": Route("moves of the caller's workspaces (an empty body is invalid)", pk="move",
                          queries=("", f"?workspace={A_BASE + 1}", f"?service_map={A_BASE + 61}",
                                   f"?service_map={A_BASE + 62}", "?ordering=created"),
                          expect={"get": S200, "post": S400}),
    "catalog-move-plan": Route("plans a move of a visible service map (an empty body is invalid)",
                               expect={"post": S400}),
    "catalog-move-retire-source": Route("retires the source of a visible move (servicemaps.manage)", pk="move"),
    # provisioning (issue 17): for those who read the whole fleet only; no workspace member (A's own included) gets
    # a row, so everything here is 404 to B's members and the loner (provisioning.access); the fill is X's
    # provisioned cluster (its pool named with the marker)
    "provisioning-management": Route("management clusters (admins, operators, auditors read; admins mark, check and "
                                     "unmark them)", pk="managementcluster", expect={"get": S200, "post": S403}),
    "provisioning-template": Route("cluster templates (admins, operators, auditors read and render; admins change "
                                   "them)", pk="clustertemplate", queries=("", "?provider=sandbox", "?archived=false"),
                                   expect={"get": S200, "post": S403}),
    "provisioning-cluster": Route("provisioned clusters (admins, operators, auditors read; admins create, plan and "
                                  "delete)", pk="provisionedcluster",
                                  queries=("", f"?cluster={A_BASE + 31}", f"?management={A_BASE + 132}",
                                           "?phase=updating", "?phase=deleted"),
                                  expect={"get": S200, "post": S403}),
    "provisioning-pools": Route("node pools of a provisioned cluster (admins, operators, auditors; adding: operators)",
                                pk="provisionedcluster"),
    "provisioning-pool": Route("scales, resizes or deletes a node pool (operators and admins)",
                               pk="provisionedcluster"),
    "provisioning-upgrade": Route("upgrades a provisioned cluster (operators and admins)", pk="provisionedcluster"),
    "provisioning-operations": Route("the operations of a provisioned cluster (admins, operators, auditors)",
                                     pk="provisionedcluster", queries=("", "?ordering=created")),
    # catalog: config maps, secrets and autoscalers of a visible service map (they ask the cluster,
    # which the dummy server never answers: the insider gets 502/503 after passing the scope)
    "catalog-config-list": Route("configs of a visible service map",
                                 insider_status=frozenset({502, 503}), insider_sees_a=False),
    "catalog-config-detail": Route("one config of a visible service map", name="config",
                                   insider_status=frozenset({502, 503}), insider_sees_a=False),
    "catalog-config-versions": Route("saved versions of a config of a visible service map", name="config",
                                     insider_status=S200, insider_sees_a=False),
    "catalog-save-servicemap": Route("saves a visible service map as a package", insider=""),
    "catalog-autoscaler": Route("the autoscaler of a workload of a visible service map", name="config",
                                insider="", insider_sees_a=False),
    # catalog: sources and packages. Shared ones are global; a workspace's are its own.
    "catalog-source": Route("shared sources and those of the caller's workspaces (an empty body is invalid)",
                            pk="source", queries=("", f"?workspace={A_BASE + 1}", "?workspace=shared", "?kind=upload"),
                            expect={"get": S200, "post": S400}),
    "catalog-package": Route("packages of shared sources and of the caller's workspaces' sources", pk="package",
                             queries=("", f"?q={MARKER}", f"?workspace={A_BASE + 1}", f"?source={A_BASE + 91}",
                                      "?scope=mine")),
    "catalog-version": Route("versions of visible packages (render: a visible version only)", pk="version"),
    "catalog-hook": Route("repository webhooks: the token is the credential, an unknown one is 404", public=True,
                          expect={"post": S404}, insider=""),
    "workspace-role": Route("roles are global: every signed-in user reads them, admins change them",
                            pk="role", public=True,
                            expect={"get": S200, "post": S403, "patch": S403, "delete": S403}),
    # portal core
    "apitoken": Route("the caller's own tokens; another user's token is 404", pk="token",
                      expect={"get": S200, "post": S400}, insider="a_dev"),
    "auditrecord": Route("the audit log: system admins only", pk="audit", public=True,
                         expect={"get": S403}),
    "auditrecord-export": Route("the audit log as CSV: system admins only, whatever the filters", public=True,
                                expect={"get": S403}, accept="text/csv", queries=(
                                    "", f"?workspace={A_BASE + 1}", f"?workspace={MARKER}-a",
                                    f"?cluster={A_BASE + 31}", f"?target={MARKER}", "?action=workspace.*")),
    # issue 20: saved column sets are each user's own (not a workspace's): another user's id is 404, lists
    # answer the caller's own only
    "table-views": Route("the caller's own column sets of a table (an empty body is invalid)",
                         queries=("?table=clusters", f"?table={MARKER}", "?table=cluster.pods", ""),
                         expect={"get": frozenset({200, 400}), "post": S400}, insider="a_dev"),
    "table-view": Route("one of the caller's own column sets; another user's is 404", pk="tableview",
                        insider="a_dev"),
    "admin-settings": Route("the effective configuration: system admins only", public=True, expect={"get": S403}),
    "dashboard": Route("the caller's role dashboards: a member's tiles show their own workspaces only (the fleet "
                       "tiles are for admins and operators)", insider="a_dev"),
    "user": Route("accounts: system admins only", pk="user", public=True,
                  expect={"get": S403, "post": S403, "put": S403, "patch": S403}),
    # single sign-on: providers and mappings are global and for system admins only
    "identity-provider": Route("identity providers: system admins only", pk="provider", public=True,
                               expect={"get": S403, "post": S403, "patch": S403, "delete": S403}),
    "identity-mapping": Route("group mappings: system admins only", pk="mapping", public=True,
                              expect={"get": S403, "post": S403, "patch": S403, "delete": S403}),
    "identity-link": Route("identity links: system admins move them to another user or remove them", pk="identity",
                           public=True, expect={"post": S403}, insider=""),
    "auth-providers": Route("the enabled identity providers the login page offers (public)", public=True),
    "identity-oidc-start": Route("starts an OIDC sign-in (public; always a redirect, to the provider or back to "
                                 "the login page with an error code)", name="idp", public=True,
                                 expect={"get": frozenset({302})}, insider=""),
    "identity-oidc-callback": Route("the OIDC provider's redirect back (public; without a started sign-in it "
                                    "redirects to the login page with an error code)", name="idp", public=True,
                                    expect={"get": frozenset({302})}, insider=""),
    "identity-ldap-login": Route("LDAP sign-in form (public; an empty body is invalid, a provider of another "
                                 "kind is not found)", name="idp", public=True,
                                 expect={"post": frozenset({400, 404})}, insider=""),
    "auth-csrf": Route("the caller's CSRF token", public=True),
    "auth-login": Route("the login form (an empty body is invalid)", public=True, expect={"post": S400}),
    "auth-logout": Route("ends the caller's own session", public=True, expect={"post": frozenset({204})}),
    "auth-me": Route("the caller's own account", public=True),
    "auth-password": Route("the caller's own password (an empty body is invalid)", public=True,
                           expect={"post": S400}),
    # builds (issue 13): registries are seen where a workspace holds an allocation; definitions, runs and the
    # scan policy are their workspace's; webhooks are public (the signature over the body is the credential)
    "builds-registry": Route("registries where the caller's workspaces hold an allocation (admins manage them)",
                             pk="buildregistry", expect={"get": S200, "post": S403}),
    "builds-registry-allocations": Route("allocates a prefix of a visible registry (admins only)",
                                         pk="buildregistry"),
    "builds-registry-remove-allocation": Route("removes an allocation of a visible registry (admins only)",
                                               pk="buildregistry"),
    "builds-registry-check": Route("queues a check of a visible registry (admins only)", pk="buildregistry"),
    "builds-registry-repositories": Route("repositories under the caller's prefixes of a visible registry, read "
                                          "live (registry.example.com never answers: 502/503)", pk="buildregistry",
                                          insider_status=frozenset({502, 503}), insider_sees_a=False),
    "builds-registry-tags": Route("tags of a repository under the caller's prefixes, read live (without "
                                  "?repository=: 400)", pk="buildregistry",
                                  queries=("", f"?repository={MARKER}-a/shop"), insider_status=S400,
                                  insider_sees_a=False),
    "builds-presets": Route("the fixed list of language presets: nothing of a workspace", insider_sees_a=False),
    "builds-definition": Route("build definitions of the caller's workspaces (an empty body is invalid)",
                               pk="builddefinition",
                               queries=("", f"?workspace={A_BASE + 1}", f"?q={MARKER}", "?ordering=-updated",
                                        "?status=queued", "?status=never"),
                               expect={"get": S200, "post": S400}),
    "builds-definition-run": Route("starts a build of a visible definition (202 with the queued run)",
                                   pk="builddefinition"),
    "builds-definition-webhook-secret": Route("rotates the webhook secret of a visible definition",
                                              pk="builddefinition"),
    "builds-run": Route("build runs of the caller's workspaces (cancel/rebuild need builds.run)", pk="buildrun",
                        queries=("", f"?workspace={A_BASE + 1}", f"?definition={A_BASE + 98}", "?status=queued")),
    "builds-run-log": Route("a step's kept log of a visible run", pk="buildrun"),
    "builds-run-cancel": Route("cancels a visible run", pk="buildrun"),
    "builds-run-rebuild": Route("rebuilds a visible run", pk="buildrun"),
    "builds-webhook": Route("git webhooks: the signature over the body is the credential; unsigned is 401 "
                            "whatever the definition (no oracle)", public=True, expect={"post": frozenset({401})},
                            insider=""),
    "builds-scan-policy": Route("the scan policy of a visible workspace (members read, managers change)"),
    "builds-scan-exceptions": Route("adds an exception to the scan policy of a visible workspace"),
    "builds-scan-exception": Route("removes an exception of a visible workspace's scan policy", pk="scanexception"),
    "builds-scan": Route("one image's scan, for whoever sees its repository (404 otherwise; without the query: 400)",
                         queries=(f"?registry={A_BASE + 52}&repository={MARKER}-a/shop&digest={A_DIGEST}", ""),
                         expect={"get": frozenset({400, 404})}),
    "builds-deploy-image": Route("deploys an image to a visible release (an empty body is invalid)",
                                 expect={"post": S400}),
    # monitoring (issue 14): infrastructure figures (the fleet, a cluster, a node) for those who read every cluster;
    # a workspace's, service map's, workload's or pod's for the members holding the namespace; alerts, rules,
    # silences, channels and notifications of the caller's workspaces; price sheets are global (no secret in them).
    # The scope parameters naming A's objects that answer 404 are in test_monitoring_scopes_of_workspace_a_are_not_found.
    "monitoring-charts": Route("charts: the fleet, a cluster and a node for those who read every cluster; a workspace, "
                               "service map, workload, pod or container for members holding the namespace (404)",
                               expect={"get": S404}, insider_sees_a=False, queries=(
                                   f"?level=cluster&cluster={A_BASE + 31}", "?level=fleet",
                                   f"?level=node&cluster={A_BASE + 31}&node={MARKER}-node-x",
                                   f"?level=workspace&workspace={A_BASE + 1}",
                                   f"?level=servicemap&service_map={A_BASE + 61}",
                                   f"?level=workload&cluster={A_BASE + 31}&namespace={SECRET_NS}"
                                   f"&workload_kind=Deployment&workload_name={MARKER}-web",
                                   f"?level=pod&cluster={A_BASE + 31}&namespace={SECRET_NS}&pod={MARKER}-pod",
                                   f"?level=container&cluster={A_BASE + 31}&namespace={SECRET_NS}&pod={MARKER}-pod"
                                   "&container=app")),
    "monitoring-top": Route("top lists of a workspace or service map the caller sees (nodes and clusters: those who "
                            "read every cluster); 404 otherwise", expect={"get": S404}, queries=(
                                f"?what=busiest_pods&workspace={A_BASE + 1}",
                                f"?what=pods_near_limit&service_map={A_BASE + 61}",
                                f"?what=busiest_pods&cluster={A_BASE + 31}", f"?what=nodes_fullest&cluster={A_BASE + 31}")),
    "monitoring-alert": Route("alerts of the caller's workspaces and service maps (infrastructure alerts: those who "
                              "read every cluster); acknowledge and resolve a visible one", pk="alert", queries=(
                                  "", f"?workspace={A_BASE + 1}", f"?cluster={A_BASE + 31}",
                                  f"?service_map={A_BASE + 61}", "?open=true", "?state=firing", "?ordering=-severity")),
    "monitoring-alert-rule": Route("alert rules of the caller's workspaces and service maps (an empty body is invalid)",
                                   pk="alertrule", queries=("", f"?workspace={A_BASE + 1}", f"?cluster={A_BASE + 31}",
                                                            "?builtin=false"),
                                   expect={"get": S200, "post": S400}),
    "monitoring-silence": Route("silences of the caller's workspaces and service maps (an empty body is invalid)",
                                pk="silence", queries=("", f"?workspace={A_BASE + 1}", f"?cluster={A_BASE + 31}",
                                                       "?active=true"),
                                expect={"get": S200, "post": S400}),
    "monitoring-channel": Route("notification channels of the caller's workspaces (a body without a workspace is a "
                                "global channel: admins only)", pk="channel",
                                queries=("", f"?workspace={A_BASE + 1}", "?kind=email"),
                                expect={"get": S200, "post": S403}),
    "monitoring-notification": Route("deliveries of alerts and to channels the caller sees", pk="notification",
                                     queries=("", "?state=delivered")),
    "monitoring-metering": Route("metering rows of the caller's workspaces (idle capacity: those who read every "
                                 "cluster)", queries=("", "?group=servicemap", "?group=workload", "?group=cluster",
                                                      f"?cluster={A_BASE + 31}", "?format=csv")),
    "monitoring-events": Route("kept events of the caller's service maps' namespaces (cluster-scoped ones: those who "
                               "read every cluster)", queries=(
                                   "", f"?cluster={A_BASE + 31}", f"?namespace={SECRET_NS}",
                                   f"?object_name={MARKER}-pod", "?type=Warning", "?ordering=-warning")),
    "monitoring-prices": Route("price sheets are global: every signed-in user reads them, admins change them",
                               pk="pricesheet", public=True,
                               expect={"get": S200, "post": S403, "patch": S403, "delete": S403}),
    "schema": Route("the OpenAPI document: static", public=True),
    "swagger-ui": Route("the API docs page: static", public=True, accept="text/html"),
    "portal.spa.api_not_found": Route("unknown API paths", public=True, path="/api/no-such-endpoint/",
                                      expect={"get": S404}, insider_status=S404),
}

# URL names whose answer to an insider legitimately shows nothing of A (so the check that the
# table's fill reached A's objects looks at the status only).
INSIDER_SEES_NOTHING_OF_A = {
    "workspace-member-candidates": "users who are not yet members of A",
}

# Path parameters the table knows how to fill; "pk" and "name" come from the route's entry.
KNOWN_GROUPS = {"token", "cluster_id", "workspace_id", "namespace", "pk", "name", "format", "number", "servicemap_id",
                "kind", "group", "version", "plural", "intent_id", "entry_id", "allocation_id", "definition_id",
                "step", "pool"}


# ---------------------------------------------------------------------------- the world


@dataclass
class World:
    a: Workspace
    b: Workspace
    x: Cluster  # A's alone
    y: Cluster  # B's alone
    z: Cluster  # shared: A's secret-ns-a and B's ns-b-z
    a_dev: User
    admin: User
    foreign: dict[str, User]
    pks: dict[str, dict[int, int]]  # what -> cluster id (0 for none) -> pk of A's object
    names: dict[str, dict[int, str]]  # what -> cluster id (0 for any) -> name of A's object
    a_ids: set[int]


def _a_id(n: int) -> int:
    return A_BASE + n


def _obj(cluster: Cluster, kind: str, name: str, namespace: str = "", pk: int | None = None,
         **fields: Any) -> KubeObject:
    return KubeObject.objects.create(id=pk, cluster=cluster, kind=kind, name=name, namespace=namespace,
                                     uid=f"uid-{cluster.pk}-{kind}-{namespace}-{name}", resource_version="1",
                                     created=timezone.now(), **fields)


def _read_model(cluster: Cluster, namespace: str, prefix: str, node: str) -> None:
    """One object of each kind the inventory lists, in ``namespace`` (and cluster-scoped)."""
    _obj(cluster, "Namespace", namespace, phase="Active", labels={"portal.cluster-portal.io/workspace": prefix})
    labels = {"team": prefix, "app": f"{prefix}-web"}
    _obj(cluster, "Pod", f"{prefix}-pod", namespace, node_name=node, phase="Running", labels=labels,
         data={"restarts": 0, "status_text": "Running", "requests": {"cpu": 0.1, "memory": 2**20},
               "containers": [{"name": "app", "image": f"registry.example.com/{prefix}/web:1"}]})
    _obj(cluster, "Deployment", f"{prefix}-web", namespace, phase="Available", labels=labels,
         data={"replicas": 1, "ready_replicas": 1, "images": [f"registry.example.com/{prefix}/web:1"]})
    _obj(cluster, "Service", f"{prefix}-svc", namespace, labels=labels, data={"type": "ClusterIP"})
    _obj(cluster, "Ingress", f"{prefix}-ing", namespace,
         data={"rules": [{"host": f"{prefix}.example.com", "paths": []}]})
    _obj(cluster, "PersistentVolumeClaim", f"{prefix}-data", namespace, phase="Bound",
         data={"storage_class": "standard", "volume_name": f"{prefix}-pv"})
    _obj(cluster, "HorizontalPodAutoscaler", f"{prefix}-hpa", namespace,
         data={"target": {"kind": "Deployment", "name": f"{prefix}-web"}})
    _obj(cluster, "ResourceQuota", "portal-quota", namespace,
         data={"hard": {"requests.cpu": "2"}, "used": {"requests.cpu": "100m"}})
    _obj(cluster, "Event", f"{prefix}-pod.1", namespace, phase="Warning",
         data={"type": "Warning", "reason": "BackOff", "message": f"Back-off restarting {prefix}-pod",
               "involved": {"kind": "Pod", "name": f"{prefix}-pod", "namespace": namespace},
               "last_seen": timezone.now().isoformat()})


def _cluster_scoped(cluster: Cluster, node: str, pv: str, storage_class: str) -> None:
    _obj(cluster, "Node", node, phase="Ready", data={"ready": True, "roles": ["worker"]})
    _obj(cluster, "PersistentVolume", pv, phase="Bound", data={"claim": f"{SECRET_NS}/{MARKER}-data"})
    _obj(cluster, "StorageClass", storage_class, data={"provisioner": "example.com/disk"})


def _user(username: str, pk: int | None = None, role: str = "user") -> User:
    # No password: nobody logs in (clients are force-authenticated), and hashing is slow.
    return User.objects.create_user(id=pk, username=username, password=None, email=f"{username}@example.com",
                                    role=role)


def _provisioning_of_a(x: Cluster, admin: User) -> dict[str, int]:
    """Provisioning (issue 17), ids from ``A_BASE + 131``: X was provisioned by the portal. A management cluster
    (a fleet cluster allocated to nobody), a cluster template, the provisioned cluster whose registered cluster is
    X (its pools and machines named with the marker), a running scale operation of it, and a deleted provisioned
    cluster kept for its history. Made directly (no task, no Cluster API): nothing is applied. Workspace members,
    A's own included, never see these rows (provisioning.access: those who read the whole fleet only)."""
    now = timezone.now()
    host = Cluster.objects.create(id=_a_id(131), name=f"{MARKER}-mgmt", display_name=f"{MARKER} management",
                                  server="https://127.0.0.1:9", status="connected")
    management = ManagementCluster.objects.create(
        id=_a_id(132), cluster=host, namespace=f"{MARKER}-capi", status="ready",
        capi_versions={"cluster.x-k8s.io": ["v1beta1"]}, control_plane_providers=["kubeadm"],
        infrastructure_providers=["sandbox"], message=f"{MARKER}: Cluster API v1beta1", checked=now,
        created_by=admin)
    template = ClusterTemplate.objects.create(
        id=_a_id(133), name=f"{MARKER}-tpl", provider="sandbox", display_name=f"{MARKER} template",
        description=f"{MARKER} small clusters", files={"Chart.yaml": f"name: {MARKER}-tpl\nversion: 1.0.0\n",
                                                      "values.yaml": "workers: 1\n"}, created_by=admin)
    pool = {"name": f"{MARKER}-md-0", "replicas": 2, "ready": 1, "machines": [
        {"name": f"{MARKER}-md-0-abcde", "phase": "Running", "node": f"{MARKER}-node-x"}]}
    provisioned = ProvisionedCluster.objects.create(
        id=_a_id(134), name=f"{MARKER}-prov", display_name=f"{MARKER} provisioned", management=management,
        namespace=f"{MARKER}-capi", template=template, parameters={"workers": 2}, labels={"team": MARKER},
        kubernetes_version="v1.30.4", manifest=f"kind: Cluster\nmetadata: {{name: {MARKER}-prov}}\n",
        applied_objects=[{"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster", "name": f"{MARKER}-prov"}],
        phase="updating", progress={"exists": True, "pools": [pool]}, message=f"{MARKER}: scaling", cluster=x,
        followed=now, created_by=admin)
    operation = ProvisioningOperation.objects.create(
        id=_a_id(135), provisioned=provisioned, kind="scale_pool", spec={"pool": f"{MARKER}-md-0", "replicas": 2},
        status="running", message=f"{MARKER}: 1 of 2 machines", started=now, created_by=admin)
    gone = ProvisionedCluster.objects.create(
        id=_a_id(136), name=f"{MARKER}-gone", management=management, namespace=f"{MARKER}-capi", template=template,
        phase="deleted", deleted=now, created_by=admin)
    return {"managementcluster": management.pk, "clustertemplate": template.pk, "provisionedcluster": provisioned.pk,
            "provisioningoperation": operation.pk, "provisionedgone": gone.pk, "managementhost": host.pk}


def _monitoring_of_a(a: Workspace, x: Cluster, z: Cluster, sm_x: ServiceMap, sm_z: ServiceMap,
                     a_dev: User) -> dict[str, int]:
    """A's monitoring (issue 14), ids from ``A_BASE + 110``: a custom rule, a firing alert of it on A's pod on X and
    one on Z, an infrastructure alert about X's node (no workspace), a silence, an e-mail channel with a delivered
    notification, kept events of A's namespace on X and Z and of Z's node, a provider price sheet (global: not
    A's, an ordinary id), and
    fresh samples of A's pod, workload and namespace on X and Z and of X's node and X itself."""
    alert_actions.ensure_builtin_rules()  # the rules list makes them on first read: not a foreign user's write
    now = timezone.now()
    rule = AlertRule.objects.create(id=_a_id(110), name=f"{MARKER}-rule", description=f"{MARKER} cpu",
                                    metric="cpu_usage", aggregation="avg", operator=">", threshold=1.0,
                                    params={"level": "pod"}, workspace=a, service_map=sm_x, created_by=a_dev)
    alerts = []
    for n, (cluster, sm, kind, name) in enumerate(((x, sm_x, "Pod", f"{MARKER}-pod"), (z, sm_z, "Pod", f"{MARKER}-pod"),
                                                    (x, None, "Node", f"{MARKER}-node-x")), start=111):
        alert = Alert.objects.create(
            id=_a_id(n), rule=rule if sm else AlertRule.objects.get(builtin="node_not_ready"),
            fingerprint=f"{_a_id(n):064x}", state="firing", severity="warning", cluster=cluster,
            workspace=a if sm else None, service_map=sm, namespace=SECRET_NS if sm else "", subject_kind=kind,
            subject_name=name, labels={"name": name}, value=2.0, message=f"{MARKER}: {kind} {name} is hot",
            started_at=now, fired_at=now, last_seen_at=now)
        AlertTransition.objects.create(alert=alert, from_state="", to_state="firing", at=now, note=MARKER)
        alerts.append(alert)
    silence = Silence.objects.create(id=_a_id(114), workspace=a, service_map=sm_x, fingerprint=alerts[0].fingerprint,
                                     reason=f"{MARKER} maintenance", starts_at=now, ends_at=now + timedelta(days=1),
                                     created_by=a_dev)
    channel = NotificationChannel.objects.create(id=_a_id(115), name=f"{MARKER}-channel", kind="email", workspace=a,
                                                 recipients=[f"{MARKER}@example.com"], created_by=a_dev)
    notification = Notification.objects.create(
        id=_a_id(116), alert=alerts[0], channel=channel, event="firing", state="delivered", attempts=1,
        idempotency_key=f"alert:{alerts[0].pk}:firing:1:channel:{channel.pk}", next_attempt_at=now, delivered_at=now)
    DeliveryAttempt.objects.create(notification=notification, at=now, ok=True, status_code=250,
                                   error=f"{MARKER} accepted")
    for n, (cluster, namespace, kind, name) in enumerate(((x, SECRET_NS, "Pod", f"{MARKER}-pod"),
                                                          (z, SECRET_NS, "Pod", f"{MARKER}-pod"),
                                                          (z, "default", "Node", "shared-node-z")), start=117):
        EventRecord.objects.create(id=_a_id(n), cluster=cluster, uid=f"{MARKER}-event-{n}", namespace=namespace,
                                   type="Warning", reason="BackOff", message=f"{MARKER}: {kind} {name} backs off",
                                   object_kind=kind, object_name=name, last_seen=now)
    price = PriceSheet.objects.create(name="iso-onprem", provider="onprem", currency="KRW",
                                      cpu_core_hour="45.5", memory_gib_hour="6.2", effective_from=now.date())
    ts = store.align(now - timedelta(seconds=60), 30)
    keys: dict[SeriesKey, bool] = {}  # -> an application series (else infrastructure: allocatable, capacity)
    for cluster, sm in ((x, sm_x), (z, sm_z)):
        keys[SeriesKey(cluster.pk, "pod", SECRET_NS, f"{MARKER}-pod", workload_kind="Deployment",
                       workload_name=f"{MARKER}-web", node=f"{MARKER}-node-x", service_map_id=sm.pk,
                       workspace_id=a.pk)] = True
        keys[SeriesKey(cluster.pk, "workload", SECRET_NS, f"{MARKER}-web", workload_kind="Deployment",
                       workload_name=f"{MARKER}-web", service_map_id=sm.pk, workspace_id=a.pk)] = True
        keys[SeriesKey(cluster.pk, "namespace", SECRET_NS, SECRET_NS, service_map_id=sm.pk, workspace_id=a.pk)] = True
    keys[SeriesKey(x.pk, "node", name=f"{MARKER}-node-x")] = False
    keys[SeriesKey(x.pk, "cluster")] = False
    ids = store.series_ids(keys, now)
    store.write_samples([store.Sample(series_id=ids[key], ts=ts, cpu_usage=0.5, mem_usage=2.0**28, cpu_request=0.25,
                                      mem_request=2.0**27, cpu_limit=1.0, mem_limit=2.0**29, cpu_billed=0.5,
                                      mem_billed=2.0**28, pods=1,
                                      **({} if app else {"cpu_allocatable": 4.0, "mem_allocatable": 2.0**33,
                                                         "cpu_capacity": 4.0, "mem_capacity": 2.0**33}))
                         for key, app in keys.items()])
    return {"alertrule": rule.pk, "alert": alerts[0].pk, "silence": silence.pk, "channel": channel.pk,
            "notification": notification.pk, "pricesheet": price.pk}


@pytest.fixture
def world() -> World:
    roles = {r.key: r for r in Role.objects.all()}
    assert {"manager", "developer", "viewer"} <= set(roles), "built-in roles are missing"
    custom = Role.objects.create(key="restarter", name="Restarter", grants=["workloads.restart"])
    admin = _user("iso-admin", role="admin")

    x = Cluster.objects.create(id=_a_id(31), name=f"{MARKER}-cluster-x", display_name=f"{MARKER} X",
                               server="https://127.0.0.1:9", status="connected")
    y = Cluster.objects.create(name="cluster-b-y", server="https://127.0.0.1:9", status="connected")
    z = Cluster.objects.create(name="shared-z", server="https://127.0.0.1:9", status="connected")

    a = Workspace.objects.create(id=_a_id(1), name=f"{MARKER}-a", display_name=f"{MARKER} team A",
                                 description=f"{MARKER} secrets")
    b = Workspace.objects.create(name="team-b", display_name="Team B")
    a_manager = _user(f"{MARKER}-a-manager", _a_id(41))
    a_dev = _user(f"{MARKER}-a-dev", _a_id(42))
    Membership.objects.create(id=_a_id(11), workspace=a, user=a_manager, role=roles["manager"])
    a_dev_member = Membership.objects.create(id=_a_id(12), workspace=a, user=a_dev, role=roles["developer"])
    quota = {"requests.cpu": "8", "pods": "100"}
    alloc_x = ClusterAllocation.objects.create(id=_a_id(21), workspace=a, cluster=x, quota=quota, status="ready")
    alloc_z = ClusterAllocation.objects.create(id=_a_id(22), workspace=a, cluster=z, quota=quota, status="ready")
    registry = RegistryAllocation.objects.create(id=_a_id(51), workspace=a,
                                                 registry=f"registry.example.com:5000/{MARKER}-a")
    sm_x = ServiceMap.objects.create(id=_a_id(61), workspace=a, cluster=x, namespace=SECRET_NS,
                                     display_name=f"{MARKER} shop", quota={"requests.cpu": "2"}, status="ready")
    sm_z = ServiceMap.objects.create(id=_a_id(62), workspace=a, cluster=z, namespace=SECRET_NS,
                                     display_name=f"{MARKER} shop on Z", quota={"requests.cpu": "2"}, status="ready")
    op_x = NodeOperation.objects.create(id=_a_id(71), cluster=x, node=f"{MARKER}-node-x", kind="cordon",
                                        message=f"{MARKER} cordon", requested_by=a_manager)
    op_z = NodeOperation.objects.create(id=_a_id(72), cluster=z, node="shared-node-z", kind="drain",
                                        message=f"{MARKER} drain", requested_by=admin)
    token = ApiToken.objects.create(id=_a_id(81), user=a_dev, name=f"{MARKER}-token", prefix="isoleak1",
                                    digest="0" * 64)
    audit = AuditRecord.objects.create(actor=a_manager, actor_username=a_manager.username,
                                       action="workspace.create", target_type="workspace", target_id=str(a.pk),
                                       target_repr=a.name, outcome="success")

    # X is A's alone: even its cluster-scoped objects carry the marker. Z is shared: its storage
    # classes and the names of its nodes (pods show them) are visible to B by design; its nodes and
    # volumes themselves to operators only.
    _read_model(x, SECRET_NS, MARKER, f"{MARKER}-node-x")
    _read_model(z, SECRET_NS, MARKER, "shared-node-z")
    _cluster_scoped(x, f"{MARKER}-node-x", f"{MARKER}-pv-x", f"{MARKER}-sc")
    _cluster_scoped(z, "shared-node-z", f"{MARKER}-pv-z", "standard")

    # Workspace B: cluster Y alone and a namespace on the shared Z, and its members.
    ClusterAllocation.objects.create(workspace=b, cluster=y, quota=quota, status="ready")
    ClusterAllocation.objects.create(workspace=b, cluster=z, quota=quota, status="ready")
    ServiceMap.objects.create(workspace=b, cluster=y, namespace="ns-b-y", quota={"requests.cpu": "1"}, status="ready")
    ServiceMap.objects.create(workspace=b, cluster=z, namespace="ns-b-z", quota={"requests.cpu": "1"}, status="ready")
    _read_model(y, "ns-b-y", "team-b", "node-y")
    _read_model(z, "ns-b-z", "team-b", "shared-node-z")
    _cluster_scoped(y, "node-y", "pv-y", "standard")
    foreign = {
        "B manager": _user("b-manager"), "B developer": _user("b-developer"), "B viewer": _user("b-viewer"),
        "B restarter (custom role)": _user("b-restarter"), "user in no workspace": _user("loner"),
    }
    for who, role in (("B manager", roles["manager"]), ("B developer", roles["developer"]),
                      ("B viewer", roles["viewer"]), ("B restarter (custom role)", custom)):
        Membership.objects.create(workspace=b, user=foreign[who], role=role)

    # A's catalog: a workspace source, a package version, a release in secret-ns-a with a revision,
    # and a rollout.
    source = CatalogSource.objects.create(id=_a_id(91), name=f"{MARKER}-charts", kind="upload", workspace=a)
    package = Package.objects.create(id=_a_id(92), source=source, name=f"{MARKER}-shop")
    version = PackageVersion.objects.create(id=_a_id(93), package=package, version="1.0.0")
    PackageVersion.objects.filter(pk=version.pk).update(  # fetched already: the detail reads no repository
        archive=helm.build_archive(f"{MARKER}-shop", "1.0.0", {"values.yaml": "replicas: 1\n"}))
    release = Release.objects.create(id=_a_id(94), workspace=a, service_map=sm_x, name=f"{MARKER}-shop",
                                     package_version=version, revision=1, status="deployed", deployed_revision=1)
    Revision.objects.create(release=release, number=1, package_version=version, status="deployed",
                            manifest=f"---\nkind: ConfigMap\nmetadata: {{name: {MARKER}-config}}\n")
    rollout = Rollout.objects.create(id=_a_id(95), workspace=a, release_name=f"{MARKER}-shop",
                                     package_version=version)
    RolloutTarget.objects.create(rollout=rollout, service_map=sm_x, wave=1)
    # a drift check the admin asked for in A's service map (an intent is read back by who asked only)
    intent = ClusterIntent.objects.create(id=_a_id(96), workspace=a, service_map=sm_x, release=release,
                                          kind="release.drift", target=f"{MARKER}-shop", created_by=admin)

    # a change A's developer made through the portal (the timeline and its diff)
    object_action = ObjectAction.objects.create(
        id=_a_id(97), cluster=x, group="apps", version="v1", plural="deployments", kind="Deployment",
        namespace=SECRET_NS, name=f"{MARKER}-web", action="apply", status="succeeded", requested_by=a_dev,
        requested_username=a_dev.username, diff=f"--- live\n+++ applied\n-image: {MARKER}:1\n+image: {MARKER}:2\n")

    # single sign-on: a provider and a mapping (global objects, for system admins only)
    from identity.models import ExternalIdentity, GroupMapping, IdentityProvider

    provider = IdentityProvider.objects.create(name="iso-idp", kind="oidc", enabled=True,
                                               config={"issuer": "https://login.example.com", "client_id": "portal"})
    group_mapping = GroupMapping.objects.create(provider=provider, group="iso-operators", system_role="operator")
    identity = ExternalIdentity.objects.create(provider=provider, subject="iso-subject", user=a_dev,
                                               username=a_dev.username)

    # builds: a registry holding A's allocation, A's definition building on X into secret-ns-a, a run of
    # it whose clone step's log carries the marker, A's scan policy with an exception, and a scan of
    # an image in A's repository
    build_registry = BuildRegistry.objects.create(id=_a_id(52), name="iso-registry", host="registry.example.com:5000")
    definition = BuildDefinition.objects.create(
        id=_a_id(98), workspace=a, name=f"{MARKER}-build", git_url=f"https://git.example.com/{MARKER}.git",
        registry=build_registry, repository=f"{MARKER}-a/shop", cluster=x, service_map=sm_x, created_by=a_dev)
    build_run = BuildRun.objects.create(
        id=_a_id(99), definition=definition, workspace=a, number=1, spec={}, git_ref="main", cluster=x,
        namespace=SECRET_NS, image_repository=f"registry.example.com:5000/{MARKER}-a/shop", requested_by=a_dev,
        requested_username=a_dev.username)
    BuildStep.objects.create(run=build_run, name="clone", position=1, log=f"Cloning into {MARKER}\n")
    BuildStep.objects.create(run=build_run, name="build", position=2)
    policy = ScanPolicy.objects.create(workspace=a, block_severity="CRITICAL")
    scan_exception = ScanException.objects.create(id=_a_id(100), policy=policy, vulnerability=f"CVE-{MARKER}",
                                                  reason=f"{MARKER} isolation",
                                                  expires=timezone.now() + timedelta(days=1), created_by=a_dev)
    ImageScan.objects.create(id=_a_id(101), registry=build_registry, repository=definition.repository,
                             digest=A_DIGEST, counts={"HIGH": 1}, run=build_run,
                             findings=[{"id": f"CVE-{MARKER}", "package": "openssl", "version": "3.0.0",
                                        "fixed_version": "3.0.1", "severity": "HIGH", "title": MARKER}])

    monitoring = _monitoring_of_a(a, x, z, sm_x, sm_z, a_dev)
    # issue 20: A's developer's saved column set of the clusters table (the default), naming A's columns
    table_view = TableView.objects.create(id=_a_id(102), user=a_dev, table="clusters", name=f"{MARKER} columns",
                                          columns=["name", f"{MARKER}-col"], is_default=True)
    provisioning = _provisioning_of_a(x, admin)
    # issue 17: A's service map moved from X to its namespace on the shared Z (healthy there, the source not yet
    # retired), with a release's ledger line (a move row is its workspace's: B sees Z, never the move)
    move = Move.objects.create(
        id=_a_id(137), workspace=a, source=sm_x, target=sm_z, source_cluster=x, target_cluster=z,
        source_cluster_name=x.name, target_cluster_name=z.name, source_namespace=SECRET_NS, target_namespace=SECRET_NS,
        quota={"requests.cpu": "2"}, status="healthy", message=f"{MARKER}: healthy on {z.name}",
        steps=[{"key": "namespace", "state": "done", "message": f"{MARKER} namespace ready", "message_code": "",
                "message_params": {}, "started": None, "finished": None}], created_by=a_dev)
    MoveRelease.objects.create(id=_a_id(138), move=move, name=f"{MARKER}-shop", source_release=release,
                               source_revision=1, version_label=f"{MARKER}-shop 1.0.0", state="healthy")

    pks = {
        **{what: {0: pk} for what, pk in provisioning.items()}, "move": {0: move.pk},
        **{what: {0: pk} for what, pk in monitoring.items()},
        "buildregistry": {0: build_registry.pk}, "builddefinition": {0: definition.pk}, "buildrun": {0: build_run.pk},
        "scanexception": {0: scan_exception.pk},
        "release": {0: release.pk}, "rollout": {0: rollout.pk}, "intent": {0: intent.pk},
        "source": {0: source.pk}, "package": {0: package.pk}, "version": {0: version.pk},
        "cluster": {0: x.pk}, "workspace": {0: a.pk}, "member": {0: a_dev_member.pk},
        "allocation": {0: alloc_x.pk}, "registry": {0: registry.pk}, "servicemap": {0: sm_x.pk},
        "operation": {x.pk: op_x.pk, z.pk: op_z.pk}, "token": {0: token.pk}, "audit": {0: audit.pk},
        "user": {0: a_dev.pk}, "role": {0: custom.pk},
        "provider": {0: provider.pk}, "mapping": {0: group_mapping.pk}, "identity": {0: identity.pk},
        "objectaction": {0: object_action.pk}, "tableview": {0: table_view.pk},
    }
    names = {"node": {x.pk: f"{MARKER}-node-x", z.pk: "shared-node-z"}, "pod": {0: f"{MARKER}-pod"},
             "config": {0: f"{MARKER}-config"}, "idp": {0: provider.name}}
    a_ids = {a.pk, x.pk, a_manager.pk, a_dev.pk, a_dev_member.pk, _a_id(11), alloc_x.pk, alloc_z.pk, registry.pk,
             sm_x.pk, sm_z.pk, op_x.pk, op_z.pk, token.pk, source.pk, package.pk, version.pk, release.pk, rollout.pk,
             intent.pk, object_action.pk, build_registry.pk, definition.pk, build_run.pk, scan_exception.pk, table_view.pk,
             *range(_a_id(110), _a_id(140))}
    assert all(i >= A_BASE for i in a_ids)
    assert not any(o.pk >= A_BASE for o in (y, z, b, *foreign.values()))
    return World(a=a, b=b, x=x, y=y, z=z, a_dev=a_dev, admin=admin, foreign=foreign, pks=pks, names=names,
                 a_ids=a_ids)


# ---------------------------------------------------------------------------- the route walk


@dataclass(frozen=True)
class ApiRoute:
    key: str  # viewset basename, URL name, or the view's dotted name
    url_name: str
    pattern: str  # the joined pattern, anchors stripped
    methods: tuple[str, ...]
    groups: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.key} /" + GROUP.sub(lambda m: f"<{m['regex'] or m['path']}>", self.pattern)


def _methods(callback: Any) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(sorted(m for m in actions if m not in ("head", "options")))
    cls = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if cls is None:
        return ("get",)
    return tuple(sorted(m for m in cls.http_method_names if m not in ("head", "options", "trace") and hasattr(cls, m)))


def _route_key(p: URLPattern) -> str:
    initkwargs = getattr(p.callback, "initkwargs", None) or {}
    if initkwargs.get("basename"):
        return str(initkwargs["basename"])
    if p.name:
        return p.name
    return f"{p.callback.__module__}.{p.callback.__qualname__}"


def _clean(part: str) -> str:
    return part.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")


GROUP = re.compile(r"\(\?P<(?P<regex>\w+)>[^)]*\)|<(?:\w+:)?(?P<path>\w+)>")


def api_routes() -> list[ApiRoute]:
    out: list[ApiRoute] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for p in patterns:
            route = _clean(str(p.pattern))
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + route)
                continue
            full = prefix + route
            if not full.startswith("api/"):
                continue
            groups = tuple(m["regex"] or m["path"] for m in GROUP.finditer(full))
            out.append(ApiRoute(_route_key(p), p.name or "", full, _methods(p.callback), groups))

    walk(get_resolver().url_patterns, "")
    return out


ALL_ROUTES = api_routes()


def _fill(route: ApiRoute, spec: Route, world: World, cluster: Cluster) -> str:
    if spec.path is not None:
        return spec.path

    def value(match: re.Match[str]) -> str:
        group = match["regex"] or match["path"]
        if group == "cluster_id":
            return str(cluster.pk)
        if group == "workspace_id":
            return str(world.a.pk)
        if group == "namespace":
            return SECRET_NS
        if group == "format":
            return ".json"
        if group == "token":  # a repository webhook's token
            return "no-such-webhook-token"
        if group == "number":  # a release's revision
            return "1"
        if group == "servicemap_id":
            return str(world.pks["servicemap"][0])
        if group == "intent_id":
            return str(world.pks["intent"][0])
        if group == "entry_id":  # a timeline entry: A's portal change
            return f"portal:{world.pks['objectaction'][0]}"
        if group == "allocation_id":  # A's allocation in the registry
            return str(world.pks["registry"][0])
        if group == "definition_id":  # a build definition's webhook: A's definition
            return str(world.pks["builddefinition"][0])
        if group == "step":  # a build run's step: A's run has a clone step
            return "clone"
        if group == "pool":  # a node pool of A's provisioned cluster
            return f"{MARKER}-md-0"
        if group == "kind":  # of a config
            return "ConfigMap"
        if group in ("group", "version", "plural"):  # the resource browser's kind: pods (in the read model)
            return {"group": "core", "version": "v1", "plural": "pods"}[group]
        if group == "pk":
            assert spec.pk is not None, f"{route}: the isolation table gives no `pk` for this route"
            per_cluster = world.pks[spec.pk]
            return str(per_cluster.get(cluster.pk, per_cluster.get(0)))
        if group == "name":
            assert spec.name is not None, f"{route}: the isolation table gives no `name` for this route"
            per_cluster_name = world.names[spec.name]
            return per_cluster_name.get(cluster.pk, per_cluster_name.get(0, ""))
        raise AssertionError(f"{route}: unknown path parameter {group!r}")

    return "/" + GROUP.sub(value, route.pattern)


def spec_of(route: ApiRoute) -> Route | None:
    return ROUTES.get(route.url_name) or ROUTES.get(route.key)


def table_problems(route: ApiRoute) -> list[str]:
    spec = spec_of(route)
    hint = "add it to ROUTES in tests/test_isolation.py, saying how it is scoped to workspaces"
    if spec is None:
        return [f"{route}: route {route.key!r} is not in the isolation table; {hint}"]
    problems = [f"{route}: path parameter {g!r} is not in the isolation table (KNOWN_GROUPS); {hint}"
                for g in route.groups if g not in KNOWN_GROUPS]
    if "pk" in route.groups and spec.pk is None:
        problems.append(f"{route}: the entry for {route.key!r} does not say whose object `pk` names; {hint}")
    if "name" in route.groups and spec.name is None:
        problems.append(f"{route}: the entry for {route.key!r} does not say whose object `name` names; {hint}")
    return problems


def test_every_api_route_is_in_the_isolation_table() -> None:
    assert any(r.key == "workspace-servicemap" for r in ALL_ROUTES), "the route walk found no workspaces routes"
    assert any(r.key == "cluster-pod-detail" and "namespace" in r.groups for r in ALL_ROUTES)
    problems = [p for r in ALL_ROUTES for p in table_problems(r)]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------- leak detection


ID_KEYS = {"id", "pk", "cluster", "workspace", "user", "actor", "requested_by", "created_by"}


def _ids(node: Any, found: list[str], path: str = "") -> None:
    if isinstance(node, dict):
        for key, v in node.items():
            here = f"{path}.{key}"
            if (key in ID_KEYS or key.endswith("_id")) and isinstance(v, int) and not isinstance(v, bool):
                found.append(f"{here}={v}")
            _ids(v, found, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _ids(v, found, f"{path}[{i}]")


def leaks(response: Any, world: World) -> list[str]:
    """What of A's the response shows: the marker, A's namespace, or A's ids."""
    body = response.content.decode("utf-8", "replace")
    out = [f"contains {s!r}" for s in (MARKER, SECRET_NS) if s in body.lower()]
    if response.get("Content-Type", "").startswith("application/json") and body:
        found: list[str] = []
        _ids(json.loads(body), found)
        a_ids = {str(i) for i in world.a_ids}
        out += [f"shows A's id {f}" for f in found if f.rsplit("=", 1)[1] in a_ids]
    return out


def _excerpt(response: Any) -> str:
    text = response.content.decode("utf-8", "replace")
    for needle in (MARKER, SECRET_NS):
        at = text.lower().find(needle)
        if at >= 0:
            return text[max(0, at - 150): at + 150]
    return text[:300]


def _provisioning_models() -> list[type[models.Model]]:
    return [ManagementCluster, ClusterTemplate, ProvisionedCluster, ProvisioningOperation]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    tracked: list[type[models.Model]] = [Workspace, Membership, ClusterAllocation, RegistryAllocation, ServiceMap,
                                         Role, Cluster, NodeOperation, ApiToken, User, KubeObject, Release, Revision,
                                         Rollout, RolloutTarget, BuildRegistry, BuildDefinition, BuildRun, BuildStep,
                                         ScanPolicy, ScanException, ImageScan, WebhookDelivery, AlertRule, Alert,
                                         AlertTransition, Silence, NotificationChannel, Notification, PriceSheet,
                                         EventRecord, TableView, Move, MoveRelease, *_provisioning_models()]
    return {m.__name__: list(m._default_manager.order_by("pk").values()) for m in tracked}


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# ---------------------------------------------------------------------------- the test per route


def _variants(route: ApiRoute, world: World) -> Iterator[tuple[Cluster, bool]]:
    """(cluster to fill, strict): X is A's alone, so everything there is 403/404; the shared Z is
    visible to B, so lists may answer 200 (without A's namespace) and details must still refuse."""
    yield world.x, True
    if "cluster_id" in route.groups:
        yield world.z, False


@pytest.mark.parametrize("route", ALL_ROUTES, ids=str)
def test_foreign_users_get_nothing_of_workspace_a(route: ApiRoute, world: World) -> None:
    problems = table_problems(route)
    assert not problems, "\n".join(problems)
    spec = spec_of(route)
    assert spec is not None
    parameterized = bool(route.groups) and not spec.public
    before = snapshot()
    failures: list[str] = []

    # An insider reaches every filled path: the table points at real objects of A.
    if spec.insider and "get" in route.methods:
        insider = world.admin if spec.insider == "admin" else world.a_dev
        path = _fill(route, spec, world, world.x) + spec.queries[0]
        response = request(client_for(insider), "get", path, spec.accept)
        if response.status_code not in spec.insider_status:
            failures.append(f"insider {insider.username}: GET {path} -> {response.status_code}, expected "
                            f"{sorted(spec.insider_status)}; does the table fill this route with A's objects? "
                            f"{_excerpt(response)}")
        elif (spec.insider_sees_a and not spec.public and route.url_name not in INSIDER_SEES_NOTHING_OF_A
              and not leaks(response, world)):
            failures.append(f"insider {insider.username}: GET {path} shows nothing of A, so a foreign user's "
                            f"empty answer would prove nothing: {_excerpt(response)}")

    for who, user in world.foreign.items():
        client = client_for(user)
        for cluster, strict in _variants(route, world):
            base = _fill(route, spec, world, cluster)
            for method in route.methods:
                for query in spec.queries if method == "get" else ("",):
                    path = base + query
                    response = request(client, method, path, spec.accept)
                    status = response.status_code
                    if parameterized and strict:
                        allowed = FORBIDDEN
                    elif parameterized:  # the shared cluster Z
                        allowed = FORBIDDEN | {200} if method == "get" else FORBIDDEN
                    else:
                        allowed = spec.expect.get(method, S200 if method == "get" else S403)
                    where = f"{who} ({user.username}): {method.upper()} {path} -> {status}"
                    if status >= 500:
                        failures.append(f"{where}: server error: {_excerpt(response)}")
                    elif status not in allowed:
                        failures.append(f"{where}, expected one of {sorted(allowed)}: {_excerpt(response)}")
                    found = leaks(response, world)
                    if found:
                        failures.append(f"{where}: LEAK ({'; '.join(found)}): {_excerpt(response)}")

    after = snapshot()
    for model, rows in before.items():
        if after[model] != rows:
            failures.append(f"{route}: foreign users' requests changed {model} rows: {rows} -> {after[model]}")
    assert not failures, f"{route} ({spec.why}):\n" + "\n".join(failures)


# ---------------------------------------------------------------------------- sockets


def group_keys(world: World) -> dict[str, list[str]]:
    """Keys of each registered group kind that point at A (or at everything, for fleet-wide kinds)."""
    x, z = world.x.pk, world.z.pk
    return {
        "workspace": [str(world.a.pk)],
        "cluster": [str(x), f"{x}.ns.{SECRET_NS}", f"{x}.ns.default", str(z), f"{z}.ns.{SECRET_NS}"],
        "fleet": [""],
        "audit": [""],
        "user": [str(world.a_dev.pk)],
        "buildrun": [str(world.pks["buildrun"][0])],
        "alerts": [""],  # every alert's changes: those who read every cluster
        # provisioned clusters (issue 17): those who read the whole fleet only, never a workspace member
        "provisioning": ["", str(world.pks["provisionedcluster"][0]), str(world.pks["provisionedgone"][0])],
    }


def test_foreign_users_cannot_subscribe_to_workspace_a_groups(world: World) -> None:
    keys = group_keys(world)
    unknown = [k.prefix for k in group_kinds() if k.prefix not in keys]
    assert not unknown, (f"socket group kinds {unknown} are not in the isolation table: add keys that point at "
                         "workspace A to group_keys() in tests/test_isolation.py")
    assert {"workspace", "cluster"} <= {k.prefix for k in group_kinds()}, "the group kinds were not registered"
    failures = []
    for kind in group_kinds():
        for key in keys[kind.prefix]:
            group = f"{kind.prefix}.{key}" if key else kind.prefix
            for who, user in world.foreign.items():
                if can_subscribe(user, group):
                    failures.append(f"{who} ({user.username}) may subscribe to {group} ({kind.description})")
    assert not failures, "\n".join(failures)


def test_workspace_a_sees_its_own(world: World) -> None:
    """The same checks from inside: A's developer reaches what every foreign user is refused,
    so the test would notice if everything were simply refused."""
    assert can_subscribe(world.a_dev, f"workspace.{world.a.pk}")
    assert can_subscribe(world.a_dev, f"cluster.{world.x.pk}.ns.{SECRET_NS}")
    assert can_subscribe(world.a_dev, f"cluster.{world.z.pk}.ns.{SECRET_NS}")
    dev = client_for(world.a_dev)
    response = dev.get(f"/api/workspaces/{world.a.pk}/servicemaps/{world.pks['servicemap'][0]}/")
    assert response.status_code == 200, response.content
    assert response.json()["namespace"] == SECRET_NS
    pods = dev.get(f"/api/clusters/{world.z.pk}/pods/?namespace={SECRET_NS}")
    assert pods.status_code == 200, pods.content
    assert [row["name"] for row in pods.json()["results"]] == [f"{MARKER}-pod"]
    # ...and B's manager is a real member of B, seeing B's namespace on the shared cluster.
    b = client_for(world.foreign["B manager"])
    assert can_subscribe(world.foreign["B manager"], f"workspace.{world.b.pk}")
    names = [row["namespace"] for row in b.get("/api/workspaces/servicemaps/").json()["results"]]
    assert sorted(names) == ["ns-b-y", "ns-b-z"]
    assert [row["name"] for row in b.get(f"/api/clusters/{world.z.pk}/pods/").json()["results"]] == ["team-b-pod"]


# ---------------------------------------------------------------------------- provisioning (issue 17)


def _provisioning_get_paths(world: World) -> list[str]:
    """Every GET under /api/provisioning/ the route walk finds, filled with A's provisioning rows (the
    routes' table entries say which), plus the lists filtered by A's management cluster and X."""
    paths: list[str] = []
    for route in ALL_ROUTES:
        spec = spec_of(route)
        if not route.pattern.startswith("api/provisioning/") or "get" not in route.methods or spec is None:
            continue
        if (spec.pk is None and "pk" in route.groups) or (spec.name is None and "name" in route.groups):
            continue  # test_every_api_route_is_in_the_isolation_table names it
        paths += [_fill(route, spec, world, world.x) + query for query in spec.queries]
    management, x = world.pks["managementcluster"][0], world.x.pk
    patterns = {route.pattern for route in ALL_ROUTES}
    for pattern, queries in (("api/provisioning/clusters/", (f"?management={management}", f"?cluster={x}",
                                                             "?phase=updating")),
                             ("api/provisioning/templates/", ("?provider=sandbox", "?archived=false"))):
        if pattern in patterns:
            paths += [f"/{pattern}{query}" for query in queries]
    return paths


def test_workspace_members_see_no_provisioning_rows(world: World) -> None:
    """Provisioning is for those who read the whole fleet (admins, operators, auditors): every workspace member
    (A's developer too, although X, which the portal provisioned, is A's cluster) and the user in no workspace gets
    no management cluster, template, provisioned cluster or operation, from the access module, any GET under
    /api/provisioning/ (lists empty, details 404) or the `provisioning` socket groups; an operator and an auditor
    see all of them (so the refusals are about the members)."""
    kinds: list[type[models.Model]] = [ManagementCluster, ClusterTemplate, ProvisionedCluster, ProvisioningOperation]
    groups = ["provisioning", f"provisioning.{world.pks['provisionedcluster'][0]}"]
    paths = _provisioning_get_paths(world)
    failures = []
    for who, user in [("A developer", world.a_dev), *world.foreign.items()]:
        for model in kinds:
            seen = list(portal_access.visible(user, model).values_list("pk", flat=True))
            if seen:
                failures.append(f"{who}: provisioning.access shows {model.__name__} rows {seen}")
        for group in groups:
            if can_subscribe(user, group):
                failures.append(f"{who} may subscribe to {group}")
        for path in paths:
            response = client_for(user).get(path)
            body = response.json() if response.get("Content-Type", "").startswith("application/json") else {}
            rows = body.get("results", body) if isinstance(body, dict) else body
            empty_list = response.status_code == 200 and isinstance(rows, list) and not rows
            if response.status_code not in (403, 404) and not empty_list:
                failures.append(f"{who}: GET {path} -> {response.status_code}, expected 404 or an empty list: "
                                f"{_excerpt(response)}")
            found = leaks(response, world)
            if found:
                failures.append(f"{who}: GET {path}: LEAK ({'; '.join(found)}): {_excerpt(response)}")
    for role in ("operator", "auditor"):
        insider = _user(f"iso-prov-{role}", role=role)
        for model in kinds:
            if not portal_access.visible(insider, model).exists():
                failures.append(f"the {role} sees no {model.__name__} rows (the test would prove nothing)")
        for group in groups:
            if not can_subscribe(insider, group):
                failures.append(f"the {role} may not subscribe to {group}")
        for path in paths:
            response = client_for(insider).get(path)
            if response.status_code != 200:
                failures.append(f"the {role}: GET {path} -> {response.status_code}: {_excerpt(response)}")
    assert not failures, "\n".join(failures)


def _leaks_beyond_the_body(response: Any, body: dict[str, Any], world: World) -> list[str]:
    """:func:`leaks`, except the caller's own words echoed back (a repository name it sent)."""
    text = response.content.decode("utf-8", "replace")
    for value in body.values():
        if isinstance(value, str):
            text = text.replace(value, "")
    return ([f"contains {s!r}" for s in (MARKER, SECRET_NS) if s in text.lower()]
            + [f for f in leaks(response, world) if not f.startswith("contains")])


def test_builds_bodies_naming_workspace_a_are_refused(world: World) -> None:
    """The route walk sends empty bodies; these are B's developer's otherwise valid builds writes that
    name one of A's objects in the body (A's workspace, repository prefix, cluster, service map or
    release, A's image): each is refused (400/403/404) without a row written or anything of A shown,
    while the same body with B's own objects is accepted (so the refusals are about A)."""
    RegistryAllocation.objects.create(workspace=world.b, registry="registry.example.com:5000/team-b")
    sm_b = ServiceMap.objects.get(workspace=world.b, namespace="ns-b-y")
    client = client_for(world.foreign["B developer"])
    registry = world.pks["buildregistry"][0]
    mine = {"workspace": world.b.pk, "name": "b-build", "git_url": "https://git.example.com/b.git",
            "registry": registry, "repository": "team-b/shop", "cluster": world.y.pk, "service_map": sm_b.pk}
    aimed = {
        "A's workspace": {**mine, "workspace": world.a.pk},
        "A's repository prefix": {**mine, "repository": f"{MARKER}-a/shop"},
        "A's cluster": {**mine, "cluster": world.x.pk},
        "A's service map": {**mine, "service_map": world.pks["servicemap"][0]},
        "A's release to deploy to": {**mine, "deploy_release": world.pks["release"][0]},
    }
    deploys = {
        "A's image into A's release": {"registry": registry, "repository": f"{MARKER}-a/shop", "digest": A_DIGEST,
                                       "release": world.pks["release"][0]},
        "B's repository into A's release": {"registry": registry, "repository": "team-b/shop", "digest": A_DIGEST,
                                            "release": world.pks["release"][0]},
    }
    with transaction.atomic():  # B's own objects: accepted (then rolled back, so the names stay free)
        created = client.post("/api/builds/definitions/", mine, format="json")
        assert created.status_code == 201, created.content
        transaction.set_rollback(True)
    before = snapshot()
    failures = []
    for path, bodies in (("/api/builds/definitions/", aimed), ("/api/builds/deploy-image/", deploys)):
        for what, body in bodies.items():
            response = client.post(path, body, format="json")
            where = f"B developer: POST {path} naming {what} -> {response.status_code}"
            if response.status_code not in (400, 403, 404):
                failures.append(f"{where}, expected a refusal: {_excerpt(response)}")
            found = _leaks_beyond_the_body(response, body, world)
            if found:
                failures.append(f"{where}: LEAK ({'; '.join(found)}): {_excerpt(response)}")
    after = snapshot()
    failures += [f"the refused writes changed {model} rows" for model, rows in before.items() if after[model] != rows]
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------- moves (issue 17)


def test_moves_are_seen_in_their_workspace_only(world: World) -> None:
    """A's developer lists and reads A's move (X to the shared Z); B's members, who see Z and have moves rights in B,
    get nothing of it however they filter (B's workspace, B's service map on Z, A's ids), and 404 for its id."""
    move = world.pks["move"][0]
    dev = client_for(world.a_dev)
    assert [row["id"] for row in dev.get("/api/catalog/moves/").json()["results"]] == [move]
    assert dev.get(f"/api/catalog/moves/{move}/").json()["target_namespace"] == SECRET_NS
    sm_b_z = ServiceMap.objects.get(workspace=world.b, cluster=world.z).pk
    failures = []
    for who, user in world.foreign.items():
        client = client_for(user)
        for path in ("/api/catalog/moves/", f"/api/catalog/moves/?workspace={world.b.pk}",
                     f"/api/catalog/moves/?service_map={sm_b_z}", f"/api/catalog/moves/?workspace={world.a.pk}",
                     f"/api/catalog/moves/?service_map={world.pks['servicemap'][0]}"):
            response = client.get(path)
            if response.status_code != 200 or response.json()["results"]:
                failures.append(f"{who}: GET {path} -> {response.status_code}: {_excerpt(response)}")
        response = client.get(f"/api/catalog/moves/{move}/")
        if response.status_code != 404 or leaks(response, world):
            failures.append(f"{who}: GET /api/catalog/moves/{move}/ -> {response.status_code}: {_excerpt(response)}")
    assert not failures, "\n".join(failures)


def test_move_bodies_naming_workspace_a_are_refused(world: World) -> None:
    """B's manager holds every grant a move needs in B: moving B's service map from Y to the shared Z is accepted
    (then rolled back), but a plan or a move of A's service maps (on X, and on the shared Z), or of B's to A's
    cluster X, is refused (400/403/404/409) with nothing written and nothing of A shown beyond what the body said."""
    client = client_for(world.foreign["B manager"])
    sm_b_y = ServiceMap.objects.get(workspace=world.b, cluster=world.y).pk
    sm_a_z = ServiceMap.objects.get(workspace=world.a, cluster=world.z).pk
    with transaction.atomic():  # B's own: accepted
        started = client.post("/api/catalog/moves/", {"service_map": sm_b_y, "target_cluster": world.z.pk},
                              format="json")
        assert started.status_code == 202, started.content
        transaction.set_rollback(True)
    aimed: list[tuple[dict[str, Any], bool]] = [
        ({"service_map": world.pks["servicemap"][0], "target_cluster": world.z.pk}, True),
        ({"service_map": sm_a_z, "target_cluster": world.y.pk}, True),
        ({"service_map": sm_b_y, "target_cluster": world.x.pk}, True),
        ({"service_map": sm_b_y, "target_cluster": world.z.pk, "target_namespace": SECRET_NS}, False),
    ]
    before = snapshot()
    failures = []
    for body, plan_too in aimed:
        for path in ("/api/catalog/moves/", "/api/catalog/moves/plan/") if plan_too else ("/api/catalog/moves/",):
            response = client.post(path, body, format="json")
            where = f"B manager: POST {path} {body} -> {response.status_code}"
            if response.status_code not in (400, 403, 404, 409):
                failures.append(f"{where}, expected a refusal: {_excerpt(response)}")
            sent = {str(v) for v in body.values()}
            found = [f for f in _leaks_beyond_the_body(response, body, world) if f.rsplit("=", 1)[-1] not in sent]
            if found:
                failures.append(f"{where}: LEAK ({'; '.join(found)}): {_excerpt(response)}")
    after = snapshot()
    failures += [f"the refused writes changed {model} rows" for model, rows in before.items() if after[model] != rows]
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------- monitoring (issue 14)


def _monitoring_scopes(world: World) -> list[str]:
    """Queries whose scope parameter names one of A's objects (on X, and A's namespace on the shared Z)."""
    a, x, z = world.a.pk, world.x.pk, world.z.pk
    sm_x, sm_z = world.pks["servicemap"][0], ServiceMap.objects.get(workspace=world.a, cluster=world.z).pk
    pod = f"namespace={SECRET_NS}&pod={MARKER}-pod"
    return [
        f"/api/monitoring/notifications/?alert={world.pks['alert'][0]}",
        f"/api/monitoring/notifications/?channel={world.pks['channel'][0]}",
        f"/api/monitoring/metering/?workspace={a}", f"/api/monitoring/metering/?service_map={sm_x}",
        f"/api/monitoring/metering/?service_map={sm_z}&group=workload",
        f"/api/monitoring/events/?service_map={sm_x}", f"/api/monitoring/events/?service_map={sm_z}",
        f"/api/monitoring/charts/?level=servicemap&service_map={sm_z}",
        f"/api/monitoring/charts/?level=cluster&cluster={z}",  # B sees Z, but cluster figures are infrastructure
        f"/api/monitoring/charts/?level=node&cluster={z}&node=shared-node-z",
        f"/api/monitoring/charts/?level=pod&cluster={z}&{pod}",
        f"/api/monitoring/charts/?level=container&cluster={z}&{pod}&container=app",
        f"/api/monitoring/charts/?level=workload&cluster={z}&namespace={SECRET_NS}&workload_kind=Deployment"
        f"&workload_name={MARKER}-web",
        f"/api/monitoring/charts/?level=pod&cluster={x}&{pod}",
        f"/api/monitoring/top/?what=busiest_pods&service_map={sm_z}",
        f"/api/monitoring/top/?what=pods_near_limit&workspace={a}",
        f"/api/monitoring/top/?what=nodes_fullest&cluster={z}",
    ]


def test_monitoring_scopes_of_workspace_a_are_not_found(world: World) -> None:
    """A scope parameter naming A's alert, channel, workspace, service map or namespace is 404 to every foreign
    user (as for one that does not exist), while A's developer gets 200 for the same query (except the
    infrastructure ones: cluster, node and nodes_fullest, which members never see)."""
    failures = []
    insider = client_for(world.a_dev)
    for path in _monitoring_scopes(world):
        infrastructure = "level=cluster" in path or "level=node" in path or "nodes_fullest" in path
        response = insider.get(path)
        if response.status_code != (404 if infrastructure else 200):
            failures.append(f"A's developer: GET {path} -> {response.status_code}: {_excerpt(response)}")
        for who, user in world.foreign.items():
            response = client_for(user).get(path)
            if response.status_code != 404:
                failures.append(f"{who}: GET {path} -> {response.status_code}, expected 404: {_excerpt(response)}")
            found = leaks(response, world)
            if found:
                failures.append(f"{who}: GET {path}: LEAK ({'; '.join(found)}): {_excerpt(response)}")
    assert not failures, "\n".join(failures)


def test_workspace_a_sees_its_monitoring(world: World) -> None:
    """From inside: A's developer lists A's alerts (on X and Z), rule, silence, channel, notification, events and
    metering, but not the infrastructure alert about X's node nor Z's node event (so the foreign users' empty
    answers prove something)."""
    dev = client_for(world.a_dev)

    def ids(path: str) -> set[int]:
        response = dev.get(path)
        assert response.status_code == 200, (path, response.content)
        return {row["id"] for row in response.json()["results"]}

    assert ids("/api/monitoring/alerts/") == {_a_id(111), _a_id(112)}
    assert _a_id(110) in ids("/api/monitoring/rules/")
    assert ids("/api/monitoring/silences/") == {_a_id(114)}
    assert ids("/api/monitoring/channels/") == {_a_id(115)}
    assert ids("/api/monitoring/notifications/") == {_a_id(116)}
    assert ids("/api/monitoring/events/") == {_a_id(117), _a_id(118)}
    metering = dev.get("/api/monitoring/metering/").json()
    assert [row["workspace"]["id"] for row in metering["rows"]] == [world.a.pk], metering
    assert metering["idle"] is None
    top = dev.get(f"/api/monitoring/top/?what=busiest_pods&workspace={world.a.pk}").json()
    assert {item["namespace"] for item in top["items"]} == {SECRET_NS}, top


def test_monitoring_bodies_naming_workspace_a_are_refused(world: World) -> None:
    """B's developer holds alerts.manage in B: a rule, silence or channel naming one of A's objects in the body (A's
    workspace, service map, cluster, rule or alert fingerprint) is refused (400/403/404) with nothing written or
    shown, while the same body with B's workspace is accepted."""
    client = client_for(world.foreign["B developer"])
    sm_x = world.pks["servicemap"][0]
    ends = (timezone.now() + timedelta(hours=1)).isoformat()
    rule = {"name": "b-rule", "metric": "cpu_usage", "operator": ">", "threshold": 1, "workspace": world.b.pk}
    silence = {"reason": "b maintenance", "ends_at": ends, "workspace": world.b.pk}
    channel = {"name": "b-channel", "kind": "email", "workspace": world.b.pk, "recipients": ["b@example.com"]}
    for path, body in (("/api/monitoring/rules/", rule), ("/api/monitoring/silences/", silence),
                       ("/api/monitoring/channels/", channel)):
        with transaction.atomic():  # B's own: accepted (then rolled back)
            created = client.post(path, body, format="json")
            assert created.status_code == 201, (path, created.content)
            transaction.set_rollback(True)
    fingerprint = Alert.objects.get(pk=world.pks["alert"][0]).fingerprint
    aimed = [
        ("/api/monitoring/rules/", {**rule, "workspace": world.a.pk}),
        ("/api/monitoring/rules/", {**rule, "workspace": None, "service_map": sm_x}),
        ("/api/monitoring/rules/", {**rule, "workspace": None, "cluster": world.x.pk}),
        ("/api/monitoring/rules/", {**rule, "cluster": world.z.pk, "level": "node"}),
        ("/api/monitoring/silences/", {**silence, "workspace": world.a.pk}),
        ("/api/monitoring/silences/", {**silence, "workspace": None, "service_map": sm_x}),
        ("/api/monitoring/silences/", {**silence, "rule": world.pks["alertrule"][0]}),
        ("/api/monitoring/silences/", {**silence, "workspace": None, "fingerprint": fingerprint}),
        ("/api/monitoring/silences/", {**silence, "cluster": world.x.pk}),
        ("/api/monitoring/channels/", {**channel, "workspace": world.a.pk}),
    ]
    before = snapshot()
    failures = []
    for path, body in aimed:
        response = client.post(path, body, format="json")
        where = f"B developer: POST {path} {body} -> {response.status_code}"
        if response.status_code not in (400, 403, 404):
            failures.append(f"{where}, expected a refusal: {_excerpt(response)}")
        found = _leaks_beyond_the_body(response, body, world)
        if found:
            failures.append(f"{where}: LEAK ({'; '.join(found)}): {_excerpt(response)}")
    after = snapshot()
    failures += [f"the refused writes changed {model} rows" for model, rows in before.items() if after[model] != rows]
    assert not failures, "\n".join(failures)


def test_a_price_sheet_of_a_cluster_does_not_name_it_to_foreign_users(world: World) -> None:
    """Provider price sheets are read by everyone, but a sheet bound to A's own cluster X would show X's id and
    name, which B's members never learn elsewhere (X is 404 to them): it is shown only to those who see X
    (MERGE-FINDINGS.md 1), while the admin and A's developer read it."""
    sheet = PriceSheet.objects.create(name="x prices", cluster=world.x, currency="KRW", cpu_core_hour="1",
                                      memory_gib_hour="1", effective_from=timezone.now().date())
    failures = []
    for path in ("/api/monitoring/prices/", f"/api/monitoring/prices/{sheet.pk}/"):
        for who, user in world.foreign.items():
            response = client_for(user).get(path)
            found = leaks(response, world)
            if found:
                failures.append(f"{who}: GET {path}: LEAK ({'; '.join(found)}): {_excerpt(response)}")
    assert not failures, "\n".join(failures)
    for user in (world.admin, world.a_dev):
        assert client_for(user).get(f"/api/monitoring/prices/{sheet.pk}/").status_code == 200
        assert sheet.pk in {row["id"] for row in client_for(user).get("/api/monitoring/prices/").json()["results"]}


def test_portal_metrics_are_for_admins_only(world: World, settings: Any) -> None:
    """/metrics (outside /api/, so not in the route walk): every foreign user is refused (403 admin_required),
    as is a wrong scrape token; an admin reads it."""
    settings.PORTAL_METRICS_TOKEN = "iso-scrape-token-0123456789"
    prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    response = request(client_for(world.admin), "get", "/metrics", prometheus)
    assert response.status_code == 200, _excerpt(response)
    assert response["Content-Type"].startswith("text/plain")
    for who, user in world.foreign.items():
        response = request(client_for(user), "get", "/metrics", "application/json")
        assert response.status_code == 403, (who, response.status_code, _excerpt(response))
        assert response.json()["code"] == "admin_required"
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer not-the-scrape-token")
    assert wrong.get("/metrics").status_code == 401
    right = APIClient()
    right.credentials(HTTP_AUTHORIZATION="Bearer iso-scrape-token-0123456789")
    assert right.get("/metrics").status_code == 200


def test_portal_metrics_answer_a_text_plain_scraper(world: World) -> None:
    """A scraper that accepts only the text exposition format gets it (MERGE-FINDINGS.md 2: it was a 406)."""
    response = request(client_for(world.admin), "get", "/metrics", "text/plain;version=0.0.4")
    assert response.status_code == 200, (response.status_code, _excerpt(response))
    assert response["Content-Type"].startswith("text/plain")


# ---------------------------------------------------------------------------- /ws/logs/ (issue 14)


def _log_world() -> dict[str, Any]:
    """A's namespace on a cluster shared with B, A's pod and Deployment there, and B's members."""
    roles = {r.key: r for r in Role.objects.all()}
    shared = Cluster.objects.create(name="iso-logs-shared", server="https://127.0.0.1:9", status="connected")
    a = Workspace.objects.create(name=f"{MARKER}-logs-a")
    b = Workspace.objects.create(name="logs-team-b")
    for ws in (a, b):
        ClusterAllocation.objects.create(workspace=ws, cluster=shared, quota={"pods": "10"}, status="ready")
    ServiceMap.objects.create(workspace=a, cluster=shared, namespace=SECRET_NS, quota={"pods": "5"}, status="ready")
    ServiceMap.objects.create(workspace=b, cluster=shared, namespace="ns-b-logs", quota={"pods": "5"}, status="ready")
    _obj(shared, "Pod", f"{MARKER}-pod", SECRET_NS, phase="Running", labels={"app": "web"},
         data={"containers": [{"name": "app", "image": "nginx:1.27"}]})
    _obj(shared, "Deployment", f"{MARKER}-web", SECRET_NS, phase="Available", labels={"app": "web"},
         data={"replicas": 1, "ready_replicas": 1, "selector": {"app": "web"}})
    a_dev = _user(f"{MARKER}-logs-dev")
    Membership.objects.create(workspace=a, user=a_dev, role=roles["developer"])
    foreign = {"B manager": _user("logs-b-manager"), "B viewer": _user("logs-b-viewer"), "loner": _user("logs-loner")}
    Membership.objects.create(workspace=b, user=foreign["B manager"], role=roles["manager"])
    Membership.objects.create(workspace=b, user=foreign["B viewer"], role=roles["viewer"])
    return {"cluster": shared.pk, "a_dev": a_dev, "foreign": foreign}


@pytest.mark.django_db(transaction=True)
async def test_foreign_users_cannot_follow_workspace_a_logs() -> None:
    """MATRIX-C: following a pod or a workload in A's namespace, on a cluster B shares or on one that does not exist,
    answers B's members (and a user in no workspace) the same `not_found` frame, echoing nothing, and nothing else
    (no `started`, no lines); A's developer gets past the check (whatever the unreachable cluster then answers)."""
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.test import Client

    from portal.asgi import application

    def cookie(user: User) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    async def follow(user: User, frame: dict[str, Any]) -> list[dict[str, Any]]:
        headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
                   (b"cookie", f"sessionid={await sync_to_async(cookie)(user)}".encode())]
        ws = WebsocketCommunicator(application, "/ws/logs/", headers=headers)
        connected, _ = await ws.connect(timeout=10)
        assert connected
        await ws.send_json_to(frame)
        frames = [await ws.receive_json_from(timeout=15)]
        while not await ws.receive_nothing(timeout=0.5):
            frames.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return frames

    world = await sync_to_async(_log_world)()
    hidden = {"type": "error", "code": "not_found", "message": "No such cluster or namespace, or not one you may see.",
              "params": {}}
    pod = {"type": "follow", "cluster": world["cluster"], "namespace": SECRET_NS, "pod": f"{MARKER}-pod"}
    workload = {"type": "follow", "cluster": world["cluster"], "namespace": SECRET_NS,
                "workload": {"kind": "Deployment", "name": f"{MARKER}-web"}}
    failures = []
    for who, user in world["foreign"].items():
        for frame in (pod, workload, {**pod, "cluster": world["cluster"] + 100_000},
                      {**workload, "cluster": A_BASE + 31}):
            frames = await follow(user, frame)
            if frames != [hidden]:
                failures.append(f"{who}: {frame} -> {frames}")
    assert not failures, "\n".join(failures)
    inside = await follow(world["a_dev"], pod)
    assert inside[0] != hidden, inside


def test_workspace_b_monitoring_on_the_shared_cluster_shows_nothing_of_a(world: World) -> None:
    """B's own scopes on the cluster Z it shares with A (where A has samples, alerts and events): B's members get
    200 for them, and nothing of A's namespace, pods, alerts or events comes with it (the user in no workspace gets
    404 for B's scopes and 200 for the filtered lists, equally empty of A)."""
    b, z = world.b.pk, world.z.pk
    sm_b = ServiceMap.objects.get(workspace=world.b, cluster=world.z).pk
    scopes = [  # B's scopes: 404 to whoever is not in B
        f"/api/monitoring/charts/?level=workspace&workspace={b}",
        f"/api/monitoring/charts/?level=servicemap&service_map={sm_b}",
        f"/api/monitoring/charts/?level=pod&cluster={z}&namespace=ns-b-z&pod=team-b-pod",
        f"/api/monitoring/top/?what=busiest_pods&workspace={b}",
        f"/api/monitoring/top/?what=pods_near_limit&service_map={sm_b}",
        f"/api/monitoring/metering/?workspace={b}&group=workload", f"/api/monitoring/events/?service_map={sm_b}",
    ]
    filters = [  # lists narrowed to B or Z: 200 to everyone
        f"/api/monitoring/metering/?cluster={z}&group=cluster", f"/api/monitoring/events/?cluster={z}",
        f"/api/monitoring/alerts/?cluster={z}", f"/api/monitoring/silences/?workspace={b}",
        f"/api/monitoring/rules/?workspace={b}", f"/api/monitoring/channels/?workspace={b}",
    ]
    failures = []
    for who, user in world.foreign.items():
        in_b = Membership.objects.filter(workspace=world.b, user=user).exists()
        for path in scopes + filters:
            response = client_for(user).get(path)
            expected = 200 if in_b or path in filters else 404
            if response.status_code != expected:
                failures.append(f"{who}: GET {path} -> {response.status_code}, expected {expected}: {_excerpt(response)}")
            found = leaks(response, world)
            if found:
                failures.append(f"{who}: GET {path}: LEAK ({'; '.join(found)}): {_excerpt(response)}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------- the role dashboards (issue 20)


def test_dashboard_shows_each_user_their_own_and_offers_only_their_groups(world: World) -> None:
    """GET /api/dashboard/ (the route walk checks the body for A's names and ids): every socket group the answer
    tells the console to follow is one the caller may subscribe to, none is A's, and a member of B gets the
    developer tiles of B only (no fleet, capacity, cost, audit or portal tile), while A's developer sees A's
    service map in their own."""
    failures = []
    fleet_tiles = {"fleet", "clusters", "capacity", "nodes", "firing", "events", "alerts", "cost", "quota", "audit",
                   "portal_health"}
    for who, user in [*world.foreign.items(), ("A developer", world.a_dev)]:
        body = client_for(user).get("/api/dashboard/").json()
        for group in body["groups"]:
            if not can_subscribe(user, group):
                failures.append(f"{who}: offered group {group!r}, which they may not subscribe to")
            a_group = group in (f"workspace.{world.a.pk}", f"cluster.{world.x.pk}") or SECRET_NS in group
            if a_group and who != "A developer":
                failures.append(f"{who}: offered A's group {group!r}")
        keys = {tile["key"] for tile in body["tiles"]}
        if keys & fleet_tiles:
            failures.append(f"{who}: fleet-wide tiles {sorted(keys & fleet_tiles)}")
    mine = client_for(world.a_dev).get("/api/dashboard/").json()
    maps = next(t for t in mine["tiles"] if t["key"] == "service_maps")["data"]["service_maps"]
    assert {m["namespace"] for m in maps} == {SECRET_NS}, maps
    assert f"workspace.{world.a.pk}" in mine["groups"], mine["groups"]
    b_groups = client_for(world.foreign["B viewer"]).get("/api/dashboard/").json()["groups"]
    assert f"workspace.{world.b.pk}" in b_groups, b_groups
    assert not failures, "\n".join(failures)
