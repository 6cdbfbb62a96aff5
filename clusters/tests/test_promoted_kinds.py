"""An admin promotes a CRD into the read model by configuration (PORTAL_WATCH_EXTRA_RESOURCES),
without code: the watcher lists and watches it, rows are projected generically, and the resource
browser then reads that kind from the read model instead of asking the cluster."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from clusters.kube.connection import Credentials
from clusters.kube.kinds import promoted_kinds
from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import kube
from portal.models import User
from portal.testing import backend_env

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = str(int(time.time() * 1000))[-7:]
GROUP = f"promo{SUFFIX}.example.com"
EXTRA = [{"group": GROUP, "version": "v1", "plural": "gadgets", "kind": f"Gadget{SUFFIX}", "namespaced": True}]


def test_configuration_is_checked() -> None:
    kinds = promoted_kinds(json.dumps(EXTRA))
    assert kinds[0].path("shop") == f"/apis/{GROUP}/v1/namespaces/shop/gadgets"
    assert promoted_kinds("") == ()
    for bad, needle in (([{"group": GROUP, "version": "v1", "plural": "gadgets"}], "give group"),
                        ([{**EXTRA[0], "kind": "Pod"}], "already watched"),
                        ([{**EXTRA[0], "plural": "Gadgets"}], "lowercase"),
                        ({"kind": "x"}, "must be a list")):
        with pytest.raises(ValueError, match=needle):
            promoted_kinds(bad)


@pytest.mark.django_db(transaction=True)  # the watcher process reads the committed cluster row
def test_a_promoted_crd_is_watched_and_browsed_from_the_read_model(admin_user: User, sandbox_fleet: Any) -> None:
    handle = sandbox_fleet.cluster("cluster-2")
    ns = f"promo-{SUFFIX}"
    assert kube(handle, "POST", "/api/v1/namespaces", {"metadata": {"name": ns}})[0] == 201
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"gadgets.{GROUP}"},
           "spec": {"group": GROUP, "scope": "Namespaced",
                    "names": {"plural": "gadgets", "kind": f"Gadget{SUFFIX}"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}}}]}}
    status, body = kube(handle, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status == 201, body
    status, body = kube(handle, "POST", f"/apis/{GROUP}/v1/namespaces/{ns}/gadgets", {
        "apiVersion": f"{GROUP}/v1", "kind": f"Gadget{SUFFIX}", "metadata": {"name": "g1", "labels": {"a": "b"}},
        "status": {"phase": "Active"}})
    assert status == 201, body
    cluster = Cluster.objects.create(name=f"promo-{SUFFIX}", server=handle.server, ca_pem=handle.ca_path.read_text(),
                                     status="connected")
    cluster.set_credentials(Credentials(token=handle.token))
    cluster.save()

    env = backend_env(PORTAL_WATCH_EXTRA_RESOURCES=json.dumps(EXTRA))
    log = open(ROOT / "var" / f"promoted-watcher-{SUFFIX}.log", "wb")  # noqa: SIM115 - closed below
    watcher = subprocess.Popen([sys.executable, "manage.py", "runwatchers", "--holder", f"promo-{SUFFIX}"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not KubeObject.objects.filter(cluster=cluster, kind=f"Gadget{SUFFIX}").exists():
            assert watcher.poll() is None, f"runwatchers exited; see var/promoted-watcher-{SUFFIX}.log"
            assert time.monotonic() < deadline, "the promoted kind never reached the read model (see the log)"
            time.sleep(0.5)
        row = KubeObject.objects.get(cluster=cluster, kind=f"Gadget{SUFFIX}")
        assert (row.namespace, row.name, row.phase, row.labels) == (ns, "g1", "Active", {"a": "b"})
    finally:
        watcher.terminate()
        try:
            watcher.wait(timeout=20)
        except subprocess.TimeoutExpired:
            watcher.kill()
        log.close()

    # The web process reads the same setting: the kind is now a read-model kind for the browser.
    result = subprocess.run(
        [sys.executable, "-c", (
            "import django, json; django.setup(); "
            "from rest_framework.test import APIClient; from portal.models import User; "
            f"api = APIClient(); api.force_authenticate(User.objects.get(pk={admin_user.pk})); "
            f"r = api.get('/api/clusters/{cluster.pk}/resources/{GROUP}/v1/gadgets/'); "
            "print(json.dumps({'status': r.status_code, 'body': r.json()}))")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200, answer
    assert answer["body"]["source"] == "read_model"
    assert [(r["namespace"], r["name"], r["cells"][2]) for r in answer["body"]["rows"]] == [(ns, "g1", "Active")]
