"""The simulated image builder shared by the BuildKit and Buildah programs: a documented subset of
the Dockerfile made into a real OCI image (gzip tar layers, config, manifest) and pushed through
the Registry HTTP API, so digests, sizes and the registry view are real.

Supported: ``FROM scratch`` or an image in a reachable registry (its layers and config carried
over; ``AS name``; ``FROM <earlier stage>``), ``COPY`` (``--from=<stage>`` of files that stage
COPYed/ADDed, ``--chown`` numeric, ``--chmod``), ``ADD`` of local files (no URLs, archives are not
unpacked), ``ENV``, ``LABEL``, ``WORKDIR``, ``EXPOSE``, ``CMD``, ``ENTRYPOINT``, ``ARG`` (with build
args and ``${VAR}`` substitution), ``USER``, ``VOLUME``, ``STOPSIGNAL``; ``RUN`` is logged and
makes no layer. Layers are deterministic: every file and directory has mtime 0 (or
``SOURCE_DATE_EPOCH``), owner 0:0 unless ``--chown``, mode 0644/0755 by the source's execute bit,
entries sorted, gzip without a timestamp — equal inputs give equal layer digests.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import json
import posixpath
import stat
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.programs.dockerfile import (
    DockerfileError,
    Instruction,
    json_or_shell,
    key_values,
    parse,
    substitute,
)
from sandbox.programs.registry import (
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    Client,
    RegistryError,
    parse_reference,
    sha256,
)

DOCKER_LAYER_MEDIA = {"application/vnd.docker.image.rootfs.diff.tar.gzip": MEDIA_OCI_LAYER}
LAYER_STEPS = ("COPY", "ADD")
COUNTED = ("FROM", "RUN", "COPY", "ADD", "WORKDIR")


class BuildError(Exception):
    """The build failed; ``message`` is what follows ``failed to solve:``; ``step`` the failing
    instruction (None for errors outside one), ``detail`` the step's own error line."""

    def __init__(self, message: str, *, step: Instruction | None = None, detail: str = "",
                 label: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.step = step
        self.detail = detail or message
        self.label = label


@dataclass
class Entry:
    kind: str  # file | dir | symlink
    data: bytes = b""
    mode: int = 0o644
    target: str = ""
    uid: int = 0
    gid: int = 0


@dataclass
class Layer:
    media_type: str
    digest: str
    size: int
    diff_id: str
    data: bytes | None = None  # a new layer's bytes
    source: tuple[Client, str] | None = None  # a base layer: where to copy it from


@dataclass
class Stage:
    name: str
    index: int
    base: str
    config: dict[str, Any] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Entry] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    os: str = "linux"
    architecture: str = "amd64"

    @property
    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out

    def set_env(self, key: str, value: str) -> None:
        env = [e for e in self.config.get("Env") or [] if not str(e).startswith(key + "=")]
        env.append(f"{key}={value}")
        self.config["Env"] = env


@dataclass
class Image:
    config: bytes
    config_digest: str
    manifest: bytes
    manifest_digest: str
    layers: list[Layer]

    @property
    def size(self) -> int:
        return len(self.manifest)


class Progress:
    """What the builder reports while it works (BuildKit plain progress, or Buildah's steps)."""

    def vertex(self, name: str) -> None: ...
    def detail(self, text: str) -> None: ...
    def done(self) -> None: ...
    def run_logged(self, command: str) -> None: ...
    def instruction(self, stage: int, stages: int, n: int, total: int, text: str) -> None:
        """Every instruction as it is reached (Buildah's ``STEP n/total``); ``stage`` counts from 1."""


@dataclass
class BuildInput:
    context: Path  # host path of the context directory
    dockerfile: Path  # host path of the Dockerfile
    dockerfile_name: str  # as the user named it (for messages)
    build_args: dict[str, str]
    target: str = ""
    resolve: Callable[[str], Client] | None = None  # registry host → client (credentials, TLS)


def _ref_id(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    n = int(digest, 16)
    out = []
    for _ in range(25):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


def _not_found(context: Path, path: str) -> str:
    ref = _ref_id(str(context), "context")
    return f'failed to calculate checksum of ref {ref}::{_ref_id(ref)}: "{path}": not found'


def _mtime(build_args: dict[str, str]) -> int:
    try:
        return int(build_args.get("SOURCE_DATE_EPOCH", "0"))
    except ValueError:
        return 0


class Builder:
    def __init__(self, spec: BuildInput, progress: Progress) -> None:
        self.spec = spec
        self.progress = progress
        self.stages: list[Stage] = []
        self.mtime = _mtime(spec.build_args)
        self.instructions: list[Instruction] = []

    # ---------------------------------------------------------------- the Dockerfile

    def read(self) -> list[Instruction]:
        try:
            text = self.spec.dockerfile.read_text()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BuildError(f"failed to read dockerfile: open {self.spec.dockerfile_name}: no such file or "
                             f"directory") from exc
        self.progress.detail(f"transferring dockerfile: {len(text.encode())}B done")
        try:
            self.instructions = parse(text)
        except DockerfileError as exc:
            raise BuildError(str(exc)) from exc
        return self.instructions

    def plan(self) -> tuple[list[list[Instruction]], dict[str, str]]:
        """Stages (their instruction lists, FROM first) and the global ARGs before the first FROM."""
        global_args: dict[str, str] = {}
        stages: list[list[Instruction]] = []
        for ins in self.instructions:
            if ins.keyword == "FROM":
                stages.append([ins])
            elif not stages:
                if ins.keyword != "ARG":
                    raise BuildError(f"dockerfile parse error on line {ins.line}: no build stage in current context",
                                     step=ins)
                for k, v in key_values(ins.rest, ins.line, "ARG"):
                    global_args[k] = self.spec.build_args.get(k, "" if v == "\0" else substitute(v, global_args))
            else:
                stages[-1].append(ins)
        if not stages:
            raise BuildError("the Dockerfile has no FROM instruction")
        return stages, global_args

    # ---------------------------------------------------------------- building

    def build(self) -> tuple[Stage, dict[str, str]]:
        stage_lists, global_args = self.plan()
        names: dict[str, int] = {}
        for i, lst in enumerate(stage_lists):
            words = lst[0].flags_and_args()[1].split()
            if len(words) >= 3 and words[1].upper() == "AS":
                names[words[2].lower()] = i
        last = len(stage_lists) - 1
        if self.spec.target:
            if self.spec.target.lower() not in names:
                raise BuildError(f'target stage "{self.spec.target}" could not be found')
            last = names[self.spec.target.lower()]
        needed = self._needed(stage_lists, names, last)
        multi = len(needed) > 1
        base_cache: dict[str, Stage] = {}
        for position, i in enumerate(sorted(needed), 1):
            lst = stage_lists[i]
            self.progress.instruction(position, len(needed), 1, len(lst), lst[0].original)
            words = lst[0].flags_and_args()[1].split()
            base = substitute(words[0], global_args) if words else ""
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else ""
            label = (name or f"stage-{i}") if multi else ""
            stage = self._from(base, i, name, lst[0], names, base_cache, label, len(
                [x for x in lst if x.keyword in COUNTED]))
            stage.args = dict(global_args)
            self.stages.append(stage)
            self._run_stage(stage, lst[1:], label, len([x for x in lst if x.keyword in COUNTED]),
                            (position, len(needed), len(lst)))
        return self.stages[-1], global_args

    def _needed(self, stage_lists: list[list[Instruction]], names: dict[str, int], last: int) -> set[int]:
        needed = {last}
        todo = [last]
        while todo:
            i = todo.pop()
            for ins in stage_lists[i]:
                ref = ""
                if ins.keyword == "FROM":
                    words = ins.flags_and_args()[1].split()
                    ref = words[0].lower() if words else ""
                elif ins.keyword in LAYER_STEPS:
                    ref = ins.flags_and_args()[0].get("from", "").lower()
                j = names.get(ref, int(ref) if ref.isdigit() else -1)
                if 0 <= j < i and j not in needed:
                    needed.add(j)
                    todo.append(j)
        return needed

    def _label(self, label: str, n: int, total: int) -> str:
        return f"[{label} {n}/{total}]" if label else f"[{n}/{total}]"

    def _from(self, base: str, index: int, name: str, ins: Instruction, names: dict[str, int],
              cache: dict[str, Stage], label: str, total: int) -> Stage:
        stage = Stage(name or str(index), index, base)
        prior = names.get(base.lower())
        if prior is not None and prior < index:
            src = next(s for s in self.stages if s.index == prior)
            stage.config = json.loads(json.dumps(src.config))
            stage.layers, stage.history = list(src.layers), list(src.history)
            stage.files = dict(src.files)
            stage.os, stage.architecture = src.os, src.architecture
            self.progress.vertex(f"{self._label(label, 1, total)} FROM {src.base}")
            self.progress.done()
            return stage
        if base.lower() == "scratch":
            return stage
        ref = parse_reference(base)
        shown = f"{ref.host}/{ref.repository}:{ref.tag}" if ref.tag else f"{ref.host}/{ref.repository}"
        self.progress.vertex(f"[internal] load metadata for {shown}")
        try:
            if self.spec.resolve is None:
                raise RegistryError(f"{shown}: not found", 404)
            client = self.spec.resolve(ref.api_host)
            manifest, digest, _ = client.image_manifest(ref.repository, ref.digest or ref.tag)
            config = json.loads(client.blob(ref.repository, str(manifest["config"]["digest"])))
        except RegistryError as exc:
            if exc.status == 404:
                why = f"{shown}: not found"
            elif exc.status in (401, 403):
                why = ("pull access denied, repository does not exist or may require authorization: "
                       "server message: insufficient_scope: authorization failed")
            else:
                why = f"failed to do request: Head \"{exc.url or shown}\": {exc.message}"
            raise BuildError(f"{shown}: failed to resolve source metadata for {shown}: {why}", step=ins,
                             detail=why, label=f"[internal] load metadata for {shown}") from exc
        self.progress.done()
        self.progress.vertex(f"{self._label(label, 1, total)} FROM {shown}@{digest}")
        self.progress.detail(f"resolve {shown}@{digest} done")
        self.progress.done()
        diff_ids = list(((config.get("rootfs") or {}).get("diff_ids")) or [])
        for i, layer in enumerate(manifest.get("layers") or []):
            media = DOCKER_LAYER_MEDIA.get(str(layer.get("mediaType")), str(layer.get("mediaType") or MEDIA_OCI_LAYER))
            stage.layers.append(Layer(media, str(layer["digest"]), int(layer.get("size") or 0),
                                      diff_ids[i] if i < len(diff_ids) else "", source=(client, ref.repository)))
        stage.config = dict(config.get("config") or {})
        stage.history = list(config.get("history") or [])
        stage.os = str(config.get("os") or "linux")
        stage.architecture = str(config.get("architecture") or "amd64")
        return stage

    def _run_stage(self, stage: Stage, instructions: list[Instruction], label: str, total: int,
                   steps: tuple[int, int, int]) -> None:
        n = 1
        declared: dict[str, str] = {}
        for step_no, ins in enumerate(instructions, 2):
            self.progress.instruction(steps[0], steps[1], step_no, steps[2], ins.original)
            vars_ = {**{k: v for k, v in stage.args.items() if k in declared}, **declared, **stage.env}
            if ins.keyword in COUNTED:
                n += 1
            kw = ins.keyword
            created_by = f"{kw} {ins.rest}"
            empty = True
            if kw == "ARG":
                for name, v in key_values(ins.rest, ins.line, "ARG"):
                    default = "" if v == "\0" else substitute(v, vars_)
                    inherited = stage.args.get(name, default) if v == "\0" else default  # a global ARG's value
                    declared[name] = self.spec.build_args.get(name, inherited)
            elif kw == "ENV":
                for k, v in key_values(ins.rest, ins.line, "ENV"):
                    stage.set_env(k, substitute(v, {**vars_, **stage.env}))
            elif kw == "LABEL":
                labels = dict(stage.config.get("Labels") or {})
                for k, v in key_values(substitute(ins.rest, vars_), ins.line, "LABEL"):
                    labels[k] = v
                stage.config["Labels"] = labels
            elif kw == "MAINTAINER":
                labels = dict(stage.config.get("Labels") or {})
                labels["maintainer"] = ins.rest
                stage.config["Labels"] = labels
            elif kw == "WORKDIR":
                path = substitute(ins.rest.strip(), vars_)
                workdir = posixpath.normpath(posixpath.join(stage.config.get("WorkingDir") or "/", path))
                stage.config["WorkingDir"] = workdir
                self.progress.vertex(f"{self._label(label, n, total)} WORKDIR {workdir}")
                self.progress.done()
            elif kw == "EXPOSE":
                ports = dict(stage.config.get("ExposedPorts") or {})
                for p in substitute(ins.rest, vars_).split():
                    ports[p if "/" in p else f"{p}/tcp"] = {}
                stage.config["ExposedPorts"] = ports
            elif kw in ("CMD", "ENTRYPOINT"):
                argv, _ = json_or_shell(ins.rest)
                stage.config["Cmd" if kw == "CMD" else "Entrypoint"] = argv
                if kw == "ENTRYPOINT" and not any(i.keyword == "CMD" and i.line < ins.line for i in instructions):
                    stage.config.pop("Cmd", None)  # an inherited CMD does not survive a new ENTRYPOINT
            elif kw == "USER":
                stage.config["User"] = substitute(ins.rest.strip(), vars_)
            elif kw == "VOLUME":
                argv, was_json = json_or_shell(ins.rest)
                vols = dict(stage.config.get("Volumes") or {})
                for v in (argv if was_json else substitute(ins.rest, vars_).split()):
                    vols[v] = {}
                stage.config["Volumes"] = vols
            elif kw == "STOPSIGNAL":
                stage.config["StopSignal"] = substitute(ins.rest.strip(), vars_)
            elif kw == "RUN":
                created_by = f"RUN {ins.rest}"
                self.progress.vertex(f"{self._label(label, n, total)} RUN {ins.rest}")
                self.progress.run_logged(ins.rest)
                self.progress.done()
            elif kw in LAYER_STEPS:
                self.progress.vertex(f"{self._label(label, n, total)} {ins.original}")
                layer, entries = self._copy(stage, ins, vars_, f"{self._label(label, n, total)} {ins.original}")
                stage.layers.append(layer)
                stage.files.update(entries)
                empty = False
                self.progress.done()
            elif kw in ("HEALTHCHECK", "SHELL", "ONBUILD"):
                self.progress.run_logged(f"{kw} is not simulated by the sandbox builder (ignored)")
            stage.history.append({"created": self._created(), "created_by": f"{created_by} # buildkit",
                                  "comment": "buildkit.dockerfile.v0", **({"empty_layer": True} if empty else {})})

    def _created(self) -> str:
        if "SOURCE_DATE_EPOCH" in self.spec.build_args:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.mtime))
        ns = time.time_ns()  # RFC 3339 with nanoseconds, as BuildKit writes it
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"

    # ---------------------------------------------------------------- COPY / ADD

    def _copy(self, stage: Stage, ins: Instruction, vars_: dict[str, str], label: str) -> tuple[Layer, dict[str, Entry]]:
        flags, text = ins.flags_and_args()
        argv, was_json = json_or_shell(text)
        words = argv if was_json else substitute(text, vars_).split()
        if len(words) < 2:
            raise BuildError(f"dockerfile parse error on line {ins.line}: {ins.keyword} requires at least two "
                             "arguments, but only one was provided. Destination could not be determined", step=ins)
        sources, dest = words[:-1], words[-1]
        uid = gid = 0
        if flags.get("chown"):
            u, _, g = substitute(flags["chown"], vars_).partition(":")
            uid = int(u) if u.isdigit() else 0
            gid = int(g) if g.isdigit() else uid
        chmod = int(flags["chmod"], 8) if flags.get("chmod") and flags["chmod"].isdigit() else None
        workdir = stage.config.get("WorkingDir") or "/"
        dest_is_dir = dest.endswith("/") or len(sources) > 1
        dest_abs = posixpath.normpath(posixpath.join(workdir, dest)).lstrip("/")
        out: dict[str, Entry] = {}
        from_stage = flags.get("from", "")
        for src in sources:
            if ins.keyword == "ADD" and (src.startswith("http://") or src.startswith("https://") or
                                         src.startswith("git@")):
                raise BuildError(f"ADD {src}: the sandbox builder adds local files only (no URLs)", step=ins,
                                 label=label)
            if from_stage:
                found = self._from_stage(from_stage, src, ins, label)
            else:
                found = self._from_context(src, ins, label)
            for rel, entry, is_dir_src in found:
                if is_dir_src or dest_is_dir:
                    target = posixpath.join(dest_abs, rel) if rel else dest_abs
                else:
                    target = dest_abs
                if not target:
                    continue
                out[target] = Entry(entry.kind, entry.data, chmod if chmod is not None and entry.kind == "file"
                                    else entry.mode, entry.target, uid, gid)
        for path in list(out):  # every parent directory in the layer too
            parent = posixpath.dirname(path)
            while parent and parent not in out:
                out[parent] = Entry("dir", mode=0o755, uid=uid if parent.startswith(dest_abs) else 0,
                                    gid=gid if parent.startswith(dest_abs) else 0)
                parent = posixpath.dirname(parent)
        raw = self._tar(out)
        blob = gzip.compress(raw, compresslevel=6, mtime=0)
        return Layer(MEDIA_OCI_LAYER, sha256(blob), len(blob), sha256(raw), data=blob), out

    def _from_context(self, src: str, ins: Instruction, label: str) -> list[tuple[str, Entry, bool]]:
        root = self.spec.context.resolve()
        clean = posixpath.normpath("/" + src)  # BuildKit scopes every source to the context: "../x" is "/x"
        if any(ch in clean for ch in "*?["):
            matches = sorted(p for p in _walk_names(root) if fnmatch.fnmatchcase("/" + p, clean))
            if not matches:
                raise BuildError(f"failed to compute cache key: {_not_found(root, clean)}", step=ins,
                                 detail=_not_found(root, clean), label=label)
            out: list[tuple[str, Entry, bool]] = []
            for m in matches:
                out.extend((posixpath.join(posixpath.basename(m), r) if r else posixpath.basename(m), e, True)
                           for r, e, _ in self._read_host(root, root / m))
            return out
        host = root / clean.lstrip("/")
        try:
            resolved = host.resolve()
        except OSError:
            resolved = host
        if not (resolved == root or root in resolved.parents) or not host.exists():
            raise BuildError(f"failed to compute cache key: {_not_found(root, clean)}", step=ins,
                             detail=_not_found(root, clean), label=label)
        if resolved.is_dir():
            return [(r, e, True) for r, e, _ in self._read_host(root, resolved)]
        return [(posixpath.basename(clean), _file_entry(resolved), False)]

    def _read_host(self, root: Path, base: Path) -> list[tuple[str, Entry, bool]]:
        if not base.is_dir():
            return [("", _file_entry(base), False)]
        out: list[tuple[str, Entry, bool]] = []
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base).as_posix()
            if rel == ".git" or rel.startswith(".git/"):
                continue
            if path.is_symlink():
                out.append((rel, Entry("symlink", target=str(path.readlink())), True))
            elif path.is_dir():
                out.append((rel, Entry("dir", mode=0o755), True))
            else:
                out.append((rel, _file_entry(path), True))
        return out

    def _from_stage(self, name: str, src: str, ins: Instruction, label: str) -> list[tuple[str, Entry, bool]]:
        stage = next((s for s in self.stages if s.name.lower() == name.lower() or str(s.index) == name), None)
        if stage is None:
            raise BuildError(f"COPY --from={name}: the sandbox builder copies only from an earlier stage of the "
                             "same Dockerfile", step=ins, label=label)
        clean = posixpath.normpath("/" + src).lstrip("/")
        if clean in stage.files and stage.files[clean].kind != "dir":
            return [(posixpath.basename(clean), stage.files[clean], False)]
        prefix = clean + "/" if clean else ""
        found = [(p[len(prefix):], e, True) for p, e in sorted(stage.files.items()) if p.startswith(prefix)]
        if not found and clean not in stage.files:
            detail = _not_found(Path(f"stage-{stage.index}"), "/" + clean)
            raise BuildError(f"failed to compute cache key: {detail}", step=ins, detail=detail, label=label)
        return found

    def _tar(self, entries: dict[str, Entry]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(entries):
                e = entries[path]
                info = tarfile.TarInfo(path + ("/" if e.kind == "dir" else ""))
                info.mtime, info.uid, info.gid, info.uname, info.gname = self.mtime, e.uid, e.gid, "", ""
                info.mode = e.mode
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif e.kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, e.target
                    tar.addfile(info)
                else:
                    info.size = len(e.data)
                    tar.addfile(info, io.BytesIO(e.data))
        return buffer.getvalue()

    # ---------------------------------------------------------------- the image

    def image(self, stage: Stage) -> Image:
        config = {
            "architecture": stage.architecture, "os": stage.os, "created": self._created(),
            "config": stage.config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in stage.layers]},
            "history": stage.history,
        }
        config_raw = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
        config_digest = sha256(config_raw)
        manifest = {
            "schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
            "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": config_digest, "size": len(config_raw)},
            "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}
                       for layer in stage.layers],
        }
        manifest_raw = json.dumps(manifest, separators=(",", ":")).encode()
        return Image(config_raw, config_digest, manifest_raw, sha256(manifest_raw), stage.layers)


def _file_entry(path: Path) -> Entry:
    mode = path.stat().st_mode
    return Entry("file", path.read_bytes(), 0o755 if mode & stat.S_IXUSR else 0o644)


def _walk_names(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in root.iterdir() if p.name != ".git"]


def push(image: Image, client: Client, repository: str, tag: str) -> str:
    """Blobs first (base layers copied from their repository), then the manifest under ``tag``;
    returns the manifest digest the registry answered. The distribution registry's filesystem
    storage briefly does not see a blob while another push of the same blob commits it (equal layers
    of concurrent builds): a manifest refused with MANIFEST_BLOB_UNKNOWN is retried once after the
    blobs are checked again."""
    for attempt in range(2):
        for layer in image.layers:
            if layer.data is not None:
                client.push_blob(repository, layer.data, layer.digest)
                continue
            if client.has_blob(repository, layer.digest):
                continue
            assert layer.source is not None
            source, from_repo = layer.source
            client.push_blob(repository, source.blob(from_repo, layer.digest), layer.digest)
        client.push_blob(repository, image.config, image.config_digest)
        try:
            return client.put_manifest(repository, tag, image.manifest, MEDIA_OCI_MANIFEST)
        except RegistryError as exc:
            if attempt or "MANIFEST_BLOB_UNKNOWN" not in exc.codes:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


__all__ = ["MEDIA_DOCKER_MANIFEST", "BuildError", "BuildInput", "Builder", "Image", "Progress", "push"]
