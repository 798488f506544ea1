"""The flagship comparison (same arms and numbers as ``ketasim compare``): IV racemic ketamine
versus intranasal esketamine and intranasal racemic ketamine, plasma and effect-site curves."""

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
    metrics per arm (``ks.METRICS`` names: cmax ng/mL, tmax min, auc_0_t ng*h/mL, time to reach
    ``threshold`` min).
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
        mp = metrics(r, "C_plasma", threshold=threshold)
        me = metrics(r, "Ce", threshold=threshold)
        rows.append(
            {
                "arm": label,
                "model": model,
                "dose (mg)": r.dose_total_mg,
                "cmax (ng/mL)": mp["cmax"],
                "tmax (min)": mp["tmax"] * 60,
                "auc_0_t (ng/mL*h)": mp["auc_0_t"],
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
                "Racemic arms are total (R+S) ketamine, esketamine the S-enantiomer; threshold "
                f"{threshold:g} ng/mL = lower end of the dissociative range (Krystal 1994)."
            )
    if out is not None:
        save_figure(results, out, threshold=threshold, zoom_h=zoom_h)
        if show_table:
            print(f"Figure written to {out}")
    return results, table


def save_figure(
    results: Dict[str, Result],
    out: Union[str, os.PathLike],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    zoom_h: Optional[float] = 4.0,
) -> None:
    """Two panels, plasma and effect site, with threshold onset markers; written as PNG."""
    import matplotlib.pyplot as plt

    from .plot import concentration

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    t_max = None if zoom_h is None else zoom_h * 60
    concentration(
        results,
        "C_plasma",
        thresholds={"dissociative": threshold},
        time_unit="min",
        t_max=t_max,
        ax=axes[0],
        title="Plasma",
    )
    concentration(
        results,
        "Ce",
        thresholds={"dissociative": threshold},
        time_unit="min",
        t_max=t_max,
        ax=axes[1],
        title="Effect site (Ce, t1/2 ke0 6.1 min)",
    )
    axes[1].get_legend().remove()
    fig.suptitle("IV versus intranasal ketamine (typical adult)")
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["compare", "arms", "save_figure", "DEFAULT_THRESHOLD"]
