"""ks.population(..., uncertainty=K): prediction bands from the symptom model's [uncertainty] table
(docs/calibration.md section 2; docs/populations.md)."""

from __future__ import annotations

import re
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
    k = len(ks._core.load_library_pd("madrs").uncertainty_names)
    new, n = re.subn(r"(?m)^se = \[[^\]]*\]", "se = [" + ", ".join(["0.0"] * k) + "]", text)
    assert n == 1
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
    stale.write_text(re.sub(r"(?m)^estimate = \[[^,]*,", "estimate = [0.03,", text))
    with pytest.raises(ValueError, match=r"stale.toml:\d+: uncertainty.estimate\[0\] \(k_cons\) = 0.03: differs"):
        _run(2, symptom_model=str(stale))
    with pytest.raises(TypeError, match="uncertainty applies to a schedule"):
        ks.population("ketamine_iv_clements", ks.Regimen.iv_bolus("35 mg"), n=2, uncertainty=2)


def test_bands_are_the_replicate_loop_bit_for_bit():
    """The library's course_rate_bands equals the loop ks.population ran in Python before it moved
    into C++ (replicate k = a course population on draw_pd_uncertainty(set, seed, k); 2.5/97.5 %
    percentiles of each session's rates), exactly."""
    seed, k = 5, 4
    r = _run(k, seed=seed)
    from ketasim._models import _dir

    core = ks.schedules.named("iv-3x-weekly").to_core()
    acute = ks._core.load_library_pd("acute_effects", _dir(None))
    symptoms = ks._core.load_library_pd("madrs", _dir(None))
    spec = ks._core.PopulationSpec()
    spec.n, spec.seed = 40, seed
    o = ks._core.CoursePopulationOptions()
    co = ks._core.CourseOptions()
    co.follow_up_h, co.dt_h = 48.0, 0.25
    o.course, o.max_sessions, o.threads = co, 2, 2
    reps = [
        ks._core.run_course_population(core, acute, ks._core.draw_pd_uncertainty(symptoms, seed, j), spec, o)["summary"]
        for j in range(k)
    ]
    for what in ("response", "remission"):
        for s in range(2):
            rates = [rep[what][s][2] for rep in reps]
            assert r[what + "_plo"].iloc[s] == ks._core.percentile(rates, 2.5)
            assert r[what + "_phi"].iloc[s] == ks._core.percentile(rates, 97.5)


def test_cli_prints_the_python_bands(ketasim_cli):
    import subprocess

    args = ["population", "--schedule", "iv-days", "--days", "0,2", "--n", "20", "--seed", "3"]
    args += ["--follow-up-days", "1", "--dt", "15 min", "--threads", "2", "--quiet", "--uncertainty", "4"]
    out = subprocess.run([ketasim_cli, *args], capture_output=True, text=True, check=True).stdout
    r = ks.population(
        None,
        ks.schedules.iv_days([0, 2]),
        n=20,
        seed=3,
        uncertainty=4,
        threads=2,
        course_options=dict(follow_up="1 d", dt="15 min"),
    ).rates

    def fmt(v):  # the CLI's fmt_num for 0.001 <= |v| < 1e5: fixed, 2/1/0 decimals below 10/100/above
        v *= 100
        return "0.00" if v == 0 else f"{v:.{0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2}f}"

    rows = [line.split("|") for line in out.splitlines() if line.strip().startswith(("1 ", "2 ", "| 1", "| 2"))]
    assert len(rows) >= 2, out
    for s in (1, 2):
        want_resp = f"{fmt(r['response_plo'][s])}-{fmt(r['response_phi'][s])}"
        want_rem = f"{fmt(r['remission_plo'][s])}-{fmt(r['remission_phi'][s])}"
        line = next(ln for ln in out.splitlines() if ln.split() and ln.split()[0] == str(s))
        assert want_resp in line and want_rem in line, (line, want_resp, want_rem)
