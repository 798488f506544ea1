#!/usr/bin/env python3
"""Refit a consolidating symptom model (structure madrs_v2 or madrs_v3; default file
models/pd/madrs.toml) from scratch to the calibration rows of the reference (ketamine-pkpd.md
section 4) and nothing else; print the residuals per row, the local sensitivities
(identifiability) and a Laplace approximation of the parameter uncertainty.

    python scripts/calibrate_madrs.py                     # refit, print, compare with the file (exit 1 if it differs)
    python scripts/calibrate_madrs.py --write             # refit and write the values into the file
    python scripts/calibrate_madrs.py --model madrs_v3    # the same for models/pd/madrs_v3.toml
    python scripts/calibrate_madrs.py --free sd_baseline  # also fit an assumed population parameter

The structure is read from the file's `structure` key; the start and bounds of stage B are per
structure (STARTS below). madrs_v3's exponent n_cons is an assumption of its file, not fitted.

Everything is simulated by the library (ks.course, ks.population) on a candidate copy of the model
file; nothing of the model is re-implemented here. Deterministic: fixed start, fixed seed (common
random numbers across candidates), no random restarts. Objective, weights and stages:
docs/calibration.md, section 2.

Stage A (typical patient, nested in every stage-B evaluation): k_on, k_off, k_tr solve the three
single-dose time-course residuals exactly (as tests/cpp/symptoms_v2_test.cpp
`TypicalStageRefitReproducesFile` does); placebo_max in closed form.
Stage B (population): log k_cons, log k_off_c, log CV of k_on (sensitivity), log SD of the
placebo_max logit eta (expectation) and, for madrs_v2, log SD of the durability eta (omega_dur, the
k_off/k_off_c block; STARTS[...]["free"]) minimise the weighted squared residuals of the population
rates. The baseline SD (and, for madrs_v3, the durability spread) are assumptions of the file;
`--free NAME` also fits one of FREEABLE (docs/calibration.md section 2 records what that gave).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import norm

import ketasim as ks

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "models" / "pd"

# ---- calibration rows (reference section 4) and their weights -----------------------------------
# Rates: binomial standard errors at the trials' sizes (Han 2016 pooled n = 368; Murrough 2013 Biol
# Psychiatry n = 24). Relapse median: on the log scale with SE 0.3 (about +/-30 %: a median of ~17
# responders' relapse times; an assumption, stated in docs/calibration.md).
N_SINGLE, N_SIX = 368, 24
ROWS = [
    # key, target, standard error, description
    ("resp_24h", 0.522, None, "single dose: response at 24 h (Han 2016)"),
    ("rem_24h", 0.206, None, "single dose: remission at 24 h (Han 2016)"),
    ("resp_72h", 0.479, None, "single dose: response at 72 h (Han 2016)"),
    ("rem_72h", 0.238, None, "single dose: remission at 72 h (Han 2016)"),
    ("resp_d7", 0.398, None, "single dose: response at day 7 (Han 2016)"),
    ("rem_d7", 0.262, None, "single dose: remission at day 7 (Han 2016)"),
    ("resp_six", 0.708, None, "6 sessions: response at the end, 24 h after session 6 (Murrough 2013 BP)"),
    ("log_relapse_d", math.log(18.0), 0.3, "6 sessions: median relapse among responders, log days (Murrough 2013 BP)"),
]


def row_se(key: str, target: float, se):
    if se is not None:
        return se
    n = N_SIX if key.endswith("six") else N_SINGLE
    return math.sqrt(target * (1 - target) / n)


SE = np.array([row_se(k, t, s) for k, t, s, _ in ROWS])
TARGET = np.array([t for _, t, _, _ in ROWS])

# Smoothing of the response/remission indicators for the optimiser only (a probit of width 0.5
# MADRS points, half the instrument's resolution): makes the simulated rates differentiable in the
# parameters. Reported residuals use the library's hard thresholds.
SMOOTH = 0.5

# ---- the candidate file -------------------------------------------------------------------------


def render(text: str, values: dict) -> str:
    """The model file with `values` substituted: parameters by name, and the variability numbers
    `cv_sens` (percent, k_on block), `sd_placebo` (logit SD, placebo_max block) and `omega_dur` (SD
    of the durability eta; variance matrix with the assumed correlation 0.9)."""
    for name, v in values.items():
        if name in ("cv_sens", "omega_dur", "sd_placebo", "sd_baseline") or name.startswith("_"):
            continue
        pat = re.compile(r"(\[parameters\.%s\]\nvalue = )([^\n]+)" % re.escape(name))
        text, n = pat.subn(lambda m, v=v: m.group(1) + f"{v:.6g}", text)
        if n != 1:
            raise RuntimeError(f"parameter {name} not found once in the file")
    if "cv_sens" in values:
        text, n = re.subn(
            r'(parameters = \["k_on"\]\ndistribution = "lognormal"\ncv_percent = \[)([^\]]+)(\])',
            lambda m: m.group(1) + f"{values['cv_sens']:.6g}" + m.group(3),
            text,
        )
        assert n == 1
    if "sd_placebo" in values:
        text, n = re.subn(
            r'(parameters = \["placebo_max"\]\ndistribution = "logit"\nsd = \[)([^\]]+)(\])',
            lambda m: m.group(1) + f"{values['sd_placebo']:.6g}" + m.group(3),
            text,
        )
        assert n == 1
    if "sd_baseline" in values:
        text, n = re.subn(
            r'(parameters = \["baseline"\]\ndistribution = "normal"\nsd = \[)([^\]]+)(\])',
            lambda m: m.group(1) + f"{values['sd_baseline']:.6g}" + m.group(3),
            text,
        )
        assert n == 1
    if "omega_dur" in values:
        w2 = values["omega_dur"] ** 2
        var = f"{w2:.6g}"
        cov = f"{0.9 * float(var):.6g}"
        text, n = re.subn(
            r'(parameters = \["k_off", "k_off_c"\]\ndistribution = "lognormal"\nvariance = )([^\n]+)',
            lambda m: m.group(1) + f"[[{var}, {cov}], [{cov}, {var}]]",
            text,
        )
        assert n == 1
    return render_uncertainty(text)


def render_uncertainty(text: str, se=None, corr=None) -> str:
    """The [uncertainty] table kept consistent with the file's values: its estimates are always
    the current (k_cons, k_off_c, CV of k_on, SD of placebo_max and, when fitted, the durability SD)
    (the library rejects a stale table), and with `se`/`corr` (a refit's Laplace SEs on the log
    scale and correlations) those too. Nine digits: the durability SD is the square root of the
    file's variance, not a number written in the file, and the library checks it to 1e-6."""
    v = file_values(text)
    names = [k for k in THETA_NAMES if k in UNCERTAINTY_NAME]
    est = ", ".join(f"{v[k]:.9g}" for k in names)
    text, n = re.subn(r"^estimate = \[[^\]]*\]", f"estimate = [{est}]", text, flags=re.M)
    assert n == 1, "the [uncertainty] table's estimate line"
    listed = ", ".join(f'"{UNCERTAINTY_NAME[k]}"' for k in names)
    m = re.search(r'^parameters = \[("k_cons"[^\]]*)\]', text, flags=re.M)
    assert m, "the [uncertainty] table's parameters line"
    if m.group(1) != listed:
        # A parameter freed by --free: the table grows; until a fit writes its covariance, the
        # candidate files hold it with SE 0 (the library needs a complete table).
        text = text[: m.start(1)] + listed + text[m.end(1) :]
        if se is None:
            se, corr = np.zeros(len(names)), np.eye(len(names))
    if se is not None:
        text, n = re.subn(r"^se = \[[^\]]*\]", "se = [" + ", ".join(f"{x:.3g}" for x in se) + "]", text, flags=re.M)
        assert n == 1
        rows = ",\n               ".join("[" + ", ".join(f"{c:.2f}" for c in row) + "]" for row in corr)
        text, n = re.subn(
            r"^correlation = \[\[.*?\]\]\n", lambda m: f"correlation = [{rows}]\n", text, flags=re.M | re.S
        )
        assert n == 1
        text, n = re.subn(
            r"^(source = \"scripts/calibrate_madrs.py \()[^)]*(\))",
            lambda m: m.group(1) + time.strftime("%Y-%m-%d", time.gmtime()) + m.group(2),
            text,
            flags=re.M,
        )
        assert n == 1
    return text


def file_values(text: str) -> dict:
    out = {}
    for m in re.finditer(r"\[parameters\.(\w+)\]\nvalue = ([^\n]+)", text):
        out[m.group(1)] = float(m.group(2))
    out["cv_sens"] = float(
        re.search(r'parameters = \["k_on"\]\ndistribution = "lognormal"\ncv_percent = \[([^\]]+)\]', text).group(1)
    )
    var = re.search(r'parameters = \["k_off", "k_off_c"\]\ndistribution = "lognormal"\nvariance = \[\[([^,]+),', text)
    out["omega_dur"] = math.sqrt(float(var.group(1)))
    out["sd_baseline"] = float(
        re.search(r'parameters = \["baseline"\]\ndistribution = "normal"\nsd = \[([^\]]+)\]', text).group(1)
    )
    out["sd_placebo"] = float(
        re.search(r'parameters = \["placebo_max"\]\ndistribution = "logit"\nsd = \[([^\]]+)\]', text).group(1)
    )
    return out


class Candidate:
    """A temporary copy of the model file with candidate values."""

    def __init__(self, text: str, directory: str):
        self.path = os.path.join(directory, "madrs_candidate.toml")
        Path(self.path).write_text(text)


# ---- stage A: the typical patient ---------------------------------------------------------------

PLACEBO_TARGET = 8.8  # midazolam-control change at 24 h (Murrough 2013)


def typical_residuals(x, path: str, fixed: dict) -> np.ndarray:
    """r1..r3 of the docstring of tests/cpp/symptoms_v2_test.cpp TypicalStageRefitReproducesFile
    (infinite where the library rejects the values: a step out of the model's domain)."""
    if np.any(np.abs(x) > 50):
        return np.full(3, np.inf)
    try:
        return _typical_residuals(x, path, fixed)
    except ValueError:
        return np.full(3, np.inf)


def _typical_residuals(x, path: str, fixed: dict) -> np.ndarray:
    over = {"k_on": math.exp(x[0]), "k_off": math.exp(x[1]), "k_tr": math.exp(x[2])}
    r = ks.course(ks.schedules.iv_days([0]), follow_up="14 d", dt="1 min", symptom_model=path, symptoms=over)
    s = r.symptoms
    t = s["time_h"].to_numpy()

    def at(col, h):
        return float(np.interp(h, t, s[col].to_numpy()))

    b = fixed["baseline"]
    pl = at("placebo", 24.0)
    dpl = fixed["placebo_max"] * fixed["k_placebo"] * math.exp(-fixed["k_placebo"] * 24.0)
    P, C, E = at("P", 24.0), at("C", 24.0), at("E", 24.0)
    return np.array(
        [
            at("madrs", 24.0) - b + 16.5,
            b * ((1 - pl) * (P + C - P * C - E) - dpl * E / over["k_tr"]),
            at("madrs_control", 264.0) - at("madrs", 264.0) - 0.1 * (16.5 - PLACEBO_TARGET),
        ]
    )


def fit_typical(path: str, fixed: dict) -> dict:
    """Levenberg-Marquardt on (log k_on, log k_off, log k_tr) from (1, 0.01, 0.1) /h, as the C++ test."""
    x = np.log([1.0, 0.01, 0.1])
    lam = 1e-3
    r = typical_residuals(x, path, fixed)
    for _ in range(100):
        if np.linalg.norm(r) <= 1e-9:
            break
        J = np.empty((3, 3))
        for j in range(3):
            y = x.copy()
            y[j] += 1e-6
            J[:, j] = (typical_residuals(y, path, fixed) - r) / 1e-6
        A = J.T @ J
        A[np.diag_indices(3)] *= 1 + lam
        dx = np.clip(np.linalg.solve(A, -J.T @ r), -2.0, 2.0)
        r_new = typical_residuals(x + dx, path, fixed)
        if np.linalg.norm(r_new) < np.linalg.norm(r):
            x, r, lam = x + dx, r_new, lam * 0.3
        else:
            lam *= 10
    return {
        "k_on": math.exp(x[0]),
        "k_off": math.exp(x[1]),
        "k_tr": math.exp(x[2]),
        "_residual": float(np.linalg.norm(r)),
    }


# ---- stage B: the population --------------------------------------------------------------------


class Population:
    def __init__(self, n: int, seed: int, threads: int):
        self.n, self.seed, self.threads = n, seed, threads

    def single(self, path: str):
        return ks.population(
            None,
            ks.schedules.iv_days([0]),
            n=self.n,
            seed=self.seed,
            threads=self.threads,
            course_options=dict(follow_up="8 d", dt="15 min", symptom_model=path, madrs_at=["72 h", "168 h"]),
        )

    def six(self, path: str):
        return ks.population(
            None,
            ks.schedules.iv_days([0, 2, 4, 7, 9, 11]),
            n=self.n,
            seed=self.seed,
            threads=self.threads,
            course_options=dict(follow_up="45 d", dt="15 min", symptom_model=path),
        )


def simulated_rows(pop: Population, path: str, smooth: bool) -> np.ndarray:
    one = pop.single(path).frame
    six = pop.six(path)
    b = one["baseline_madrs"].to_numpy()

    def rate(madrs, level):
        return float(np.mean(norm.cdf((level - madrs) / SMOOTH) if smooth else madrs <= level))

    vals = []
    for col in ("madrs_24h.1", "madrs_at.72", "madrs_at.168"):
        y = one[col].to_numpy()
        vals += [rate(y, 0.5 * b), rate(y, 10.0)]
    f6 = six.frame
    vals.append(rate(f6["madrs_24h.6"].to_numpy(), 0.5 * f6["baseline_madrs"].to_numpy()))
    med = six.relapse["median"]
    vals.append(math.log(med / 24.0) if np.isfinite(med) else math.log(45.0))  # not reached: censored at follow-up
    return np.array(vals)


THETA_NAMES = ["k_cons", "k_off_c", "cv_sens", "sd_placebo"]
# The [uncertainty] table's name of each stage-B value (docs/populations.md). The durability spread
# is the common SD of the two-parameter block [k_off, k_off_c] (equal variances, correlation 0.9):
# the library names it by the block's first parameter and scales the whole block when it draws it.
UNCERTAINTY_NAME = {
    "k_cons": "k_cons",
    "k_off_c": "k_off_c",
    "cv_sens": "variability.k_on.cv_percent",
    "sd_placebo": "variability.placebo_max.sd",
    "sd_baseline": "variability.baseline.sd",
    "omega_dur": "variability.k_off.sd",
}
# Assumed population parameters that `--free` adds to stage B: start = the file's assumption,
# bounds = what a population of TRD patients could have (baseline SD 2-12 MADRS points; SD of
# log durability 0.1-1.5).
FREEABLE = {"sd_baseline": (2.0, 12.0), "omega_dur": (0.1, 1.5)}
# Per structure: the start (not the answer) and the bounds of stage B. Bounds: consolidation
# half-life >= 14 h, CVs within what a population model would accept. madrs_v3 produces C at
# k_cons P^n_cons with P ~ 0.3-0.4, so its k_cons is on a larger scale (upper bound 10 /h); its start
# is the order of magnitude at which a typical-patient scan (k_cons 0.05-3 /h, k_off_c
# 0.0015-0.005 /h) still solved stage A, not a fitted value.
# `free`: assumed population parameters that stage B also fits for this structure (start: the
# file's value, bounds: FREEABLE). madrs_v2 fits the durability spread (docs/calibration.md section
# 2: with it assumed at 0.5 the rows were chi^2 26.3 and remission at 24 h +3.1 SE).
STARTS = {
    "madrs_v2": dict(
        # omega_dur starts at its former assumption, 0.5 (not at the file's fitted value).
        theta0={"k_cons": 0.01, "k_off_c": 0.01, "cv_sens": 60.0, "sd_placebo": 1.0, "omega_dur": 0.5},
        lower=[1e-4, 1e-4, 10.0, 0.05],
        upper=[0.1, 0.05, 300.0, 3.0],
        free=["omega_dur"],
    ),
    "madrs_v3": dict(
        theta0={"k_cons": 0.1, "k_off_c": 0.002, "cv_sens": 60.0, "sd_placebo": 1.0},
        lower=[1e-4, 1e-4, 10.0, 0.05],
        upper=[10.0, 0.05, 300.0, 3.0],
    ),
}
JAC_STEP = 0.02
WALL = 1e3  # weighted residual of every row where stage A has no solution
_TYPICAL = {}


def values_for(theta: np.ndarray, text: str, tmp: str, fixed: dict) -> dict:
    v = {k: math.exp(t) for k, t in zip(THETA_NAMES, theta)}
    # Stage A depends on the consolidation rates only (not on the variability): cached.
    key = (f"{v['k_cons']:.6g}", f"{v['k_off_c']:.6g}")
    if key not in _TYPICAL:
        cand = Candidate(render(text, v), tmp)
        _TYPICAL[key] = fit_typical(cand.path, fixed)
    typ = _TYPICAL[key]
    v.update({k: typ[k] for k in ("k_on", "k_off", "k_tr")})
    v["_typical_residual"] = typ["_residual"]
    return v


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="write the refitted values into the model file")
    ap.add_argument("--model", default="madrs", help="library symptom file models/pd/NAME.toml (default madrs)")
    ap.add_argument("--n", type=int, default=300, help="virtual patients per population evaluation (default 300)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--free",
        choices=sorted(FREEABLE),
        action="append",
        default=[],
        help="also fit this assumed population parameter (start: the file's value)",
    )
    ap.add_argument(
        "--max-nfev", type=int, default=25, help="optimiser evaluations (default 25: the file was fitted with it)"
    )
    args = ap.parse_args()

    model_file = MODEL_DIR / f"{args.model}.toml"
    text = model_file.read_text()
    structure = re.search(r'^structure = "([^"]+)"', text, flags=re.M).group(1)
    if structure not in STARTS:
        ap.error(f"{model_file}: structure {structure!r} has no consolidation to fit (accepted: {', '.join(STARTS)})")
    start = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in STARTS[structure].items()}
    fixed = file_values(text)
    for name in dict.fromkeys(start.pop("free", []) + args.free):
        THETA_NAMES.append(name)
        start["theta0"].setdefault(name, fixed[name])
        start["lower"].append(FREEABLE[name][0])
        start["upper"].append(FREEABLE[name][1])
    # placebo_max in closed form (control change -8.8 at 24 h from baseline 32).
    fixed["placebo_max"] = (PLACEBO_TARGET / fixed["baseline"]) / (1 - math.exp(-24 * fixed["k_placebo"]))
    text = render(text, {"placebo_max": fixed["placebo_max"]})
    pop = Population(args.n, args.seed, args.threads)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        cache = {}

        def weighted(theta):
            key = tuple(np.round(theta, 12))
            if key not in cache:
                v = values_for(theta, text, tmp, fixed)
                cand = Candidate(render(text, v), tmp)
                if v["_typical_residual"] > 1e-6:
                    # Stage A has no solution here (e.g. so much consolidation after one dose that
                    # the drug effect cannot fall to 10 % by day 11): a wall for the optimiser.
                    cache[key] = np.full(len(TARGET), WALL)
                else:
                    cache[key] = (simulated_rows(pop, cand.path, smooth=True) - TARGET) / SE
                print(
                    f"  [{time.time() - t0:6.0f} s] "
                    + " ".join(f"{k}={v[k]:.4g}" for k in THETA_NAMES)
                    + f"  chi2={float(np.sum(cache[key] ** 2)):.3f}",
                    flush=True,
                )
            return cache[key]

        def jacobian(theta):
            # Forward differences, absolute step 0.02 on the log scale (2 %): smooths the Monte Carlo
            # graininess that remains after the probit smoothing.
            r0 = weighted(theta)
            J = np.empty((len(r0), len(theta)))
            for j in range(len(theta)):
                y = np.array(theta, dtype=float)
                y[j] += JAC_STEP
                J[:, j] = (weighted(y) - r0) / JAC_STEP
            return J

        x0 = np.log([start["theta0"][k] for k in THETA_NAMES])
        fit = least_squares(
            weighted,
            x0,
            jac=jacobian,
            method="trf",
            x_scale=1.0,
            max_nfev=args.max_nfev,
            xtol=1e-4,
            ftol=1e-4,
            bounds=(np.log(start["lower"]), np.log(start["upper"])),
        )
        best = values_for(fit.x, text, tmp, fixed)
        best["placebo_max"] = fixed["placebo_max"]
        cand = Candidate(render(text, best), tmp)
        hard = simulated_rows(pop, cand.path, smooth=False)
        smooth = simulated_rows(pop, cand.path, smooth=True)

        # d(weighted residual)/d(log theta) at the optimum: the optimiser's forward differences,
        # except for a parameter whose forward step leaves the region where stage A has a solution
        # (the optimum is then on that boundary: madrs_v3's k_cons, where one more step of
        # consolidation leaves too much of one dose's benefit at day 11). Its column is a backward
        # difference (for the sensitivities), and it is held at the boundary in the covariance: the
        # Laplace approximation needs an interior optimum, and that value is set by the constraint.
        J = np.array(fit.jac, dtype=float)
        r0 = weighted(fit.x)
        boundary = []
        for j in range(len(fit.x)):
            y = np.array(fit.x, dtype=float)
            y[j] += JAC_STEP
            if np.all(weighted(y) == WALL):
                y[j] -= 2 * JAC_STEP
                J[:, j] = (r0 - weighted(y)) / JAC_STEP
                boundary.append(j)
    free = [j for j in range(len(fit.x)) if j not in boundary]
    cov = np.zeros((len(fit.x), len(fit.x)))
    cov[np.ix_(free, free)] = np.linalg.pinv(J[:, free].T @ J[:, free])
    sd = np.sqrt(np.diag(cov))
    corr = np.eye(len(fit.x))
    corr[np.ix_(free, free)] = cov[np.ix_(free, free)] / np.outer(sd[free], sd[free])
    # The file's [uncertainty] table: the values it can name (UNCERTAINTY_NAME, every stage-B value
    # of madrs_v2 including the durability spread), conditional on boundary values, which it holds:
    # inverse of the J'J block of the drawn values (as for a boundary value).
    table = [j for j, k in enumerate(THETA_NAMES) if k in UNCERTAINTY_NAME]
    drawn = [j for j in table if j in free]
    cov_t = np.zeros((len(fit.x), len(fit.x)))
    cov_t[np.ix_(drawn, drawn)] = np.linalg.pinv(J[:, drawn].T @ J[:, drawn])
    sd_t = np.sqrt(np.diag(cov_t))
    corr_t = np.eye(len(fit.x))
    corr_t[np.ix_(drawn, drawn)] = cov_t[np.ix_(drawn, drawn)] / np.outer(sd_t[drawn], sd_t[drawn])
    sd_t, corr_t = sd_t[table], corr_t[np.ix_(table, table)]
    sv = np.linalg.svd(J, compute_uv=False)

    print(
        f"\n{model_file.name} ({structure}) fit: {fit.message} ({fit.nfev} evaluations, {time.time() - t0:.0f} s),"
        f" n = {args.n}, seed {args.seed}, chi2 = {float(np.sum(fit.fun**2)):.2f}"
    )
    print("\n| parameter | value | Laplace SE (log scale) | approx. 95 % interval |\n| --- | --- | --- | --- |")
    for j, (k, x, s) in enumerate(zip(THETA_NAMES, fit.x, sd)):
        if j in boundary:
            print(f"| {k} | {math.exp(x):.6g} | on the stage-A boundary: held (SE 0) | - |")
            continue
        print(f"| {k} | {math.exp(x):.6g} | {s:.3f} | {math.exp(x - 1.96 * s):.4g} - {math.exp(x + 1.96 * s):.4g} |")
    for k in ("k_on", "k_off", "k_tr", "placebo_max"):
        print(f"| {k} | {best[k]:.6g} | stage A (exactly determined) | - |")
    print("\ncorrelations (log scale):\n" + "\n".join("  " + " ".join(f"{c:6.2f}" for c in row) for row in corr))
    print("singular values of the weighted Jacobian: " + " ".join(f"{v:.3g}" for v in sv))
    held = [THETA_NAMES[j] for j in range(len(fit.x)) if j not in table or j in boundary]
    print(
        "[uncertainty] table"
        + (f" (conditional on {', '.join(held)}, held)" if held else " (the full covariance)")
        + ": "
        + ", ".join(f"{UNCERTAINTY_NAME[THETA_NAMES[j]]} SE {x:.3g}" for j, x in zip(table, sd_t))
        + "\n  correlations:\n"
        + "\n".join("  " + " ".join(f"{c:6.2f}" for c in row) for row in corr_t)
    )
    if boundary:
        print(
            "on the boundary of the stage-A-feasible region (a forward step of "
            f"{JAC_STEP} leaves it; backward difference, held in the covariance): "
            + ", ".join(THETA_NAMES[j] for j in boundary)
        )
    print(
        "\n| row | target | SE | model (hard thresholds) | model (smoothed, fitted) | weighted residual |\n"
        "| --- | --- | --- | --- | --- | --- |"
    )
    for (k, t, _, d), se, h, sm in zip(ROWS, SE, hard, smooth):
        tr = (lambda v: f"{math.exp(v):.1f} d") if k.startswith("log_") else (lambda v: f"{100 * v:.1f} %")
        print(f"| {d} | {tr(t)} | {se:.3f} | {tr(h)} | {tr(sm)} | {(sm - t) / se:+.2f} |")
    print("\nlocal sensitivity d(row)/d(log parameter), weighted by 1/SE:")
    print("  " + " ".join(f"{k:>10}" for k in THETA_NAMES))
    for (k, *_), row in zip(ROWS, J):
        print(f"  {k:>14} " + " ".join(f"{v:10.2f}" for v in row))

    if args.write:
        model_file.write_text(
            render_uncertainty(
                render(
                    model_file.read_text(), {k: best[k] for k in THETA_NAMES + ["k_on", "k_off", "k_tr", "placebo_max"]}
                ),
                se=sd_t,
                corr=corr_t,
            )
        )
        print(f"\nwrote {model_file}")
        return 0
    current = file_values(model_file.read_text())
    bad = [k for k in THETA_NAMES + ["k_on", "k_off", "k_tr"] if abs(best[k] - current[k]) > 1e-3 * abs(current[k])]
    print("\nrefit reproduces the file (rtol 1e-3)" if not bad else f"\nrefit DIFFERS from the file: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
