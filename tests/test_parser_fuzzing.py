"""Parser fuzzing (issue 11, the suite): everything the portal parses from users or remote
repositories, fed by hypothesis, answers with our own 4xx-mapped errors or a result, never another
exception, never a hang (each example has a deadline) and never unbounded memory.

Targets: kubeconfigs (the registration parser), chart archives (gzip and tar headers included, the
bounded reader in-process and a few through the render processes), values as YAML and JSON (and
the values form built from them), manifests (the preflight endpoint and the parser of rendered
output), JSON request bodies. Runs derandomized with modest example counts so ``make test`` stays
fast (about half a minute here); raise ``PORTAL_FUZZ_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

import io
import os
import resource
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError, ValidationError

from catalog import helm
from catalog.tests.charts import webapp
from clusters.kube.connection import spec_from_kubeconfig
from clusters.kube.errors import InvalidConnection
from clusters.services import FieldProblem, list_kubeconfig_contexts
from portal.api.parsers import BoundedJSONParser, loads
from workspaces.api.views import _manifests

SCALE = float(os.environ.get("PORTAL_FUZZ_EXAMPLES", "1"))


def fuzz(examples: int, deadline_s: float = 10.0) -> Any:
    """Derandomized (the same examples every run) with a deadline per example that only a hang
    crosses (the machine running the suite may be busy)."""
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=timedelta(seconds=deadline_s),
                    derandomize=True, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


@pytest.fixture
def bounded_memory() -> Iterator[None]:
    """The process's peak resident size may grow by at most 256 MiB over all examples of a test
    (loose on purpose: tracemalloc would slow every example tenfold; the archive tests measure
    precisely). A 200 MB header read whole, or an alias bomb expanded, would cross it."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 256 * 1024, f"peak resident size grew by {grown_kib >> 10} MiB"


# ---------------------------------------------------------------------------- shared strategies

WORDS = ["apiVersion", "kind", "metadata", "name", "namespace", "spec", "replicas", "template", "containers",
         "initContainers", "resources", "requests", "limits", "cpu", "memory", "image", "type", "ports", "data",
         "jobTemplate", "storage", "volumeClaimTemplates", "annotations", "labels", "items", "properties",
         "required", "enum", "default", "description", "$ref", "title", "nodePort", "parallelism"]
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from(["1", "500m", "1Gi", "2e3", "-1", "1Ei", "0.0001m", "abc", "", "v1", "Pod"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                      max_leaves=30)
json_scalars = scalars.filter(lambda v: not isinstance(v, float) or (v == v and abs(v) != float("inf")))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner,
                                                                                                    max_size=5),
                           max_leaves=30)  # what a JSON client can send (no NaN or infinities)


def deep(levels: int, flow: bool) -> str:
    return "a: " + "[" * levels + "]" * levels if flow else "".join("  " * i + "k:\n" for i in range(levels))


yaml_texts = st.one_of(
    st.text(max_size=300),
    values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.builds(deep, st.integers(min_value=1, max_value=3000), st.just(True)),
    st.builds(deep, st.integers(min_value=1, max_value=300), st.just(False)),
    st.sampled_from(["a: &a [x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b]\n",
                     "!!python/object/apply:os.system ['true']", "a: !!binary 'AAAA'", "? [a]\n: 1\n",
                     "a: 1\n---\nb: 2\n", "\x00", "a: \t1", "%YAML 1.1\n---\na: 1", "*x", "&a a: b"]),
)


def _check(exc_types: tuple[type[BaseException], ...], call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``call``; our own errors are fine, anything else fails the example."""
    try:
        return call(*args, **kwargs)
    except exc_types:
        return None


# ---------------------------------------------------------------------------- kubeconfigs

CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


@st.composite
def kubeconfigs(draw: st.DrawFn) -> str | bytes:
    def part(valid: Any) -> Any:
        return draw(st.one_of(st.just(valid), st.just(valid), values))

    cluster = {"server": part("https://127.0.0.1:6443"), "certificate-authority-data": part(CA)}
    for extra in draw(st.lists(st.sampled_from(["insecure-skip-tls-verify", "tls-server-name", "proxy-url",
                                                "certificate-authority"]), max_size=2)):
        cluster[extra] = draw(values)
    user: dict[str, Any] = {"token": part("t0ken")}
    for extra in draw(st.lists(st.sampled_from(["exec", "auth-provider", "client-certificate-data", "client-key-data",
                                                "tokenFile", "username", "password"]), max_size=2)):
        user[extra] = draw(values)
    doc: Any = {
        "apiVersion": "v1", "kind": part("Config"), "current-context": part("c1"),
        "clusters": part([{"name": part("k1"), "cluster": part(cluster)}]),
        "users": part([{"name": part("u1"), "user": part(user)}]),
        "contexts": part([{"name": part("c1"), "context": part({"cluster": part("k1"), "user": part("u1")})}]),
    }
    text = yaml.safe_dump(doc, allow_unicode=True)
    mode = draw(st.sampled_from(["text", "text", "cut", "bytes", "random"]))
    if mode == "cut":
        return text[: draw(st.integers(min_value=0, max_value=len(text)))]
    if mode == "bytes":
        return text.encode() + draw(st.binary(max_size=20))
    if mode == "random":
        return draw(st.one_of(yaml_texts, st.binary(max_size=200)))
    return text


@fuzz(120)
@given(text=kubeconfigs(), context=st.one_of(st.none(), st.text(max_size=10)), insecure=st.booleans())
def test_kubeconfig_parser(bounded_memory: None, text: str | bytes, context: str | None, insecure: bool) -> None:
    _check((InvalidConnection,), spec_from_kubeconfig, text, context=context, allow_insecure=insecure)
    if isinstance(text, str):  # the registration wizard's context list
        _check((FieldProblem,), list_kubeconfig_contexts, text)


# ---------------------------------------------------------------------------- chart archives


def _field(value: int, width: int) -> bytes:
    return (format(value, "o").encode()[: width - 1]).rjust(width - 1, b"0") + b"\x00"


@st.composite
def tar_headers(draw: st.DrawFn) -> bytes:
    """One tar header (valid checksum mostly) and what follows it: any type, any size claim."""
    name = draw(st.one_of(st.sampled_from(["webapp/templates/x.yaml", "webapp/values.yaml", "webapp/../x", "/etc/x",
                                           "other/y", "webapp", "webapp/./a", "c:/x", "webapp\\x"]),
                          st.text(max_size=110))).encode("utf-8", "surrogatepass")[:100]
    typeflag = draw(st.one_of(st.sampled_from([b"0", b"\x00", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"x", b"g",
                                               b"L", b"K", b"S", b"V"]), st.binary(min_size=1, max_size=1)))
    size_kind = draw(st.sampled_from(["small", "huge", "base256", "negative", "garbage"]))
    payload = draw(st.one_of(
        st.binary(max_size=700),
        st.lists(st.tuples(st.sampled_from(["path", "size", "linkpath", "comment", "x"]), st.text(max_size=30)),
                 max_size=4).map(lambda rs: b"".join(
                     (lambda body: str(len(body) + len(str(len(body))) + 1).encode() + b" " + body)(
                         f"{k}={v}\n".encode()) for k, v in rs)),
    ))
    size = {"small": len(payload), "huge": draw(st.integers(min_value=2**20, max_value=8**11 - 1))}.get(size_kind, 0)
    if size_kind == "base256":
        size_field = b"\x80" + draw(st.binary(min_size=11, max_size=11))
    elif size_kind == "negative":
        size_field = b"\xff" * 12
    elif size_kind == "garbage":
        size_field = draw(st.binary(min_size=12, max_size=12))
    else:
        size_field = _field(size, 12)
    magic = draw(st.sampled_from([b"ustar\x0000", b"ustar  \x00", b"\x00" * 8]))
    prefix = draw(st.sampled_from([b"", b"webapp", b"../..", b"\xff\xfe"]))
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108], block[108:116], block[116:124] = _field(0o644, 8), _field(0, 8), _field(0, 8)
    block[124:136], block[136:148] = size_field, _field(0, 12)
    block[156:157] = typeflag
    block[257:265] = magic
    block[345:345 + len(prefix)] = prefix
    block[148:156] = b" " * 8
    checksum = sum(block)
    block[148:156] = _field(checksum, 7) + b" " if draw(st.integers(0, 9)) else draw(st.binary(min_size=8, max_size=8))
    pad = bytes(-len(payload) % 512) if draw(st.booleans()) else b""
    return bytes(block) + payload + pad


def _chart_tar() -> bytes:
    return zlib.decompress(webapp(), 16 + zlib.MAX_WBITS).rstrip(b"\x00")


CHART_TAR = _chart_tar()


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    base = CHART_TAR if draw(st.booleans()) else b""
    raw = base + b"".join(draw(st.lists(tar_headers(), min_size=1, max_size=3)))
    if draw(st.booleans()):
        raw += bytes(1024)
    level = draw(st.integers(min_value=0, max_value=9))
    data = zlib.compress(raw, level, wbits=16 + zlib.MAX_WBITS)
    damage = draw(st.sampled_from(["none", "none", "cut", "flip", "concat", "raw"]))
    if damage == "cut":
        data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    elif damage == "flip":
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    elif damage == "concat":
        data += zlib.compress(draw(st.binary(max_size=600)), 6, wbits=16 + zlib.MAX_WBITS)
    elif damage == "raw":
        data = b"\x1f\x8b" + draw(st.binary(max_size=600))
    return data


@fuzz(250)
@given(data=archives())
def test_chart_archive_reader(bounded_memory: None, data: bytes) -> None:
    result = _check((helm.ChartError,), helm._read_archive, data)
    if result is not None:
        _top, files = result
        assert sum(len(v) for v in files.values()) <= helm.MAX_UNCOMPRESSED_BYTES
        assert all(".." not in path.split("/") and not path.startswith("/") for path in files)


@fuzz(12, deadline_s=25)
@given(data=archives())
def test_chart_archives_through_the_render_processes(data: bytes) -> None:
    _check((helm.ChartError,), helm.inspect, data)


# ---------------------------------------------------------------------------- values


@fuzz(100)
@given(text=yaml_texts)
def test_values_yaml_and_the_inferred_form(bounded_memory: None, text: str) -> None:
    parsed = _check((helm.ChartError,), helm.load_values, text)
    info = helm.ChartInfo(name="c", version="1.0.0", app_version="", description="", icon="", keywords=[], home="",
                          values_yaml=text, values=parsed or {}, schema=None, readme="")
    form = helm.values_form(info)
    assert len(form) <= helm.MAX_FORM_FIELDS


schemas = st.recursive(
    st.fixed_dictionaries({}, optional={"type": st.one_of(st.sampled_from(["string", "integer", "object", "array",
                                                                           "null", "boolean"]), values),
                                        "default": values, "description": values, "enum": values, "title": values,
                                        "required": values, "$ref": st.one_of(st.sampled_from(["#/", "#/definitions/a",
                                                                                               "#/properties"]),
                                                                              values)}),
    lambda inner: st.fixed_dictionaries({"properties": st.dictionaries(keys, inner, max_size=4)},
                                        optional={"type": st.just("object"), "required": values,
                                                  "definitions": st.dictionaries(keys, inner, max_size=2)}),
    max_leaves=12)


@fuzz(120)
@given(schema=schemas, defaults=values)
def test_the_form_from_any_values_schema(bounded_memory: None, schema: dict[str, Any], defaults: Any) -> None:
    info = helm.ChartInfo(name="c", version="1.0.0", app_version="", description="", icon="", keywords=[], home="",
                          values_yaml="", values=defaults if isinstance(defaults, dict) else {}, schema=schema,
                          readme="")
    form = helm.values_form(info)
    assert len(form) <= helm.MAX_FORM_FIELDS
    assert all(isinstance(f["path"], str) for f in form)


WEBAPP = webapp()


@fuzz(20, deadline_s=25)
@given(extra=st.dictionaries(keys, values, max_size=4))
def test_values_through_the_render_processes(extra: dict[str, Any]) -> None:
    values_in = {"host": "shop.example.com", **extra}
    _check((helm.ChartError,), helm.render, WEBAPP, values_in, release="r", namespace="n")


def _deep_json(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@fuzz(200)
@given(body=st.one_of(st.binary(max_size=200), values.map(lambda v: yaml.safe_dump(v).encode()),
                      st.builds(_deep_json, st.integers(min_value=1, max_value=100_000)),
                      st.from_regex(r'\A[\[\]{}":,0-9a-z\\ ]{0,80}\Z').map(str.encode)))
def test_json_bodies(bounded_memory: None, body: bytes) -> None:
    _check((ParseError,), BoundedJSONParser().parse, io.BytesIO(body), "application/json", {})
    _check((ValueError,), loads, body)


# ---------------------------------------------------------------------------- manifests


@fuzz(80)
@given(text=yaml_texts)
def test_rendered_manifest_parser(bounded_memory: None, text: str) -> None:
    objects = _check((helm.ChartError,), helm._objects, {"templates/x.yaml": text})
    for obj in objects or []:
        assert isinstance(obj, dict)
        assert obj.get("kind")


manifest = st.fixed_dictionaries(
    {"kind": st.one_of(st.sampled_from(["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                                        "Service", "PersistentVolumeClaim", "ConfigMap"]), json_values)},
    optional={"apiVersion": json_values, "metadata": json_values, "spec": json_values})


@pytest.mark.django_db
@fuzz(60, deadline_s=5)
@given(body=st.one_of(st.fixed_dictionaries({"yaml": yaml_texts}),
                      st.fixed_dictionaries({"manifests": st.lists(manifest, max_size=3)}),
                      st.fixed_dictionaries({"manifests": json_values})))
def test_preflight_endpoint(admin_api: Any, fuzz_service_map: Any, body: dict[str, Any]) -> None:
    response = admin_api.post(f"/api/workspaces/{fuzz_service_map.workspace_id}/servicemaps/"
                              f"{fuzz_service_map.pk}/preflight/", body, format="json")
    assert response.status_code < 500, response.content[:500]


@fuzz(80)
@given(text=yaml_texts)
def test_preflight_yaml_parser(bounded_memory: None, text: str) -> None:
    _check((ValidationError,), _manifests, {"yaml": text})


@pytest.fixture
def fuzz_service_map(admin_user: Any) -> Any:
    from clusters.models import Cluster
    from workspaces.models import ClusterAllocation, ServiceMap, Workspace

    workspace = Workspace.objects.create(name="fuzz", display_name="Fuzz", created_by=admin_user)
    cluster = Cluster.objects.create(name="fuzz-1", server="https://127.0.0.1:9")
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready", quota={})
    return ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="fuzz", status="ready",
                                     quota={"requests.cpu": "2", "limits.memory": "1Gi", "pods": "10"})

