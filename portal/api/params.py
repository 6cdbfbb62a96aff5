"""Query parameters every list shares."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request


def id_param(request: Request, name: str) -> int | None:
    """The id in query parameter ``name``; None if absent or empty; 400 naming it if not an id."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise exceptions.ValidationError({name: [f"{name} must be an id (a whole number)."]})
    return int(value)


TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")


def bool_param(request: Request, name: str) -> bool:
    """A yes/no query parameter: absent or empty is false; anything but true/1/yes/false/0/no is a
    400 naming it (a typo such as ``reveal=ture`` must not silently mean false)."""
    value = request.query_params.get(name, "").lower()
    if value in TRUE:
        return True
    if value in FALSE or value == "":
        return False
    raise exceptions.ValidationError({name: [f"{name} must be true or false."]})
