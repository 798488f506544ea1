"""Virtual populations: ``ks.population(model, regimen, n=..., seed=...)``.

The population (covariate draws, random effects from the model file, per-subject tables) and the
summaries (percentile bands, Wilson intervals, Kaplan-Meier) are the C++ library's; this module
turns Python values into its inputs and its columns into pandas/xarray.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from . import _core
from ._models import ModelLike, load_model
from ._regimen import as_core_regimen
from ._simulate import make_grid, make_metric_options, make_options
from ._units import Quantity, to_hours

CovariatesArg = Union[None, str, os.PathLike, Mapping[str, Mapping[str, Any]]]
ProgressArg = Union[bool, Callable[[int, int], Optional[bool]]]

#: Percentiles of the default bands and summaries (the 90 % prediction interval and the median).
DEFAULT_PERCENTILES = (5.0, 50.0, 95.0)


def _int_arg(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what}: {value} must be >= {minimum}")
    return int(value)


def _covariates(covariates: CovariatesArg) -> list:
    if covariates is None:
        return []
    if isinstance(covariates, (str, os.PathLike)):
        return list(_core.load_covariate_distributions(os.fspath(covariates)))
    if not isinstance(covariates, Mapping):
        raise TypeError(
            "covariates: expected {name: {'distribution': ..., ...}} or a TOML file path, "
            f"got {type(covariates).__name__}"
        )
    out = []
    for name, fields in covariates.items():
        if not isinstance(fields, Mapping):
            raise TypeError(
                f"covariates['{name}']: expected a mapping of fields such as "
                "{'distribution': 'normal', 'mean': '80 kg', 'sd': '15 kg', 'lower': '40 kg'}, "
                f"got {type(fields).__name__}"
            )
        text = {}
        for k, v in fields.items():
            if isinstance(v, bool) or not isinstance(v, (str, numbers.Real)):
                raise TypeError(f"covariates['{name}']['{k}']: expected text such as '80 kg' or a number, got {v!r}")
            text[str(k)] = v if isinstance(v, str) else repr(float(v))
        out.append(_core.covariate_distribution(str(name), text, f"covariates['{name}']"))
    return out


def _table(table: Any) -> Optional[_core.SubjectTable]:
    if table is None:
        return None
    if isinstance(table, (str, os.PathLike)):
        return _core.load_subject_table(os.fspath(table))
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(table, pd.DataFrame):
        headers = [str(c) for c in table.columns]
        values = table.to_numpy(dtype=float)
        return _core.subject_table(headers, np.ascontiguousarray(values), "table")
    raise TypeError(f"table: expected a pandas DataFrame or a CSV path, got {type(table).__name__}")


class PopulationResult:
    """One row per subject (covariates, varying parameters, metrics) and, when kept, trajectories.

    ``frame``: pandas DataFrame, one row per subject; ``frame.attrs["units"]`` maps each column to
    its unit. ``bands(output)``: percentile bands over time; ``summary()``: metric distributions;
    ``to_xarray()``: an ``xarray.Dataset`` with dimensions ``subject`` (and ``percentile``,
    ``time`` when trajectories were kept).
    """

    def __init__(self, raw: dict, model_name: str, seed: int, n: int):
        self._raw = raw
        self.model = model_name
        self.seed = seed
        self.n = n
        self.units: Dict[str, str] = dict(zip(raw["names"], raw["units"]))
        self.trajectories: Optional[np.ndarray] = raw.get("trajectories")
        self.time: Optional[np.ndarray] = np.asarray(raw["time"]) if "time" in raw else None
        self.outputs: list = list(raw.get("output_names", []))

    def __repr__(self) -> str:
        kept = "" if self.trajectories is None else f", trajectories {self.trajectories.shape}"
        return f"<PopulationResult {self.model}: {self.n} subjects, seed {self.seed}{kept}>"

    def _repr_html_(self) -> str:
        from ._results import _html_table

        rows = []
        for name, unit in self.units.items():
            if name == "subject":
                continue
            v = np.asarray(self.column(name), dtype=float)
            f = v[np.isfinite(v)]
            rows.append(
                (
                    name,
                    unit,
                    f"{np.median(f):.4g}" if f.size else "-",
                    f"{np.percentile(f, 5):.4g} - {np.percentile(f, 95):.4g}" if f.size else "-",
                )
            )
        return _html_table(
            f"ketasim population {self.model}: {self.n} subjects, seed {self.seed}",
            ("column", "unit", "median", "5th - 95th percentile"),
            rows[:30],
        )

    @property
    def frame(self) -> "pandas.DataFrame":  # noqa: F821
        import pandas as pd

        cols = self._raw["columns"]
        df = pd.DataFrame({k: cols[k] for k in self._raw["names"]})
        df["subject"] = df["subject"].astype(np.int64)
        if "ID" in df:  # a dataset's subject IDs
            df["ID"] = df["ID"].astype(np.int64)
        df = df.set_index("subject")
        df.attrs["units"] = {k: v for k, v in self.units.items() if k != "subject"}
        return df

    @property
    def observations(self) -> "pandas.DataFrame":  # noqa: F821
        """A dataset's outputs at each ID's own times (EVID 0 rows), long format: columns ``ID``,
        ``time`` (h) and one per output, one row per ID and time; ``attrs["units"]`` per column.
        Only for ``ks.population(model, data=...)``."""
        import pandas as pd

        if "observations" not in self._raw:
            raise ValueError(
                "observations: only a dataset population (ks.population(model, data=...)) has "
                "per-subject times; use bands() or to_xarray() here"
            )
        o = self._raw["observations"]
        df = pd.DataFrame({k: o["columns"][k] for k in o["names"]})
        df["ID"] = df["ID"].astype(np.int64)
        df.attrs["units"] = dict(zip(o["names"], o["units"]))
        return df

    def column(self, name: str) -> np.ndarray:
        if name not in self._raw["columns"]:
            raise KeyError(f"no column '{name}' (columns: {', '.join(self._raw['names'])})")
        return self._raw["columns"][name]

    def summary(self, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> "pandas.DataFrame":  # noqa: F821
        """Percentiles of every metric column across subjects (NaN-aware), with units."""
        import pandas as pd

        rows = []
        for name in self._raw["names"]:
            if "." not in name:
                continue
            v = np.asarray(self._raw["columns"][name], dtype=float)
            finite = v[np.isfinite(v)]
            row = {"metric": name, "unit": self.units[name], "n": int(finite.size)}
            for p in percentiles:
                row[f"P{p:g}"] = float(np.percentile(finite, p)) if finite.size else float("nan")
            rows.append(row)
        return pd.DataFrame(rows).set_index("metric")

    def bands(self, output: str, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> "pandas.DataFrame":  # noqa: F821
        """Percentile bands of ``output`` over time: index time (h), a column per percentile."""
        import pandas as pd

        if "observations" in self._raw:
            raise ValueError("bands: the subjects of a dataset have their own times; use result.observations")
        if self.trajectories is None:
            raise ValueError("bands: trajectories were not kept; run ks.population(..., bands=True)")
        if output not in self.outputs:
            raise KeyError(f"bands: no output '{output}' (outputs: {', '.join(self.outputs)})")
        k = self.outputs.index(output)
        values = self.trajectories[:, k, :]
        b = np.percentile(values, list(percentiles), axis=0)
        df = pd.DataFrame(b.T, index=pd.Index(self.time, name="time_h"), columns=[f"P{p:g}" for p in percentiles])
        df.attrs["units"] = {c: self._raw["output_units"][k] for c in df.columns}
        return df

    def to_xarray(self, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> "xarray.Dataset":  # noqa: F821
        import xarray as xr

        cols = self._raw["columns"]
        subject = np.asarray(cols["subject"], dtype=np.int64)
        data = {}
        for name in self._raw["names"]:
            if name == "subject":
                continue
            data[name] = xr.DataArray(np.asarray(cols[name]), dims=("subject",), attrs={"units": self.units[name]})
        ds = xr.Dataset(data, coords={"subject": subject})
        if self.trajectories is not None:
            ps = np.asarray(list(percentiles), dtype=float)
            for k, out in enumerate(self.outputs):
                ds[f"{out}_band"] = xr.DataArray(
                    np.percentile(self.trajectories[:, k, :], ps, axis=0),
                    dims=("percentile", "time"),
                    attrs={"units": self._raw["output_units"][k]},
                )
            ds = ds.assign_coords(percentile=ps, time=xr.DataArray(self.time, dims=("time",), attrs={"units": "h"}))
        ds.attrs.update({"model": self.model, "seed": self.seed, "n_subjects": self.n})
        return ds


class CoursePopulationResult(PopulationResult):
    """A treatment course over a population: one row per patient (``frame``: PK and PD parameters,
    per-session ``madrs_24h.k``, ``response.k``, ``remission.k``, ``peak_dissociation.k``,
    ``peak_sbp_rise.k``, ``discharge.k``; ``sessions_to_response``, ``relapse_h``, ...) and the
    population rates computed by the C++ library (``rates``: per session with 95 % Wilson
    intervals; ``sessions_to_response``/``sessions_to_remission``/``relapse``: Kaplan-Meier).
    """

    def __init__(self, raw: dict, model_name: str, seed: int, n: int, schedule_name: str):
        super().__init__(raw, model_name, seed, n)
        self.schedule = schedule_name
        self._summary = raw["summary"]

    @property
    def uncertainty(self) -> int:
        """Number of parameter sets drawn from the symptom model's [uncertainty] table (0: none)."""
        return int(self._summary["replicates"])

    def __repr__(self) -> str:
        r = self.rates
        last = r.iloc[-1]
        med = self.sessions_to_response["median"]
        rel = self.relapse["median"]
        return (
            f"<CoursePopulationResult {self.schedule} on {self.model}: {self.n} patients, seed {self.seed}; "
            f"response after session 1 {r['response'].iloc[0]:.0%}, after session {len(r)} "
            f"{last['response']:.0%}; remission {last['remission']:.0%}; median sessions to response "
            f"{'not reached' if np.isnan(med) else f'{med:g}'}; median relapse "
            f"{'not reached' if np.isnan(rel) else f'{rel / 24:.1f} d'} after the last session>"
        )

    @property
    def rates(self) -> "pandas.DataFrame":  # noqa: F821
        """Per session: response and remission rates (at 24 h after the session start) with 95 %
        Wilson intervals, and the share remitted by then. Index: session (1-based). With
        ``uncertainty=K``: ``response_plo``/``response_phi``, ``remission_plo``/``remission_phi``,
        the 2.5/97.5 % percentiles of the rate over the K parameter sets (the library's
        ``course_rate_bands``)."""
        import pandas as pd

        rows = []
        days = self._summary["session_days"]
        for k, (rs, rm, ev) in enumerate(
            zip(self._summary["response"], self._summary["remission"], self._summary["ever_remitted"])
        ):
            row = {
                "session": k + 1,
                "day": days[k] / 24.0,
                "response": rs[2],
                "response_lo": rs[3],
                "response_hi": rs[4],
                "remission": rm[2],
                "remission_lo": rm[3],
                "remission_hi": rm[4],
                "ever_remitted": ev[2],
                "n": rs[1],
            }
            if self.uncertainty:
                for col in ("response_plo", "response_phi", "remission_plo", "remission_phi"):
                    row[col] = self._summary[col][k]
            rows.append(row)
        return pd.DataFrame(rows).set_index("session")

    @property
    def sessions_to_response(self) -> Dict[str, Any]:
        """Kaplan-Meier of the session of first response (censored at the sessions given)."""
        return dict(self._summary["sessions_to_response"])

    @property
    def sessions_to_remission(self) -> Dict[str, Any]:
        return dict(self._summary["sessions_to_remission"])

    @property
    def relapse(self) -> Dict[str, Any]:
        """Kaplan-Meier of the time (h) from the last session's start to relapse (MADRS back above
        the response level) among responders at the last session; censored at the end of follow-up."""
        return dict(self._summary["relapse_h"])

    def still_responding(self, after: Quantity) -> float:
        """Share of responders at the last session still responding ``after`` the last session
        (Kaplan-Meier survival at that time)."""
        t = to_hours(after, "after")
        km = self.relapse
        times, surv = np.asarray(km["time"]), np.asarray(km["survival"])
        if times.size == 0:
            return float("nan")
        return float(surv[np.searchsorted(times, t, side="right") - 1])


def _progress(progress: ProgressArg, total: int):
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the run still reacts to Ctrl-C without a bar
        return None, lambda: None
    bar = tqdm(total=total, unit="subject", desc="ketasim population")

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


def population(
    model: Optional[ModelLike],
    regimen: Any = None,
    *,
    data: Any = None,
    n: Optional[int] = None,
    seed: int = 0,
    covariates: CovariatesArg = None,
    table: Any = None,
    variability: bool = True,
    t_end: Quantity = "24 h",
    dt: Quantity = "5 min",
    outputs: Union[str, Sequence[str], None] = None,
    threshold: Optional[float] = None,
    bands: bool = False,
    residual_error: bool = False,
    threads: int = 0,
    chunk: int = 16,
    progress: ProgressArg = False,
    models_dir: Union[str, os.PathLike, None] = None,
    course_options: Optional[Mapping[str, Any]] = None,
    uncertainty: int = 0,
) -> PopulationResult:
    """Simulate a virtual population on one regimen.

    model: library name, model file or ``ks.Model``. Its file declares the covariates it uses,
        between-subject variability (random effects) and residual error.
    n, seed: number of subjects and the seed; the same seed gives identical results whatever
        ``threads`` and ``chunk`` are. With ``table`` the table's rows are the subjects.
    covariates: ``{name: fields}``, e.g. ``{"weight": {"distribution": "normal", "mean": "80 kg",
        "sd": "15 kg", "lower": "40 kg", "upper": "150 kg"}, "asian": {"distribution": "bernoulli",
        "p": 0.14}}``, or a TOML file of such tables. A covariate the model does not use is an error.
    table: per-subject values, a DataFrame or CSV with columns ``WT[kg]``, ``AGE[years]``, flags
        (0/1) or parameters in their file unit (``CL[L/h]``); optional ``ID``.
    variability: False gives typical subjects (covariates still apply).
    bands: keep every trajectory for percentile bands (memory: n x outputs x times doubles).
    residual_error: add the model's residual error to the kept trajectories (observations).
    threads: 0 = all cores ($SLURM_CPUS_PER_TASK when set).
    data: a NONMEM-style dataset (CSV path or pandas DataFrame) instead of ``regimen``, ``n`` and
        ``table``: each ID is a subject with its own doses (EVID 1), output times (EVID 0 rows;
        ``t_end``/``dt`` for an ID without any) and covariates (``WT[kg]``, ``AGE[years]``, ``SEX``
        or the model's flags). Returns a ``PopulationResult`` whose ``frame`` has an ``ID`` column
        and whose ``observations`` is the long-format table (``ID``, ``time``, outputs), since the
        subjects' times differ (docs/populations.md).

    Treatment courses: pass a ``ks.Schedule`` or a schedule name (``"iv-3x-weekly"``, ...) as the
    second argument (``model`` None = the schedule's own) and get a ``CoursePopulationResult``;
    the keywords of ``course_options`` apply (``follow_up``, ``dt``, ``stop_at_remission``,
    ``max_sessions``, ``metrics_only`` (the CLI's ``--metrics-only``, the run spec's
    ``metrics_only``: the same columns without computing curves, much faster; BENCHMARKS.md),
    ``remission_threshold``, ``response_fraction``, ``pd_solver``,
    ``symptom_model`` (library name or .toml, default "madrs"; "madrs_v3" and "madrs_v1" for the
    other structures)
    and ``madrs_at`` (times after the first session, e.g. ``["72 h", "7 d"]``: columns
    ``madrs_at.<h>``)).
    uncertainty: courses only; K > 0 also runs K populations, each on a set of the symptom model's
        fitted values drawn from the file's ``[uncertainty]`` table (replicate k: stream
        (seed, k); same seed, same draws) with the same patients (common random numbers), and adds
        ``response_plo``/``response_phi``/``remission_plo``/``remission_phi`` to ``rates``: the
        2.5/97.5 % percentiles over the K replicates (parameter uncertainty; the Wilson columns are
        the Monte Carlo interval of the point run). docs/populations.md.
    """
    from ._pd import SCHEDULE_NAMES, Schedule

    if data is not None:
        return _dataset_population(
            model,
            regimen,
            data,
            n=n,
            seed=seed,
            covariates=covariates,
            table=table,
            variability=variability,
            t_end=t_end,
            dt=dt,
            outputs=outputs,
            threshold=threshold,
            bands=bands,
            residual_error=residual_error,
            threads=threads,
            chunk=chunk,
            progress=progress,
            models_dir=models_dir,
            course_options=course_options,
        )
    if regimen is None:
        raise TypeError("population: give the regimen (or a schedule, or data=DATASET)")
    if isinstance(regimen, Schedule) or (isinstance(regimen, str) and regimen in SCHEDULE_NAMES):
        return _course_population(
            model,
            regimen,
            n=n,
            seed=seed,
            covariates=covariates,
            table=table,
            variability=variability,
            threads=threads,
            chunk=chunk,
            progress=progress,
            models_dir=models_dir,
            uncertainty=uncertainty,
            **(course_options or {}),
        )
    if not (isinstance(uncertainty, numbers.Integral) and not isinstance(uncertainty, bool) and uncertainty == 0):
        raise TypeError("population: uncertainty applies to a schedule (a treatment course), not to a regimen")
    if course_options:
        raise TypeError(
            "population: course_options apply to a schedule (a ks.Schedule or a schedule name), not to a regimen"
        )
    if model is None:
        raise TypeError("population: give the model (library name, .toml file or ks.Model)")
    m = load_model(model, models_dir)
    reg = as_core_regimen(regimen)
    spec = _population_spec(n, seed, covariates, table, variability)
    threads = _int_arg(threads, "threads", 0)
    chunk = _int_arg(chunk, "chunk", 1)
    outs = [] if outputs is None else ([outputs] if isinstance(outputs, str) else [str(o) for o in outputs])
    total = spec.table.rows if spec.table.rows else spec.n
    callback, close = _progress(progress, total)
    try:
        raw = _core.run_population(
            m,
            reg,
            make_grid(t_end, dt),
            spec,
            options=make_options(),
            outputs=outs,
            metric_options=make_metric_options(threshold=threshold),
            keep_trajectories=bool(bands or residual_error),
            residual_error=bool(residual_error),
            threads=threads,
            chunk=chunk,
            progress=callback,
        )
    finally:
        close()
    return PopulationResult(raw, m.name, spec.seed, total)


def _dataset(data: Any, m: "_core.Model") -> "_core.Dataset":
    if isinstance(data, (str, os.PathLike)):
        return _core.load_dataset(os.fspath(data), m)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        # The one CSV reader parses it (headers with units, EVID, CMT names ...): as CSV text.
        return _core.parse_dataset(data.to_csv(index=False), "data", m)
    raise TypeError(f"data: expected a pandas DataFrame or a CSV path, got {type(data).__name__}")


def _dataset_population(
    model,
    regimen,
    data,
    *,
    n,
    seed,
    covariates,
    table,
    variability,
    t_end,
    dt,
    outputs,
    threshold,
    bands,
    residual_error,
    threads,
    chunk,
    progress,
    models_dir,
    course_options,
) -> PopulationResult:
    given = [
        name
        for name, v in (
            ("regimen", regimen),
            ("n", n),
            ("covariates", covariates),
            ("table", table),
            ("course_options", course_options),
        )
        if v is not None
    ]
    if given:
        raise TypeError(
            f"population: data= gives every subject's doses, times and covariates; not with {', '.join(given)}"
        )
    if bands or residual_error:
        raise TypeError(
            "population: with data= every ID has its own times: the trajectories are in "
            "result.observations (long format); bands and residual_error do not apply"
        )
    if model is None:
        raise TypeError("population: give the model (library name, .toml file or ks.Model)")
    if not isinstance(variability, bool):
        raise TypeError(f"variability: expected True or False, got {variability!r}")
    m = load_model(model, models_dir)
    ds = _dataset(data, m)
    seed = _int_arg(seed, "seed", 0)
    threads = _int_arg(threads, "threads", 0)
    chunk = _int_arg(chunk, "chunk", 1)
    outs = [] if outputs is None else ([outputs] if isinstance(outputs, str) else [str(o) for o in outputs])
    callback, close = _progress(progress, len(ds))
    try:
        raw = _core.run_dataset_population(
            m,
            ds,
            make_grid(t_end, dt),
            seed=seed,
            variability=variability,
            options=make_options(),
            outputs=outs,
            metric_options=make_metric_options(threshold=threshold),
            threads=threads,
            chunk=chunk,
            progress=callback,
        )
    finally:
        close()
    return PopulationResult(raw, m.name, seed, len(ds))


def _population_spec(n, seed, covariates, table, variability) -> "_core.PopulationSpec":
    spec = _core.PopulationSpec()
    if n is not None:
        spec.n = _int_arg(n, "n", 1)
    elif table is None:
        raise ValueError("population: give n (the number of subjects) or a table of subjects")
    spec.seed = _int_arg(seed, "seed", 0)
    spec.covariates = _covariates(covariates)
    tbl = _table(table)
    if tbl is not None:
        spec.table = tbl
    if not isinstance(variability, bool):
        raise TypeError(f"variability: expected True or False, got {variability!r}")
    spec.variability = variability
    return spec


def _course_population(
    model,
    schedule,
    *,
    n,
    seed,
    covariates,
    table,
    variability,
    threads,
    chunk,
    progress,
    models_dir,
    uncertainty=0,
    follow_up: Quantity = "28 d",
    dt: Quantity = "1 min",
    stop_at_remission: bool = False,
    max_sessions: int = 0,
    metrics_only: bool = False,
    remission_threshold: float = 10.0,
    response_fraction: float = 0.5,
    pd_solver: str = "semi-analytic",
    symptom_model: Union[str, os.PathLike] = "madrs",
    madrs_at: Sequence[Quantity] = (),
) -> CoursePopulationResult:
    from ._models import _dir
    from ._pd import _schedule

    sched = _schedule(schedule, model, models_dir)
    d = _dir(models_dir)
    spec = _population_spec(n, seed, covariates, table, variability)
    o = _core.CoursePopulationOptions()
    co = _core.CourseOptions()
    co.follow_up_h = to_hours(follow_up, "follow_up")
    co.dt_h = to_hours(dt, "dt")
    co.pd_solver = pd_solver
    clin = _core.ClinicalOptions()
    for name, value in (("remission_threshold", remission_threshold), ("response_fraction", response_fraction)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}: expected a number, got {value!r}")
    clin.remission_threshold = float(remission_threshold)
    clin.response_fraction = float(response_fraction)
    co.clinical = clin
    o.course = co
    if not isinstance(stop_at_remission, bool):
        raise TypeError(f"stop_at_remission: expected True or False, got {stop_at_remission!r}")
    o.stop_at_remission = stop_at_remission
    if not isinstance(metrics_only, bool):
        raise TypeError(f"metrics_only: expected True or False, got {metrics_only!r}")
    o.metrics_only = metrics_only
    o.max_sessions = _int_arg(max_sessions, "max_sessions", 0)
    o.madrs_times_h = [to_hours(t, "madrs_at") for t in madrs_at]
    o.threads = _int_arg(threads, "threads", 0)
    o.chunk = _int_arg(chunk, "chunk", 1)
    o.validate()
    o.uncertainty = _int_arg(uncertainty, "uncertainty", 0)
    total = spec.table.rows if spec.table.rows else spec.n
    acute = _core.load_library_pd("acute_effects", d)
    symptoms = _core.load_library_pd(os.fspath(symptom_model), d)
    callback, close = _progress(progress, total)
    try:
        # With uncertainty=K the library also runs the K parameter-uncertainty replicates and
        # returns their per-session percentile bands (course_rate_bands).
        raw = _core.run_course_population(sched.to_core(), acute, symptoms, spec, o, progress=callback)
    finally:
        close()
    return CoursePopulationResult(raw, sched.to_core().model.name, spec.seed, total, sched.name)
