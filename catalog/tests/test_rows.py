"""The release row that every step of a deploy publishes (``release.updated``) is built from one
query of the columns it shows (:func:`catalog.rows.release_rows`); it must say exactly what the
API's :class:`catalog.rows.ReleaseSerializer` says of the same release, Secret values redacted."""

from __future__ import annotations

import itertools

import pytest

from catalog import rows
from catalog.manifests import dump
from catalog.models import CatalogSource, Package, PackageVersion, Release, Revision, SourceKind
from clusters.models import Cluster, ClusterStatus
from portal.testing import make_user
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db
_n = itertools.count(1)
PASSWORD = "s3cret-value-9"


def release(*, creator: bool, secret: bool) -> Release:
    n = next(_n)
    cluster = Cluster.objects.create(name=f"rows-{n}", server="https://127.0.0.1:9", status=ClusterStatus.CONNECTED)
    workspace = Workspace.objects.create(name=f"rows-{n}")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=f"shop-{n}")
    source = CatalogSource.objects.create(name=f"rows-{n}", kind=SourceKind.UPLOAD, workspace=workspace)
    version = PackageVersion.objects.create(package=Package.objects.create(source=source, name="shop"),
                                            version="1.2.3", archive=b"", digest="sha256:test")
    made = Release.objects.create(
        workspace=workspace, service_map=sm, name="shop", package_version=version, revision=2, deployed_revision=1,
        status="deploying", message="Applying revision 2.", message_code="release_applying",
        message_params={"number": 2}, values={"db": {"password": PASSWORD}, "replicas": 2},
        strategy={"type": "rolling"}, strategy_state={"type": "rolling", "phase": "stable"},
        created_by=make_user(f"rows-dev-{n}") if creator else None)
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop"}, "data": {"a": "b"}}]
    if secret:
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                        "stringData": {"password": PASSWORD}})
    for number in (1, 2):  # the row redacts by the current revision's manifest
        Revision.objects.create(release=made, number=number, package_version=version, values=made.values,
                                manifest=dump(objects if number == 2 else objects[:1]))
    return made


@pytest.mark.parametrize(("creator", "secret"), [(True, True), (False, False)])
def test_the_published_row_is_what_the_api_says(creator: bool, secret: bool) -> None:
    made = release(creator=creator, secret=secret)
    expected = dict(rows.ReleaseSerializer(Release.objects.get(pk=made.pk)).data)
    assert rows.release_row(made) == expected
    assert rows.release_rows([made.pk, 10**9]) == {made.pk: expected}
    shown = expected["values"]["db"]["password"]
    assert (shown != PASSWORD) is secret


def test_a_row_of_a_release_gone_says_so() -> None:
    made = release(creator=False, secret=False)
    Release.objects.filter(pk=made.pk).delete()
    with pytest.raises(Release.DoesNotExist):
        rows.release_row(made)
