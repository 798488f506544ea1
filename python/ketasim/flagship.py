"""The flagship comparison (the arms of ``ketasim compare``): IV racemic ketamine versus
intranasal esketamine and intranasal racemic ketamine, plasma and effect-site curves.

Concentration metrics (cmax, auc) are the CLI's, in each drug's own ng/mL. The dissociative
threshold is compared on the racemic-equivalent scale (esketamine x its model file's factor), the
scale of ``ks.course`` and of ``ketasim compare``'s threshold rows (the same numbers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from . import _core
from ._models import load_model
from ._regimen import Regimen
from ._simulate import Result, metrics, simulate

#: ng/mL: lower end of the dissociative plasma range (Krystal 1994, via Zanos 2018 Table 1);
#: the CLI's default too (C++ kDissociativeThresholdNgPerMl).
DEFAULT_THRESHOLD = _core.DISSOCIATIVE_THRESHOLD_NG_PER_ML


def arms(
    weight: float = 70.0, esketamine_mg: float = 56.0, racemic_in_mg: float = 50.0
) -> Dict[str, Tuple[str, Regimen]]:
    """label -> (model, regimen) of the three flagship arms, as defined by the C++ library
    (``flagship_arms()``, the arms of ``ketasim compare``)."""
    o = _core.FlagshipOptions()
    o.weight_kg, o.esketamine_mg, o.racemic_in_mg = float(weight), float(esketamine_mg), float(racemic_in_mg)
    return {a.label: (a.model, Regimen._wrap(a.regimen)) for a in _core.flagship_arms(o)}


def compare(
    out: Union[str, os.PathLike, None] = "out/flagship.png",
    *,
    weight: float = 70.0,
    t_end: str = "24 h",
    dt: str = "1 min",
    threshold: float = DEFAULT_THRESHOLD,
    esketamine_mg: float = 56.0,
    racemic_in_mg: float = 50.0,
    show_table: bool = True,
    zoom_h: Optional[float] = 4.0,
):
    """Run the three flagship arms, save a figure (plasma and effect-site Ce) and print a table.

    Returns ``(results_by_label, table)``; ``table`` is a DataFrame of plasma and effect-site
    metrics per arm (``ks.METRICS`` names: cmax ng/mL, tmax min, auc_0_t ng*h/mL in the drug's own
    concentration; time to reach ``threshold`` min, on the racemic-equivalent scale: the arm's
    concentration times its model's ``racemic_equivalent`` factor, as in ``ks.course``).
    ``out=None`` skips the figure. ``zoom_h`` limits the time axis of the figure (None = all).
    """
    import pandas as pd

    results: Dict[str, Result] = {}
    rows = []
    for label, (model, regimen) in arms(weight, esketamine_mg, racemic_in_mg).items():
        # The subject's weight goes to the arms it matters for (mg/kg dose or per-kg parameters);
        # giving it to a model that does not use it is an error (esketamine_nasal).
        m = load_model(model)
        uses_weight = regimen._core.per_kg() or "weight" in m.covariate_names()
        r = simulate(m, regimen, t_end, dt, weight=weight if uses_weight else None)
        results[label] = r
        # The dissociative threshold is a racemic-ketamine concentration: each arm is compared with
        # it on the racemic-equivalent scale (the model file's racemic_equivalent factor, 2 for
        # esketamine), the scale the PD models (ks.course) use, so the figure, this table and a
        # course's predicted dissociation agree. The library gives the threshold in the model's own
        # unit (threshold / f), as `ketasim compare` uses it.
        f = _core.racemic_equivalent_scale(m)
        own = _core.racemic_threshold_for(m, threshold)
        mp = metrics(r, "C_plasma", threshold=own)
        me = metrics(r, "Ce", threshold=own)
        rows.append(
            {
                "arm": label,
                "model": model,
                "dose (mg)": r.dose_total_mg,
                "cmax (ng/mL)": mp["cmax"],
                "tmax (min)": mp["tmax"] * 60,
                "auc_0_t (ng/mL*h)": mp["auc_0_t"],
                "racemic-equivalent factor": f,
                "racemic-equivalent cmax (ng/mL)": mp["cmax"] * f,
                f"time_to_threshold {threshold:g} ng/mL (min)": mp["time_to_threshold"] * 60,
                f"time_above {threshold:g} ng/mL (min)": mp["time_above"] * 60,
                "Ce cmax (ng/mL)": me["cmax"],
                "Ce tmax (min)": me["tmax"] * 60,
                f"Ce time_to_threshold {threshold:g} ng/mL (min)": me["time_to_threshold"] * 60,
            }
        )
    table = pd.DataFrame(rows).set_index("arm")
    if show_table:
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 1):
            print(f"IV versus intranasal ketamine: typical {weight:g} kg adult, 0-{t_end}, output every {dt}")
            print(table.T.to_string())
            print(
                "Racemic arms are total (R+S) ketamine, esketamine the S-enantiomer (cmax, auc in the "
                f"drug's own ng/mL). Threshold {threshold:g} ng/mL = lower end of the dissociative range "
                "(Krystal 1994), a racemic concentration: threshold times compare the racemic-equivalent "
                "concentration (x the model's racemic_equivalent factor), the scale of ks.course."
            )
    if out is not None:
        save_figure(results, out, threshold=threshold, zoom_h=zoom_h, weight=weight)
        if show_table:
            print(f"Figure written to {out}")
    return results, table


def figure(
    results: Dict[str, Result],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    zoom_h: Optional[float] = 4.0,
    weight: float = 70.0,
):
    """The flagship figure: plasma (left) and effect-site (right) curves of each arm on the
    racemic-equivalent scale (``plot.concentration(racemic_equivalent=True)``: esketamine x the
    model file's factor), the dissociative threshold with each arm's onset, and the doses.
    Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    from .plot import FONT, concentration

    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6), sharey=True, layout="constrained")
    t_max = None if zoom_h is None else zoom_h * 60
    for ax, output, title in (
        (axes[0], "C_plasma", "Plasma"),
        (axes[1], "Ce", "Effect site (brain), where the drug acts"),
    ):
        concentration(
            results,
            output,
            thresholds={"dissociative": threshold},
            time_unit="min",
            t_max=t_max,
            ax=ax,
            title=title,
            racemic_equivalent=True,
            subject=f"{weight:g} kg adult",
        )
    axes[1].tick_params(labelleft=True)
    # The factors come from the model files ([effect_site] racemic_equivalent), named by analyte.
    factors = sorted(
        {
            f"{r.model.outputs[0].analyte} x {_core.racemic_equivalent_scale(r.model):g}"
            for r in results.values()
            if _core.racemic_equivalent_scale(r.model) != 1.0
        }
    )
    scale = f" (racemic-equivalent scale: {', '.join(factors)}, as in the course model)" if factors else ""
    fig.suptitle(f"IV versus intranasal ketamine, one dose each{scale}", fontsize=FONT)
    return fig


def save_figure(
    results: Dict[str, Result],
    out: Union[str, os.PathLike],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    zoom_h: Optional[float] = 4.0,
    weight: float = 70.0,
) -> None:
    """``figure(...)`` written as PNG to ``out`` (its folder is created)."""
    import matplotlib.pyplot as plt

    fig = figure(results, threshold=threshold, zoom_h=zoom_h, weight=weight)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["compare", "arms", "figure", "save_figure", "DEFAULT_THRESHOLD"]
