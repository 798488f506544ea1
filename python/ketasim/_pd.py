"""Treatment courses: schedules, ``course()`` and its ``CourseResult``; PD parameter sets.

The acute-effect model (dissociation, systolic BP rise) and the MADRS symptom model are the C++
library's (include/ketasim/pd.hpp). The MADRS model is calibrated to single-dose IV data only
(docs/calibration.md): repeated-session and esketamine results are predictions.
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _core
from ._models import ModelLike, _dir, load_model
from ._regimen import Regimen, as_core_regimen
from ._simulate import Result, make_subject
from ._units import Quantity, to_hours

#: Columns of ``CourseResult.sessions`` and their units: the C++ session table
#: (``session_columns()`` in include/ketasim/pd.hpp), also the CSV of ``ketasim course --out``.
SESSION_UNITS: Dict[str, str] = {c.name: c.unit for c in _core.session_columns()}

SYMPTOM_UNITS: Dict[str, str] = {
    "time_h": "h",
    "day": "d",
    "ce_ng_per_mL": "ng/mL racemic-equivalent Ce",
    "P": "1 (fast plasticity state, 0-1)",
    "C": "1 (consolidated plasticity state, 0-1; 0 for structure madrs_v1)",
    "E": "1 (expression of plasticity in mood, 0-1)",
    "placebo": "1 (fraction of baseline removed by expectation)",
    "madrs": "MADRS points",
    "madrs_control": "MADRS points (placebo only, no drug)",
}

ACUTE_UNITS: Dict[str, str] = {
    "time_h": "h",
    "day": "d",
    "dissociation_pct": "% of maximal dissociation",
    "sbp_rise_mmHg": "mmHg",
    "sbp_tolerance": "1 (acute-tolerance state X of the SBP rise, 0-1)",
}

_ACUTE_FIELDS = (
    "diss_emax",
    "diss_ec50",
    "diss_hill",
    "sbp_emax",
    "sbp_ec50",
    "sbp_hill",
    "sbp_k_tol",
    "diss_tolerance_per_session",
    "diss_discharge_threshold",
    "sbp_discharge_threshold",
    "nausea_c50",
    "dizziness_c50",
    "drowsiness_c50",
    "dissociation_report_c50",
    "se_slope",
)
_SYMPTOM_FIELDS = (
    "baseline",
    "ec50",
    "hill",
    "k_on",
    "k_off",
    "k_tr",
    "emax_p",
    "placebo_max",
    "k_placebo",
    "k_cons",
    "k_off_c",
    "n_cons",
)

#: Named schedules accepted by ``course()`` (the CLI's ``--schedule`` names; C++ schedule_registry()).
SCHEDULE_NAMES = tuple(s.name for s in _core.schedule_registry())


class Schedule:
    """A treatment course to simulate: the PK model it runs on, its regimen and session starts.

    Build one with ``ks.schedules.named``, ``iv``, ``iv_days``, ``esketamine_induction`` or
    ``from_regimen``. ``ce_scale`` converts the model's Ce into racemic-equivalent ng/mL: the
    model file's ``racemic_equivalent`` parameter (2 for esketamine, assumed; 1 for racemic).
    """

    __slots__ = ("_core",)

    def __init__(self, spec: _core.CourseSpec) -> None:
        self._core = spec

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def description(self) -> str:
        return self._core.description

    @property
    def model(self) -> str:
        """Name of the PK model the course runs on."""
        return self._core.model.name

    @property
    def core_model(self) -> _core.Model:
        """The PK model the course runs on."""
        return self._core.model

    @property
    def regimen(self) -> Regimen:
        return Regimen(self._core.regimen.events)

    @property
    def session_starts_h(self) -> np.ndarray:
        """Session start times, h."""
        return np.asarray(self._core.session_starts_h, dtype=float)

    @property
    def session_days(self) -> np.ndarray:
        """Session start times, d."""
        return self.session_starts_h / 24.0

    @property
    def ce_scale(self) -> float:
        return _core.racemic_equivalent_scale(self._core.model)

    def on_model(self, model: ModelLike, models_dir: Union[str, os.PathLike, None] = None) -> "Schedule":
        """The same regimen and sessions on another model (routes checked)."""
        m = load_model(model, models_dir)
        spec = _core.with_model(self._core, m)
        if m.name != self.model:
            spec.description = f"{self.description} (model {m.name})"
        return Schedule(spec)

    def to_core(self) -> _core.CourseSpec:
        return self._core

    def __len__(self) -> int:
        return len(self._core.session_starts_h)

    def __repr__(self) -> str:
        return f"<ketasim.Schedule {self.name!r}: {self.description}; model {self.model!r}, {len(self)} sessions>"


def _int_arg(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what}: {value!r} must be a whole number")
    return int(value)


def _mg_per_kg(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"mg_per_kg: {value!r} must be a number (mg/kg of racemic ketamine)")
    return float(value)


def _model_for(name: str, model: Optional[ModelLike], models_dir: Union[str, os.PathLike, None] = None) -> _core.Model:
    return load_model(model if model is not None else _core.schedule_info(name).default_model, models_dir)


def named(
    name: str,
    *,
    weeks: Optional[int] = None,
    days: Union[str, Iterable[float], None] = None,
    mg_per_kg: Optional[float] = None,
    duration: Optional[Quantity] = None,
    model: Optional[ModelLike] = None,
    models_dir: Union[str, os.PathLike, None] = None,
) -> Schedule:
    """A named schedule (``SCHEDULE_NAMES``: iv-3x-weekly, iv-2x-weekly, iv-days,
    esketamine-induction) with its arguments, as ``ketasim course --schedule`` builds it; the
    arguments are checked by the C++ library (an argument the schedule does not take is an error).
    ``model``: default the schedule's own."""
    q = _core.ScheduleRequest()
    q.name = str(name)
    if weeks is not None:
        q.weeks = _int_arg(weeks, "weeks")
    if days is not None:
        q.days = _core.parse_number_list(days, "days") if isinstance(days, str) else [float(x) for x in days]
    if mg_per_kg is not None:
        q.mg_per_kg = _mg_per_kg(mg_per_kg)
    if duration is not None:
        q.duration_h = to_hours(duration, "duration")
    _core.schedule_info(q.name)  # unknown name: ValueError listing the names, before loading a model
    return Schedule(_core.schedule_course(q, _model_for(q.name, model, models_dir)))


def iv(
    per_week: int = 3,
    weeks: int = 2,
    mg_per_kg: float = 0.5,
    duration: Quantity = "40 min",
    model: Optional[ModelLike] = None,
) -> Schedule:
    """Racemic ketamine IV infusions: ``per_week`` = 3 (days 0, 2, 4 of each week) or 2 (days 0,
    3) for ``weeks`` weeks (1-52), ``mg_per_kg`` over ``duration`` (number = h, or "40 min")."""
    return Schedule(
        _core.iv_course(
            _model_for("iv-days", model),
            _int_arg(per_week, "per_week"),
            _int_arg(weeks, "weeks"),
            _mg_per_kg(mg_per_kg),
            to_hours(duration, "duration"),
        )
    )


def iv_days(
    days: Union[str, Iterable[float]],
    mg_per_kg: float = 0.5,
    duration: Quantity = "40 min",
    model: Optional[ModelLike] = None,
) -> Schedule:
    """Racemic ketamine IV infusions on the given days (``[0, 2, 4, 7, 9, 11]`` or "0,2,4")."""
    return named("iv-days", days=days, mg_per_kg=mg_per_kg, duration=duration, model=model)


def esketamine_induction(weeks: int = 8, model: Optional[ModelLike] = None) -> Schedule:
    """Spravato induction: 56 mg on day 0, then 84 mg, twice weekly in weeks 1-4 and weekly in
    weeks 5..``weeks`` (1-8), as 28 mg devices 5 min apart, on the esketamine_nasal model."""
    return named("esketamine-induction", weeks=weeks, model=model)


def from_regimen(
    regimen: Union[Regimen, _core.Regimen, str, os.PathLike],
    model: ModelLike = "ketamine_iv_clements",
    *,
    session_window: Quantity = "2 h",
    models_dir: Union[str, os.PathLike, None] = None,
) -> Schedule:
    """A schedule from any regimen (``ks.Regimen`` or a regimen .toml file) on ``model``.

    Sessions are the dose start times grouped so that a dose within ``session_window`` of a
    session's first dose joins it (nasal devices 5 min apart are one session). The Ce scale is
    the model file's ``racemic_equivalent`` parameter.
    """
    m = load_model(model, models_dir)
    spec = _core.course_from_regimen(as_core_regimen(regimen), m, to_hours(session_window, "session_window"))
    if isinstance(regimen, (str, os.PathLike)):
        spec.name = os.fspath(regimen)
    return Schedule(spec)


def _schedule(
    schedule: Union[Schedule, str, os.PathLike, Regimen],
    model: Optional[ModelLike],
    models_dir: Union[str, os.PathLike, None],
) -> Schedule:
    if isinstance(schedule, Schedule):
        return schedule if model is None else schedule.on_model(model, models_dir)
    if isinstance(schedule, str) and schedule in SCHEDULE_NAMES:
        return named(schedule, model=model, models_dir=models_dir)
    if isinstance(schedule, (str, os.PathLike, Regimen, _core.Regimen)):
        return from_regimen(schedule, model if model is not None else "ketamine_iv_clements", models_dir=models_dir)
    raise TypeError(
        f"schedule: expected a ks.Schedule, one of {', '.join(SCHEDULE_NAMES)}, a regimen file or a "
        f"ks.Regimen; got {type(schedule).__name__}"
    )


def _overrides(obj: Any, values: Optional[Mapping[str, float]], fields: Sequence[str], what: str) -> None:
    for k, v in (values or {}).items():
        if k not in fields:
            raise ValueError(f"{what}: '{k}' is not a parameter (accepted: {', '.join(fields)})")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
            raise ValueError(f"{what}['{k}']: {v!r} must be a number")
        setattr(obj, k, float(v))
    obj.validate()


def _fraction(value: Any, what: str, rule: str, ok) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not ok(float(value)):
        raise ValueError(f"{what}: {value!r} {rule}")
    return float(value)


class CourseResult:
    """A simulated treatment course.

    Attributes:
        schedule: the ``Schedule`` simulated.
        sessions: one row per session (columns and units: ``SESSION_UNITS``, ``df.attrs["units"]``).
        symptoms: MADRS and its states on the simulation grid (``SYMPTOM_UNITS``).
        acute: dissociation, SBP rise and its tolerance state on the grid (``ACUTE_UNITS``).
        side_effects: incidence over the course of nausea, dizziness, drowsiness and reported
            dissociation, 1 - prod(1 - p_k) of the per-session probabilities ``p_*`` in
            ``sessions`` (sessions independent given exposure: an assumption).
        clinical: onset/response/remission times (h from the first session), response
            duration, relapse after the last session (h), sessions to response, lowest MADRS.
        pk: the PK simulation as a ``ks.Result`` (C_plasma, Ce, ... in ng/mL).
        acute_model, symptom_model: the parameters used (C++ structs).
    """

    def __init__(
        self,
        core: _core.CourseResult,
        schedule: Schedule,
        subject: _core.Subject,
        acute_model: _core.AcuteEffectModel,
        symptom_model: _core.SymptomModel,
        options: _core.CourseOptions,
    ) -> None:
        import pandas as pd

        self._core = core
        self.schedule = schedule
        self.acute_model = acute_model
        self.symptom_model = symptom_model
        self.options = options
        self.pk = Result(core.pk, core.spec.model, core.spec.regimen, subject)
        # The C++ session table (session_columns()): the same columns as ``ketasim course --out``.
        cols = _core.session_columns()
        table = np.asarray(core.session_table, dtype=float).reshape(-1, len(cols))
        kinds = {_core.ColumnKind.integer: "int64", _core.ColumnKind.boolean: "bool"}
        self.sessions = pd.DataFrame(
            {c.name: table[:, k].astype(kinds.get(c.kind, "float64")) for k, c in enumerate(cols)}
        )
        self.sessions.index = self.sessions["session"].to_numpy()
        self.sessions.attrs["units"] = dict(SESSION_UNITS)

        sc = core.symptom_curves
        self.symptoms = pd.DataFrame(
            {
                "time_h": sc["time"],
                "day": sc["time"] / 24.0,
                "ce_ng_per_mL": sc["ce"],
                "P": sc["P"],
                "C": sc["C"],
                "E": sc["E"],
                "placebo": sc["placebo"],
                "madrs": sc["madrs"],
                "madrs_control": sc["madrs_control"],
            }
        )
        self.symptoms.attrs["units"] = dict(SYMPTOM_UNITS)
        ac = core.acute_curves
        self.acute = pd.DataFrame(
            {
                "time_h": ac["time"],
                "day": ac["time"] / 24.0,
                "dissociation_pct": ac["dissociation"],
                "sbp_rise_mmHg": ac["sbp_rise"],
                "sbp_tolerance": ac["sbp_tolerance"],
            }
        )
        self.acute.attrs["units"] = dict(ACUTE_UNITS)

        se = core.side_effects_course
        self.side_effects: Dict[str, float] = {
            "nausea": se.nausea,
            "dizziness": se.dizziness,
            "drowsiness": se.drowsiness,
            "dissociation": se.dissociation,
        }

        c = core.clinical
        self.clinical: Dict[str, Any] = {
            "baseline": c.baseline,
            "onset_h": c.onset_h,
            "response_h": c.response_h,
            "remission_h": c.remission_h,
            "response_duration_h": c.response_duration_h,
            "relapse_after_last_h": c.relapse_after_last_h,
            "sessions_to_response": None if c.sessions_to_response < 0 else int(c.sessions_to_response),
            "response_lost": bool(c.response_lost),
            "min_madrs": c.min_madrs,
            "t_min_madrs_h": c.t_min_madrs_h,
        }

    @property
    def response_level(self) -> float:
        """MADRS at or below which a patient responds: baseline * (1 - response_fraction)."""
        return self.symptom_model.baseline * (1.0 - self.options.clinical.response_fraction)

    @property
    def remission_level(self) -> float:
        """MADRS at or below which a patient is in remission."""
        return self.options.clinical.remission_threshold

    def clinical_days(self) -> Dict[str, Any]:
        """``clinical`` with every ``*_h`` time converted to days (``*_d``)."""
        return {
            (k[:-2] + "_d" if k.endswith("_h") else k): (v / 24.0 if k.endswith("_h") else v)
            for k, v in self.clinical.items()
        }

    def _repr_html_(self) -> str:
        from ._results import _html_table

        s = self.sessions
        units = s.attrs.get("units", {})
        cols = list(s.columns)[:8]
        header = [f"{c} [{units[c]}]" if units.get(c) else c for c in cols]
        rows = [
            [f"{x:.4g}" if isinstance(x, float) else x for x in r] for r in s[cols].head(20).itertuples(index=False)
        ]
        more = f" (first 20 of {len(s)})" if len(s) > 20 else ""
        return _html_table(f"ketasim course {self.schedule.name!r}: {len(s)} sessions{more}", header, rows)

    def __repr__(self) -> str:
        c = self.clinical_days()

        def d(v: float) -> str:
            return "-" if v is None or math.isnan(v) else f"{v:.1f} d"

        s = self.sessions
        return (
            f"<ketasim.CourseResult {self.schedule.name!r}: {len(s)} sessions, baseline MADRS "
            f"{c['baseline']:g}; response {d(c['response_d'])}"
            f"{'' if c['sessions_to_response'] is None else ' (session %d)' % c['sessions_to_response']}, "
            f"remission {d(c['remission_d'])}, lowest MADRS {c['min_madrs']:.1f}, relapse "
            f"{d(c['relapse_after_last_d'])} after the last session; discharge "
            f"{np.nanmin(s['discharge_min']):.0f}-{np.nanmax(s['discharge_min']):.0f} min>"
        )


def course(
    schedule: Union[Schedule, str, os.PathLike, Regimen],
    *,
    model: Optional[ModelLike] = None,
    weight: Optional[float] = None,
    follow_up: Quantity = "28 d",
    dt: Quantity = "1 min",
    diss_tolerance: Optional[float] = None,
    remission_threshold: float = 10.0,
    response_fraction: float = 0.5,
    onset_fraction: float = 0.2,
    acute: Optional[Mapping[str, float]] = None,
    symptoms: Optional[Mapping[str, float]] = None,
    models_dir: Union[str, os.PathLike, None] = None,
    pd_solver: str = "semi-analytic",
    symptom_model: Union[str, os.PathLike] = "madrs",
    set: Optional[Mapping[str, Any]] = None,
) -> CourseResult:
    """Simulate a treatment course, as ``ketasim course`` does.

    Args:
        schedule: a ``Schedule`` (``ks.schedules.*``), a schedule name (``SCHEDULE_NAMES``, with
            its defaults), a regimen .toml file or a ``ks.Regimen``.
        model: PK model (library name, .toml or loaded model). Default: the schedule's own model;
            for a regimen, ketamine_iv_clements. The Ce scale is the model file's
            ``racemic_equivalent`` parameter.
        weight: body weight, kg (default 70). Only for a model that uses weight (a per-kg
            parameter or an mg/kg dose): otherwise an error naming the covariates it uses, as in
            ``ks.simulate`` and ``ks.population``.
        follow_up: simulated time after the last session start (number = h, or "28 d"); >= 24 h.
        dt: grid of the exact PK solution (number = h, or "1 min"); at most 15 min.
        diss_tolerance: dissociation Emax multiplied by this factor for every earlier session, in
            (0, 1]; 1 = no tolerance; None = the acute_effects file's value.
        remission_threshold: remission = MADRS <= this (points).
        response_fraction: response = MADRS fall >= this fraction of baseline.
        onset_fraction: onset of improvement = MADRS fall >= this fraction of baseline.
        acute: overrides of the acute-effect parameters (``load_pd("acute_effects")`` names).
        symptoms: overrides of the MADRS model, e.g. ``{"baseline": 28}``
            (``load_pd("madrs")`` names).
        pd_solver: "semi-analytic" (exact PK, then the symptom states on the effect-site curve) or
            "coupled-ode" (PK, effect site and symptom states as one ODE system: the slower
            reference; the two agree to ~1e-8, tested).
        symptom_model: the symptom-model file: a library name ("madrs", structure madrs_v2, the
            default; "madrs_v3", steeper consolidation; "madrs_v1", the single-state structure) or a
            .toml file; its ``structure`` key
            selects the equations (docs/symptom_model.md).
        set: PK parameter overrides of the course's model, ``{name: value}``, as in
            ``ks.simulate(set=...)`` and the CLI's ``--set`` (a number in the parameter's file unit
            or text with a unit, e.g. ``{"ke0": "0.1 1/min"}``); an unknown name is an error.

    Raises:
        ValueError: bad input, naming the argument or field, its value and the rule.
    """
    sched = _schedule(schedule, model, models_dir)
    d = _dir(models_dir)
    am = _core.AcuteEffectModel.from_parameters(_core.load_library_pd("acute_effects", d))
    if diss_tolerance is not None:
        am.diss_tolerance_per_session = _fraction(
            diss_tolerance,
            "diss_tolerance",
            "must be in (0, 1] (dissociation Emax multiplier per earlier session; 1 = no tolerance)",
            lambda v: 0.0 < v <= 1.0,
        )
    _overrides(am, acute, _ACUTE_FIELDS, "acute")
    sm = _core.SymptomModel.from_parameters(_core.load_library_pd(os.fspath(symptom_model), d))
    _overrides(sm, symptoms, _SYMPTOM_FIELDS, "symptoms")

    o = _core.CourseOptions()
    if weight is not None:
        spec = sched.to_core()
        _core.require_covariates_used(spec.model, spec.regimen.per_kg(), ["weight"], "weight")
        o.weight_kg = _fraction(weight, "weight", "must be a number of kg in (0, 1000)", lambda v: 0.0 < v < 1000.0)
    o.follow_up_h = to_hours(follow_up, "follow_up")
    o.dt_h = to_hours(dt, "dt")
    o.models_dir = d
    o.pd_solver = pd_solver
    co = _core.ClinicalOptions()
    co.remission_threshold = _fraction(
        remission_threshold, "remission_threshold", "must be a finite number of MADRS points", math.isfinite
    )
    co.response_fraction = _fraction(response_fraction, "response_fraction", "must be a number", math.isfinite)
    co.onset_fraction = _fraction(onset_fraction, "onset_fraction", "must be a number", math.isfinite)
    o.clinical = co
    o.validate()
    spec = sched.to_core()
    # The subject carries the weight and the overrides (CourseOptions.weight_kg stays at its
    # default, as run_course's Subject overload requires).
    subject = make_subject(o.weight_kg, 40.0, set, "set", spec.model)
    o.weight_kg = 70.0
    core = _core.run_course_subject(spec, am, sm, o, subject)
    return CourseResult(core, sched, subject, am, sm, o)


def load_pd(name: str, models_dir: Union[str, os.PathLike, None] = None) -> "pandas.DataFrame":  # noqa: F821
    """A PD parameter set of the library ("madrs", "madrs_v3", "madrs_v1" or "acute_effects",
    models/pd/<name>.toml) as a
    DataFrame indexed by parameter name: value, unit, description, source, calibrated. The
    file's name, title, description and path are in ``df.attrs``."""
    import pandas as pd

    p = _core.load_library_pd(name, _dir(models_dir))
    df = pd.DataFrame(
        [
            {
                "name": x.name,
                "value": x.value,
                "unit": x.unit,
                "description": x.description,
                "source": x.source,
                "calibrated": bool(x.calibrated),
            }
            for x in p.parameters
        ]
    ).set_index("name")
    df.attrs.update(
        {
            "name": p.name,
            "title": p.title,
            "description": p.description,
            "source_path": p.source_path,
            "structure": p.structure,
        }
    )
    return df


__all__ = [
    "CourseResult",
    "Schedule",
    "course",
    "load_pd",
    "SCHEDULE_NAMES",
    "SESSION_UNITS",
    "SYMPTOM_UNITS",
    "ACUTE_UNITS",
]
