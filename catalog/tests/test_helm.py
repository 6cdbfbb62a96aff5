"""catalog.helm against the real Helm engine (in its spawned render processes)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tarfile
import time
from typing import Any

import pytest
import yaml

from catalog import helm
from catalog.tests.charts import chart_files, tgz, webapp, with_member

VALUES = {"host": "shop.example.com"}


def render(data: bytes, values: dict | None = None, **kwargs: object) -> list[dict]:
    return helm.render(data, VALUES if values is None else values, release="r1", namespace="team-a",
                       **kwargs)  # type: ignore[arg-type]


def test_helm_python_is_never_imported_here() -> None:
    import sys

    render(webapp())
    assert "helm_python" not in sys.modules, "the Go runtime must stay out of processes that fork"


def test_render_objects_without_notes_empty_docs_or_hooks() -> None:
    objects = render(webapp(), {**VALUES, "replicaCount": 3}, revision=4, kube_version="v1.29.3")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "r1-webapp-config"), ("Deployment", "r1-webapp"), ("Service", "r1-webapp")]
    config, deployment, _ = objects
    assert config["metadata"]["namespace"] == "team-a"
    assert config["data"] == {"greeting": "hello", "revision": "4", "kube": "v1.29.3"}
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    manifest = helm.dump_manifest(objects)
    assert [d["kind"] for d in yaml.safe_load_all(manifest)] == ["ConfigMap", "Deployment", "Service"]
    assert "migrate" not in manifest
    assert "Thank you" not in manifest


def test_renders_submitted_ahead_are_what_render_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rollout submits every target's render when it starts (:func:`helm.rendering_ahead`):
    render() with the same arguments takes one of them (alike jobs each get their own render),
    errors come out as render() reports them, and a render nobody submitted is done as usual."""
    chart = webapp()
    same = {"release": "r1", "namespace": "team-a"}
    expected = render(chart)
    jobs: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (VALUES, same), (VALUES, same), ({**VALUES, "replicaCount": 4}, {**same, "namespace": "team-b"}),
        ({}, {**same, "namespace": "team-c"})]
    asked: list[str] = []
    call = helm._call

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        asked.append(args[3]["namespace"])
        return call(*args, **kwargs)

    monkeypatch.setattr(helm, "_call", counted)
    with helm.rendering_ahead(chart, jobs):
        assert render(chart) == expected
        assert render(chart) == expected
        four = helm.render(chart, {**VALUES, "replicaCount": 4}, release="r1", namespace="team-b")
        assert four[1]["spec"]["replicas"] == 4
        with pytest.raises(helm.ChartError) as caught:
            helm.render(chart, {}, release="r1", namespace="team-c")
        assert "host is required" in caught.value.errors["chart"][0]
        assert asked == []  # all four from the renders submitted ahead
        assert render(chart) == expected  # a third alike render: none left, rendered now
        assert asked == ["team-a"]
    # nothing submitted: render() says what is wrong
    with helm.rendering_ahead(b"not a chart", jobs), pytest.raises(helm.ChartError):
        render(b"not a chart")


def test_schema_errors_by_field() -> None:
    with pytest.raises(helm.ChartError) as caught:
        render(webapp(), {**VALUES, "replicaCount": "many", "image": {"tag": 7}, "service": {"type": "LoadBalancer"}})
    errors = caught.value.errors
    assert set(errors) == {"values.replicaCount", "values.image.tag", "values.service.type"}
    assert "want integer" in errors["values.replicaCount"][0]
    assert "want string" in errors["values.image.tag"][0]


def test_required_value_and_fail_are_template_errors() -> None:
    with pytest.raises(helm.ChartError) as caught:
        render(webapp(), {})
    assert "host is required" in caught.value.errors["chart"][0]
    assert "deployment.yaml" in caught.value.message
    failing = webapp(**{"templates/fail.yaml": '{{ fail "the database password is missing" }}\n'})
    with pytest.raises(helm.ChartError) as caught:
        render(failing)
    assert "the database password is missing" in caught.value.errors["chart"][0]


def test_template_syntax_error_is_truncated() -> None:
    broken = webapp(**{"templates/broken.yaml": "a: {{ .Values.host }\n" + "#" * 10_000})
    with pytest.raises(helm.ChartError) as caught:
        render(broken)
    assert "broken.yaml" in caught.value.errors["chart"][0]
    assert len(caught.value.message) <= 4000


def test_bad_yaml_and_objects_without_names_name_the_template() -> None:
    with pytest.raises(helm.ChartError, match=r"bad\.yaml does not render to valid YAML"):
        render(webapp(**{"templates/bad.yaml": "a: [unclosed\n"}))
    with pytest.raises(helm.ChartError, match=r"noname\.yaml renders an object without"):
        render(webapp(**{"templates/noname.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}))
    with pytest.raises(helm.ChartError, match=r"scalar\.yaml renders a document that is not"):
        render(webapp(**{"templates/scalar.yaml": "just text\n"}))


def test_yaml_alias_bomb_and_document_flood_are_refused() -> None:
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\na: &a [x,x,x,x,x,x,x,x,x,x]\n"
    for i in range(1, 9):
        bomb += f"a{i}: &a{i} [*a{i - 1 if i > 1 else ''},*a{i - 1 if i > 1 else ''},*a{i - 1 if i > 1 else ''}," \
                f"*a{i - 1 if i > 1 else ''},*a{i - 1 if i > 1 else ''},*a{i - 1 if i > 1 else ''}," \
                f"*a{i - 1 if i > 1 else ''},*a{i - 1 if i > 1 else ''},*a{i - 1 if i > 1 else ''}]\n"
    bomb = bomb.replace("*a0", "*a").replace("*a,", "*a,")
    with pytest.raises(helm.ChartError, match="too large once its aliases"):
        render(webapp(**{"templates/bomb.yaml": bomb}))
    flood = '{{ range until 1500 }}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: "c{{ . }}"}\n{{ end }}'
    with pytest.raises(helm.ChartError, match="more than 1000 objects"):
        render(webapp(**{"templates/flood.yaml": flood}))


def test_a_template_that_never_ends_times_out_and_the_pool_recovers() -> None:
    endless = webapp(**{"templates/loop.yaml": "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n"})
    started = time.monotonic()
    with pytest.raises(helm.ChartError, match="took too long or used too much memory"):
        render(endless, timeout=1.5)
    assert time.monotonic() - started < 10
    assert len(render(webapp())) == 3  # a fresh pool answers


def test_a_template_that_eats_memory_crashes_only_its_process() -> None:
    hog = webapp(**{"templates/hog.yaml": '{{ $s := "xxxxxxxxxxxxxxxx" }}{{ range until 40 }}{{ $s = print $s $s }}'
                                          '{{ end }}{{ $s }}\n'})
    with pytest.raises(helm.ChartError, match="took too long or used too much memory"):
        render(hog, timeout=30)
    assert len(render(webapp())) == 3


def test_archive_checks() -> None:
    helm.validate_archive(webapp())
    with pytest.raises(helm.ChartError, match="not a gzip"):
        helm.validate_archive(b"PK\x03\x04 a zip")
    with pytest.raises(helm.ChartError, match="at most"):
        helm.validate_archive(b"\x1f\x8b" + os.urandom(helm.MAX_ARCHIVE_BYTES))
    traversal = tarfile.TarInfo("webapp/../../etc/cron.d/evil")
    traversal.size = 4
    with pytest.raises(helm.ChartError, match="leaves the chart"):
        helm.validate_archive(with_member(traversal, b"evil"))
    absolute = tarfile.TarInfo("/etc/passwd")
    absolute.size = 4
    with pytest.raises(helm.ChartError, match="absolute"):
        helm.validate_archive(with_member(absolute, b"evil"))
    link = tarfile.TarInfo("webapp/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(helm.ChartError, match="contains a link"):
        helm.validate_archive(with_member(link))
    hard = tarfile.TarInfo("webapp/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "webapp/Chart.yaml"
    with pytest.raises(helm.ChartError, match="contains a link"):
        helm.validate_archive(with_member(hard))
    device = tarfile.TarInfo("webapp/null")
    device.type = tarfile.CHRTYPE
    with pytest.raises(helm.ChartError, match="special file"):
        helm.validate_archive(with_member(device))
    other = tarfile.TarInfo("other/x.yaml")
    other.size = 2
    with pytest.raises(helm.ChartError, match="more than one top directory"):
        helm.validate_archive(with_member(other, b"a:"))
    with pytest.raises(helm.ChartError, match=r"no webapp/Chart\.yaml"):
        helm.validate_archive(tgz({"values.yaml": "a: 1\n"}))
    # A gzip bomb: small compressed, huge uncompressed (refused from the headers, not by inflating it all).
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(12):
            big = tarfile.TarInfo(f"webapp/big{i}.bin")
            big.size = 5 * 1024 * 1024
            tar.addfile(big, io.BytesIO(bytes(big.size)))
    assert len(buf.getvalue()) < 1024 * 1024
    with pytest.raises(helm.ChartError, match="uncompressed"):
        helm.validate_archive(buf.getvalue())


def test_inspect_reads_the_chart() -> None:
    info = helm.inspect(webapp())
    assert (info.name, info.version, info.app_version) == ("webapp", "1.2.0", "2.4.1")
    assert info.keywords == ["web", "test"]
    assert info.home == "https://example.com/webapp"
    assert info.values["image"] == {"repository": "nginx", "tag": "1.25"}
    assert info.values_yaml == chart_files()["values.yaml"]
    assert info.schema is not None
    assert info.schema["required"] == ["image", "replicaCount"]
    assert info.readme.startswith("# webapp")
    with pytest.raises(helm.ChartError, match="Helm cannot load the chart"):
        helm.inspect(webapp(**{"Chart.yaml": "apiVersion: v2\nname: webapp\nversion: not-semver\n"}))


def test_values_form_from_the_schema_and_inferred() -> None:
    info = helm.inspect(webapp())
    form = {f["path"]: f for f in helm.values_form(info)}
    assert list(form) == ["replicaCount", "image.repository", "image.tag", "greeting", "host", "service.port",
                          "service.type", "extraEnv"]
    assert form["replicaCount"] == {"path": "replicaCount", "type": "integer", "default": 1,
                                    "description": "How many pods to run", "enum": None, "required": True}
    assert form["image.repository"]["required"] is True
    assert form["image.tag"]["required"] is False
    assert form["service.type"]["enum"] == ["ClusterIP", "NodePort"]
    assert form["extraEnv"]["type"] == "array"
    inferred = {f["path"]: f for f in helm.values_form(dataclasses.replace(info, schema=None))}
    assert list(inferred) == ["replicaCount", "image.repository", "image.tag", "greeting", "host", "service.port",
                              "extraEnv"]
    assert inferred["replicaCount"]["type"] == "integer"
    assert inferred["greeting"]["description"] == "Shown on the welcome page"
    assert inferred["image.repository"]["description"] == "The image repository"
    assert inferred["extraEnv"] == {"path": "extraEnv", "type": "array", "default": [], "description": "",
                                    "enum": None, "required": False}


def test_build_archive_round_trip() -> None:
    files = {"values.yaml": "greeting: hi\n",
             "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
                                  "data:\n  greeting: {{ .Values.greeting | quote }}\n"}
    data = helm.build_archive("saved-map", "0.3.0", files, app_version="7", description="saved")
    assert data == helm.build_archive("saved-map", "0.3.0", files, app_version="7", description="saved")
    info = helm.inspect(data)
    assert (info.name, info.version, info.app_version, info.description) == ("saved-map", "0.3.0", "7", "saved")
    objects = helm.render(data, {}, release="m", namespace="n")
    assert objects == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"greeting": "hi"}}]
    with pytest.raises(helm.ChartError) as caught:
        helm.build_archive("Bad_Name", "1.0.0", files)
    assert "name" in caught.value.errors
    with pytest.raises(helm.ChartError):
        helm.build_archive("ok", "1.0", files)
    with pytest.raises(helm.ChartError):
        helm.build_archive("ok", "1.0.0", {"../x": "a"})
    with pytest.raises(helm.ChartError):
        helm.build_archive("ok", "1.0.0", {"Chart.yaml": "a"})


def test_schema_error_lines_are_parsed() -> None:
    message = ("values don't meet the specifications of the schema(s) in the following chart(s):\nx:\n"
               "- at '/image': validation failed\n  - at '/image/tag': got number, want string\n"
               "- at '': missing property 'image'\n- at '/a~1b': bad\n")
    assert helm.schema_errors(message) == {"values.image.tag": ["got number, want string"],
                                           "values": ["missing property 'image'"], "values.a/b": ["bad"]}
    assert json.dumps(helm.schema_errors("something else"))
