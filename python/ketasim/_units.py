"""Quantities at the Python boundary: a thin layer over the one C++ parser (units.hpp).

Every dose and time argument carries its unit, as on the command line and in the files:
``"56 mg"``, ``"0.5 mg/kg"``, ``"40 min"``, ``"24 h"``. A bare number is an error (naming the
argument) because its unit would be a guess: ``iv_infusion(0.5)`` could mean mg or mg/kg, and
``duration=40`` minutes or hours. The one exception is the number 0, which is zero in every unit.
Strings are parsed by the C++ library, so "23 min" is the same double here as in a regimen file.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Set
from typing import Iterable, Tuple, Union

from . import _core

Quantity = Union[str, int, float]


def _kind(value: object) -> str:
    return type(value).__name__


def to_hours(value: Quantity, what: str) -> float:
    """A time with its unit ("40 min", "1.5 d", "24 h") in hours; 0 is accepted bare."""
    if isinstance(value, str):
        return _core.parse_quantity(value, "time", what)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value == 0:
            return 0.0
        raise ValueError(f"{what}: {value!r} is a bare number; give its unit, e.g. '{value} h' or '{value} min'")
    raise TypeError(f"{what}: expected a time with its unit such as '24 h' or '40 min', got {_kind(value)} {value!r}")


def to_hours_list(value: Union[Quantity, Iterable[Quantity]], what: str) -> list[float]:
    """One time or a list of times (each with its unit), in hours."""
    if isinstance(value, (str, numbers.Real)):
        return [to_hours(value, what)]
    if isinstance(value, (Mapping, Set, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{what}: expected a time such as '2 h' or a list of them, got {_kind(value)} {value!r}")
    return [to_hours(v, f"{what}[{i}]") for i, v in enumerate(value)]


def to_dose(value: Quantity, what: str, allow_per_kg: bool = True) -> Tuple[float, bool]:
    """(amount, per_kg) of a dose with its unit: "56 mg", "0.5 g", "0.5 mg/kg" (amount in mg or mg/kg)."""
    if isinstance(value, str):
        return tuple(_core.parse_dose(value, what, allow_per_kg))  # type: ignore[return-value]
    units = "'{v} mg' or '{v} mg/kg'" if allow_per_kg else "'{v} mg'"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is a bare number; give its unit, e.g. " + units.format(v=value))
    raise TypeError(f"{what}: expected a dose with its unit such as " + units.format(v=56) +
                    f", got {_kind(value)} {value!r}")


def to_real(value: object, what: str, rule: str = "a number") -> float:
    """A real number argument (not bool, not str): TypeError naming the argument otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what}: expected {rule}, got {_kind(value)} {value!r}")
    return float(value)


def to_int(value: object, what: str) -> int:
    """A whole-number argument (not bool, not str, not 2.5)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) \
                and float(value).is_integer():
            return int(value)
        raise TypeError(f"{what}: expected a whole number, got {_kind(value)} {value!r}")
    return int(value)


def to_params(params: object, what: str = "params") -> dict[str, float]:
    """Parameter overrides: a mapping of parameter name to a number."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"{what}: expected a mapping such as {{'k10': 1.0}}, got {_kind(params)} {params!r}")
    out = {}
    for k, v in params.items():
        if not isinstance(k, str):
            raise TypeError(f"{what}: key {k!r} must be a parameter name (str), got {_kind(k)}")
        out[k] = to_real(v, f"{what}[{k!r}]")
    return out


def as_float_list(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values]
