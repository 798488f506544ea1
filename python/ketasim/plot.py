"""Plotting helpers (matplotlib): concentration curves with threshold onsets, sweep heat maps,
treatment courses (MADRS over days, session-by-session acute effects)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Mapping, Optional, Sequence, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    from matplotlib.axes import Axes

    from ._pd import CourseResult
    from ._population import CoursePopulationResult, PopulationResult
    from ._simulate import Result

Thresholds = Union[None, float, Sequence[float], Mapping[str, float]]

#: Font size (points) of axis labels in these figures: readable on a projector at the default
#: figure sizes (ticks one point smaller, legends and annotations three smaller).
FONT = 13

#: Axis words for the library's output names (a figure says "plasma concentration", not C_plasma).
OUTPUT_WORDS = {
    "C_plasma": "Plasma concentration",
    "Ce": "Effect-site (brain) concentration",
    "C_metabolite": "Metabolite plasma concentration",
}


def output_words(output: str) -> str:
    """The axis words for an output name (the name itself if it is not a library output)."""
    return OUTPUT_WORDS.get(output, output)


def racemic_equivalent_factor(model) -> float:
    """The model's racemic-equivalence factor (its file's ``[effect_site] racemic_equivalent``
    parameter: 2 for esketamine, 1 for racemic ketamine; ValueError for a model without one): the
    factor that puts its concentrations on the scale of racemic thresholds and of the PD models."""
    from . import _core
    from ._models import load_model

    return float(_core.racemic_equivalent_scale(load_model(model)))


def subject_text(model, weight_kg: float, per_kg: bool = False) -> str:
    """The subject a figure shows: "70 kg adult" where the weight matters (the model uses it as a
    covariate or the dose is per kg), "typical adult" where it does not (a model without weight)."""
    if per_kg or "weight" in model.covariate_names():
        return f"{weight_kg:g} kg adult"
    return "typical adult"


def _one_subject(subjects: Sequence[str]) -> str:
    # One subject: its weight where any curve depends on it ("typical adult" curves are the same
    # subject, on a model without weight).
    weighed = sorted({x for x in subjects if x != "typical adult"})
    return ", ".join(weighed) if weighed else "typical adult"


def _style(ax: "Axes") -> None:
    ax.xaxis.label.set_fontsize(FONT)
    ax.yaxis.label.set_fontsize(FONT)
    ax.title.set_fontsize(FONT)
    ax.tick_params(labelsize=FONT - 1)


def dose_marks(ax: "Axes", results_by_label: Mapping[str, object], *, time_unit: str = "h", colors=None) -> list:
    """The doses of each result (a ``Result``, or a regimen) along the bottom of ``ax`` (time axis
    in ``time_unit``: "min", "h" or "d"), in the curve's colour, one row per result: a bar over each infusion, a triangle at each bolus or
    nasal device. Returns legend handles explaining the two marks (grey)."""
    from matplotlib.lines import Line2D

    from ._regimen import as_core_regimen

    scale = {"min": 60.0, "h": 1.0, "d": 1.0 / 24.0}[time_unit]
    tr = ax.get_xaxis_transform()
    bar = tri = False
    for k, r in enumerate(results_by_label.values()):
        color = None if colors is None else colors[k]
        y = 0.03 + 0.045 * k
        regimen = r.regimen if hasattr(r, "trajectory") else as_core_regimen(r)
        for e in regimen.events:
            t0, dur = e.time * scale, e.duration * scale
            if dur > 0:
                ax.plot([t0, t0 + dur], [y, y], color=color, lw=7, solid_capstyle="butt", transform=tr)
                bar = True
            else:
                ax.plot([t0], [y + 0.01], "v", color=color, ms=9, transform=tr)
                tri = True
    extra = []
    if bar:
        extra.append(Line2D([], [], color="0.3", lw=7, solid_capstyle="butt", label="Dose: infusion"))
    if tri:
        extra.append(Line2D([], [], color="0.3", ls="none", marker="v", ms=9, label="Dose: bolus / nasal device"))
    return extra


def _thresholds(thresholds: Thresholds) -> Dict[str, float]:
    if thresholds is None:
        return {}
    if isinstance(thresholds, Mapping):
        return {str(k): float(v) for k, v in thresholds.items()}
    if isinstance(thresholds, (int, float)):
        return {f"{float(thresholds):g}": float(thresholds)}
    return {f"{float(v):g}": float(v) for v in thresholds}


def first_crossing(t: np.ndarray, c: np.ndarray, level: float) -> float:
    """First upward crossing of ``level`` (linear interpolation), NaN if never reached."""
    t, c = np.asarray(t, float), np.asarray(c, float)
    above = np.flatnonzero(c >= level)
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(t[0])
    return float(t[i - 1] + (level - c[i - 1]) * (t[i] - t[i - 1]) / (c[i] - c[i - 1]))


def concentration(
    results_by_label: Mapping[str, "Result"],
    output: str = "C_plasma",
    *,
    thresholds: Thresholds = None,
    time_unit: str = "h",
    t_max: Optional[float] = None,
    ax: Optional["Axes"] = None,
    title: Optional[str] = None,
    log: bool = False,
    racemic_equivalent: bool = False,
    doses: bool = True,
    subject: Optional[str] = None,
    legend: bool = True,
) -> "Axes":
    """Plot ``output`` of several results on one axis, one curve per label.

    ``thresholds`` (a value, a list, or ``{label: value}``, in the output's unit) are drawn as
    dashed lines, with a marker where each curve first crosses each threshold upward (onset).
    ``time_unit`` is "h" or "min"; ``t_max`` limits the time axis (in that unit).

    ``racemic_equivalent=True`` multiplies each curve by its model's racemic-equivalence factor
    (the model file's ``[effect_site] racemic_equivalent`` parameter: 2 for esketamine, 1 for
    racemic ketamine), the scale of the dissociative thresholds and of the PD models, so an
    esketamine curve and a racemic threshold are compared on one scale. ``doses`` marks each
    result's doses along the bottom (infusion bars, device/bolus triangles). The legend's title
    states the subject (``subject``, default from the results: "70 kg adult" where the weight
    matters, else "typical adult").
    """
    import matplotlib.pyplot as plt

    if time_unit not in ("h", "min"):
        raise ValueError(f"time_unit: '{time_unit}' must be 'h' or 'min'")
    scale = 60.0 if time_unit == "min" else 1.0
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    levels = _thresholds(thresholds)
    unit = ""
    colors = []
    subjects = []
    for k, (label, r) in enumerate(results_by_label.items()):
        factor = racemic_equivalent_factor(r.model) if racemic_equivalent else 1.0
        t, c = np.asarray(r.time) * scale, np.asarray(r[output]) * factor
        unit = r.units.get(output, unit)
        (line,) = ax.plot(t, c, lw=2.2, label=label)
        colors.append(line.get_color())
        subjects.append(subject_text(r.model, r.subject.weight_kg, r.regimen.per_kg()))
        for lv in levels.values():
            tc = first_crossing(t, c, lv)
            if np.isfinite(tc):
                ax.plot([tc], [lv], "o", color=line.get_color(), ms=7, zorder=3)
                ax.annotate(
                    f"{tc:.0f} {time_unit}" if time_unit == "min" else f"{tc * 60:.0f} min",
                    (tc, lv),
                    textcoords="offset points",
                    xytext=(-8, 8 + 15 * k),  # one row per curve: close onsets stay legible
                    ha="right",
                    fontsize=FONT - 3,
                    color=line.get_color(),
                    fontweight="bold",
                )
    scale_words = ", racemic-equivalent" if racemic_equivalent else ""
    for name, lv in levels.items():
        ax.axhline(lv, ls="--", lw=1.0, color="0.4")
        ax.annotate(
            f"{name} ({lv:g} {unit}{scale_words})" if name != f"{lv:g}" else f"{lv:g} {unit}",
            (1.0, lv),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=FONT - 3,
            color="0.3",
        )
    dose_handles = dose_marks(ax, results_by_label, time_unit=time_unit, colors=colors) if doses else []
    if t_max is not None:
        ax.set_xlim(-0.02 * t_max, t_max)  # a dose mark at time 0 stays whole
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, None)
    ax.set_xlabel("Time since the first dose (minutes)" if time_unit == "min" else "Time since the first dose (hours)")
    words = output_words(output)
    ax.set_ylabel(f"{words}\n({unit}{scale_words})" if unit else words)
    if title:
        ax.set_title(title)
    if legend:
        if subject is None:
            subject = _one_subject(subjects)
        handles, _ = ax.get_legend_handles_labels()
        handles += dose_handles
        ax.legend(handles=handles, frameon=False, fontsize=FONT - 3, title=subject, title_fontsize=FONT - 3)
    ax.grid(alpha=0.3)
    _style(ax)
    return ax


def sweep_heatmap(
    df: "pandas.DataFrame",
    x: str,
    y: str,
    value: str,
    *,
    ax: Optional["Axes"] = None,
    cmap: str = "viridis",
    contours: bool = True,
    label: Optional[str] = None,
    xlabel: Optional[str] = None,
    ylabel: Optional[str] = None,
    title: Optional[str] = None,
) -> "Axes":
    """Heat map of ``value`` over the grid of swept variables ``x`` and ``y`` (a ``ks.sweep``
    DataFrame). Other swept variables must be constant (filter the frame first).

    ``label`` (colour bar), ``xlabel`` and ``ylabel`` are the words on the axes; by default the
    column name with its unit from ``df.attrs["units"]`` (e.g. "ka_n (1/h)")."""
    import matplotlib.pyplot as plt

    for col in (x, y, value):
        if col not in df.columns:
            raise ValueError(f"sweep_heatmap: no column '{col}' (columns: {', '.join(map(str, df.columns))})")
    table = df.pivot_table(index=y, columns=x, values=value, aggfunc="first")
    if df.duplicated([x, y]).any():
        raise ValueError(f"sweep_heatmap: several rows per ({x}, {y}); fix the other swept variables first")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    xs, ys, z = table.columns.to_numpy(float), table.index.to_numpy(float), table.to_numpy(float)
    mesh = ax.pcolormesh(xs, ys, z, shading="nearest", cmap=cmap)
    if contours and min(z.shape) > 2:
        cs = ax.contour(xs, ys, z, colors="white", linewidths=0.6)
        ax.clabel(cs, fontsize=FONT - 3)
    units = df.attrs.get("units", {})

    def words(col: str, given: Optional[str]) -> str:
        if given:
            return given
        return f"{col} ({units[col]})" if units.get(col) else col

    bar = ax.figure.colorbar(mesh, ax=ax)
    bar.set_label(words(value, label), fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT - 1)
    ax.set_xlabel(words(x, xlabel))
    ax.set_ylabel(words(y, ylabel))
    if title:
        ax.set_title(title)
    _style(ax)
    return ax


def _course_items(results: Union["CourseResult", Sequence["CourseResult"], Mapping[str, "CourseResult"]]):
    from ._pd import CourseResult

    if isinstance(results, CourseResult):
        return [(results.schedule.name, results)]
    if isinstance(results, Mapping):
        return [(str(k), v) for k, v in results.items()]
    return [(r.schedule.name, r) for r in results]


def course(
    results: Union["CourseResult", Sequence["CourseResult"], Mapping[str, "CourseResult"]],
    *,
    axes: Optional[Sequence["Axes"]] = None,
    days: Optional[float] = None,
    control: bool = True,
) -> np.ndarray:
    """Treatment courses side by side: MADRS over days (top) and session-by-session acute
    effects (bottom: peak dissociation and discharge time).

    ``results`` is one ``CourseResult``, a list of them (labelled by schedule name) or
    ``{label: CourseResult}``. Session starts are drawn as ticks under each curve; dashed lines
    mark the response and remission levels of the first result. ``control=True`` adds the
    placebo-only curve of the first result. ``days`` limits the time axis. Returns the two Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    items = _course_items(results)
    if not items:
        raise ValueError("course: no results to plot")
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(10, 8), gridspec_kw={"height_ratios": [3, 2]}, layout="constrained")
    ax_m, ax_s = axes[0], axes[1]
    first = items[0][1]
    if control:
        ax_m.plot(
            first.symptoms["day"],
            first.symptoms["madrs_control"],
            color="0.6",
            lw=1.5,
            ls=":",
            label="placebo only (no drug)",
        )
    ax_d = ax_s.twinx()
    width = 0.8 / len(items)
    for k, (label, r) in enumerate(items):
        (line,) = ax_m.plot(r.symptoms["day"], r.symptoms["madrs"], lw=2.2, label=label)
        color = line.get_color()
        sd = r.schedule.session_days
        # Session ticks along the bottom of the axis (x in days, y in axes fraction).
        ax_m.plot(
            sd,
            np.full(sd.shape, 0.025 + 0.04 * k),
            "|",
            color=color,
            ms=10,
            mew=2,
            transform=ax_m.get_xaxis_transform(),
        )
        s = r.sessions
        x = s["session"].to_numpy(float) + (k - (len(items) - 1) / 2) * width
        ax_s.bar(x, s["peak_dissociation_pct"], width=width, color=color, alpha=0.6, label=label)
        # One value per session, not a time series: points, not joined.
        ax_d.plot(x, s["discharge_min"], "o", color=color, mec="k", mew=0.8, ms=7, ls="none")
    ax_m.axhline(first.response_level, ls="--", lw=1.0, color="0.3")
    ax_m.axhline(first.remission_level, ls="--", lw=1.0, color="0.3")
    for level, text in ((first.response_level, "response"), (first.remission_level, "remission")):
        ax_m.annotate(
            f"{text} (MADRS <= {level:g})",
            (1.0, level),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=FONT - 3,
            color="0.3",
        )
    ax_m.set_ylim(0, max(r.symptom_model.baseline for _, r in items) + 15)  # room for the legend
    top = max(float(np.nanmax(r.sessions["discharge_min"])) for _, r in items)
    ax_d.set_ylim(0, 1.2 * top if np.isfinite(top) and top > 0 else None)
    ax_s.set_ylim(0, 1.2 * max(float(np.nanmax(r.sessions["peak_dissociation_pct"])) for _, r in items) or None)
    ax_m.set_xlim(-1, days)  # day-0 ticks clear of the axis
    ax_m.set_xlabel("Time since the first session (days)")
    ax_m.set_ylabel("Depression score (MADRS points)")
    handles, _ = ax_m.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.3", ls="none", marker="|", ms=10, mew=2, label="session"))
    who = _one_subject([subject_text(r.pk.model, r.pk.subject.weight_kg, r.pk.regimen.per_kg()) for _, r in items])
    ax_m.legend(
        handles=handles,
        frameon=False,
        fontsize=FONT - 3,
        loc="upper right",
        ncol=2,
        title=who,
        title_fontsize=FONT - 3,
    )
    ax_m.grid(alpha=0.3)
    ax_s.set_xlabel("Session")
    ax_s.set_ylabel("Peak dissociation\n(% of maximal; bars)")
    ax_d.set_ylabel("Discharge time (min; dots)")
    ax_s.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_s.legend(
        handles=[
            Patch(color="0.5", alpha=0.6, label="peak dissociation"),
            Line2D(
                [],
                [],
                color="0.5",
                mec="k",
                mew=0.8,
                marker="o",
                ls="none",
                ms=7,
                label="discharge readiness (min from the start)",
            ),
        ],
        frameon=False,
        fontsize=FONT - 3,
        loc="upper left",
        ncol=2,
    )
    ax_s.grid(alpha=0.3, axis="y")
    for ax in (ax_m, ax_s, ax_d):
        _style(ax)
    return np.asarray([ax_m, ax_s], dtype=object)


def bands(
    result: "PopulationResult",
    output: str = "C_plasma",
    *,
    percentiles: Sequence[float] = (5, 50, 95),
    ax: Optional["Axes"] = None,
    label: Optional[str] = None,
    color: Optional[str] = None,
    hours: bool = True,
    regimen=None,
) -> "Axes":
    """VPC-style bands of a population (``ks.population(..., bands=True)``): the median line and
    the shaded band between the outer percentiles (default 5 and 95: a 90 % prediction interval).
    ``regimen`` (the population's): its doses are marked along the bottom."""
    import matplotlib.pyplot as plt

    if len(percentiles) != 3 or not (percentiles[0] < percentiles[1] < percentiles[2]):
        raise ValueError(f"bands: percentiles must be (low, middle, high), increasing; got {tuple(percentiles)}")
    b = result.bands(output, percentiles)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    t = b.index.to_numpy() if hours else b.index.to_numpy() / 24.0
    lo, mid, hi = (b[c].to_numpy() for c in b.columns)
    name = label or f"{result.model} (n = {result.n})"
    (line,) = ax.plot(t, mid, color=color, label=f"{name}: median")
    ax.fill_between(
        t, lo, hi, color=line.get_color(), alpha=0.25, label=f"{name}: P{percentiles[0]:g}-P{percentiles[2]:g}"
    )
    unit = b.attrs["units"][b.columns[0]]
    extra = (
        []
        if regimen is None
        else dose_marks(ax, {name: regimen}, time_unit="h" if hours else "d", colors=[line.get_color()])
    )
    ax.set_xlabel("Time since the first dose (hours)" if hours else "Time since the first dose (days)")
    ax.set_ylabel(f"{output_words(output)} ({unit})")
    ax.set_ylim(0, None)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra, frameon=False, fontsize=FONT - 3)
    ax.grid(alpha=0.3)
    _style(ax)
    return ax


def population_rates(
    results: Union["CoursePopulationResult", Mapping[str, "CoursePopulationResult"]],
    *,
    ax: Optional["Axes"] = None,
) -> "Axes":
    """Response and remission rates by session with 95 % Wilson intervals (error bars), one
    colour per course; points are per session, not a time series, so they are not joined."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    items = list(results.items()) if isinstance(results, Mapping) else [(results.schedule, results)]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    width = 0.3 / max(1, len(items))
    for k, (label, r) in enumerate(items):
        rates = r.rates
        x = rates.index.to_numpy(float) + (k - (len(items) - 1) / 2) * width
        for what, marker, off in (("response", "o", -width / 4), ("remission", "s", width / 4)):
            y = 100 * rates[what].to_numpy()
            err = np.vstack([y - 100 * rates[f"{what}_lo"].to_numpy(), 100 * rates[f"{what}_hi"].to_numpy() - y])
            ax.errorbar(
                x + off,
                y,
                yerr=err,
                fmt=marker,
                ms=5,
                capsize=2,
                ls="none",
                color=f"C{k}",
                mfc=f"C{k}" if what == "response" else "white",
                label=f"{label}: {what}",
            )
    ax.set_xlabel("Session")
    ax.set_ylabel("Patients, 24 h after the session (%)")
    ax.set_ylim(0, 100)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(frameon=False, fontsize=FONT - 3, title="error bars: 95 % CI (Wilson)", title_fontsize=FONT - 3)
    ax.grid(alpha=0.3, axis="y")
    _style(ax)
    return ax


__all__ = [
    "bands",
    "concentration",
    "course",
    "dose_marks",
    "first_crossing",
    "output_words",
    "population_rates",
    "racemic_equivalent_factor",
    "subject_text",
    "sweep_heatmap",
    "FONT",
    "OUTPUT_WORDS",
]
