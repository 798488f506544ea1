"""Parsing of quantities given as numbers or strings ("24 h", "40 min", "0.5 mg/kg").

Numbers are taken in the canonical unit (hours, mg); strings go through the C++ parser, so the
Python API accepts exactly what the CLI and the TOML files accept.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence, Tuple, Union

from . import _core

Quantity = Union[float, int, str]

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def to_hours(value: Quantity, what: str) -> float:
    """A time in hours: a number (h) or a string with a unit ("40 min", "1.5 d")."""
    if isinstance(value, str):
        return _core.parse_quantity(value, "time", what, "h")
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a number or a string such as '24 h', got {value!r}")
    return float(value)


def to_hours_list(value: Union[Quantity, Iterable[Quantity]], what: str) -> list[float]:
    """One time or several, in hours."""
    if isinstance(value, (str, int, float)):
        return [to_hours(value, what)]
    return [to_hours(v, f"{what}[{i}]") for i, v in enumerate(value)]


def to_dose(value: Quantity, what: str, per_kg: bool | None = None) -> Tuple[float, bool]:
    """(amount, per_kg): a number is mg (or mg/kg when per_kg=True); a string carries its unit."""
    if isinstance(value, str):
        m = _NUMBER_UNIT.match(value)
        if not m:
            raise ValueError(f"{what}: '{value}' is not a dose such as '56 mg' or '0.5 mg/kg'")
        number, unit = float(m.group(1)), m.group(2) or "mg"
        dimension, factor, unit_per_kg = _core.parse_unit(unit)
        if dimension != "amount":
            raise ValueError(f"{what}: '{value}' has unit '{unit}' ({dimension}); a dose needs mg, g, ug or mg/kg")
        if per_kg is not None and per_kg != unit_per_kg:
            raise ValueError(f"{what}: '{value}' contradicts per_kg={per_kg}")
        return number * factor, unit_per_kg
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a number or a string such as '56 mg', got {value!r}")
    return float(value), bool(per_kg)


def as_float_list(values: Sequence[float] | Iterable[float]) -> list[float]:
    return [float(v) for v in values]
