"""Groups → roles: which system role and which workspace roles a set of provider groups grants.

Pure (no database, no I/O), so the same function answers a sign-in, the LDAP schedule and the
admin's preview, and a table test covers it. The writers in :mod:`identity.actions` turn the
answer into rows and remove what the groups no longer grant.

Matching: an OIDC group claim value matches a rule's ``group`` exactly (claims are
case-sensitive). An LDAP group matches by its DN, compared the way directories compare DNs
(attribute names and values case-insensitively, spaces around unescaped ``,``/``=``/``+``
ignored, escapes kept), or by its CN when the rule names a bare CN (no ``=``). When several rules
grant roles in one workspace, the role with the most grants wins; when several grant system
roles, the highest (admin > operator > auditor > user) wins.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SYSTEM_ROLE_RANK = {"": 0, "user": 1, "auditor": 2, "operator": 3, "admin": 4}  # auditor: reads all, changes nothing


@dataclass(frozen=True)
class Rule:
    group: str
    system_role: str = ""
    workspace_id: int | None = None
    role_id: int | None = None


@dataclass(frozen=True)
class Grants:
    system_role: str = ""  # "" = the groups grant no system role
    workspaces: dict[int, int] = field(default_factory=dict)  # workspace id -> role id
    matched: tuple[str, ...] = ()  # the rule groups that matched, for the audit record


def highest_system_role(roles: Iterable[str]) -> str:
    best = ""
    for role in roles:
        if SYSTEM_ROLE_RANK.get(role, 0) > SYSTEM_ROLE_RANK[best]:
            best = role
    return best


def _split_unescaped(text: str, separators: str) -> list[tuple[str, str]]:
    """Split on unescaped separators; each piece comes with the separator that ended it."""
    out: list[tuple[str, str]] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch in separators:
            out.append(("".join(current), ch))
            current = []
        else:
            current.append(ch)
    out.append(("".join(current), ""))
    return out


def _unescape(value: str) -> str:
    """An RDN value as the directory means it: ``\\,`` and ``\\2C`` are both a comma."""
    out: list[str] = []
    i = 0
    raw = value.strip()
    pending = bytearray()
    while i < len(raw):
        ch = raw[i]
        pair = raw[i + 1:i + 3]
        if ch == "\\" and len(pair) == 2 and all(c in string.hexdigits for c in pair):
            pending.append(int(pair, 16))
            i += 3
            continue
        if pending:
            out.append(pending.decode("utf-8", "replace"))
            pending = bytearray()
        if ch == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    if pending:
        out.append(pending.decode("utf-8", "replace"))
    return "".join(out)


def parse_dn(dn: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """A DN as comparable data: RDNs of (attribute, value) pairs, case-folded, escapes resolved,
    spaces around separators dropped."""
    rdns = []
    for rdn, _ in _split_unescaped(dn.strip(), ","):
        pairs = []
        for ava, _ in _split_unescaped(rdn, "+"):
            pieces = _split_unescaped(ava, "=")
            attr = pieces[0][0].strip().casefold()
            value = "=".join(p for p, _ in pieces[1:]) if len(pieces) > 1 else ""
            pairs.append((attr, _unescape(value).strip().casefold()))
        rdns.append(tuple(sorted(pairs)))
    return tuple(rdns)


def normalize_dn(dn: str) -> str:
    """A DN in one comparable spelling (for display and tests; matching uses :func:`parse_dn`)."""
    return ",".join("+".join(f"{a}={v}" for a, v in rdn) for rdn in parse_dn(dn))


def first_rdn_value(dn: str) -> str:
    """The value of a DN's first RDN (``cn=Ops\\, On-Call,ou=groups`` → ``ops, on-call``)."""
    parsed = parse_dn(dn)
    return parsed[0][0][1] if parsed and parsed[0] else ""


def group_matches(kind: str, rule_group: str, group: str) -> bool:
    if kind != "ldap":
        return rule_group == group
    if "=" in rule_group:
        return parse_dn(rule_group) == parse_dn(group)
    return rule_group.strip().casefold() == (first_rdn_value(group) if "=" in group else group.strip().casefold())


def evaluate(kind: str, groups: Iterable[str], rules: Iterable[Rule],
             role_rank: Mapping[int, int] | None = None) -> Grants:
    """What ``groups`` grant under ``rules``. ``role_rank`` ranks workspace roles (how many grants
    each has); a role it does not list ranks 0. Ties go to the lower role id, so the answer does
    not depend on the order of the rules."""
    rank = role_rank or {}
    groups = [g for g in groups if isinstance(g, str)]
    system: list[str] = []
    workspaces: dict[int, int] = {}
    matched: set[str] = set()
    for rule in rules:
        if not any(group_matches(kind, rule.group, g) for g in groups):
            continue
        matched.add(rule.group)
        if rule.system_role:
            system.append(rule.system_role)
        elif rule.workspace_id is not None and rule.role_id is not None:
            current = workspaces.get(rule.workspace_id)
            if current is None or (rank.get(rule.role_id, 0), -rule.role_id) > (rank.get(current, 0), -current):
                workspaces[rule.workspace_id] = rule.role_id
    return Grants(system_role=highest_system_role(system), workspaces=workspaces, matched=tuple(sorted(matched)))


def system_role_after(*, current: str, mapped_before: Iterable[str], mapped_now: Iterable[str]) -> str:
    """The user's system role once the mappings' answer changed from ``mapped_before`` (what the
    user's identities' mappings granted until now) to ``mapped_now``.

    A role the mappings gave (the current role is the highest they granted) follows them: down to
    the highest they still grant, or to "user". A role set by hand is only ever raised by a
    mapping, never lowered."""
    before = highest_system_role(mapped_before)
    now = highest_system_role(mapped_now)
    if before and current == before:
        return now or "user"
    if now and SYSTEM_ROLE_RANK[now] > SYSTEM_ROLE_RANK.get(current, 0):
        return now
    return current
