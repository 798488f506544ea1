"""ks.population(..., uncertainty=K): prediction bands from the symptom model's [uncertainty] table
(docs/calibration.md section 2; docs/populations.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ketasim as ks

# Small and fast: 2 sessions, 40 patients, 2-day follow-up, 15-min grid.
OPTS = dict(follow_up="2 d", dt="15 min", max_sessions=2)


def _run(k, seed=5, **extra):
    return ks.population(
        None, "iv-3x-weekly", n=40, seed=seed, uncertainty=k, threads=2, course_options={**OPTS, **extra}
    ).rates


def test_zero_covariance_gives_zero_band_width(tmp_path):
    text = Path(ks.load_pd("madrs").attrs["source_path"]).read_text()
    zero = tmp_path / "madrs_zero_se.toml"
    new = text.replace("se = [1.64, 2.07, 2.04, 0.075]", "se = [0.0, 0.0, 0.0, 0.0]")
    assert new != text
    zero.write_text(new)
    r = _run(4, symptom_model=str(zero))
    for what in ("response", "remission"):
        # Same patients, same parameter values: every replicate is the point run exactly.
        np.testing.assert_array_equal(r[what + "_plo"], r[what])
        np.testing.assert_array_equal(r[what + "_phi"], r[what])


def test_file_covariance_band_contains_the_point_and_has_width():
    r = _run(30)
    for what in ("response", "remission"):
        assert (r[what + "_plo"] <= r[what]).all() and (r[what] <= r[what + "_phi"]).all(), r
        assert ((r[what + "_phi"] - r[what + "_plo"]) > 0).all(), r


def test_same_seed_same_band_other_seed_other_draws():
    a, b = _run(5), _run(5)
    assert a.equals(b)
    c = _run(5, seed=6)
    assert not a[["response_plo", "response_phi"]].equals(c[["response_plo", "response_phi"]])


def test_uncertainty_errors(tmp_path):
    assert "response_plo" not in _run(0).columns
    with pytest.raises(ValueError, match="uncertainty: -1 must be >= 0"):
        _run(-1)
    text = Path(ks.load_pd("madrs").attrs["source_path"]).read_text()
    plain = tmp_path / "no_table.toml"
    plain.write_text(text[: text.index("# ---- uncertainty")])
    with pytest.raises(ValueError, match="no_table.toml has no \\[uncertainty\\] table"):
        _run(2, symptom_model=str(plain))
    stale = tmp_path / "stale.toml"
    stale.write_text(text.replace("estimate = [0.025015", "estimate = [0.03"))
    with pytest.raises(ValueError, match=r"stale.toml:\d+: uncertainty.estimate\[0\] \(k_cons\) = 0.03: differs"):
        _run(2, symptom_model=str(stale))
    with pytest.raises(TypeError, match="uncertainty applies to a schedule"):
        ks.population("ketamine_iv_clements", ks.Regimen.iv_bolus("35 mg"), n=2, uncertainty=2)
