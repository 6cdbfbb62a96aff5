"""Field errors of the catalog's writes as :class:`portal.errors.Invalid`, with the same
``detail`` sentence the API gave when these were DRF ``ValidationError``\\ s (``Invalid input:
<field>: <first message>``), so the domain code is HTTP-free and the API's answers unchanged.
"""

from __future__ import annotations

from typing import Any

from portal.errors import Invalid


def summary(errors: dict[str, list[str]]) -> str:
    """The one-line ``detail`` of field errors (the API handler's rule for validation errors)."""
    first = next(iter(errors.items()), None)
    if first is None or not first[1]:
        return "Invalid input."
    if first[0] == "non_field_errors":
        return first[1][0]
    return f"Invalid input: {first[0]}: {first[1][0]}"


def as_lists(errors: dict[str, Any]) -> dict[str, list[str]]:
    """``{field: [str, ...]}`` of ``errors`` whose values may be one message or a list of them."""
    return {str(k): [str(m) for m in (v if isinstance(v, list | tuple) else [v])] for k, v in errors.items()}


def invalid(errors: dict[str, Any], *, code: str | None = None, params: dict[str, Any] | None = None) -> Invalid:
    """:class:`~portal.errors.Invalid` naming the fields in ``errors``."""
    fields = as_lists(errors)
    return Invalid(summary(fields), code=code, params=params, errors=fields)
