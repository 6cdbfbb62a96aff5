"""Dockerfile parsing for the simulated builder: instructions with their line numbers, line
continuations, comments, JSON (exec) and shell forms, and ``${VAR}`` substitution as BuildKit's
Dockerfile frontend does it (``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}``, ``\\$``).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

KNOWN = frozenset({"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                   "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"})


class DockerfileError(Exception):
    """A parse error, worded as BuildKit's frontend words it."""


@dataclass
class Instruction:
    keyword: str  # upper case
    rest: str  # everything after the keyword (flags included), continuations joined
    line: int  # 1-based line of the keyword
    original: str  # the instruction as written (for progress lines)

    def flags_and_args(self) -> tuple[dict[str, str], str]:
        """Leading ``--name=value`` flags and the remaining text."""
        flags: dict[str, str] = {}
        text = self.rest.lstrip()
        while text.startswith("--"):
            word, _, text = text.partition(" ")
            name, _, value = word[2:].partition("=")
            flags[name] = value
            text = text.lstrip()
        return flags, text


def parse(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    lines = text.splitlines()
    escape = "\\"
    i = 0
    # parser directives (only "escape" changes parsing)
    while i < len(lines):
        m = re.match(r"^\s*#\s*(\w+)\s*=\s*(\S+)\s*$", lines[i])
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("`", "\\"):
            escape = m.group(2)
        i += 1
    while i < len(lines):
        raw = lines[i]
        start = i + 1
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = [raw.rstrip()]
        while parts[-1].endswith(escape):
            parts[-1] = parts[-1][:-1]
            while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith("#")):
                i += 1
            if i >= len(lines):
                break
            parts.append(lines[i].rstrip())
            i += 1
        joined = " ".join(p.strip() for p in parts if p.strip())
        keyword, _, rest = joined.partition(" ")
        upper = keyword.upper()
        if upper not in KNOWN:
            raise DockerfileError(f"dockerfile parse error on line {start}: unknown instruction: {keyword}")
        out.append(Instruction(upper, rest.strip(), start, joined))
    if not out:
        raise DockerfileError("the Dockerfile cannot be empty")
    return out


_VAR = re.compile(r"\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substitute(text: str, env: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "\\$":
            return "$"
        name = m.group(1) or m.group(4)
        value = env.get(name)
        op, word = m.group(2), m.group(3)
        if op == "-":
            return value if value else substitute(word or "", env)
        if op == "+":
            return substitute(word or "", env) if value else ""
        return value or ""

    return _VAR.sub(one, text)


def json_or_shell(text: str) -> tuple[list[str], bool]:
    """The exec form (a JSON array of strings) or the shell form; (argv, was_json)."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value, True
    return ["/bin/sh", "-c", stripped], False


def key_values(text: str, line: int, keyword: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` pairs (ENV, LABEL, ARG), or the legacy ``ENV K some value`` form."""
    words = shlex.split(text, posix=True)
    if not words:
        raise DockerfileError(f"dockerfile parse error on line {line}: {keyword} requires at least one argument")
    if "=" not in words[0]:
        if keyword == "ARG":
            return [(words[0], "\0")]  # no default
        if len(words) < 2:
            raise DockerfileError(f"dockerfile parse error on line {line}: {keyword} names can not be blank")
        rest = text.strip()[len(text.strip().split(None, 1)[0]):].strip()
        return [(words[0], rest)]
    out = []
    for w in words:
        k, sep, v = w.partition("=")
        if not sep:
            raise DockerfileError(f"dockerfile parse error on line {line}: {keyword} names can not be blank")
        out.append((k, v))
    return out
