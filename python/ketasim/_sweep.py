"""Parameter sweeps over a full grid, run by the C++ executor with the GIL released.

The grid is passed to C++ as its levels; point i is decoded there from its index (mixed radix,
last variable fastest), so no (points x variables) array is ever built.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._models import ModelLike, load_model
from ._regimen import Regimen, as_core_regimen
from ._simulate import (
    METRICS,
    make_grid,
    make_metric_options,
    make_options,
    make_subject,
    metric_name,
)
from ._units import Quantity, overrides_argument, to_int

#: Metrics that need the log-linear terminal-phase fit (from the C++ registry).
TERMINAL_METRICS = {name for name, spec in METRICS.items() if spec.terminal_fit}

#: Sweep variables that are not model parameters.
SPECIAL_VARIABLES = {
    "dose": "total dose of the regimen, mg (every event scaled by the same factor)",
    "weight": "body weight, kg",
    "age": "age, years",
}

ProgressArg = Union[bool, Callable[[int, int], Optional[bool]]]


def _levels(params: Mapping[str, Iterable[float]]) -> Tuple[list[str], list]:
    """Names and the 1-D level arrays of a grid (checked non-empty and finite)."""
    names = list(params)
    levels = []
    for n in names:
        v = np.atleast_1d(np.asarray(params[n], dtype=float))
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"sweep: values of '{n}' must be a non-empty 1-D list")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"sweep: values of '{n}' must be finite")
        levels.append(v)
    return names, levels


def grid_size(params: Mapping[str, Iterable[float]]) -> int:
    """The number of points of the full grid of ``params`` (a dry count; nothing is built)."""
    names, levels = _levels(params)
    return int(_core.grid_size(names, [lv.tolist() for lv in levels]))


def grid_points(params: Mapping[str, Iterable[float]]) -> Tuple[list[str], np.ndarray]:
    """Names and the full cartesian product of the values, shape (points, variables).

    This materializes the grid (points x variables); ``sweep`` does not use it (C++ decodes each
    point from its index). For inspecting small grids.

    Order: like ``itertools.product`` over the lists in the mapping's order, so the LAST variable
    varies fastest (C order, as ``np.meshgrid(..., indexing="ij")`` flattened).
    """
    names, values = _levels(params)
    if not names:
        return names, np.zeros((1, 0))
    return names, np.array(list(itertools.product(*values)), dtype=float).reshape(-1, len(names))


def _progress_callback(progress: ProgressArg, total: int):
    """(callback for C++, closer) for progress=True (tqdm if installed), a callable, or False."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bar is optional; the sweep still reacts to Ctrl-C
        return None, lambda: None
    bar = tqdm(total=total, unit="pt", desc="ketasim sweep")

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


RegimenLike = Union[Regimen, _core.Regimen, str, os.PathLike]


def _regimen_set(regimen) -> list:
    """[(label, core regimen)]: one unlabelled regimen, or a schedule dimension from a mapping
    ``{label: regimen}`` or a sequence of regimens (labelled by position)."""
    if isinstance(regimen, Mapping):
        items = [(str(k), as_core_regimen(v)) for k, v in regimen.items()]
    elif isinstance(regimen, (list, tuple)):
        items = [(i, as_core_regimen(v)) for i, v in enumerate(regimen)]
    else:
        return [(None, as_core_regimen(regimen))]
    if not items:
        raise ValueError("sweep: regimen: an empty set of regimens (give at least one)")
    return items


def sweep(
    model: ModelLike,
    regimen: Union[RegimenLike, Mapping[str, RegimenLike], Sequence[RegimenLike]],
    params: Mapping[str, Iterable[float]],
    *,
    metrics: Sequence[str] = ("cmax", "tmax", "auc_0_t"),
    outputs: Union[str, Sequence[str], None] = None,
    t_end: Quantity = "24 h",
    dt: Quantity = "1 min",
    t_start: Quantity = 0.0,
    times: Optional[Iterable[Quantity]] = None,
    weight: Optional[float] = None,
    age: Optional[float] = None,
    set: Optional[Mapping[str, Any]] = None,
    fixed: Optional[Mapping[str, Any]] = None,
    threshold: Optional[float] = None,
    threads: int = 1,
    progress: ProgressArg = False,
    trajectories: Union[bool, str] = False,
    solver: str = "exact",
    method: str = "dopri5",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    dry_run: bool = False,
):
    """Run ``model`` under ``regimen`` over the full grid of ``params`` and tabulate metrics.

    Args:
        regimen: a regimen (``ks.Regimen``, or a .toml/.csv file), or a schedule dimension: a
            mapping ``{label: regimen}`` or a list of regimens (labelled 0, 1, ...). Every
            regimen is crossed with the whole ``params`` grid; the DataFrame then starts with a
            "regimen" column and the regimens vary slowest.
        params: ``{name: values}``; a name is a model parameter (values in the parameter's file
            unit, e.g. ka_n in 1/h), "dose" (total mg of the regimen: every event is scaled by
            dose / regimen total, so the number and timing of devices or infusions stay the same),
            "weight" (kg) or "age" (years). All combinations are run (cartesian product) in
            ``itertools.product`` order: the last variable varies fastest.
        metrics: metric names (see ``ketasim.METRICS``; default cmax, tmax, auc_0_t).
        outputs: output(s) to report (default: the model's first output, e.g. C_plasma).
        weight, age: subject values shared by every point.
        set: parameter overrides shared by every point, as in ``ks.simulate(set=...)`` (a number
            in the file unit or text with a unit); ``fixed=`` is its deprecated old name.
        threshold: concentration threshold for the time_* metrics (output unit).
        threads: C++ worker threads; the results are identical whatever the count.
        progress: True for a tqdm bar (if tqdm is installed), or a callable ``f(done, total)``
            (return False to cancel). Ctrl-C cancels the sweep (KeyboardInterrupt) in any case.
        threads: 0 = all available cores (respecting SLURM_CPUS_PER_TASK).
        dry_run: return only the number of points (every regimen times the grid) without running;
            nothing per point is allocated, so a 1000 x 1000 x 1000 grid is counted instantly.
        trajectories: also return every point's curves: True or "xarray" for an xarray Dataset
            (dims point, time; one variable per output) when xarray is installed, "numpy" (or
            True without xarray) for a dict with "values" of shape (point, output, time).

    Returns:
        A DataFrame with one column per swept variable, then one per metric (named
        "<output>.<metric>" when several outputs are reported), units in ``df.attrs["units"]``
        (column -> unit: the parameter's file unit, mg / kg / years for dose / weight / age, the
        metric's unit for the output); with ``trajectories`` a tuple
        (DataFrame, Dataset or dict); with ``dry_run`` the number of points.
    """
    m = load_model(model)
    regimens = _regimen_set(regimen)
    names, levels = _levels(params)
    for n in names:
        if n not in SPECIAL_VARIABLES and not m.has_parameter(n):
            valid = ", ".join([p.name for p in m.parameters] + list(SPECIAL_VARIABLES))
            raise ValueError(
                f"sweep: '{n}' is neither a parameter of model '{m.name}' nor a sweep variable (accepted: {valid})"
            )
    level_lists = [lv.tolist() for lv in levels]
    n_points = int(_core.grid_size(names, level_lists))
    if dry_run:
        return n_points * len(regimens)
    import pandas as pd

    metric_names = [metric_name(x) for x in metrics]
    if isinstance(outputs, str):
        outputs = [outputs]
    outs = list(outputs) if outputs is not None else [m.outputs[0].name]

    metric_options = make_metric_options(threshold)
    # The terminal fit (a log per terminal point) only when a reported metric needs it.
    metric_options.terminal_phase = bool(TERMINAL_METRICS.intersection(metric_names))
    keep = bool(trajectories)
    total = n_points * len(regimens)
    callback, close = _progress_callback(progress, total)
    overrides, word = overrides_argument(set, fixed, "fixed", "sweep")
    subject = make_subject(70.0 if weight is None else weight, 40.0 if age is None else age, overrides, word, m)
    # Weight or age set or swept on a model that does not use them is an error (C++ rule).
    given = [n for n, v in (("weight", weight), ("age", age)) if v is not None] + [
        n for n in names if n in ("weight", "age")
    ]
    for label, base in regimens:
        _core.require_covariates_used(m, base.per_kg(), given, "sweep" if label is None else f"sweep[{label!r}]")
    grid = make_grid(t_end, dt, t_start, times)
    options = make_options(solver, method, rtol, atol)
    results = []
    try:
        for k, (_, base) in enumerate(regimens):
            offset = k * n_points
            cb = None if callback is None else (lambda d, _t, offset=offset: callback(offset + d, total))
            # Points are decoded from their index in C++ (GridDesign); columns come back per factor
            # and per <output>.<metric>.
            results.append(
                _core.run_sweep_grid(
                    m,
                    subject,
                    base,
                    names,
                    level_lists,
                    grid,
                    options,
                    to_int(threads, "threads"),
                    outs,
                    keep,
                    metric_options,
                    cb,
                )
            )
    finally:
        close()

    frames = []
    # column -> unit, from the C++ sink (factor units from the model file or the special variable,
    # metric units from the registry's rule and the output's unit); "regimen" is a label, no unit.
    sink_units = dict(zip(results[0]["names"], results[0]["units"]))
    units: Dict[str, str] = {}
    for (label, _), res in zip(regimens, results):
        cols = res["columns"]
        columns: Dict[str, Any] = {} if label is None else {"regimen": [label] * n_points}
        columns.update({n: cols[n] for n in names})
        units.update({n: sink_units[n] for n in names})
        for o in outs:
            for mn in metric_names:
                col = mn if len(outs) == 1 else f"{o}.{mn}"
                columns[col] = cols[f"{o}.{mn}"]
                units[col] = sink_units[f"{o}.{mn}"]
        frames.append(pd.DataFrame(columns))
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    df.index.name = "point"
    df.attrs["units"] = units  # the documented place for units in frames (docs/formats.md)
    if not keep:
        return df
    labels = None if regimens[0][0] is None else [lab for lab, _ in regimens for _ in range(n_points)]
    variables = {n: df[n].to_numpy() for n in names}
    return df, _trajectories(results, variables, trajectories, labels)


def _trajectories(
    results: list, variables: Dict[str, np.ndarray], kind: Union[bool, str], labels: Optional[list] = None
):
    res = results[0]
    values = res["trajectories"] if len(results) == 1 else np.concatenate([r["trajectories"] for r in results])
    time = np.asarray(res["time"])
    outputs, units = list(res["output_names"]), list(res["output_units"])
    if kind not in (True, "xarray", "numpy"):
        raise ValueError(f"sweep: trajectories={kind!r} must be True, False, 'xarray' or 'numpy'")
    if kind in (True, "xarray"):
        try:
            import xarray as xr
        except ImportError:
            if kind == "xarray":
                raise
            kind = "numpy"
    if kind == "numpy":
        return {
            "values": values,
            "dims": ("point", "output", "time"),
            "time": time,
            "outputs": outputs,
            "units": dict(zip(outputs, units)),
            "variables": {**({} if labels is None else {"regimen": np.asarray(labels)}), **variables},
        }
    coords: Dict[str, Any] = {"point": np.arange(values.shape[0]), "time": ("time", time, {"units": "h"})}
    if labels is not None:
        coords["regimen"] = ("point", np.asarray(labels))
    for n, v in variables.items():
        coords[n] = ("point", v)
    data = {o: (("point", "time"), values[:, k, :], {"units": u}) for k, (o, u) in enumerate(zip(outputs, units))}
    return xr.Dataset(data, coords=coords)


__all__ = ["sweep", "grid_points", "grid_size", "SPECIAL_VARIABLES"]
