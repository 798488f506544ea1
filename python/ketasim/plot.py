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
) -> "Axes":
    """Plot ``output`` of several results on one axis, one curve per label.

    ``thresholds`` (a value, a list, or ``{label: value}``, in the output's unit) are drawn as
    dashed lines, with a marker where each curve first crosses each threshold upward (onset).
    ``time_unit`` is "h" or "min"; ``t_max`` limits the time axis (in that unit).
    """
    import matplotlib.pyplot as plt

    if time_unit not in ("h", "min"):
        raise ValueError(f"time_unit: '{time_unit}' must be 'h' or 'min'")
    scale = 60.0 if time_unit == "min" else 1.0
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    levels = _thresholds(thresholds)
    unit = ""
    for label, r in results_by_label.items():
        t, c = np.asarray(r.time) * scale, r[output]
        unit = r.units.get(output, unit)
        (line,) = ax.plot(t, c, label=label)
        for lv in levels.values():
            tc = first_crossing(t, c, lv)
            if np.isfinite(tc):
                ax.plot([tc], [lv], "o", color=line.get_color(), ms=6, zorder=3)
                ax.annotate(
                    f"{tc:.0f} {time_unit}" if time_unit == "min" else f"{tc * 60:.0f} min",
                    (tc, lv),
                    textcoords="offset points",
                    xytext=(4, 6),
                    fontsize=8,
                    color=line.get_color(),
                )
    for name, lv in levels.items():
        ax.axhline(lv, ls="--", lw=0.8, color="0.4")
        ax.annotate(
            f"{name} ({lv:g} {unit})" if name != f"{lv:g}" else f"{lv:g} {unit}",
            (1.0, lv),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="0.3",
        )
    if t_max is not None:
        ax.set_xlim(0, t_max)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel(f"{output} ({unit})" if unit else output)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
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
) -> "Axes":
    """Heat map of ``value`` over the grid of swept variables ``x`` and ``y`` (a ``ks.sweep``
    DataFrame). Other swept variables must be constant (filter the frame first)."""
    import matplotlib.pyplot as plt

    for col in (x, y, value):
        if col not in df.columns:
            raise ValueError(f"sweep_heatmap: no column '{col}' (columns: {', '.join(map(str, df.columns))})")
    table = df.pivot_table(index=y, columns=x, values=value, aggfunc="first")
    if df.duplicated([x, y]).any():
        raise ValueError(f"sweep_heatmap: several rows per ({x}, {y}); fix the other swept variables first")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    xs, ys, z = table.columns.to_numpy(float), table.index.to_numpy(float), table.to_numpy(float)
    mesh = ax.pcolormesh(xs, ys, z, shading="nearest", cmap=cmap)
    if contours and min(z.shape) > 2:
        cs = ax.contour(xs, ys, z, colors="white", linewidths=0.6)
        ax.clabel(cs, fontsize=7)
    ax.figure.colorbar(mesh, ax=ax, label=label or value)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
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

    items = _course_items(results)
    if not items:
        raise ValueError("course: no results to plot")
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(8, 7), gridspec_kw={"height_ratios": [3, 2]})
    ax_m, ax_s = axes[0], axes[1]
    first = items[0][1]
    if control:
        ax_m.plot(
            first.symptoms["day"],
            first.symptoms["madrs_control"],
            color="0.6",
            lw=1,
            ls=":",
            label="placebo only (no drug)",
        )
    ax_d = ax_s.twinx()
    width = 0.8 / len(items)
    for k, (label, r) in enumerate(items):
        (line,) = ax_m.plot(r.symptoms["day"], r.symptoms["madrs"], label=label)
        color = line.get_color()
        sd = r.schedule.session_days
        # Session ticks along the bottom of the axis (x in days, y in axes fraction).
        ax_m.plot(
            sd,
            np.full(sd.shape, 0.025 + 0.04 * k),
            "|",
            color=color,
            ms=8,
            mew=1.5,
            transform=ax_m.get_xaxis_transform(),
        )
        s = r.sessions
        x = s["session"].to_numpy(float) + (k - (len(items) - 1) / 2) * width
        ax_s.bar(x, s["peak_dissociation_pct"], width=width, color=color, alpha=0.6, label=label)
        ax_d.plot(x, s["discharge_min"], "o-", color=color, ms=4, lw=1)
    ax_m.axhline(first.response_level, ls="--", lw=0.8, color="0.3")
    ax_m.axhline(first.remission_level, ls="--", lw=0.8, color="0.3")
    for level, text in ((first.response_level, "response"), (first.remission_level, "remission")):
        ax_m.annotate(
            f"{text} (MADRS <= {level:g})",
            (1.0, level),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="0.3",
        )
    ax_m.set_ylim(0, max(r.symptom_model.baseline for _, r in items) + 3)
    ax_d.set_ylim(0, None)
    ax_m.set_xlim(-1, days)  # day-0 ticks clear of the axis
    ax_m.set_xlabel("time (days from the first session); ticks: sessions")
    ax_m.set_ylabel("MADRS (points)")
    ax_m.legend(frameon=False, fontsize=8, loc="upper right", bbox_to_anchor=(1.0, 0.92))
    ax_m.grid(alpha=0.3)
    ax_s.set_xlabel("session (colours as above)")
    ax_s.set_ylabel("peak dissociation (% of max), bars")
    ax_d.set_ylabel("discharge time (min), dots")
    ax_s.grid(alpha=0.3, axis="y")
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
) -> "Axes":
    """VPC-style bands of a population (``ks.population(..., bands=True)``): the median line and
    the shaded band between the outer percentiles (default 5 and 95: a 90 % prediction interval)."""
    import matplotlib.pyplot as plt

    if len(percentiles) != 3 or not (percentiles[0] < percentiles[1] < percentiles[2]):
        raise ValueError(f"bands: percentiles must be (low, middle, high), increasing; got {tuple(percentiles)}")
    b = result.bands(output, percentiles)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    t = b.index.to_numpy() if hours else b.index.to_numpy() / 24.0
    lo, mid, hi = (b[c].to_numpy() for c in b.columns)
    name = label or f"{result.model} (n = {result.n})"
    (line,) = ax.plot(t, mid, color=color, label=f"{name}: median")
    ax.fill_between(
        t, lo, hi, color=line.get_color(), alpha=0.25, label=f"{name}: P{percentiles[0]:g}-P{percentiles[2]:g}"
    )
    unit = b.attrs["units"][b.columns[0]]
    ax.set_xlabel("time (h)" if hours else "time (days)")
    ax.set_ylabel(f"{output} ({unit})")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def population_rates(
    results: Union["CoursePopulationResult", Mapping[str, "CoursePopulationResult"]],
    *,
    ax: Optional["Axes"] = None,
) -> "Axes":
    """Response and remission rates by session with 95 % Wilson intervals (error bars), one
    colour per course; points are per session, not a time series, so they are not joined."""
    import matplotlib.pyplot as plt

    items = list(results.items()) if isinstance(results, Mapping) else [(results.schedule, results)]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
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
    ax.set_xlabel("session")
    ax.set_ylabel("patients (%), 24 h after the session; bars: 95 % CI")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return ax


__all__ = ["bands", "concentration", "course", "population_rates", "sweep_heatmap", "first_crossing"]
