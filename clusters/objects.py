"""Editing and creating objects from YAML: the pure rules (no I/O, no database writes).

Why a module of its own: the edit view, the dry-run preview, the create preview and the task
that applies (:mod:`clusters.object_ops`) must agree on every rule, and each rule is easier to
trust when it is a function of its inputs:

* **parse** what a person pasted through :mod:`portal.yamlsafe` (bounded depth and size), one
  document where one is expected (``multiple_documents``), each a Kubernetes object with
  ``apiVersion``, ``kind`` and ``metadata.name`` (``yaml_invalid`` with the line otherwise);
* **the edit view** of a live object: ``managedFields``, ``status`` and the fields the server
  owns (``resourceVersion``, ``uid``, ``creationTimestamp``, ``generation`` ...) taken away, and
  ``apiVersion``, ``kind``, ``metadata`` first, as ``kubectl edit`` shows an object
  (:func:`ordered`: a server or a list may give them later, or not at all);
* **identity**: an edit may not rename, re-kind or move an object (``name_changed``,
  ``kind_changed``, ``api_version_changed``, ``namespace_changed``); it may leave ``apiVersion``
  and ``kind`` out (the URL names them, as it does a missing namespace);
* **diff** of the live object against the dry-run result, a Secret's values masked (a changed
  value shows as changed, never in clear); Secrets are also shown masked in the edit view, and
  a masked value sent back means "keep the live value" (:func:`unmask_secret`);
* **the API server's answers**: a 409 apply conflict as ``[{field, manager, message}]``, a 422's
  causes as ``[{field, line, message}]`` with the line of the YAML the field is on.

It also shapes :class:`~clusters.models.ObjectAction` rows for the API and the ``objects.action``
event (:func:`action_row`), so the pushed row is the row the API returns.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from rest_framework.fields import DateTimeField

from clusters.kube.client import Resource
from clusters.kube.discovery import ApiResource
from clusters.models import ObjectAction
from portal import errors, yamlsafe
from portal.limits import YAML_MAX_LENGTH

# A YAML body (one object, or a create of many) may be this long: generous for real manifests
# (a big CRD is ~500 KB), small enough that a request cannot store megabytes per row at will.
YAML_MAX_BYTES = YAML_MAX_LENGTH
MAX_DOCUMENTS = 100
FIELD_MANAGER_PREFIX = "portal:"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_MASK = "(hidden)"
# Fields of metadata the server writes; an edit starts without them and they are never diffed.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")

_DATETIME = DateTimeField()
_LINE = re.compile(r"at line (\d+)")
_MANAGER = re.compile(r'conflicts? with "([^"]+)"')


def field_manager(username: str) -> str:
    """The field manager of a person's changes: ``portal:<username>`` (the API server allows 128)."""
    return (FIELD_MANAGER_PREFIX + username)[:128]


# ---------------------------------------------------------------------------- parsing


@dataclass
class Document:
    """One object of a YAML body: where it starts (1-based line) and what it says."""

    index: int
    line: int
    obj: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def is_secret(self) -> bool:
        return is_secret(self.obj)


def is_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _yaml_invalid(message: str, *, line: int | None = None, index: int | None = None) -> errors.Invalid:
    entry: dict[str, Any] = {"line": line, "message": message}
    params: dict[str, Any] = {"error": message, "line": line}
    if index is not None:
        entry["document"] = index
        params["document"] = index
    # ``errors`` keeps the API's one shape (strings per field); the editor's line marks are ``params.lines``
    return errors.Invalid(message, code="yaml_invalid", params={**params, "lines": [entry]},
                          errors={"yaml": [message]})


def _document_nodes(text: str) -> list[yaml.Node]:
    """The root node of each non-empty document (``text`` has passed :mod:`portal.yamlsafe`'s
    bounds, so composing it again is safe)."""
    return [n for n in yaml.compose_all(text, Loader=yaml.SafeLoader)
            if n is not None and not (isinstance(n, yaml.ScalarNode) and n.tag == "tag:yaml.org,2002:null")]


def _document_lines(text: str) -> list[int]:
    """The 1-based line each non-empty document starts on."""
    return [node.start_mark.line + 1 for node in _document_nodes(text)]


def parse_documents(text: str, *, many: bool, typed: bool = True) -> list[Document]:
    """The objects of ``text``: exactly one unless ``many`` (empty documents are skipped).
    ``typed=False`` (an edit, whose URL names the kind) lets ``apiVersion`` and ``kind`` be
    left out; given, they must still be non-empty strings.

    Raises ``Invalid``: ``yaml_invalid`` (not YAML, too large or deep, not an object, no
    apiVersion/kind/name; ``errors.yaml`` gives the line) or ``multiple_documents``."""
    if not text.strip():
        raise _yaml_invalid("The YAML is empty: paste or upload the object(s) to apply.")
    try:
        parsed = yamlsafe.load_all(text, what="The YAML", max_bytes=YAML_MAX_BYTES)
    except yamlsafe.YamlError as exc:
        found = _LINE.search(exc.message)
        raise _yaml_invalid(exc.message, line=int(found.group(1)) if found else None) from exc
    values = [v for v in parsed if v is not None]
    lines = _document_lines(text)
    if not values:
        raise _yaml_invalid("The YAML has no object in it.")
    if not many and len(values) > 1:
        raise errors.Invalid(f"Edit one object at a time: the YAML has {len(values)} documents.",
                             code="multiple_documents", params={"count": len(values)},
                             errors={"yaml": [f"{len(values)} documents; one is expected."]})
    if len(values) > MAX_DOCUMENTS:
        raise errors.Invalid(f"Create at most {MAX_DOCUMENTS} objects at once: the YAML has {len(values)}.",
                             code="yaml_invalid", params={"error": "too many documents", "line": None})
    documents = []
    for index, (value, line) in enumerate(zip(values, lines, strict=False)):
        where = f" (document {index + 1}, line {line})" if many else ""
        if not isinstance(value, dict):
            raise _yaml_invalid(f"Each document must be a Kubernetes object (a mapping){where}.", line=line,
                                index=index)
        for key in ("apiVersion", "kind"):
            if not typed and key not in value:
                continue
            if not isinstance(value.get(key), str) or not value.get(key):
                raise _yaml_invalid(f"The object has no {key}{where}.", line=line, index=index)
        metadata = value.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
            if isinstance(metadata, dict) and metadata.get("generateName"):
                raise _yaml_invalid(f"generateName is not supported here: give metadata.name{where}.", line=line,
                                    index=index)
            raise _yaml_invalid(f"The object has no metadata.name{where}.", line=line, index=index)
        if "namespace" in metadata and not isinstance(metadata["namespace"], str):
            raise _yaml_invalid(f"metadata.namespace must be a string{where}.", line=line, index=index)
        documents.append(Document(index=index, line=line, obj=value))
    return documents


def parse_one(text: str) -> Document:
    """The one object of an edit: ``apiVersion`` and ``kind`` may be left out (the URL names
    them; :func:`check_identity` fills them in)."""
    return parse_documents(text, many=False, typed=False)[0]


def api_version_of(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def client_resource(resource: ApiResource) -> Resource:
    """A served kind (discovery's answer) as the client layer names objects by."""
    return Resource(api_version=resource.group_version, kind=resource.kind, plural=resource.plural,
                    namespaced=resource.namespaced)


# ---------------------------------------------------------------------------- identity


def check_identity(doc: Document, *, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """The edited object, refused if it is not the object the URL names; a namespaced object
    without ``metadata.namespace`` gets the URL's, an object without ``apiVersion`` or ``kind``
    the URL's. Returns the object to apply (``apiVersion``, ``kind``, ``metadata`` first)."""
    obj = ordered(copy.deepcopy(doc.obj), api_version=api_version, kind=kind)
    metadata = obj["metadata"]
    if obj["kind"] != kind:
        raise errors.Invalid(f"The kind cannot change in an edit ({kind} → {obj['kind']}); create the new object "
                             "instead.", code="kind_changed", params={"expected": kind, "got": obj["kind"]},
                             errors={"kind": [f"must stay {kind}"]})
    if obj["apiVersion"] != api_version:
        raise errors.Invalid(f"The apiVersion cannot change in an edit ({api_version} → {obj['apiVersion']}).",
                             code="api_version_changed", params={"expected": api_version, "got": obj["apiVersion"]},
                             errors={"apiVersion": [f"must stay {api_version}"]})
    if metadata["name"] != name:
        raise errors.Invalid(f"The name cannot change in an edit ({name} → {metadata['name']}): a renamed object is "
                             "a new object; create it from YAML instead.", code="name_changed",
                             params={"expected": name, "got": metadata["name"]},
                             errors={"metadata.name": [f"must stay {name}"]})
    given = metadata.get("namespace") or ""
    if given and given != namespace:
        raise errors.Invalid(f"The namespace cannot change in an edit ({namespace or '(none)'} → {given}).",
                             code="namespace_changed", params={"expected": namespace, "got": given},
                             errors={"metadata.namespace": [f"must stay {namespace or 'empty'}"]})
    if namespace:
        metadata["namespace"] = namespace
    return obj


# ---------------------------------------------------------------------------- the edit view

# The keys an object starts with, in this order, as the API server writes it and kubectl shows it.
HEAD_KEYS = ("apiVersion", "kind", "metadata")


def ordered(obj: dict[str, Any], *, api_version: str = "", kind: str = "") -> dict[str, Any]:
    """``obj`` (a copy of its top level) starting with ``apiVersion``, ``kind`` and ``metadata``,
    then its other keys in their own order (``spec``, ``data`` ...). A missing ``apiVersion`` or
    ``kind`` is taken from the arguments when they give one (the kind the object was read as)."""
    head: dict[str, Any] = {}
    for key, fallback in (("apiVersion", api_version), ("kind", kind)):
        if key in obj:
            head[key] = obj[key]
        elif fallback:
            head[key] = fallback
    if "metadata" in obj:
        head["metadata"] = obj["metadata"]
    return {**head, **{k: v for k, v in obj.items() if k not in HEAD_KEYS}}


def clean(obj: dict[str, Any], *, keep_status: bool = False) -> dict[str, Any]:
    """``obj`` as a person edits it: no ``managedFields``, ``status`` or server-written metadata;
    a Secret keeps no ``last-applied-configuration`` (it carries the values in clear)."""
    out = copy.deepcopy(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        for key in SERVER_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if is_secret(out) and isinstance(annotations, dict):
            annotations.pop(LAST_APPLIED, None)
            if not annotations:
                metadata.pop("annotations")
    if not keep_status:
        out.pop("status", None)
    return ordered(out)


def mask_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret with every value of ``data`` and ``stringData`` replaced by :data:`SECRET_MASK`
    (the keys stay); other kinds unchanged."""
    if not is_secret(obj):
        return obj
    out = copy.deepcopy(obj)
    for key in ("data", "stringData"):
        if isinstance(out.get(key), dict):
            out[key] = {k: SECRET_MASK for k in out[key]}
    return out


def unmask_secret(submitted: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """A submitted Secret whose masked values (left as the edit view showed them) take the live
    values back: only the values a person typed are sent. A mask with no live value to keep is
    refused (the person must type a value)."""
    if not is_secret(submitted):
        return submitted
    out = copy.deepcopy(submitted)
    live_data = (live or {}).get("data") or {}
    for key in ("data", "stringData"):
        values = out.get(key)
        if not isinstance(values, dict):
            continue
        for name, value in list(values.items()):
            if value != SECRET_MASK:
                continue
            if name not in live_data:
                raise errors.Invalid(f"The Secret's key {name} still shows {SECRET_MASK}: type its value.",
                                     code="yaml_invalid", params={"error": f"{key}.{name} is masked", "line": None},
                                     errors={f"{key}.{name}": ["type the value"]})
            if key == "stringData":
                values.pop(name)
                out.setdefault("data", {})[name] = live_data[name]
            else:
                values[name] = live_data[name]
        if key == "stringData" and not values:
            out.pop("stringData")
    return out


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)


def edit_yaml(live: dict[str, Any], *, api_version: str = "", kind: str = "") -> str:
    """The YAML the editor starts from, as ``kubectl edit`` shows it: ``apiVersion``, ``kind``
    (from the arguments if the object lacks them), ``metadata``, then the rest in the object's
    order; the live object cleaned, a Secret's values masked."""
    return to_yaml(mask_secret(ordered(clean(live), api_version=api_version, kind=kind)))


def managers(live: dict[str, Any]) -> list[dict[str, Any]]:
    """Who manages the object's fields (from ``managedFields``): manager, operation, time."""
    out = []
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if isinstance(entry, dict):
            out.append({"manager": str(entry.get("manager") or ""), "operation": str(entry.get("operation") or ""),
                        "time": entry.get("time"), "subresource": str(entry.get("subresource") or "")})
    return out



# ---------------------------------------------------------------------------- diff


def _masked_pair(live: dict[str, Any] | None, result: dict[str, Any] | None
                 ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both sides of a Secret's diff with values masked; a changed value reads ``(hidden, changed)``."""
    if not ((live and is_secret(live)) or (result and is_secret(result))):
        return live, result
    before = (live or {}).get("data") or {}
    after_side = mask_secret(result) if result else None
    if after_side is not None and isinstance((result or {}).get("data"), dict):
        after_side["data"] = {k: (SECRET_MASK if before.get(k) == v else f"{SECRET_MASK[:-1]}, changed)")
                              for k, v in result["data"].items()}  # type: ignore[index]
    return (mask_secret(live) if live else None), after_side


def diff(live: dict[str, Any] | None, result: dict[str, Any] | None, *, name: str = "object") -> str:
    """A unified diff of ``live`` (None: the object is new) against ``result`` (None: removed),
    both cleaned of server-written fields and status; a Secret's values masked."""
    before, after = _masked_pair(clean(live) if live else None, clean(result) if result else None)
    a = to_yaml(before).splitlines(keepends=True) if before is not None else []
    b = to_yaml(after).splitlines(keepends=True) if after is not None else []
    return "".join(difflib.unified_diff(a, b, fromfile=f"live/{name}", tofile=f"applied/{name}"))


# ---------------------------------------------------------------------------- the API server's answers


def conflicts(status: dict[str, Any] | None, message: str = "") -> list[dict[str, str]]:
    """The fields of a 409 server-side apply conflict and who owns them:
    ``[{field, manager, message}]`` (from ``details.causes``; from the message if there are none)."""
    out = []
    causes = ((status or {}).get("details") or {}).get("causes") or []
    for cause in causes:
        if not isinstance(cause, dict) or cause.get("type", "FieldManagerConflict") != "FieldManagerConflict":
            continue
        text = str(cause.get("message") or "")
        found = _MANAGER.search(text)
        out.append({"field": str(cause.get("field") or ""), "manager": found.group(1) if found else "",
                    "message": text})
    if out:
        return out
    text = str((status or {}).get("message") or message)
    found = _MANAGER.search(text)
    return [{"field": "", "manager": found.group(1) if found else "", "message": text}] if text else []


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^\]]*)\]")


def _path(field_path: str) -> list[str | int]:
    out: list[str | int] = []
    for name, index, other in _SEGMENT.findall(field_path.lstrip(".")):
        if name:
            out.append(name)
        elif index:
            out.append(int(index))
        elif other:
            out.append(other)  # a keyed list item ([name="x"]): matched loosely below
    return out


def line_of(text: str, field_path: str, *, document: int = 0) -> int | None:
    """The 1-based line of ``field_path`` (``spec.template.spec.containers[0].image``) in the
    ``document``-th object of ``text``: the deepest part of the path that exists there."""
    try:
        nodes = _document_nodes(text)
    except yaml.YAMLError:
        return None
    if document >= len(nodes):
        return None
    node: yaml.Node = nodes[document]
    line = node.start_mark.line + 1
    for part in _path(field_path):
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode):
            if isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
            else:  # name="x"
                wanted = part.split("=", 1)[-1].strip('"')
                found = next((item for item in node.value if isinstance(item, yaml.MappingNode) and any(
                    isinstance(v, yaml.ScalarNode) and v.value == wanted for _k, v in item.value)), None)
                if found is None:
                    return line
                node = found
            line = node.start_mark.line + 1
        else:
            return line
    return line


def invalid_causes(status: dict[str, Any] | None, message: str, *, text: str = "", document: int = 0
                   ) -> list[dict[str, Any]]:
    """A 422's causes as ``[{field, line, message}]``, each placed on the line of ``text`` (the
    submitted YAML) its field is on; one entry with the whole message when there are no causes."""
    out = []
    for cause in ((status or {}).get("details") or {}).get("causes") or []:
        if not isinstance(cause, dict):
            continue
        path = str(cause.get("field") or "")
        out.append({"field": path, "line": line_of(text, path, document=document) if text and path else None,
                    "message": str(cause.get("message") or cause.get("reason") or "")})
    return out or [{"field": "", "line": None, "message": str((status or {}).get("message") or message)}]


def api_invalid(status: dict[str, Any] | None, message: str, *, text: str = "", document: int = 0) -> errors.Invalid:
    """The 400 ``api_invalid`` for a 422 of the API server: its causes on their lines."""
    causes = invalid_causes(status, message, text=text, document=document)
    detail = str((status or {}).get("message") or message)
    return errors.Invalid(f"The cluster refused the object: {detail}", code="api_invalid",
                          params={"error": detail[:500], "lines": causes},
                          errors={"yaml": [str(c["message"]) for c in causes]})


# ---------------------------------------------------------------------------- rows


def _iso(value: Any) -> str | None:
    return _DATETIME.to_representation(value) if value is not None else None


def action_row(action: ObjectAction) -> dict[str, Any]:
    """An ObjectAction as the API returns it (and the ``objects.action`` payload). The manifest
    is not in it (a Secret's would be sensitive; the diff says what changed)."""
    return {
        "id": action.pk, "cluster": action.cluster_id, "group": action.group, "version": action.version,
        "plural": action.plural, "kind": action.kind, "namespace": action.namespace, "name": action.name,
        "action": str(action.action), "params": action.params or {}, "status": str(action.status),
        "message": action.message, "message_code": action.message_code,
        "message_params": action.message_params or {}, "result": action.result or {}, "diff": action.diff,
        "requested_by": action.requested_username, "created": _iso(action.created), "started": _iso(action.started),
        "finished": _iso(action.finished), "attempts": action.attempts,
    }


def action_group(action: ObjectAction) -> str:
    """The socket group an action's row goes to: its namespace's, or the cluster's."""
    if action.namespace:
        return f"cluster.{action.cluster_id}.ns.{action.namespace}"
    return f"cluster.{action.cluster_id}"
