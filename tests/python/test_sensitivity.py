"""Designs and Sobol' sensitivity indices: Sobol' points against SciPy, Latin hypercube strata,
``ks.sensitivity`` against SALib's estimators on the same sample (a small PK case), bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ketasim as ks
from ketasim import _core

# Independent implementations of the same estimator on the same numbers (SALib standardizes the
# outputs first): they differ by rounding only.
RTOL_SAME_ESTIMATOR = 1e-9


def test_sobol_points_equal_scipy_unscrambled():
    from scipy.stats import qmc  # requirements-dev.txt

    # SciPy ships the same Joe-Kuo new-joe-kuo-6.21201 direction numbers: every point of the
    # first 2^12 in all 64 embedded dimensions is the same dyadic rational.
    ref = qmc.Sobol(64, scramble=False).random(4096)
    got = _core.sobol_points(64, 4096)
    np.testing.assert_array_equal(got, ref)


def test_latin_hypercube_strata_and_reproducibility():
    n = 500
    df = ks.design({"a": "uniform(0, 1)", "b": "uniform(0, 1)", "c": "uniform(0, 1)"}, n, kind="lhs", seed=4)
    assert list(df.columns) == ["a", "b", "c"] and len(df) == n
    for col in df:
        strata = np.floor(df[col].to_numpy() * n).astype(int)
        assert sorted(strata) == list(range(n)), col  # each stratum hit exactly once
    again = ks.design({"a": "uniform(0, 1)", "b": "uniform(0, 1)", "c": "uniform(0, 1)"}, n, kind="lhs", seed=4)
    pd.testing.assert_frame_equal(df, again, check_exact=True)


def test_design_distributions_and_units(esketamine):
    df = ks.design(
        {"Qh": "lognormal(median=2.5 L/min, cv=30%)", "age": "normal(50 years, 15 years, lower=20 years)"},
        1024,
        kind="sobol",
        model=esketamine,
    )
    # L/min converted to the file unit L/h: median 150 L/h.
    assert np.median(df["Qh"]) == pytest.approx(150.0, rel=0.01)
    assert df["age"].min() >= 20.0


def _salib_layout(samples):
    """SALib's row order for calc_second_order=False: per base row A, A_B^1..A_B^d, B."""
    y = np.column_stack([samples["yA"][:, 0], samples["yAB"], samples["yB"][:, 0]])
    return y.ravel()


def test_pk_sensitivity_matches_salib(esketamine, nasal56):
    # SALib is a test dependency (requirements-dev.txt): missing, this test fails rather than skips.
    from SALib.analyze import sobol as salib_sobol
    from SALib.sample import sobol as salib_sample

    factors = {"ka_n": "uniform(1, 5)", "Qh": "uniform(100, 200)", "FRn": "uniform(0.3, 0.7)"}
    df, s = ks.sensitivity(
        esketamine,
        nasal56,
        factors,
        metric="cmax",
        n=256,
        seed=1,
        bootstrap=200,
        t_end="12 h",
        dt="5 min",
        return_samples=True,
    )
    assert list(df.index) == ["ka_n", "Qh", "FRn"]
    assert list(df.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    assert df.attrs["evaluations"] == 256 * 5
    # The sample: SALib's Saltelli sample (unscrambled Sobol', first point skipped) is ours.
    problem = {"num_vars": 3, "names": list(factors), "bounds": [[1, 5], [100, 200], [0.3, 0.7]]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns that skip_values=1 is not a power of 2
        x = salib_sample.sample(problem, 256, calc_second_order=False, scramble=False, skip_values=1)
    x = x.reshape(256, 5, 3)
    np.testing.assert_allclose(x[:, 0, :], s["A"], rtol=1e-15)
    np.testing.assert_allclose(x[:, 4, :], s["B"], rtol=1e-15)
    # The estimators: SALib's S1 (Saltelli 2010) and ST (Jansen) on our outputs.
    res = salib_sobol.analyze(problem, _salib_layout(s), calc_second_order=False, num_resamples=200, seed=1)
    np.testing.assert_allclose(df["S1"], res["S1"], rtol=RTOL_SAME_ESTIMATOR, atol=1e-12)
    np.testing.assert_allclose(df["ST"], res["ST"], rtol=RTOL_SAME_ESTIMATOR, atol=1e-12)
    # Intervals: different random resamples, same method (z * sd of 200 bootstrap estimates): the
    # half-widths agree to the bootstrap's own sampling error (sd of an sd from 200 draws ~5 %;
    # a factor 1.5 is over 8 of those).
    for col, ref in (("S1_conf", res["S1_conf"]), ("ST_conf", res["ST_conf"])):
        ratio = df[col].to_numpy() / np.asarray(ref)
        assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), (col, ratio)
    # Total effects bound first-order effects (up to the estimators' sampling error).
    assert np.all(df["ST"] >= df["S1"] - df["S1_conf"])


def test_sensitivity_thread_invariance_and_seed(esketamine, nasal56):
    f = {"ka_n": "uniform(1, 5)", "Qh": "lognormal(median=151, cv=0.3)"}
    a = ks.sensitivity(esketamine, nasal56, f, metric="auc_0_t", n=64, seed=3, bootstrap=50, threads=1, t_end="6 h")
    b = ks.sensitivity(esketamine, nasal56, f, metric="auc_0_t", n=64, seed=3, bootstrap=50, threads=2, t_end="6 h")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_sensitivity_bad_input(esketamine, nasal56):
    with pytest.raises(ValueError, match=r"factors\['ka_n'\] ka_n: uniform upper = 1 must be > lower \(5\)"):
        ks.sensitivity(esketamine, nasal56, {"ka_n": "uniform(5, 1)"})
    with pytest.raises(ValueError, match="neither a parameter"):
        ks.sensitivity(esketamine, nasal56, {"nope": "uniform(1, 2)"})
    with pytest.raises(ValueError, match="non-empty mapping"):
        ks.sensitivity(esketamine, nasal56, {})
    with pytest.raises(ValueError, match="needs a threshold"):
        ks.sensitivity(esketamine, nasal56, {"ka_n": "uniform(1, 5)"}, metric="time_above", n=8)
    with pytest.raises(ValueError, match="n: 1 must be >= 2"):
        ks.sensitivity(esketamine, nasal56, {"ka_n": "uniform(1, 5)"}, n=1)
    with pytest.raises(ValueError, match="does not use covariate 'weight'"):
        ks.sensitivity(esketamine, nasal56, {"weight": "uniform(50 kg, 90 kg)"}, n=8)


def test_sweep_grid_is_lazy_billion_point_dry_count(esketamine, nasal56):
    """A 1000 x 1000 x 1000 grid is counted without building it (issue 11: it died out of memory)."""
    import tracemalloc

    params = {"ka_n": np.linspace(1, 5, 1000), "FRn": np.linspace(0.3, 0.6, 1000), "age": np.linspace(20, 80, 1000)}
    tracemalloc.start()
    n = ks.sweep(esketamine, nasal56, params, dry_run=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 10**9
    assert peak < 5_000_000  # bytes: the levels (3 x 1000 numbers) and their lists, not 1e9 rows
    assert ks._sweep.grid_size({"a": [1, 2], "b": [1, 2, 3]}) == 6
