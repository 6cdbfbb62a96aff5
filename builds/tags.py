"""Tag schemes of build definitions and the OCI naming rules their inputs must follow.

Two schemes (``BuildDefinition.tag_scheme``):

* ``version-build``: Cocktail's ``1.0.B000005``, the definition's version, ``.B`` and the build
  number in six digits (more once it passes 999999); the number is taken atomically by
  :func:`builds.actions.create_run`, so two runs never share a tag.
* ``git-sha``: the first seven hex digits of the commit built. A manual run does not know the
  commit before the clone, so its tag is decided after the clone (empty until then).

Names follow the OCI distribution spec (the rules :mod:`portal.oci` checks): a repository is
``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*`` components joined by ``/`` (at most 255 characters), a tag is
``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``. A version must leave room for ``.B`` and the number inside
the 128 characters of a tag. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from portal.oci import NAME, TAG

VERSION_BUILD = "version-build"
GIT_SHA = "git-sha"
REPOSITORY_MAX_LENGTH = 255
VERSION_MAX_LENGTH = 64
SHORT_SHA_LENGTH = 7
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def version_build_tag(version: str, number: int) -> str:
    """``1.0`` and 5 → ``1.0.B000005``."""
    return f"{version}.B{number:06d}"


def git_sha_tag(commit: str) -> str:
    """The commit's short SHA (7 hex digits), or ``""`` when the commit is not known yet."""
    commit = commit.strip().lower()
    return commit[:SHORT_SHA_LENGTH] if _SHA.match(commit) else ""


def tag_for(scheme: str, *, version: str, number: int, commit: str) -> str:
    if scheme == GIT_SHA:
        return git_sha_tag(commit)
    return version_build_tag(version, number)


def next_tag(definition: Any, commit: str = "") -> str:
    """The tag of the run that takes build number ``definition.next_build_number`` (read from the
    row :func:`builds.actions.create_run` holds locked)."""
    return tag_for(definition.tag_scheme, version=definition.version, number=definition.next_build_number,
                   commit=commit)


def version_problem(version: str) -> str | None:
    """Why ``version`` cannot start a tag (None when it can)."""
    if not version:
        return "Give a version, for example 1.0."
    if len(version) > VERSION_MAX_LENGTH:
        return f"A version has at most {VERSION_MAX_LENGTH} characters."
    if not _VERSION.match(version) or not TAG.match(version_build_tag(version, 1)):
        return ("A version is letters, digits, '_', '.' and '-', starting with a letter, digit or '_' "
                "(it starts an image tag such as 1.0.B000001).")
    return None


def repository_problem(repository: str) -> str | None:
    """Why ``repository`` is no OCI repository name (None when it is one)."""
    if not repository:
        return "Give a repository, for example team-a/shop."
    if len(repository) > REPOSITORY_MAX_LENGTH:
        return f"A repository name has at most {REPOSITORY_MAX_LENGTH} characters."
    if not NAME.match(repository):
        return ("A repository name is lowercase letters and digits, separated by '.', '_', '__' or '-' inside a "
                "component and '/' between components (for example team-a/shop-api).")
    return None


def tag_problem(tag: str) -> str | None:
    if not TAG.match(tag):
        return "A tag is 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'."
    return None
