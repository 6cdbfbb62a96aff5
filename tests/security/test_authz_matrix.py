"""The authorization matrix: for every operation of the OpenAPI schema and every built-in role,
whether the role may use it, as a table (``authz_matrix.yaml``) checked against the running app.

The operations come from the schema drf-spectacular generates now, so a new endpoint (or a new
method on one) without an entry in the table fails here until someone writes down who may use it.
Each persona of :mod:`tests.security.world` calls each operation with the world's identifiers in
the path (unsafe methods with an empty JSON body, as tests/test_isolation.py does; each call in a
savepoint that is rolled back). "Allowed" means the answer is not 401, 403 or 404: a 400 for the
empty body still proves the caller got past authorization, and a 404 for an object the caller may
not see is a refusal (the API answers 404 rather than 403 so as not to confirm that it exists).

Personas: ``anonymous``; the system roles ``admin``, ``operator`` and ``user`` (member of no
workspace); ``manager``, ``developer`` and ``viewer`` of workspace W (whose objects fill the
paths); and ``nonmember``, manager of another workspace. A table entry lists who is allowed; all
others must be refused. ``AUTHZ_MATRIX_DRAFT=1`` writes what the app answers now to
``var/security/authz_matrix.draft.yaml`` to help with a new entry (read it, do not copy it blindly).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from portal.testing import api_request as request
from tests.security.world import PERSONAS, SCAN_DIGEST, World, fill

HERE = Path(__file__).resolve().parent
TABLE_FILE = HERE / "authz_matrix.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
REFUSED = frozenset({401, 403, 404})
# Named groups the table may use in `allow:`.
GROUPS = {
    "everyone": ["admin", "operator", "auditor", "user", "manager", "developer", "viewer", "nonmember"],
    "members": ["manager", "developer", "viewer"],
    "staff": ["admin", "operator"],
}
# Auditors read whatever staff read and change nothing: `staff` in a GET entry lets the auditor in
# too (an entry that must not names `admin, operator` instead); in any other method it does not.
READ_METHODS = frozenset({"GET", "HEAD"})


def schema_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(method.upper(), path) for path, item in schema["paths"].items() for method in item if method in METHODS]


def load_table() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(TABLE_FILE.read_text())


def allowed_personas(entry: dict[str, Any], method: str = "GET") -> set[str]:
    out: set[str] = set()
    for name in entry.get("allow", []):
        out.update(GROUPS.get(name, [name]))
        if name == "staff" and method in READ_METHODS:
            out.add("auditor")
    unknown = out - set(PERSONAS)
    assert not unknown, f"unknown personas {sorted(unknown)} in {TABLE_FILE.name}"
    return out


def test_every_schema_operation_has_an_entry() -> None:
    table = load_table()
    operations = {f"{m} {p}" for m, p in schema_operations()}
    assert len(operations) >= 100, "the schema walk found too few operations"
    missing = sorted(operations - set(table))
    stale = sorted(set(table) - operations)
    assert not missing, (f"operations without an entry in tests/security/{TABLE_FILE.name} (say who may use "
                         "them):\n" + "\n".join(missing))
    assert not stale, "entries for operations the schema no longer has:\n" + "\n".join(stale)
    for key, entry in table.items():
        assert entry.get("why"), f"{key}: the entry says nothing about why"
        allowed_personas(entry, key.split(" ", 1)[0])


def valid_bodies(world: World) -> dict[str, dict[str, Any]]:
    """Valid bodies for writes whose view validates the body before it checks the grant, so that
    with an empty body everyone would get the same 400. With one of these, "allowed" means the
    write succeeded (2xx) or met the state (409), and a 400 is a refusal too (an object in the body
    that the caller cannot see is "No … that you can see")."""
    sm, version = world.service_map.pk, world.ids["versions"]
    release = {"service_map": sm, "name": "authz", "package_version": version, "values": {}}
    return {
        "POST /api/catalog/configs/{servicemap_id}/": {"kind": "ConfigMap", "name": "authz-new", "data": {"a": "b"}},
        "PUT /api/catalog/configs/{servicemap_id}/{kind}/{name}/": {"data": {"mode": "green"}},
        "POST /api/catalog/configs/{servicemap_id}/{kind}/{name}/versions/": {"version": 1},
        "POST /api/catalog/releases/": release,
        "POST /api/catalog/releases/plan/": release,
        "POST /api/catalog/rollouts/": {"workspace": world.workspace.pk, "release_name": "authz-wave",
                                        "package_version": version, "targets": [{"service_map": sm}]},
        "POST /api/catalog/sources/": {"name": "authz-src", "kind": "upload", "workspace": world.workspace.pk},
        "POST /api/catalog/versions/{id}/render/": {"service_map": sm, "values": {}},
        "POST /api/catalog/servicemaps/{servicemap_id}/package/": {"name": "authz-saved", "version": "1.0.0"},
        "POST /api/auth/tokens/": {"name": "authz"},
        # Sent for the grant check after the parse; the status rule stays "not 401/403/404" (revision 1
        # is the current one, so an allowed caller gets 400 "already deployed").
        "POST /api/catalog/releases/{id}/rollback/": {"revision": 1},
        # builds: the workspace comes from the body (one the caller cannot see is a 400 on the field)
        "POST /api/builds/definitions/": {
            "workspace": world.workspace.pk, "name": "authz-build", "git_url": "https://git.example.com/authz.git",
            "registry": world.ids["builds-registries"], "repository": f"sec-{world.suffix}/authz",
            "cluster": world.service_map.cluster_id, "service_map": sm},
        # the body names the registry, repository and release the caller must see; then workloads.deploy
        **({"POST /api/builds/deploy-image/": {
            "registry": world.ids["builds-registries"], "repository": f"sec-{world.suffix}/shop",
            "digest": world.names["image_digest"], "tag": "1.0.B000001", "release": world.ids["releases"],
            "image_path": "image", "image_format": "reference"}}  # the world's chart: `image: nginx:1.27`
           if "image_digest" in world.names else {}),
        # monitoring: rules, silences and channels of W (the body names the workspace; one the caller cannot see is
        # a 400 on the field), then alerts.manage there
        "POST /api/monitoring/rules/": {"name": "authz-rule", "metric": "cpu_usage", "operator": ">", "threshold": 2,
                                        "workspace": world.workspace.pk},
        "POST /api/monitoring/silences/": {"workspace": world.workspace.pk, "reason": "authz",
                                           "ends_at": (timezone.now() + timedelta(hours=1)).isoformat()},
        "POST /api/monitoring/channels/": {"name": "authz-channel", "kind": "email", "workspace": world.workspace.pk,
                                           "recipients": ["authz@example.com"]},
        # moves: W's service map to the second cluster, into a namespace there already (409 for who may; the plan
        # answers 200 with that problem)
        **{key: {"service_map": sm, "target_cluster": world.ids["second-cluster"],
                 "target_namespace": f"sec-taken-{world.suffix}"}
           for key in ("POST /api/catalog/moves/", "POST /api/catalog/moves/plan/")},
    }


def queries(world: World) -> dict[str, str]:
    """Query strings that aim an operation at W's objects (a namespace, for namespaced reads)."""
    ns = f"?namespace={world.names['namespace']}"
    return {"GET /api/clusters/{cluster_id}/resources/{group}/{version}/{plural}/": ns,
            # the column sets of the table the developer saved one for
            "GET /api/account/table-views/": "?table=clusters",
            # the timeline of W's service map (activity/api): a scope is required
            "GET /api/activity/": f"?service_map={world.service_map.pk}",
            # monitoring: W's service map (without a scope the lists answer everyone, with their own rows only)
            "GET /api/monitoring/charts/": f"?level=servicemap&service_map={world.service_map.pk}",
            "GET /api/monitoring/top/": f"?what=busiest_pods&service_map={world.service_map.pk}",
            "GET /api/monitoring/metering/": f"?service_map={world.service_map.pk}",
            "GET /api/monitoring/events/": f"?service_map={world.service_map.pk}",
            # the scan of the image in W's build repository
            "GET /api/builds/scans/": (f"?registry={world.ids['builds-registries']}&repository=sec-{world.suffix}/shop"
                                       f"&digest={SCAN_DIGEST}"),
            # W's build repository, which holds the image the test pushes (DELETE stays without: it is not undone)
            "GET /api/builds/registries/{id}/tags/": f"?repository=sec-{world.suffix}/shop",
            "GET /api/clusters/{cluster_id}/resources/{group}/{version}/{plural}/{name}/": ns,
            **{f"{method} /api/clusters/{{cluster_id}}/objects/{path}": ns for method, path in (
                ("GET", "{group}/{version}/{plural}/{name}/"), ("POST", "{group}/{version}/{plural}/{name}/preview/"),
                ("POST", "{group}/{version}/{plural}/{name}/apply/"), ("POST", "preview/"), ("POST", "create/"))},
            # workload actions (clusters/api/workload_actions.py)
            **{f"{method} /api/clusters/{{cluster_id}}/objects/{{group}}/{{version}}/{{plural}}/{{name}}/{verb}/": ns
               for method, verb in (("POST", "scale"), ("POST", "restart"), ("POST", "pause"), ("POST", "resume"),
                                    ("POST", "rollback"), ("POST", "delete"), ("GET", "revisions"),
                                    ("GET", "dependents"))}}


# Writes whose valid body is sent but whose answer is judged like a body-less call.
STATUS_RULE = {"POST /api/catalog/releases/{id}/rollback/"}


def restore(world: World, key: str) -> None:
    """Put back what a write changed outside the database (the savepoint cannot undo the cluster)."""
    if key == "DELETE /api/catalog/configs/{servicemap_id}/{kind}/{name}/":
        response = world.client("admin").post(f"/api/catalog/configs/{world.service_map.pk}/", {
            "kind": "ConfigMap", "name": world.names["config"], "data": {"mode": "blue"}}, format="json")
        assert response.status_code in (201, 202, 409), response.content  # 202: a cluster intent


def answer(world: World, persona: str, method: str, path: str, body: dict[str, Any] | None) -> int:
    with transaction.atomic():
        client = world.client(persona)
        if body is None:
            response = request(client, method.lower(), path)
        else:
            response = client.generic(method, path, json.dumps(body), content_type="application/json")
        transaction.set_rollback(True)
    return int(response.status_code)


def allowed_answer(status: int, with_body: bool) -> bool:
    if with_body:
        return status < 300 or status == 409
    return status not in REFUSED


def push_image(host: str, repository: str, tag: str) -> str:
    """Push a one-layer image to the registry at ``host`` (plain HTTP, no credentials); its digest."""
    import gzip
    import hashlib
    import io
    import tarfile

    import requests

    def blob(data: bytes, media_type: str) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"http://{host}/v2/{repository}/blobs/uploads/", timeout=10)
        assert started.status_code == 202, started.text
        location = requests.compat.urljoin(f"http://{host}/", started.headers["Location"])
        done = requests.put(location + ("&" if "?" in location else "?") + f"digest={digest}", data=data,
                            headers={"Content-Type": "application/octet-stream"}, timeout=10)
        assert done.status_code == 201, done.text
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [blob(gzip.compress(raw.getvalue(), mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")],
    }).encode()
    put = requests.put(f"http://{host}/v2/{repository}/manifests/{tag}", data=manifest, timeout=10,
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert put.status_code == 201, put.text
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def test_authorization_matrix(secworld: World) -> None:
    # an image in W's build repository, for "deploy this image" with a valid body
    secworld.names["image_digest"] = push_image(secworld.names["registry_host"], f"sec-{secworld.suffix}/shop",
                                                "1.0.B000001")
    table = load_table()
    failures: list[str] = []
    draft: dict[str, dict[str, Any]] = {}
    bodies = valid_bodies(secworld)
    aimed = queries(secworld)
    for method, schema_path in schema_operations():
        key = f"{method} {schema_path}"
        path = fill(schema_path, secworld) + aimed.get(key, "")
        entry = table.get(key, {})
        expected = allowed_personas(entry, method) if key in table else None
        body = bodies.get(key)
        seen: dict[str, int] = {}
        for persona in PERSONAS:
            status = answer(secworld, persona, method, path, body)
            restore(secworld, key)
            seen[persona] = status
            with_body = body is not None and key not in STATUS_RULE
            allowed = allowed_answer(status, with_body)
            if status >= 500:
                failures.append(f"{key} as {persona}: {status} (server error)")
            elif expected is None:
                continue
            elif entry.get("unreachable"):
                # The world cannot reach the object (see the entry's reason): everyone is refused,
                # and the entry's `allow` documents who would be let through.
                if allowed:
                    failures.append(f"{key} as {persona}: {status}, but the entry says the world cannot reach it")
            elif allowed != (persona in expected):
                failures.append(f"{key} as {persona}: {'allowed' if allowed else 'refused'} ({status}), the table "
                                f"says {'allow' if persona in expected else 'deny'}")
        draft[key] = {"allow": [p for p in PERSONAS
                                if allowed_answer(seen[p], body is not None and key not in STATUS_RULE)],
                      "statuses": " ".join(f"{p}={s}" for p, s in seen.items())}
    figures = HERE.parents[1] / "var" / "security" / "authz-matrix.json"
    figures.parent.mkdir(parents=True, exist_ok=True)
    figures.write_text(json.dumps({"operations": len(draft), "personas": len(PERSONAS),
                                   "calls": len(draft) * len(PERSONAS), "differences": len(failures)}) + "\n")
    if os.environ.get("AUTHZ_MATRIX_DRAFT"):
        out = HERE.parents[1] / "var" / "security" / "authz_matrix.draft.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(draft, sort_keys=False, width=200))
    assert not failures, f"{len(failures)} answers differ from tests/security/{TABLE_FILE.name}:\n" + "\n".join(failures)


@pytest.mark.parametrize("persona", ["anonymous"])
def test_anonymous_reaches_only_the_login_surface(persona: str) -> None:
    """The only operations the table lets an anonymous caller use are the login surface."""
    table = load_table()
    open_to_anonymous = sorted(k for k, e in table.items() if persona in allowed_personas(e, k.split(" ", 1)[0]))
    assert set(open_to_anonymous) <= {"GET /api/auth/csrf/", "POST /api/auth/login/", "POST /api/auth/logout/",
                                      "GET /api/auth/me/", "POST /api/catalog/hooks/{token}/",
                                      # single sign-on (docs/sso.md): the providers offered, each kind's sign-in
                                      "GET /api/auth/providers/", "GET /api/auth/oidc/{name}/start/",
                                      "GET /api/auth/oidc/{name}/callback/", "POST /api/auth/ldap/{name}/login/",
                                      # git webhooks of builds: the signature over the body is the credential
                                      "POST /api/builds/webhooks/{definition_id}/",
                                      }, open_to_anonymous
