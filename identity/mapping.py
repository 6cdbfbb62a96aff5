"""Groups → roles: which system role and which workspace roles a set of provider groups grants.

Pure (no database, no I/O), so the same function answers a sign-in, the LDAP schedule and the
admin's preview, and a table test covers it. The writers in :mod:`identity.actions` turn the
answer into rows and remove what the groups no longer grant.

Matching: an OIDC group claim value matches a rule's ``group`` exactly (claims are
case-sensitive). An LDAP group matches by its DN, compared the way directories compare DNs
(attribute names and values case-insensitively, spaces around unescaped ``,``/``=``/``+``
ignored, escapes kept), or by its CN when the rule names a bare CN (no ``=``). When several rules
grant roles in one workspace, the role with the most grants wins; when several grant system
roles, the highest (admin > operator > user) wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SYSTEM_ROLE_RANK = {"": 0, "user": 1, "operator": 2, "admin": 3}


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


def normalize_dn(dn: str) -> str:
    """A DN in one comparable form: case-folded, spaces around unescaped separators dropped."""
    parts = []
    for piece, sep in _split_unescaped(dn.strip(), ",=+"):
        parts.append(piece.strip().casefold() + sep)
    return "".join(parts)


def first_rdn_value(dn: str) -> str:
    """The value of a DN's first RDN (``cn=Ops Team,ou=groups`` → ``ops team``), case-folded."""
    first = _split_unescaped(normalize_dn(dn), ",")[0][0]
    pieces = _split_unescaped(first, "=")
    return pieces[1][0] if len(pieces) > 1 else pieces[0][0]


def group_matches(kind: str, rule_group: str, group: str) -> bool:
    if kind != "ldap":
        return rule_group == group
    if "=" in rule_group:
        return normalize_dn(rule_group) == normalize_dn(group)
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
