"""Image references in release values and rendered objects, as data.

The deploy step and "deploy this image" write the image into a release's values, pinned by digest
with the tag beside it for people (the issue: "pinned by digest, tag shown beside it"). Charts
name their image two ways, so a definition says which (:class:`~builds.models.ImageFormat`):

* ``split``: ``<path>.repository = host/repo`` and ``<path>.tag = "<tag>@<digest>"``; the common
  chart template ``"{{ .Values.image.repository }}:{{ .Values.image.tag }}"`` then renders
  ``host/repo:tag@sha256:…``, which Kubernetes pulls by digest;
* ``reference``: ``<path> = host/repo:tag@digest``.

Pure: no I/O.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from builds.models import ImageFormat
from catalog.image_hooks import images_of  # noqa: F401 - re-exported: the images a rendered manifest runs

PATH = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){0,9}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
PATH_CODE = "image_path_invalid"


class ImagePathError(ValueError):
    """The values path cannot hold the image (a 400 ``image_path_invalid`` at the API)."""


def reference(repository: str, tag: str, digest: str) -> str:
    """``host/repo:tag@digest`` (the tag left out when there is none)."""
    return f"{repository}{':' + tag if tag else ''}@{digest}"


def pinned_tag(tag: str, digest: str) -> str:
    """The ``tag`` value of the split form: ``tag@digest``."""
    return f"{tag}@{digest}" if tag else digest


def check_path(path: str) -> list[str]:
    """The segments of a dotted values path; :class:`ImagePathError` when it is not one."""
    if not isinstance(path, str) or not PATH.match(path):
        raise ImagePathError(f"{path!r} is not a dotted values path (such as image or app.image): letters, digits, "
                             "_ and - separated by dots, at most 10 segments.")
    return path.split(".")


def set_image(values: dict[str, Any], path: str, *, repository: str, tag: str, digest: str,
              image_format: str = ImageFormat.SPLIT) -> dict[str, Any]:
    """A copy of ``values`` with the image set at ``path`` (intermediate mappings created);
    :class:`ImagePathError` when something other than a mapping is in the way."""
    if not DIGEST.match(digest):
        raise ValueError(f"{digest!r} is not a sha256 digest")
    if tag and not TAG.match(tag):
        raise ValueError(f"{tag!r} is not a valid tag")
    segments = check_path(path)
    out = copy.deepcopy(values) if isinstance(values, dict) else {}
    node: dict[str, Any] = out
    walked = []
    last = segments if image_format == ImageFormat.SPLIT else segments[:-1]
    for segment in last:
        walked.append(segment)
        child = node.get(segment)
        if child is None:
            child = node[segment] = {}
        if not isinstance(child, dict):
            raise ImagePathError(
                f"The values hold a {type(child).__name__} at {'.'.join(walked)}, not a mapping; "
                + ("the chart may want the whole reference there: use the reference format."
                   if image_format == ImageFormat.SPLIT and walked == segments else "choose another path."))
        node = child
    if image_format == ImageFormat.SPLIT:
        node["repository"] = repository
        node["tag"] = pinned_tag(tag, digest)
    elif image_format == ImageFormat.REFERENCE:
        if isinstance(node.get(segments[-1]), dict):
            raise ImagePathError(f"The values hold a mapping at {path}; use the split format "
                                 f"({path}.repository and {path}.tag).")
        node[segments[-1]] = reference(repository, tag, digest)
    else:
        raise ValueError(f"unknown image format {image_format!r}")
    return out


def pinned(image: str) -> bool:
    """Whether a rendered image reference is pinned by digest."""
    return "@sha256:" in image
