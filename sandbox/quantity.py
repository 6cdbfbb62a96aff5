"""Kubernetes resource quantities ("500m", "1Gi", "1e3") parsed exactly and printed canonically.

Quota admission and the controllers add up cpu and memory; the sums must be
exact (Fractions, not floats) and print the way a real apiserver prints them,
because the quota error messages embed them.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from typing import Literal

Format = Literal["BinarySI", "DecimalSI", "DecimalExponent"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}
_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


class Quantity:
    """An exact quantity with the format it was written in (kept for printing)."""

    __slots__ = ("fmt", "value")

    def __init__(self, value: Fraction | int, fmt: Format = "DecimalSI") -> None:
        self.value = Fraction(value)
        self.fmt: Format = fmt

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.fmt)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Quantity({format_quantity(self)!r})"

    def __str__(self) -> str:
        return format_quantity(self)

    @property
    def milli(self) -> int:
        """Value in thousandths, rounded up (how cpu is usually compared)."""
        v = self.value * 1000
        return int(-(-v.numerator // v.denominator))


def parse_quantity(text: str | int | float) -> Quantity:
    """Parse a quantity string; raises ``ValueError`` for malformed input.

    String results are cached (quantities repeat a lot); the returned object
    must be treated as immutable (arithmetic returns new objects).
    """
    if isinstance(text, str):
        return _parse_str(text)
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse_str(text: str) -> Quantity:
    return _parse(text)


def _parse(text: str | int | float) -> Quantity:
    if isinstance(text, bool):
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    if isinstance(text, int):
        return Quantity(text, "DecimalSI")
    if isinstance(text, float):
        return Quantity(Fraction(str(text)), "DecimalSI")
    s = text.strip()
    m = _RE.match(s)
    if not m:
        raise ValueError(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    number, suffix = m.group(1), m.group(2) or ""
    base = Fraction(number)
    if suffix in _BINARY:
        return Quantity(base * _BINARY[suffix], "BinarySI")
    if suffix[:1] in ("e", "E"):
        return Quantity(base * Fraction(10) ** int(suffix[1:]), "DecimalExponent")
    return Quantity(base * _DECIMAL[suffix], "DecimalSI")


def format_quantity(q: Quantity) -> str:
    """Canonical string, like apimachinery's ``Quantity.String()``."""
    v = q.value
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    v = abs(v)
    if q.fmt == "BinarySI" and v.denominator == 1 and v >= 1024:
        for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            mult = _BINARY[suffix]
            if v.numerator % mult == 0:
                return f"{sign}{v.numerator // mult}{suffix}"
    if q.fmt == "DecimalExponent":
        # integer mantissa with a power-of-three exponent
        for exp in range(18, -10, -3):
            scaled = v / Fraction(10) ** exp
            if scaled.denominator == 1:
                return f"{sign}{scaled.numerator}" + (f"e{exp}" if exp else "")
    # DecimalSI (also the fallback for binary values that are not whole multiples)
    for suffix in ("E", "P", "T", "G", "M", "k", "", "m", "u", "n"):
        scaled = v / _DECIMAL[suffix]
        if scaled.denominator == 1:
            return f"{sign}{scaled.numerator}{suffix}"
    # smaller than a nano unit: round up to nanos like the apiserver
    nanos = -(-(v * 10**9).numerator // (v * 10**9).denominator)
    return f"{sign}{nanos}n"


def q(text: str | int | float) -> Quantity:
    """Shorthand for :func:`parse_quantity`."""
    return parse_quantity(text)


def cpu_millis(text: str | int | float | None) -> int:
    """CPU quantity in millicores (0 for None)."""
    return 0 if text is None else parse_quantity(text).milli


def to_bytes(text: str | int | float | None) -> int:
    """Memory/storage quantity in bytes, rounded up (0 for None)."""
    if text is None:
        return 0
    v = parse_quantity(text).value
    return int(-(-v.numerator // v.denominator))
