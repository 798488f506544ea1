"""Designs (Latin hypercube, Sobol') and Sobol' sensitivity indices of a PK metric.

Everything numerical is the C++ library's (include/ketasim/design.hpp, sensitivity.hpp): factor
distributions are parsed there from the same text the CLI's ``--factor`` takes, and the model runs
on its executor with the GIL released. Conventions: docs/sensitivity.md.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from . import _core
from ._models import ModelLike, load_model
from ._regimen import as_core_regimen
from ._simulate import make_grid, make_metric_options, make_options, make_subject, metric_name
from ._sweep import ProgressArg, RegimenLike, _progress_callback
from ._units import Quantity, to_int


def _factors(factors: Mapping[str, str], model=None) -> list:
    if not isinstance(factors, Mapping) or not factors:
        raise ValueError("factors: give a non-empty mapping {name: 'kind(args)'}, e.g. {'ka_n': 'uniform(1, 5)'}")
    out = []
    for name, text in factors.items():
        if not isinstance(text, str):
            raise ValueError(
                f"factors[{name!r}]: {text!r} must be a distribution text such as 'uniform(1, 5)' "
                "or 'lognormal(median=151 L/h, cv=30%)'"
            )
        out.append(_core.parse_factor(str(name), text, f"factors[{name!r}]", model))
    return out


def design(
    factors: Mapping[str, str],
    n: int,
    *,
    kind: str = "lhs",
    seed: int = 0,
    model: Optional[ModelLike] = None,
    skip: int = 1,
    scramble: bool = False,
):
    """Points of a Latin hypercube (``kind="lhs"``) or Sobol' (``kind="sobol"``) design.

    Args:
        factors: ``{name: distribution}``, e.g. ``{"ka_n": "uniform(1, 5)", "weight":
            "normal(mean=70 kg, sd=15 kg, lower=40 kg, upper=150 kg)"}``; a bare number is in the
            factor's unit (a parameter's file unit with ``model``, kg, years, mg).
        n: number of points. Point i depends on i (and the seed) only.
        seed: Latin hypercube permutations and jitter; the digital shift of a scrambled Sobol'.
        skip: Sobol' sequence points skipped (default 1: the origin).

    Returns:
        A DataFrame, one row per point, one column per factor.
    """
    import pandas as pd

    m = None if model is None else load_model(model)
    fs = _factors(factors, m)
    n = to_int(n, "n")
    if kind == "lhs":
        values = _core.latin_hypercube_points(fs, n, to_int(seed, "seed"))
    elif kind == "sobol":
        values = _core.sobol_design_points(fs, n, to_int(skip, "skip"), bool(scramble), to_int(seed, "seed"))
    else:
        raise ValueError(f"design: kind={kind!r} must be 'lhs' or 'sobol'")
    df = pd.DataFrame(values, columns=[f.name for f in fs])
    df.index.name = "point"
    return df


def sensitivity(
    model: ModelLike,
    regimen: RegimenLike,
    factors: Mapping[str, str],
    *,
    metric: str = "auc_0_t",
    output: Optional[str] = None,
    n: int = 1024,
    seed: int = 0,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    scramble: bool = False,
    skip: int = 1,
    t_end: Quantity = "24 h",
    dt: Quantity = "1 min",
    t_start: Quantity = 0.0,
    times=None,
    weight: Optional[float] = None,
    age: Optional[float] = None,
    fixed: Optional[Mapping[str, float]] = None,
    threshold: Optional[float] = None,
    threads: int = 1,
    progress: ProgressArg = False,
    solver: str = "exact",
    method: str = "dopri5",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    return_samples: bool = False,
):
    """Sobol' first-order and total-effect indices of one metric of a PK run.

    Saltelli (2010) sampling on a Sobol' sequence (matrices A, B and A_B^i; ``n (d + 2)`` runs
    for d factors), Saltelli's first-order and Jansen's total-effect estimators, bootstrap
    intervals (``bootstrap`` resamples, seeded). See docs/sensitivity.md.

    Args:
        factors: ``{name: distribution}``; a name is a model parameter, "weight", "age" or "dose"
            (total mg; the regimen scaled); distributions as for :func:`design`.
        metric: a metric name of ``ketasim.METRICS`` (e.g. "cmax", "auc_0_t", "time_above" with
            ``threshold``) of ``output`` (default: the model's first output).
        n: base sample rows (a power of 2 keeps the Sobol' balance).
        weight, age, fixed: the subject values and overrides shared by every run.

    Returns:
        A DataFrame indexed by factor with columns S1, S1_conf, ST, ST_conf (conf = half-width of
        the ``confidence`` interval); ``df.attrs`` holds metric, output, n, evaluations, mean and
        variance. With ``return_samples`` a tuple (DataFrame, dict with A, B, yA, yB, yAB).
    """
    import pandas as pd

    m = load_model(model)
    reg = as_core_regimen(regimen)
    fs = _factors(factors, m)
    names = [f.name for f in fs]
    given = [x for x, v in (("weight", weight), ("age", age)) if v is not None] + [
        x for x in names if x in ("weight", "age")
    ]
    _core.require_covariates_used(m, reg.per_kg(), given, "sensitivity")
    metric = metric_name(metric)
    n = to_int(n, "n")
    callback, close = _progress_callback(progress, n * (len(fs) + 2))
    try:
        r = _core.pk_sensitivity(
            m,
            reg,
            make_grid(t_end, dt, t_start, times),
            make_options(solver, method, rtol, atol),
            fs,
            make_subject(70.0 if weight is None else weight, 40.0 if age is None else age, fixed),
            output or "",
            metric,
            make_metric_options(threshold),
            n,
            to_int(seed, "seed"),
            to_int(bootstrap, "bootstrap"),
            float(confidence),
            bool(scramble),
            to_int(skip, "skip"),
            to_int(threads, "threads"),
            callback,
        )
    finally:
        close()
    df = pd.DataFrame(
        {k: np.asarray(r[k]) for k in ("S1", "S1_conf", "ST", "ST_conf")}, index=pd.Index(r["names"], name="factor")
    )
    df.attrs.update(
        metric=metric,
        output=output or m.outputs[0].name,
        n=int(r["n"]),
        evaluations=int(r["evaluations"]),
        mean=float(r["mean"]),
        variance=float(r["variance"]),
    )
    if not return_samples:
        return df
    return df, {k: r[k] for k in ("A", "B", "yA", "yB", "yAB")}


__all__ = ["design", "sensitivity"]
