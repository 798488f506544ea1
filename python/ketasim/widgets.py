"""Teaching widgets (ipywidgets + matplotlib): an onset explorer and a course explorer.

    import ketasim as ks
    ks.widgets.onset_explorer()     # route, dose, infusion length, nasal absorption, ke0, weight
    ks.widgets.course_explorer()    # schedule, number of sessions -> MADRS and side effects

Each explorer is a thin front end over a pure function that builds (or, given ``fig=``, updates in
place) a matplotlib figure from argument values: ``onset_figure(**values)`` and
``course_figure(**values)``. They run without a widget front end (tests, static figures) and raise
the library's ``ValueError`` for bad values. Every number comes from the library: the curves from
``ks.simulate`` (parameter overrides through its ``set=`` word), discharge readiness and the
dissociation curve from ``ks.course`` (the acute-effect model of models/pd/acute_effects.toml),
the model per route from the flagship arms (``ketasim compare``), the schedules from the schedule
registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import _core
from ._models import load_model
from ._pd import SCHEDULE_NAMES, CourseResult, Schedule, course
from ._regimen import Regimen
from ._simulate import Result, simulate
from .plot import FONT as _FONT  # readable on a projector (one size for every ketasim figure)
from .plot import first_crossing
from .schedules import from_regimen, named

__all__ = [
    "ROUTES",
    "RouteSpec",
    "onset_figure",
    "course_figure",
    "onset_explorer",
    "course_explorer",
    "OnsetExplorer",
    "CourseExplorer",
    "dissociative_range",
]


@dataclass(frozen=True)
class RouteSpec:
    """One route of the onset explorer: its PK model and the model-file names of its parameters."""

    label: str
    model: str  # library model (the flagship arm's)
    nasal: bool
    fraction: Optional[str]  # fraction absorbed through the nasal mucosa
    ka: Optional[str]  # nasal absorption rate constant
    default_dose: float  # mg/kg (IV) or mg (nasal)
    default_devices: int


def _routes() -> Dict[str, RouteSpec]:
    # The models are those of the flagship arms (C++ flagship_arms(): IV, IN esketamine, IN racemic),
    # so the explorer and `ketasim compare` show the same models.
    iv, esk, rac = (a.model for a in _core.flagship_arms(_core.FlagshipOptions()))
    return {
        "iv": RouteSpec("IV racemic ketamine", iv, False, None, None, 0.5, 1),
        "esketamine": RouteSpec("Intranasal esketamine", esk, True, "FRn", "ka_n", 56.0, 2),
        "racemic_nasal": RouteSpec("Intranasal racemic ketamine", rac, True, "FRn_rac", "ka_n", 50.0, 1),
    }


#: Routes of the onset explorer, by key.
ROUTES: Dict[str, RouteSpec] = _routes()


def _route(route: Any) -> RouteSpec:
    if not isinstance(route, str) or route not in ROUTES:
        raise ValueError(f"route: {route!r} is not a route (accepted: {', '.join(ROUTES)})")
    return ROUTES[route]


def _number(value: Any, what: str, rule: str, ok) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not ok(float(value)):
        raise ValueError(f"{what}: {value!r} {rule}")
    return float(value)


def _whole(value: Any, what: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < lo:
        raise ValueError(f"{what}: {value!r} must be a whole number >= {lo}")
    return int(value)


def dissociative_range(course_result: CourseResult) -> Tuple[float, float]:
    """Racemic-equivalent Ce (ng/mL) between which the acute-effect model's dissociation lies
    between its discharge threshold (10 % of Emax) and Emax minus it (90 %): the file reads
    Krystal 1994's dissociative range 100-250 ng/mL as 10-90 % of Emax (diss_hill's source), so
    this is that range as the calibrated model sees it. Inverse of E = Emax c^h / (EC50^h + c^h)."""
    am = course_result.acute_model
    lo = am.diss_discharge_threshold
    hi = am.diss_emax - lo

    def conc(e: float) -> float:
        return am.diss_ec50 * (e / (am.diss_emax - e)) ** (1.0 / am.diss_hill)

    return conc(lo), conc(hi)


def _regimen(spec: RouteSpec, dose: float, infusion_min: float, devices: Optional[int]) -> Tuple[Regimen, str]:
    if spec.nasal:
        n = _whole(spec.default_devices if devices is None else devices, "devices", 1)
        total = _number(dose, "dose", "must be a number of mg > 0", lambda v: math.isfinite(v) and v > 0)
        reg = Regimen.intranasal(f"{total!r} mg", devices=n)
        return reg, (f"{total:g} mg as {n} devices 5 min apart" if n > 1 else f"{total:g} mg, one device")
    if devices is not None:
        raise ValueError(f"devices: {devices!r} applies to the nasal routes only, not route 'iv'")
    d = _number(dose, "dose", "must be a number of mg/kg > 0", lambda v: math.isfinite(v) and v > 0)
    dur = _number(
        infusion_min, "infusion_min", "must be a number of minutes >= 0", lambda v: math.isfinite(v) and v >= 0
    )
    reg = Regimen.iv_infusion(f"{d!r} mg/kg", duration=f"{dur!r} min")
    return reg, f"{d:g} mg/kg over {dur:g} min" if dur > 0 else f"{d:g} mg/kg bolus"


def _onset_data(
    route: str,
    dose: Optional[float],
    infusion_min: float,
    devices: Optional[int],
    fraction_absorbed: Optional[float],
    ka: Optional[float],
    ke0: Optional[float],
    weight: Optional[float],
    hours: float,
) -> Dict[str, Any]:
    spec = _route(route)
    model = load_model(spec.model)
    reg, dose_text = _regimen(spec, spec.default_dose if dose is None else dose, infusion_min, devices)
    overrides: Dict[str, Any] = {}
    for name, value, what in ((spec.fraction, fraction_absorbed, "fraction_absorbed"), (spec.ka, ka, "ka")):
        if value is not None:
            if name is None:
                raise ValueError(f"{what}: {value!r} applies to the nasal routes only, not route {route!r}")
            overrides[name] = value
    if ke0 is not None:
        overrides["ke0"] = ke0
    h = _number(hours, "hours", "must be a number of hours in [1, 24]", lambda v: 1.0 <= v <= 24.0)
    # The library checks every value (unknown parameter, out of range, weight on a model without it).
    r = simulate(model, reg, f"{h!r} h", "1 min", weight=weight, set=overrides or None)
    c = course(from_regimen(reg, model), weight=weight, follow_up="24 h", set=overrides or None)
    t_min = c.acute["time_h"].to_numpy() * 60.0
    diss = c.acute["dissociation_pct"].to_numpy()
    onset_min = first_crossing(t_min, diss, c.acute_model.diss_discharge_threshold)
    discharge_min = float(c.sessions["discharge_min"].iloc[0])
    uses_weight = "weight" in model.covariate_names()
    subject = (
        f"{70.0 if weight is None else float(weight):g} kg adult"
        if uses_weight
        else "typical adult (weight not a covariate)"
    )
    return {
        "spec": spec,
        "result": r,
        "course": c,
        "scale": _core.racemic_equivalent_scale(model),
        "onset_min": onset_min,
        "discharge_min": discharge_min,
        "range": dissociative_range(c),
        "dose_text": dose_text,
        "dose_mg": r.dose_total_mg,
        "subject": subject,
        "events": [(e.time * 60.0, e.duration * 60.0) for e in reg._core.events],
        "hours": h,
    }


def onset_figure(
    route: str = "iv",
    dose: Optional[float] = None,
    infusion_min: float = 40.0,
    devices: Optional[int] = None,
    fraction_absorbed: Optional[float] = None,
    ka: Optional[float] = None,
    ke0: Optional[float] = None,
    weight: Optional[float] = None,
    hours: float = 4.0,
    *,
    fig=None,
):
    """Plasma and effect-site curves of one dose, in racemic-equivalent ng/mL, with the
    dissociative range shaded, dissociation onset and discharge readiness marked, and the doses.

    Args:
        route: "iv" (racemic ketamine infusion), "esketamine" or "racemic_nasal" (``ROUTES``).
        dose: mg/kg for "iv", total mg for the nasal routes (default 0.5 mg/kg, 56 mg, 50 mg).
        infusion_min: IV infusion length, min (0 = bolus).
        devices: nasal devices the dose is split into, 5 min apart (default 2 esketamine, 1 racemic).
        fraction_absorbed, ka: nasal fraction absorbed (1) and absorption rate constant (1/h),
            overrides of the model's FRn / FRn_rac and ka_n (``simulate(set=...)``).
        ke0: effect-site equilibration rate constant, 1/min (the model file's unit).
        weight: kg; only for models with weight as a covariate (ValueError for esketamine).
        hours: time shown, h.
        fig: a figure made by this function: its lines are updated in place (fast redraw).

    Onset is the first time the acute-effect model's dissociation reaches its discharge threshold
    (10 % of maximal; the lower end of the dissociative range); discharge readiness is the session's
    ``discharge_min`` of ``ks.course``. Returns the figure; ``fig.ketasim`` holds the artists and
    the data drawn (``result``: the ``ks.simulate`` result; curves = its rows x ``scale``).
    """
    d = _onset_data(route, dose, infusion_min, devices, fraction_absorbed, ka, ke0, weight, hours)
    if fig is None or not hasattr(fig, "ketasim"):
        fig = _new_onset_figure(d)
    _update_onset(fig, d)
    return fig


def _new_onset_figure(d: Dict[str, Any]):
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    fig, ax = plt.subplots(figsize=(10, 5.6), layout="constrained")
    lo, hi = d["range"]
    art: Dict[str, Any] = {"ax": ax}
    art["range"] = ax.axhspan(lo, hi, color="tab:purple", alpha=0.12, lw=0, label="")
    (art["plasma"],) = ax.plot([], [], color="tab:blue", lw=2.4, label="Plasma")
    (art["ce"],) = ax.plot([], [], color="tab:orange", lw=2.4, label="Effect site (brain)")
    art["onset"] = ax.axvline(0, color="tab:green", ls="--", lw=1.8, label="")
    art["discharge"] = ax.axvline(0, color="tab:red", ls=":", lw=2.2, label="")
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    (art["dose_bar"],) = ax.plot([], [], color="0.25", lw=9, solid_capstyle="butt", transform=tr, label="")
    (art["dose_marks"],) = ax.plot([], [], ls="none", marker="v", ms=12, color="0.25", transform=tr, label="")
    ax.set_xlabel("Time since the first dose (minutes)", fontsize=_FONT)
    ax.set_ylabel("Ketamine concentration (ng/mL, racemic-equivalent)", fontsize=_FONT)
    ax.tick_params(labelsize=_FONT - 1)
    ax.grid(alpha=0.3)
    fig.ketasim = art
    return fig


def _update_onset(fig, d: Dict[str, Any]) -> None:
    art = fig.ketasim
    ax = art["ax"]
    r: Result = d["result"]
    t = r.time * 60.0
    s = d["scale"]
    art["plasma"].set_data(t, r["C_plasma"] * s)
    art["ce"].set_data(t, r["Ce"] * s)
    lo, hi = d["range"]
    art["range"].set_label(f"Dissociative range ({lo:.0f}-{hi:.0f} ng/mL effect site)")
    for key, label in (("onset", "Dissociation onset"), ("discharge", "Discharge readiness")):
        v = d[f"{key}_min"]
        line = art[key]
        line.set_visible(math.isfinite(v))
        line.set_xdata([v, v] if math.isfinite(v) else [0, 0])
        line.set_label(f"{label} {v:.0f} min" if math.isfinite(v) else "")
    y = 0.03
    if d["spec"].nasal:
        art["dose_bar"].set_data([], [])
        art["dose_bar"].set_label("")
        art["dose_marks"].set_data([e[0] for e in d["events"]], [y + 0.02] * len(d["events"]))
        art["dose_marks"].set_label("Nasal device")
    else:
        t0, dur = d["events"][0]
        art["dose_marks"].set_data([], [])
        art["dose_marks"].set_label("")
        if dur > 0:
            art["dose_bar"].set_data([t0, t0 + dur], [y, y])
            art["dose_bar"].set_label("Infusion")
            art["dose_bar"].set_marker("")
        else:
            art["dose_bar"].set_data([t0], [y + 0.02])
            art["dose_bar"].set_marker("v")
            art["dose_bar"].set_label("IV bolus")
    ax.set_xlim(0, d["hours"] * 60.0)
    ymax = max(float(np.max(r["C_plasma"] * s)), float(np.max(r["Ce"] * s)), hi)
    ax.set_ylim(0, 1.1 * ymax)
    total = "" if d["spec"].nasal else f" ({d['dose_mg']:.0f} mg)"  # a nasal dose is already in mg
    ax.set_title(f"{d['spec'].label}: {d['dose_text']}{total}\n{d['subject']}", fontsize=_FONT)
    handles = [
        h
        for h in (
            art["plasma"],
            art["ce"],
            art["range"],
            art["onset"],
            art["discharge"],
            art["dose_bar"],
            art["dose_marks"],
        )
        if h.get_label() and h.get_visible()
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=_FONT - 2)
    art["data"] = d


# ---- course explorer ---------------------------------------------------------------------------

#: iv-days needs days; the explorer's default (the pattern of the package docstring's example).
IV_DAYS_DEFAULT = "0,2,4,7,9,11"


def _course_schedule(schedule: Any, sessions: Any, days: Optional[str]) -> Tuple[Schedule, str]:
    if not isinstance(schedule, str):
        raise ValueError(f"schedule: {schedule!r} must be a schedule name (accepted: {', '.join(SCHEDULE_NAMES)})")
    info = _core.schedule_info(schedule)  # unknown name: ValueError listing the names
    n = _whole(sessions, "sessions", 1)
    if schedule == "iv-days":
        full = named(schedule, days=IV_DAYS_DEFAULT if days is None else days)
    else:
        if days is not None:
            raise ValueError(f"days: applies to schedule iv-days only, not {schedule!r}")
        full = named(schedule, weeks=info.max_weeks)
    # The registry's one-line description (the full course's lists every day of 52 weeks).
    description = info.description
    if schedule == "iv-days":
        description += f" ({IV_DAYS_DEFAULT if days is None else days})"
    starts = full.session_starts_h
    if n > starts.size:
        raise ValueError(f"sessions: {n} is more than schedule {schedule!r} has ({starts.size} sessions)")
    if n == starts.size:
        return full, description
    # The first n sessions: the schedule's dose events before the start of session n + 1.
    events = [e for e in full.regimen._core.events if e.time < starts[n]]
    return from_regimen(Regimen(events), full.core_model), description


_SIDE_EFFECTS = (
    ("p_nausea", "Nausea", "o"),
    ("p_dizziness", "Dizziness", "s"),
    ("p_drowsiness", "Drowsiness", "^"),
    ("p_dissociation", "Dissociation reported", "D"),
)


def course_figure(
    schedule: str = "iv-3x-weekly",
    sessions: int = 6,
    follow_up_days: float = 28.0,
    days: Optional[str] = None,
    *,
    fig=None,
):
    """MADRS over time and per-session side-effect probabilities of the first ``sessions`` sessions
    of a named schedule (``SCHEDULE_NAMES``, with its defaults; ``days`` for iv-days, default
    "0,2,4,7,9,11"), followed for ``follow_up_days`` after the last session.

    ``fig``: a figure made by this function, updated in place. Returns the figure; ``fig.ketasim``
    holds the artists and the ``ks.course`` result drawn (``course``).
    """
    sched, description = _course_schedule(schedule, sessions, days)
    fu = _number(follow_up_days, "follow_up_days", "must be a number of days in [1, 120]", lambda v: 1.0 <= v <= 120.0)
    c = course(sched, follow_up=f"{fu!r} d")
    if fig is None or not hasattr(fig, "ketasim"):
        fig = _new_course_figure()
    art = fig.ketasim
    ax1, ax2 = art["ax1"], art["ax2"]
    s = c.symptoms
    art["madrs"].set_data(s["day"].to_numpy(), s["madrs"].to_numpy())
    art["control"].set_data(s["day"].to_numpy(), s["madrs_control"].to_numpy())
    art["response"].set_ydata([c.response_level] * 2)
    art["remission"].set_ydata([c.remission_level] * 2)
    art["response"].set_label(f"Response (MADRS <= {c.response_level:g})")
    art["remission"].set_label(f"Remission (MADRS <= {c.remission_level:g})")
    sd = c.sessions["day"].to_numpy()
    art["session_marks"].set_data(sd, np.full(sd.size, 1.5))
    for col, _label, _marker in _SIDE_EFFECTS:
        art[col].set_data(sd, 100.0 * c.sessions[col].to_numpy())
    t_end = float(s["day"].iloc[-1])
    ax1.set_xlim(0, t_end)
    ax2.set_xlim(-0.5, t_end)
    ax1.set_ylim(0, c.symptom_model.baseline * 1.08)
    top = 100.0 * float(np.max(c.sessions[[col for col, _, _ in _SIDE_EFFECTS]].to_numpy()))
    ax2.set_ylim(0, max(5.0, 1.6 * top))  # room for the legend above the points
    who = "70 kg adult" if "weight" in sched.core_model.covariate_names() else "typical adult"
    ax1.set_title(f"{description}\nfirst {len(sched)} sessions, {who} (model {sched.model})", fontsize=_FONT)
    ax1.legend(loc="upper right", fontsize=_FONT - 3)
    ax2.legend(loc="upper right", fontsize=_FONT - 3, ncol=2)
    art["course"] = c
    return fig


def _new_course_figure():
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7.5), sharex=True, layout="constrained", height_ratios=[3, 2])
    art: Dict[str, Any] = {"ax1": ax1, "ax2": ax2}
    (art["madrs"],) = ax1.plot([], [], color="tab:blue", lw=2.4, label="MADRS with ketamine (model)")
    (art["control"],) = ax1.plot([], [], color="0.5", lw=1.6, ls="--", label="Placebo response only")
    art["response"] = ax1.axhline(0, color="tab:orange", lw=1.2, ls=":")
    art["remission"] = ax1.axhline(0, color="tab:green", lw=1.2, ls=":")
    (art["session_marks"],) = ax1.plot([], [], ls="none", marker="v", ms=9, color="0.25", label="Session")
    for col, label, marker in _SIDE_EFFECTS:
        (art[col],) = ax2.plot([], [], ls="none", marker=marker, ms=8, label=label)
    ax1.set_ylabel("Depression score (MADRS points)", fontsize=_FONT)
    ax2.set_ylabel("Chance per session (%)", fontsize=_FONT)
    ax2.set_xlabel("Time since the first session (days)", fontsize=_FONT)
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=_FONT - 1)
        ax.grid(alpha=0.3)
    fig.ketasim = art
    return fig


# ---- widgets -----------------------------------------------------------------------------------


class _Explorer:
    """Controls (``controls``: name -> ipywidget) driving a pure figure function; ``figure`` is
    updated in place on every change. Display it in Jupyter (``display(explorer)``)."""

    def __init__(self, function, controls: Dict[str, Any]) -> None:
        import ipywidgets as w

        self._function = function
        self.controls = controls
        self.message = w.HTML()  # a bad value is shown (the library's message), never ignored
        self.output = w.Output()
        self.figure = function(**self.values())
        import matplotlib.pyplot as plt

        plt.close(self.figure)  # shown through self.output, not by the inline backend a second time
        for c in controls.values():
            c.observe(self._on_change, names="value")
        box = w.VBox(list(controls.values()), layout=w.Layout(width="40%"))
        self.widget = w.VBox([w.HBox([box, self.message]), self.output])
        self._show()

    def values(self) -> Dict[str, Any]:
        return {k: c.value for k, c in self.controls.items() if not c.disabled}

    def update(self) -> None:
        try:
            self._function(fig=self.figure, **self.values())
            self.message.value = ""
        except ValueError as e:
            self.message.value = f"<b style='color:#b00'>{e}</b>"
            raise
        self._show()

    def _on_change(self, change) -> None:
        try:
            self.update()
        except ValueError:
            pass  # shown in self.message

    def _show(self) -> None:
        from IPython.display import display

        self.figure.canvas.draw_idle()
        with self.output:
            self.output.clear_output(wait=True)
            display(self.figure)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class OnsetExplorer(_Explorer):
    """Sliders over ``onset_figure``: route, dose, infusion length, devices, nasal fraction
    absorbed and absorption rate, ke0, body weight (disabled where the model has no weight)."""

    def __init__(self, route: str = "iv") -> None:
        import ipywidgets as w

        spec = _route(route)
        m = load_model(ROUTES["esketamine"].model)
        style = {"description_width": "14em"}
        lay = w.Layout(width="95%")
        c = {
            "route": w.Dropdown(
                options=[(s.label, k) for k, s in ROUTES.items()],
                value=route,
                description="Route",
                style=style,
                layout=lay,
            ),
            "dose": w.FloatSlider(
                value=spec.default_dose,
                min=0.1,
                max=1.0,
                step=0.05,
                description="Dose (mg/kg)",
                style=style,
                layout=lay,
                continuous_update=False,
            ),
            "infusion_min": w.FloatSlider(
                value=40.0,
                min=0.0,
                max=120.0,
                step=5.0,
                description="Infusion length (min)",
                style=style,
                layout=lay,
                continuous_update=False,
            ),
            "devices": w.IntSlider(
                value=spec.default_devices,
                min=1,
                max=3,
                description="Nasal devices",
                style=style,
                layout=lay,
                continuous_update=False,
            ),
            "fraction_absorbed": w.FloatSlider(
                value=0.5,
                min=0.05,
                max=1.0,
                step=0.01,
                description="Fraction absorbed nasally",
                style=style,
                layout=lay,
                continuous_update=False,
            ),
            "ka": w.FloatSlider(
                value=m.parameter("ka_n").value,
                min=0.2,
                max=10.0,
                step=0.1,
                description=f"Nasal absorption rate ({m.parameter('ka_n').unit})",
                style=style,
                layout=lay,
                continuous_update=False,
            ),
            "ke0": w.FloatSlider(
                value=m.parameter("ke0").value,
                min=0.01,
                max=0.5,
                step=0.005,
                readout_format=".3f",
                description=f"ke0 ({m.parameter('ke0').unit})",
                style=style,
                layout=lay,
                continuous_update=False,
            ),
            "weight": w.FloatSlider(
                value=70.0,
                min=40.0,
                max=140.0,
                step=1.0,
                description="Body weight (kg)",
                style=style,
                layout=lay,
                continuous_update=False,
            ),
        }
        self._set_route_controls(c, route, initial=True)
        super().__init__(onset_figure, c)
        # The route resets the other controls first (_route_changed), then redraws once.
        c["route"].unobserve(self._on_change, names="value")
        c["route"].observe(self._route_changed, names="value")

    @staticmethod
    def _set_route_controls(c: Dict[str, Any], route: str, initial: bool = False) -> None:
        spec = ROUTES[route]
        model = load_model(spec.model)
        if spec.nasal:
            c["dose"].max, c["dose"].min, c["dose"].step = 112.0, 14.0, 2.0  # max first: min <= max always
            c["dose"].description = "Dose (mg)"
        else:
            c["dose"].min, c["dose"].max, c["dose"].step = 0.1, 1.0, 0.05
            c["dose"].description = "Dose (mg/kg)"
        c["dose"].value = spec.default_dose
        c["devices"].value = spec.default_devices
        c["infusion_min"].disabled = spec.nasal
        c["devices"].disabled = not spec.nasal
        for key, name in (("fraction_absorbed", spec.fraction), ("ka", spec.ka)):
            c[key].disabled = name is None
            if name is not None:
                c[key].value = model.parameter(name).value
        # Weight only where the model has it as a covariate: the library refuses it otherwise.
        c["weight"].disabled = "weight" not in model.covariate_names()

    def _route_changed(self, change) -> None:
        # Several controls change with the route: one redraw, after all of them.
        for ctl in self.controls.values():
            if ctl is not self.controls["route"]:
                ctl.unobserve(self._on_change, names="value")
        try:
            self._set_route_controls(self.controls, change["new"])
        finally:
            for ctl in self.controls.values():
                if ctl is not self.controls["route"]:
                    ctl.observe(self._on_change, names="value")
        self._on_change(None)


class CourseExplorer(_Explorer):
    """A schedule (the library's registry) and a number of sessions over ``course_figure``."""

    def __init__(self, schedule: str = "iv-3x-weekly", sessions: int = 6) -> None:
        import ipywidgets as w

        style = {"description_width": "10em"}
        c = {
            "schedule": w.Dropdown(options=list(SCHEDULE_NAMES), value=schedule, description="Schedule", style=style),
            "sessions": w.IntSlider(
                value=sessions, min=1, max=12, description="Sessions", style=style, continuous_update=False
            ),
            "follow_up_days": w.FloatSlider(
                value=28.0,
                min=7.0,
                max=90.0,
                step=1.0,
                description="Follow-up (days)",
                style=style,
                continuous_update=False,
            ),
        }
        super().__init__(course_figure, c)


def onset_explorer(route: str = "iv") -> OnsetExplorer:
    """The onset explorer (display it in Jupyter); its figure is ``onset_figure(...)``'s."""
    return OnsetExplorer(route)


def course_explorer(schedule: str = "iv-3x-weekly", sessions: int = 6) -> CourseExplorer:
    """The course explorer (display it in Jupyter); its figure is ``course_figure(...)``'s."""
    return CourseExplorer(schedule, sessions)
