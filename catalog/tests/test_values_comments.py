"""The values form's descriptions come only from prose directly above a key (issue 10, §6).

Grafana's ``values.yaml`` has prose about a commented-out key right above ``rbac.pspEnabled``;
the form showed "Use an existing ClusterRole/Role … useExistingRole: name-of-some-(cluster)role"
as the description of ``pspEnabled``, and the commented-out rules below ``extraRoleRules`` as the
description of ``extraClusterRoleRules``."""

from __future__ import annotations

from catalog import helm
from portal import yamlsafe

GRAFANA_LIKE = """\
rbac:
  # -- Create the RBAC objects
  create: true
  ## Use an existing ClusterRole/Role (depending on rbac.namespaced false/true)
  # useExistingRole: name-of-some-(cluster)role
  pspEnabled: false
  pspUseAppArmor: false
  ## If true, Grafana PSPs will be created
  namespaced: false
  extraRoleRules: []
  # - apiGroups: []
  #   resources: []
  #   verbs: []
  extraClusterRoleRules: []
  # - apiGroups: []
  #   resources: []
  #   verbs: []

## Number of replicas: prose may hold a colon
## and run over two lines
replicas: 1

# Separated from its key by a blank line, so it describes nothing

image:
  repository: grafana/grafana
  #  tag: 10.0.0
  pullPolicy: IfNotPresent

dashboards: |
  # inside a block scalar: text, not a comment
  title: x
## @param service.port The port the Service listens on
service:
  port: 80
"""


def _form(values_yaml: str) -> dict[str, str]:
    info = helm.ChartInfo(name="grafana", version="1.0.0", app_version="", description="", icon="", keywords=[],
                          home="", values_yaml=values_yaml, values=yamlsafe.load(values_yaml), schema=None, readme="")
    return {f["path"]: f["description"] for f in helm.values_form(info)}


def test_only_prose_directly_above_a_key_describes_it() -> None:
    form = _form(GRAFANA_LIKE)
    assert form["rbac.create"] == "Create the RBAC objects"
    assert form["rbac.pspEnabled"] == ""  # the prose and the commented-out key above it are not its description
    assert form["rbac.pspUseAppArmor"] == ""
    assert form["rbac.namespaced"] == "If true, Grafana PSPs will be created"
    assert form["rbac.extraClusterRoleRules"] == ""  # commented-out rules of the field above
    assert form["replicas"] == "Number of replicas: prose may hold a colon and run over two lines"
    assert form["image.repository"] == ""  # the blank line broke the block
    assert form["image.pullPolicy"] == ""  # `#  tag: 10.0.0` is commented-out YAML
    assert form["dashboards"] == ""
    assert form["service.port"] == "The port the Service listens on"  # Bitnami's @param


def test_no_commented_yaml_is_ever_taken_as_a_description() -> None:
    descriptions = " ".join(_form(GRAFANA_LIKE).values())
    for fragment in ("useExistingRole", "apiGroups", "resources:", "verbs", "tag: 10", "inside a block scalar"):
        assert fragment not in descriptions
