"""Quantities at the Python boundary: a thin layer over the one C++ parser (units.hpp).

Every dose and time argument carries its unit, as on the command line and in the files:
``"56 mg"``, ``"0.5 mg/kg"``, ``"40 min"``, ``"24 h"``. A bare number is an error (naming the
argument) because its unit would be a guess: ``iv_infusion(0.5)`` could mean mg or mg/kg, and
``duration=40`` minutes or hours. The one exception is the number 0, which is zero in every unit.
Strings are parsed by the C++ library, so "23 min" is the same double here as in a regimen file.

Numbers computed in NumPy carry their unit in a ``Q`` (quantity): ``ks.Q(np.arange(0, 24, 0.5), "h")``
is accepted wherever times are (``times=``, ``at=``, ``at_times=``, and a one-value ``Q`` for a single
time such as ``t_end``). The unit is converted by the same C++ unit table, value by value, so
``ks.Q([23], "min")`` is the same double as ``"23 min"``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Set
from typing import Iterable, Tuple, Union

import numpy as np

from . import _core


class Q:
    """Numbers with one explicit unit: ``Q(np.arange(0, 24, 0.5), "h")``, ``Q([0, 30, 90], "min")``.

    ``values`` is a number or a one-dimensional sequence/array of real numbers; ``unit`` is a unit
    string ("h", "min", "d", ...). Checked when used: the unit must fit the argument (a time for
    ``times=``) and every value must be finite.
    """

    __slots__ = ("values", "unit")

    def __init__(self, values: object, unit: str):
        if not isinstance(unit, str):
            raise TypeError(f"Q: unit must be a unit string such as 'h' or 'min', got {_kind(unit)} {unit!r}")
        if isinstance(values, (str, bytes, Mapping, Set)):
            raise TypeError(
                f"Q: values must be numbers (a number, list or NumPy array), got {_kind(values)} {values!r}"
            )
        arr = np.asarray(values)
        if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf" or arr.ndim > 1:
            raise TypeError(
                f"Q: values must be real numbers in at most one dimension, got {_kind(values)} "
                f"of dtype {arr.dtype} and shape {arr.shape}"
            )
        self.values = np.array(arr, dtype=float, ndmin=1)
        self.unit = unit

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        v = self.values
        body = repr(v.tolist()) if len(v) <= 6 else f"[{v[0]!r}, {v[1]!r}, ..., {v[-1]!r}] ({len(v)} values)"
        return f"Q({body}, {self.unit!r})"


Quantity = Union[str, int, float, Q]


def _kind(value: object) -> str:
    return type(value).__name__


def to_hours(value: Quantity, what: str) -> float:
    """A time with its unit ("40 min", "1.5 d", "24 h") in hours; 0 is accepted bare."""
    if isinstance(value, str):
        return _core.parse_quantity(value, "time", what)
    if isinstance(value, Q):
        if len(value) != 1:
            raise ValueError(f"{what}: expected one time, got {value!r} with {len(value)} values")
        return _core.quantities(value.values, value.unit, "time", what)[0]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value == 0:
            return 0.0
        raise ValueError(f"{what}: {value!r} is a bare number; give its unit, e.g. '{value} h' or '{value} min'")
    raise TypeError(f"{what}: expected a time with its unit such as '24 h' or '40 min', got {_kind(value)} {value!r}")


def to_hours_list(value: Union[Quantity, Iterable[Quantity]], what: str) -> list[float]:
    """One time or a list of times (each with its unit), or a ``Q`` of times, in hours."""
    if isinstance(value, Q):
        return list(_core.quantities(value.values, value.unit, "time", what))
    if isinstance(value, np.ndarray):
        raise ValueError(f"{what}: a NumPy array of bare numbers has no unit; give it one, e.g. ks.Q(array, 'h')")
    if isinstance(value, (str, numbers.Real)):
        return [to_hours(value, what)]
    if isinstance(value, (Mapping, Set, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{what}: expected a time such as '2 h' or a list of them, got {_kind(value)} {value!r}")
    value = list(value)
    if (
        value
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        and any(v != 0 for v in value)
    ):
        raise ValueError(
            f"{what}: {value[:4]!r}{'...' if len(value) > 4 else ''} are bare numbers; give each its unit "
            f"('30 min') or the list one unit with ks.Q(values, 'h')"
        )
    return [to_hours(v, f"{what}[{i}]") for i, v in enumerate(value)]


def to_dose(value: Quantity, what: str, allow_per_kg: bool = True) -> Tuple[float, bool]:
    """(amount, per_kg) of a dose with its unit: "56 mg", "0.5 g", "0.5 mg/kg" (amount in mg or mg/kg)."""
    if isinstance(value, str):
        return tuple(_core.parse_dose(value, what, allow_per_kg))  # type: ignore[return-value]
    units = "'{v} mg' or '{v} mg/kg'" if allow_per_kg else "'{v} mg'"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is a bare number; give its unit, e.g. " + units.format(v=value))
    raise TypeError(
        f"{what}: expected a dose with its unit such as " + units.format(v=56) + f", got {_kind(value)} {value!r}"
    )


def to_real(value: object, what: str, rule: str = "a number") -> float:
    """A real number argument (not bool, not str): TypeError naming the argument otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what}: expected {rule}, got {_kind(value)} {value!r}")
    return float(value)


def to_int(value: object, what: str) -> int:
    """A whole-number argument (not bool, not str, not 2.5)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and float(value).is_integer()
        ):
            return int(value)
        raise TypeError(f"{what}: expected a whole number, got {_kind(value)} {value!r}")
    return int(value)


def to_params(params: object, what: str = "set", model: object = None) -> dict[str, float]:
    """Parameter overrides ``{name: value}``: a number in the parameter's file unit, or text with a
    unit ("2 1/h", "0.03 1/min") converted to it by the C++ override parser (the one behind the
    CLI's ``--set NAME=VALUE``); with ``model`` every name is checked against its parameters."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"{what}: expected a mapping such as {{'k10': 1.0}}, got {_kind(params)} {params!r}")
    out = {}
    for k, v in params.items():
        if not isinstance(k, str):
            raise TypeError(f"{what}: key {k!r} must be a parameter name (str), got {_kind(k)}")
        if isinstance(v, str):
            if model is None:
                raise TypeError(f"{what}[{k!r}]: a value with a unit needs the model")
            out[k] = _core.parse_parameter_override_value(model, k, v, what)
            continue
        value = to_real(v, f"{what}[{k!r}]", "a number (in the parameter's file unit) or text with a unit")
        if model is not None:
            out[k] = _core.parse_parameter_override_value(model, k, repr(value), what)
        else:
            out[k] = value
    return out


def overrides_argument(set_value: object, old_value: object, old_name: str, func: str) -> tuple[object, str]:
    """The override mapping of ``set=`` or of its deprecated alias ``old_name=`` (``params=`` in
    simulate, ``fixed=`` in sweep), with a DeprecationWarning for the alias; both is an error.
    Returns (mapping, the keyword the caller used, for messages)."""
    if old_value is None:
        return set_value, "set"
    if set_value is not None:
        raise TypeError(f"{func}: give the overrides once, as set= ({old_name}= is its deprecated old name)")
    import warnings

    warnings.warn(
        f"{func}: {old_name}= is deprecated; use set= (the same word as the CLI's --set)",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value, old_name


def as_float_list(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values]
