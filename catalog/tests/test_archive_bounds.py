"""Chart archives are read with bounded memory whatever their headers claim (issue 11, finding 5).

A 200 KB ``.tgz`` holding a 200 MB PAX extended header made :mod:`tarfile` (and so the web
process) allocate ~790 MB. The archive here is made the same way, streamed through zlib so the
test itself never holds more than a megabyte of it; the reader must refuse it from its header,
with a clear message, without inflating it. Memory is measured with ``tracemalloc`` (behaviour,
not wall clock)."""

from __future__ import annotations

import functools
import io
import tarfile
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from catalog import archive, helm
from catalog.tests.charts import chart_files, webapp

HUGE = 200 * 1024 * 1024


def _header(name: str, type_: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = type_, size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _regular(name: str, raw: bytes) -> bytes:
    return _header(name, tarfile.REGTYPE, len(raw)) + raw + bytes(-len(raw) % 512)


def _tgz_with_huge_special(type_: bytes, size: int = HUGE) -> bytes:
    """The webapp chart, then a ``type_`` header (PAX x/g, GNU L/K) claiming ``size`` bytes, then
    those bytes, gzip-compressed as a stream (~200 KB for 200 MB of one repeated byte)."""
    gz = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = io.BytesIO()
    for rel, text in chart_files().items():
        out.write(gz.compress(_regular(f"webapp/{rel}", text.encode())))
    out.write(gz.compress(_header("webapp/././@PaxHeader", type_, size)))
    chunk = b"a" * (1 << 20)
    for _ in range(size // len(chunk)):
        out.write(gz.compress(chunk))
    out.write(gz.compress(b"a" * (size % len(chunk)) + bytes(-size % 512)))
    out.write(gz.compress(_regular("webapp/templates/after.yaml", b"# after\n") + bytes(1024)))
    out.write(gz.flush())
    return out.getvalue()


@functools.cache
def pax_bomb() -> bytes:
    return _tgz_with_huge_special(tarfile.XHDTYPE)


def _peak_bytes(call: Callable[[], Any]) -> tuple[int, Any]:
    """Peak Python heap growth while ``call`` runs, and what it returned or raised."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            outcome: Any = call()
        except Exception as exc:  # the outcome is asserted by the caller
            outcome = exc
        return tracemalloc.get_traced_memory()[1] - base, outcome
    finally:
        tracemalloc.stop()


def test_the_archive_is_small_and_its_header_claims_200_mb() -> None:
    data = pax_bomb()
    assert len(data) < 512 * 1024
    assert len(data) < helm.MAX_ARCHIVE_BYTES


def test_a_200_mb_pax_header_is_refused_from_its_header_with_bounded_memory() -> None:
    peak, outcome = _peak_bytes(lambda: helm.validate_archive(pax_bomb()))
    assert isinstance(outcome, helm.ChartError), outcome
    assert "PAX extended header of 209715200 bytes" in outcome.message
    assert f"at most {archive.MAX_SPECIAL_BYTES} bytes" in outcome.message
    assert peak < 8 * 1024 * 1024, f"reading the headers took {peak} bytes"


@pytest.mark.parametrize(("type_", "what"), [(tarfile.XGLTYPE, "PAX extended header"),
                                              (tarfile.GNUTYPE_LONGNAME, "GNU long name"),
                                              (tarfile.GNUTYPE_LONGLINK, "GNU long name")])
def test_every_kind_of_special_header_is_bounded(type_: bytes, what: str) -> None:
    data = _tgz_with_huge_special(type_, 8 * 1024 * 1024)
    peak, outcome = _peak_bytes(lambda: helm.validate_archive(data))
    assert isinstance(outcome, helm.ChartError), outcome
    assert f"{what} of {8 * 1024 * 1024} bytes" in outcome.message
    assert peak < 8 * 1024 * 1024


def test_headers_within_the_bounds_are_read_as_tar_and_go_read_them() -> None:
    """PAX long names and sizes, GNU long names, ustar prefixes: the same files as tarfile sees."""
    buf = io.BytesIO()
    long_dir = "webapp/templates/" + "d" * 120
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel, text in chart_files().items():
            raw = text.encode()
            info = tarfile.TarInfo(f"webapp/{rel}")
            info.size = len(raw)
            info.pax_headers = {"comment": "é" * 50}
            tar.addfile(info, io.BytesIO(raw))
        info = tarfile.TarInfo(f"{long_dir}/cm.yaml")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"# x"))
    gnu = io.BytesIO()
    with tarfile.open(fileobj=gnu, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(f"{long_dir}/gnu.yaml")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"# gn"))
    both = buf.getvalue() + gnu.getvalue()  # two gzip members, as `cat a.tgz b.tgz` makes (the first tar's end stops it)
    _top, files = helm._read_archive(buf.getvalue())
    assert files[long_dir.removeprefix("webapp/") + "/cm.yaml"] == b"# x"
    assert files["values.yaml"] == chart_files()["values.yaml"].encode()
    _top, files = helm._read_archive(both)
    assert f"{long_dir.removeprefix('webapp/')}/gnu.yaml" not in files
    names = [e.name for e in archive.entries(gnu.getvalue(), max_total=1 << 20, max_file=1 << 20, max_entries=10)]
    assert names == [f"{long_dir}/gnu.yaml"]
    assert len(helm.render(buf.getvalue(), {"host": "x.example.com"}, release="r", namespace="n")) == 3


def test_truncated_and_corrupt_archives_are_refused_with_a_reason() -> None:
    good = webapp()
    inflated = zlib.decompress(good, 16 + zlib.MAX_WBITS)
    for raw, reason in [(inflated[:700], "truncated"), (inflated[:100], "truncated"),
                        (b"\x01" * 1024, "checksum"), (b"", "no tar data")]:
        gz = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = gz.compress(raw) + gz.flush()
        with pytest.raises(helm.ChartError, match=reason):
            helm.validate_archive(data)
    with pytest.raises(helm.ChartError, match="not valid gzip"):
        helm.validate_archive(b"\x1f\x8b" + b"\x08\x00garbage" * 10)


@pytest.mark.django_db
def test_uploading_the_archive_answers_400_and_the_web_process_stays_small(admin_api: APIClient) -> None:
    created = admin_api.post("/api/catalog/sources/", {"name": "hostile", "kind": "upload"}, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/catalog/sources/{created.json()['id']}/charts/"
    data = pax_bomb()
    peak, response = _peak_bytes(lambda: admin_api.post(
        url, {"chart": SimpleUploadedFile("bomb.tgz", data)}, format="multipart"))
    assert response.status_code == 400, response.content
    assert "PAX extended header of 209715200 bytes" in response.json()["detail"]
    assert response.json()["errors"]["chart"]
    assert peak < 16 * 1024 * 1024, f"the web process grew by {peak} bytes"
    # the engine is fine afterwards and a real chart still uploads
    ok = admin_api.post(url, {"chart": SimpleUploadedFile("webapp.tgz", webapp())}, format="multipart")
    assert ok.status_code == 201, ok.content


def test_a_deeply_nested_values_schema_is_refused_with_a_reason() -> None:
    deep_schema = '{"a":' * 5_000 + "1" + "}" * 5_000
    with pytest.raises(helm.ChartError, match=r"values\.schema\.json is nested more than 100 levels deep"):
        helm.inspect(webapp(**{"values.schema.json": deep_schema}))
    with pytest.raises(helm.ChartError, match=r"values\.yaml is nested more than 100 levels deep"):
        helm.inspect(webapp(**{"values.yaml": "a: " + "[" * 5_000 + "]" * 5_000 + "\n"}))
