"""Dosing regimens: a thin, Pythonic wrapper over the C++ ``Regimen`` (times h, amounts mg)."""

from __future__ import annotations

import os
from typing import Iterable, List, Optional, Union

from . import _core
from ._units import Quantity, to_dose, to_hours, to_hours_list, to_int, to_real

Times = Union[Quantity, Iterable[Quantity]]


def _copy_event(e: _core.DoseEvent) -> _core.DoseEvent:
    c = _core.DoseEvent()
    for f in ("time", "amount", "per_kg", "route", "compartment", "duration", "device", "steady_state", "interval"):
        setattr(c, f, getattr(e, f))
    return c


def _route(route: object, what: str) -> str:
    if not isinstance(route, str):
        raise TypeError(f"{what}: expected a route name such as 'iv' (str), got {type(route).__name__} {route!r}")
    return route


class Regimen:
    """A list of dose events, sorted by time when simulated.

    Build one with the class methods, then combine with ``+``::

        ks.Regimen.intranasal("56 mg")                       # two 28 mg devices, 5 min apart
        ks.Regimen.iv_infusion("0.5 mg/kg", duration="40 min")
        ks.Regimen.oral("50 mg", at=[0, "12 h"])
        ks.Regimen.from_file("regimen.toml")                 # or a NONMEM-style .csv event table

    Every dose and time carries its unit ("56 mg", "0.5 mg/kg", "5 min", "2 d"); a bare number
    is a ValueError naming the argument (its unit would be a guess), except 0.
    """

    __slots__ = ("_core",)

    def __init__(self, events: Optional[Iterable[_core.DoseEvent]] = None) -> None:
        self._core = _core.Regimen()
        if events is not None:
            self._core.events = [_copy_event(e) for e in events]

    @classmethod
    def _wrap(cls, core: _core.Regimen) -> "Regimen":
        r = cls.__new__(cls)
        r._core = core
        core.validate()  # fail at construction, with the C++ message, not at simulate()
        return r

    # Constructors --------------------------------------------------------------------------
    @classmethod
    def intranasal(
        cls,
        total: Quantity,
        devices: Optional[int] = None,
        *,
        device: Optional[Quantity] = None,
        spacing: Quantity = "5 min",
        at: Times = 0,
        route: str = "intranasal",
    ) -> "Regimen":
        """One intranasal session per start time in ``at``: the session's ``total`` ("56 mg")
        given as devices ``spacing`` apart; by default 28 mg devices 5 min apart (Spravato), so
        "56 mg" is two devices, as ``ketasim simulate --route intranasal --dose "56 mg"``.

        ``devices`` fixes the number of devices (size = total / devices); otherwise ``device``
        ("28 mg", the default) fixes their size. Raises ValueError if the total is not a whole
        number of devices.
        """
        total_mg, _ = to_dose(total, "intranasal: total", allow_per_kg=False)
        if devices is not None and device is not None:
            raise ValueError("intranasal: give devices or device, not both")
        if devices is not None:
            n = to_int(devices, "intranasal: devices")
            if n < 1:
                raise ValueError(f"intranasal: devices: {devices!r} must be a whole number >= 1")
            size = total_mg / n
        else:
            size = _core.NASAL_DEVICE_MG if device is None else to_dose(device, "intranasal: device", False)[0]
        core = _core.Regimen.intranasal(
            total_mg,
            to_hours_list(at, "intranasal: at"),
            size,
            to_hours(spacing, "intranasal: spacing"),
            _route(route, "intranasal: route"),
        )
        return cls._wrap(core)

    @classmethod
    def iv_infusion(cls, dose: Quantity, duration: Quantity = "40 min", *, at: Times = 0) -> "Regimen":
        """Zero-order IV infusion of ``dose`` ("35 mg" or "0.5 mg/kg") over ``duration`` ("40 min")
        at each time in ``at``."""
        amount, pk = to_dose(dose, "iv_infusion: dose")
        core = _core.Regimen.iv_infusion(
            amount, to_hours(duration, "iv_infusion: duration"), to_hours_list(at, "iv_infusion: at"), pk
        )
        return cls._wrap(core)

    @classmethod
    def iv_bolus(cls, dose: Quantity, *, at: Times = 0) -> "Regimen":
        """IV bolus of ``dose`` ("10 mg" or "0.2 mg/kg") at each time in ``at``."""
        amount, pk = to_dose(dose, "iv_bolus: dose")
        return cls._wrap(_core.Regimen.iv_infusion(amount, 0.0, to_hours_list(at, "iv_bolus: at"), pk))

    @classmethod
    def dose(
        cls,
        amount: Quantity,
        route: str,
        *,
        at: Times = 0,
        duration: Quantity = 0,
        device: int = 1,
        compartment: str = "",
    ) -> "Regimen":
        """Generic dose events: ``amount`` ("50 mg") by ``route`` (a route of the model: "oral",
        "im", ...) at each time in ``at``, one event each (no device splitting);
        ``compartment`` doses straight into a compartment (NONMEM CMT)."""
        value, pk = to_dose(amount, "dose: amount")
        route = _route(route, "dose: route")
        if not isinstance(compartment, str):
            raise TypeError(f"dose: compartment: expected a compartment name (str), got {compartment!r}")
        dur = to_hours(duration, "dose: duration")
        dev = to_int(device, "dose: device")
        r = _core.Regimen()
        for t in to_hours_list(at, "dose: at"):
            e = _core.DoseEvent()
            e.time, e.amount, e.per_kg, e.route = t, value, pk, route
            e.duration, e.device, e.compartment = dur, dev, compartment
            r.add(e)
        return cls._wrap(r)

    @classmethod
    def oral(cls, amount: Quantity, *, at: Times = 0, route: str = "oral") -> "Regimen":
        """Oral doses of ``amount`` ("50 mg") at each time in ``at`` (the model must have an oral route)."""
        return cls.dose(amount, route, at=at)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], model: Optional[_core.Model] = None, id: int = -1) -> "Regimen":
        """Read a regimen TOML file ([[dose]] entries) or a NONMEM-style .csv event table."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"from_file: path: expected a file path, got {type(path).__name__} {path!r}")
        p = os.fspath(path)
        if p.lower().endswith(".csv"):
            return cls._wrap(_core.load_event_table(p, model, to_int(id, "from_file: id")).regimen)
        return cls._wrap(_core.load_regimen(p))

    @classmethod
    def from_toml(cls, text: str, source_name: str = "<string>") -> "Regimen":
        """Parse regimen TOML text ([[dose]] entries)."""
        return cls._wrap(_core.parse_regimen(text, source_name))

    # Combination and inspection ------------------------------------------------------------
    def __add__(self, other: "Regimen") -> "Regimen":
        if not isinstance(other, Regimen):
            return NotImplemented
        return Regimen(list(self.events) + list(other.events))

    def on_days(self, days: Union[str, Iterable[float]]) -> "Regimen":
        """This regimen repeated on each listed day (day 0 = as given): ``on_days("0,2,4,7")``."""
        if isinstance(days, str):
            d = _core.parse_number_list(days, "on_days: days")
        elif isinstance(days, Iterable) and not isinstance(days, (bytes, dict, set)):
            d = [to_real(x, f"on_days: days[{i}]", "a day number") for i, x in enumerate(days)]
        else:
            raise TypeError(f"on_days: days: expected '0,2,4' or a list of day numbers, got {days!r}")
        r = _core.Regimen()
        for e in self.events:
            r.add_on_days(e, d)
        return Regimen._wrap(r)

    @property
    def events(self) -> List[_core.DoseEvent]:
        """The dose events (copies; times h, amounts mg or mg/kg)."""
        return list(self._core.events)

    def last_time(self) -> float:
        """Latest dose start or infusion end, h."""
        return self._core.last_time()

    def total_mg(self, weight_kg: float = 70.0) -> float:
        """Everything the regimen gives, mg, for a subject of ``weight_kg`` (mg/kg doses scaled)."""
        weight_kg = to_real(weight_kg, "total_mg: weight_kg")
        return sum(e.amount * weight_kg if e.per_kg else e.amount for e in self._core.events)

    def scaled(self, factor: float) -> "Regimen":
        """Every amount multiplied by ``factor`` (times, routes and devices unchanged)."""
        f = to_real(factor, "scaled: factor")
        events = [_copy_event(e) for e in self._core.events]
        for e in events:
            e.amount *= f
        return Regimen(events)

    def at_steady_state(self, interval: Quantity) -> "Regimen":
        """Every dose marked steady state (NONMEM SS=1 with II = ``interval``): at its time the
        state is the periodic steady state of that dose repeated every ``interval`` forever,
        computed exactly; doses before the last steady-state time are ignored. See
        docs/design.md, "Steady-state doses"."""
        ii = to_hours(interval, "at_steady_state: interval")
        events = [_copy_event(e) for e in self._core.events]
        for e in events:
            e.steady_state, e.interval = True, ii
        r = _core.Regimen()
        r.events = events
        return Regimen._wrap(r)

    def validate(self) -> None:
        """Raise ValueError (with the C++ message) for a malformed regimen."""
        self._core.validate()

    def to_core(self) -> _core.Regimen:
        return self._core

    def __len__(self) -> int:
        return len(self._core.events)

    def __repr__(self) -> str:
        parts = []
        for e in self._core.sorted():
            where = e.compartment or e.route
            dur = f" over {e.duration * 60:g} min" if e.duration > 0 else ""
            dev = f" (device {e.device})" if e.device > 1 else ""
            ss = f" at steady state every {e.interval:g} h" if e.steady_state else ""
            parts.append(f"{e.amount:g} {'mg/kg' if e.per_kg else 'mg'} {where}{dur} at {e.time:g} h{dev}{ss}")
        return "Regimen([" + "; ".join(parts) + "])"


def as_core_regimen(regimen: Union[Regimen, _core.Regimen, str, os.PathLike]) -> _core.Regimen:
    if isinstance(regimen, Regimen):
        return regimen._core
    if isinstance(regimen, _core.Regimen):
        return regimen
    if isinstance(regimen, (str, os.PathLike)):
        return Regimen.from_file(regimen)._core
    raise TypeError(f"regimen: expected ketasim.Regimen or a file path, got {type(regimen).__name__}")
