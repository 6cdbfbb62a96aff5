"""Every error code the product raises has a translation in the console.

The API's error body and every stored status message carry a stable ``code`` beside the English
text, and the console shows ``codes.<code>`` from ``frontend/src/i18n/en.json`` / ``ko.json`` in the
user's language (``frontend/src/lib/messages.ts``). A code without a key there falls back to
English, silently: Korean users would read English again. This test reads the Python sources (no
import, no database) and fails for a code raised in product code that the console cannot
translate, naming the file and line, so a new code arrives with its translation. (The console's
own test checks that every key exists in both languages.)

What counts as raising a code:
- ``code="…"`` passed to a :mod:`portal.errors` class (``errors.Invalid(…)``, ``Conflict(…)``
  imported from it) or to any other exception class (a subclass, DRF's ``ValidationError``,
  ``Throttled``, an ``APIException`` subclass);
- ``default_code = "…"`` or ``code = "…"`` set on an exception class;
- ``{"detail": …, "code": "…"}`` written as a response body by hand;
- a stored message's code: ``code="…"`` beside ``params=`` or ``message=`` in a call
  (``intents.finish(…)``), ``message_code="…"`` (or ``…_message_code``) as a keyword, a dict key or
  an assignment. Codes built at run time (``f"cluster_{code}"``) are listed in the console's
  ``messageCodes.ts`` by hand.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Product code: every Django app of the repository (a new app is scanned without a change here), not the sandbox.
PRODUCT = sorted(p.parent.name for p in ROOT.glob("*/apps.py") if p.parent.name != "sandbox")
EN = ROOT / "frontend" / "src" / "i18n" / "en.json"

# Exception classes that take ``code=`` (portal.errors, DRF, Django) and the suffixes of others.
KNOWN_ERRORS = {"PortalError", "Invalid", "Forbidden", "NotFound", "Conflict", "Unavailable",
                "APIException", "ValidationError", "ParseError", "Throttled", "PermissionDenied",
                "AuthenticationFailed", "NotAuthenticated", "MethodNotAllowed", "NotAcceptable",
                "UnsupportedMediaType"}
ERROR_SUFFIXES = ("Error", "Exception")


def _product_files() -> Iterator[Path]:
    for app in PRODUCT:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).parts
            if "tests" in rel or "migrations" in rel or path.name.startswith("test_") or path.name == "testing.py":
                continue
            yield path


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of exception classes: the known ones, ``…Error``/``…Exception``, and their subclasses."""
    known = set(KNOWN_ERRORS)
    classes = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for cls in classes:
            if cls.name in known:
                continue
            bases = {_name(b) for b in cls.bases}
            if cls.name.endswith(ERROR_SUFFIXES) or bases & known or any(b.endswith(ERROR_SUFFIXES) for b in bases):
                known.add(cls.name)
                changed = True
    return known


def _aliases(tree: ast.Module, errors: set[str]) -> set[str]:
    """Local names bound to exception classes by ``from x import Y as Z``."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in errors:
                    out.add(alias.asname or alias.name)
    return out


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value else None


def raised_codes() -> dict[str, list[str]]:
    """``{code: ["path:line", ...]}`` for every code product code raises."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in _product_files()}
    errors = _error_classes(trees)
    found: dict[str, list[str]] = {}

    def add(value: ast.expr | None, path: Path, node: ast.AST) -> None:
        """Record the literal code ``value`` (both of ``"a" if x else "b"``)."""
        branches: list[ast.expr | None] = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
        for branch in branches:
            code = _literal(branch)
            if code:
                found.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")

    for path, tree in trees.items():
        callables = errors | _aliases(tree, errors)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                named = {kw.arg for kw in node.keywords}
                coded_message = bool(named & {"params", "message"})
                for kw in node.keywords:
                    exception_code = kw.arg == "code" and (coded_message or _name(node.func) in callables)
                    if exception_code or (kw.arg or "").endswith("message_code"):
                        add(kw.value, path, node)
            elif isinstance(node, ast.ClassDef) and node.name in errors:
                for stmt in node.body:
                    value: ast.expr | None
                    if isinstance(stmt, ast.Assign):
                        targets, value = stmt.targets, stmt.value
                    elif isinstance(stmt, ast.AnnAssign):
                        targets, value = [stmt.target], stmt.value
                    else:
                        continue
                    if any(isinstance(t, ast.Name) and t.id in {"code", "default_code"} for t in targets):
                        add(value, path, stmt)
            elif isinstance(node, ast.Dict):
                keys = {_literal(k) for k in node.keys if k is not None}
                for k, v in zip(node.keys, node.values, strict=True):
                    key = _literal(k) if k is not None else None
                    if (key == "code" and "detail" in keys) or (key or "").endswith("message_code"):
                        add(v, path, node)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    pairs = (zip(target.elts, node.value.elts, strict=False)
                             if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                             else [(target, node.value)])
                    for t, v in pairs:
                        if isinstance(t, ast.Attribute) and t.attr.endswith("message_code"):
                            add(v, path, node)
    return found


def test_the_scan_sees_the_codes_it_should() -> None:
    """Guards the scanner itself: codes raised in each of the ways above are found."""
    found = raised_codes()
    for code in ("grant_missing", "admin_required", "permission_denied",  # portal.errors with code=
                 "conflict", "not_found",  # default_code of portal.errors classes
                 "account_locked",  # DRF Throttled(code=...)
                 "request_too_large",  # a hand-written body
                 "connection_refused",  # code = "..." on a cluster error class
                 "rollout_cancelled"):  # a stored message's code
        assert code in found, code


def test_every_raised_code_has_a_console_translation() -> None:
    translations = json.loads(EN.read_text(encoding="utf-8")).get("codes", {})
    missing = {code: where for code, where in raised_codes().items() if code not in translations}
    assert not missing, (
        "Add codes.<code> to frontend/src/i18n/en.json and ko.json (and to frontend/src/lib/messageCodes.ts) "
        f"for: {json.dumps(missing, indent=1)}"
    )
