"""One simulation: ``simulate()`` and its ``Result``; exposure metrics with ``metrics()``."""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _core
from ._models import ModelLike, load_model
from ._regimen import Regimen, as_core_regimen
from ._units import Quantity, overrides_argument, to_hours, to_hours_list, to_int, to_params, to_real


class MetricSpec(NamedTuple):
    """One entry of the C++ metric registry (include/ketasim/metrics.hpp)."""

    unit: str  # unit rule: "output unit", "output unit * h", "h", "1/h", "1"
    terminal_fit: bool  # NaN without the log-linear terminal fit
    threshold: bool  # NaN without a threshold
    description: str


#: The metrics, by name (the HDF5 file names, sweep columns and ``ks.metrics`` keys), in registry order.
METRICS: Dict[str, MetricSpec] = {
    i.name: MetricSpec(i.unit_rule, bool(i.terminal_fit), bool(i.threshold), i.description)
    for i in _core.metric_registry()
}


def metric_name(name: str) -> str:
    """``name`` if it is a metric of the registry (ValueError listing the names otherwise)."""
    if not isinstance(name, str):
        raise ValueError(f"metric {name!r} must be a name (accepted: {', '.join(METRICS)})")
    _core.metric_index(name)  # raises ValueError naming the value and the accepted names
    return name


def make_subject(
    weight: float = 70.0,
    age: float = 40.0,
    params: Optional[Mapping[str, Any]] = None,
    what: str = "set",
    model: Optional[_core.Model] = None,
) -> _core.Subject:
    s = _core.Subject()
    s.weight_kg = to_real(weight, "weight", "a body weight in kg (a number)")
    s.age_years = to_real(age, "age", "an age in years (a number)")
    s.parameters = to_params(params, what, model)
    return s


def make_grid(
    t_end: Quantity, dt: Quantity, t_start: Quantity = 0.0, times: Optional[Iterable[Quantity]] = None
) -> _core.OutputGrid:
    if times is not None:
        return _core.OutputGrid.at(to_hours_list(times, "times"))
    t0, t1, step = to_hours(t_start, "t_start"), to_hours(t_end, "t_end"), to_hours(dt, "dt")
    try:
        return _core.OutputGrid.uniform(t0, t1, step)
    except _core.InputError as e:  # name the arguments, as the CLI names its flags
        raise _core.InputError(f"t_start/t_end/dt: {e}") from None


def make_options(
    solver: str = "exact",
    method: str = "dopri5",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    max_steps: int = 10_000_000,
    include_event_times: bool = False,
    output_amounts: bool = False,
    outputs: Union[str, Sequence[str], None] = None,
) -> _core.SimOptions:
    o = _core.SimOptions()
    for name, v in (("solver", solver), ("method", method)):
        if not isinstance(v, str):
            raise TypeError(f"{name}: expected a name (str), got {type(v).__name__} {v!r}")
    for name, v in (("include_event_times", include_event_times), ("output_amounts", output_amounts)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name}: expected True or False, got {type(v).__name__} {v!r}")
    o.solver, o.method = solver, method
    o.rtol, o.atol = to_real(rtol, "rtol"), to_real(atol, "atol")
    o.max_steps = to_int(max_steps, "max_steps")
    o.include_event_times, o.output_amounts = bool(include_event_times), bool(output_amounts)
    if outputs is not None:
        if isinstance(outputs, str):
            o.outputs = [outputs]
        elif isinstance(outputs, (list, tuple)) and all(isinstance(x, str) for x in outputs):
            o.outputs = list(outputs)
        else:
            raise TypeError(f"outputs: expected an output name or a list of names, got {outputs!r}")
    o.validate()
    return o


def make_metric_options(
    threshold: Optional[float] = None,
    at_times: Optional[Iterable[Quantity]] = None,
    terminal_start: Optional[Quantity] = None,
    last_dose_time: Optional[float] = None,
) -> _core.MetricOptions:
    """MetricOptions; ``last_dose_time`` None = each trajectory's own (its regimen's last dose)."""
    o = _core.MetricOptions()
    o.threshold = math.nan if threshold is None else to_real(threshold, "threshold", "a concentration (a number)")
    if threshold is not None and not (math.isfinite(o.threshold) and o.threshold > 0):
        raise ValueError(f"threshold: {threshold!r} must be a finite concentration > 0 (the output's unit)")
    o.at_times = [] if at_times is None else to_hours_list(at_times, "at_times")
    o.terminal_start = math.nan if terminal_start is None else to_hours(terminal_start, "terminal_start")
    o.last_dose_time = math.nan if last_dose_time is None else to_real(last_dose_time, "last_dose_time")
    o.validate()
    return o


class Result:
    """A simulated trajectory: outputs (rows) x times, with units.

    ``r["C_plasma"]`` is a read-only NumPy view of one output (no copy; it keeps the C++ data
    alive). ``r.time`` is in hours; concentrations in ng/mL.
    """

    __slots__ = ("trajectory", "model", "regimen", "subject")

    def __init__(
        self, trajectory: _core.Trajectory, model: _core.Model, regimen: _core.Regimen, subject: _core.Subject
    ) -> None:
        self.trajectory = trajectory
        self.model = model
        self.regimen = regimen
        self.subject = subject

    @property
    def time(self) -> np.ndarray:
        """Output times, h (read-only view)."""
        return self.trajectory.time

    @property
    def values(self) -> np.ndarray:
        """All outputs, shape (outputs, times), row-major (read-only view)."""
        return self.trajectory.values

    @property
    def outputs(self) -> list[str]:
        return list(self.trajectory.names)

    @property
    def units(self) -> Dict[str, str]:
        return dict(zip(self.trajectory.names, self.trajectory.units))

    @property
    def dose_total_mg(self) -> float:
        return self.trajectory.dose_total_mg

    def __getitem__(self, output: str) -> np.ndarray:
        """One output as a read-only NumPy view (ValueError naming the outputs if unknown)."""
        return self.trajectory.row(output)

    def __contains__(self, output: object) -> bool:
        return isinstance(output, str) and self.trajectory.has(output)

    def to_pandas(self, wide: bool = False) -> "pandas.DataFrame":  # noqa: F821
        """Tidy DataFrame with columns time (h), output, value, unit (one row per output and
        time, output-major); ``wide=True`` gives one column per output indexed by time."""
        import pandas as pd

        t, v, names = self.time, self.values, self.outputs
        if wide:
            df = pd.DataFrame({n: v[i] for i, n in enumerate(names)}, index=pd.Index(t, name="time"))
            df.attrs["units"] = {"time": "h", **self.units}  # column -> unit (docs: frames keep units here)
            return df
        n_t = t.size
        return pd.DataFrame(
            {
                "time": np.tile(t, len(names)),
                "output": pd.Categorical(np.repeat(names, n_t), categories=names),
                "value": v.reshape(-1),
                "unit": np.repeat(list(self.trajectory.units), n_t),
            }
        )

    def metrics(self, outputs: Union[str, Sequence[str], None] = None, **kwargs) -> dict:
        """Same as ``ketasim.metrics(self, outputs, ...)``."""
        return metrics(self, outputs, **kwargs)

    def __repr__(self) -> str:
        t = self.time
        return (
            f"<ketasim.Result model={self.model.name!r} outputs={self.outputs} "
            f"times={t.size} ({t[0]:g}-{t[-1]:g} h) dose={self.dose_total_mg:g} mg>"
        )

    def _repr_html_(self) -> str:
        from ._results import _html_table

        t, v = self.time, self.values
        rows = [
            (n, self.units.get(n, ""), f"{np.max(v[i]):.4g}" if t.size else "-") for i, n in enumerate(self.outputs)
        ]
        return _html_table(
            f"ketasim result: {self.model.name}, {t.size} times ({t[0]:g}-{t[-1]:g} h), dose {self.dose_total_mg:g} mg",
            ("output", "unit", "max"),
            rows,
        )


def simulate(
    model: ModelLike,
    regimen: Union[Regimen, _core.Regimen, str],
    t_end: Quantity = "24 h",
    dt: Quantity = "1 min",
    *,
    t_start: Quantity = 0.0,
    times: Optional[Iterable[Quantity]] = None,
    weight: Optional[float] = None,
    age: Optional[float] = None,
    set: Optional[Mapping[str, Any]] = None,
    params: Optional[Mapping[str, Any]] = None,
    solver: str = "exact",
    method: str = "dopri5",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    max_steps: int = 10_000_000,
    include_event_times: bool = False,
    output_amounts: bool = False,
    outputs: Union[str, Sequence[str], None] = None,
) -> Result:
    """Simulate ``model`` under ``regimen`` for one subject, as ``ketasim simulate`` does.

    Args:
        model: a library name, a .toml path or a loaded model.
        regimen: a ``Regimen`` or a regimen file (.toml, or .csv event table).
        t_end, dt, t_start: output grid, each with its unit ("24 h", "1 min"); 0 may be bare.
        times: explicit output times (each with its unit) instead of the uniform grid.
        weight, age: body weight (kg) and age (years) of the subject; default 70 kg, 40 years.
            Giving one the model does not use (weight on esketamine_nasal) is an error.
        set: parameter overrides, ``{name: value}``: a number in the parameter's file unit
            (``{"ka_n": 2.0}``, 1/h as ``ketasim show-model`` lists it) or text with a unit
            (``{"ka_n": "0.05 1/min"}``); the CLI's ``--set ka_n=2``. ``params=`` is its
            deprecated old name (DeprecationWarning).
        solver: "exact" (matrix exponential) or "ode" (Boost.Odeint, ``method`` dopri5 or
            rosenbrock4, tolerances ``rtol``/``atol``).
        include_event_times: add every dose/infusion start and stop to the output times.
        output_amounts: also output every state's amount (A_<name>, mg).
        outputs: record only these outputs (default: all). The exact solver then propagates only
            the states they depend on: faster, and equal to the full run up to rounding (~1e-14).

    Raises:
        ValueError: bad input (unknown route or parameter, negative dose, ...), with the C++ message.
        RuntimeError: a numerical failure.
    """
    overrides, word = overrides_argument(set, params, "params", "simulate")
    m = load_model(model)
    reg = as_core_regimen(regimen)
    given = [n for n, v in (("weight", weight), ("age", age)) if v is not None]
    subject = make_subject(70.0 if weight is None else weight, 40.0 if age is None else age, overrides, word, m)
    _core.require_covariates_used(m, reg.per_kg(), given, "simulate")
    grid = make_grid(t_end, dt, t_start, times)
    opts = make_options(solver, method, rtol, atol, max_steps, include_event_times, output_amounts, outputs)
    traj = _core.simulate(m, reg, grid, opts, subject)
    return Result(traj, m, reg, subject)


def _metric_dict(mt: _core.Metrics, at_times: Sequence[float]) -> Dict[str, float]:
    d = {name: float(_core.metric_value(mt, i)) for i, name in enumerate(METRICS)}
    for t, c in zip(at_times, mt.c_at):
        d[f"c_at_{t:g}h"] = float(c)
    return d


def metrics(
    result: Result,
    outputs: Union[str, Sequence[str], None] = None,
    *,
    threshold: Optional[float] = None,
    at_times: Optional[Iterable[Quantity]] = None,
    terminal_start: Optional[Quantity] = None,
    as_frame: bool = False,
):
    """Exposure metrics of a result, computed by the C++ library on the output grid.

    Metrics: those of ``ks.METRICS`` (the C++ registry): cmax (output unit), tmax (h), auc_0_t
    (linear-up/log-down, unit*h), auc_0_inf, lambda_z (1/h), half_life (h, apparent, over the
    automatic terminal window after the last dose), terminal_r2, terminal_start (h), and with a
    ``threshold`` (output unit): time_above (h), time_to_threshold (h, first upward crossing),
    time_below_after_peak (h); ``at_times`` adds ``c_at_<t>h`` entries.

    Returns ``{metric: value}`` when ``outputs`` is one output name, else
    ``{output: {metric: value}}`` for the given outputs (default: all); with ``as_frame=True`` a
    DataFrame with one row per output.
    """
    at = [] if at_times is None else to_hours_list(at_times, "at_times")
    mo = make_metric_options(threshold, at_times, terminal_start)  # last dose: the trajectory's own
    single = isinstance(outputs, str)
    names = [outputs] if single else (result.outputs if outputs is None else list(outputs))
    out = {n: _metric_dict(_core.compute_metrics(result.trajectory, n, mo), at) for n in names}
    if as_frame:
        import pandas as pd

        df = pd.DataFrame.from_dict(out, orient="index")
        df.index.name = "output"
        return df
    return out[names[0]] if single else out
