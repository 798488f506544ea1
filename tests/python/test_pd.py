"""Treatment courses from Python: schedules, ks.course(), its tables, errors, and agreement with
the `ketasim course` command line (an independent front end on the same C++ core)."""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ketasim as ks

ROOT = Path(__file__).resolve().parents[2]
REGIMENS = ROOT / "models" / "regimens"
SIX_DAYS = [0, 2, 4, 7, 9, 11]

# The CLI writes its CSV with max_digits10 digits, so numbers round-trip exactly; the only
# difference allowed is the formatting of the CSV reader (none): 1e-12 relative is round-off.
RTOL_CLI = 1e-12


def _cli() -> str | None:
    """The `ketasim` binary: $KETASIM_CLI, else a build directory of this checkout (build/ first,
    as scripts/test.sh builds there), else PATH (last: an installed binary may be older)."""
    candidates = [os.environ.get("KETASIM_CLI"), str(ROOT / "build" / "ketasim")]
    candidates += [str(p) for p in sorted(ROOT.glob("build*/ketasim"))] + [shutil.which("ketasim")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="module")
def six():
    return ks.course(ks.schedules.iv_days(SIX_DAYS))


@pytest.fixture(scope="module")
def esk():
    return ks.course(ks.schedules.esketamine_induction())


# ---- schedules ---------------------------------------------------------------------------------


def test_standard_schedules():
    np.testing.assert_array_equal(ks.schedules.iv(3, 2).session_days, SIX_DAYS)
    np.testing.assert_array_equal(ks.schedules.iv(2, 4).session_days, [0, 3, 7, 10, 14, 17, 21, 24])
    e = ks.schedules.esketamine_induction(8)
    assert e.model == "esketamine_nasal" and len(e) == 12
    assert e.ce_scale == 2.0  # the model file's racemic_equivalent parameter
    # 56 mg = 2 devices on day 0, then 84 mg = 3 devices: 2 + 11 * 3 events.
    assert len(e.regimen) == 2 + 11 * 3
    iv = ks.schedules.iv_days("0,2,4", mg_per_kg=1.0, duration="1 h")
    ev = iv.regimen.events
    assert [x.duration for x in ev] == [1.0] * 3 and all(x.per_kg and x.amount == 1.0 for x in ev)


def test_regimen_files_group_into_the_standard_sessions():
    f = ks.schedules.from_regimen(REGIMENS / "esketamine_induction.toml", "esketamine_nasal")
    np.testing.assert_array_equal(f.session_starts_h, ks.schedules.esketamine_induction().session_starts_h)
    assert f.ce_scale == 2.0
    f2 = ks.schedules.from_regimen(REGIMENS / "iv_2x_weekly_4_weeks.toml")
    np.testing.assert_array_equal(f2.session_starts_h, ks.schedules.iv(2, 4).session_starts_h)
    assert f2.ce_scale == 1.0
    # A window shorter than the 5 min between devices makes every device its own session.
    g = ks.schedules.from_regimen(ks.Regimen.intranasal("84 mg", devices=3), "esketamine_nasal", session_window="1 min")
    assert len(g) == 3


# ---- the course: tables and plausibility ----------------------------------------------------------


def test_tables_columns_and_units(six):
    s = six.sessions
    assert list(s.columns) == list(ks._pd.SESSION_UNITS)
    assert s.attrs["units"]["discharge_min"].startswith("min")
    assert list(s["session"]) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(s["day"], SIX_DAYS)
    assert s["response_24h"].dtype == bool and s["remission_24h"].dtype == bool
    assert list(six.symptoms.columns) == list(ks._pd.SYMPTOM_UNITS)
    assert list(six.acute.columns) == list(ks._pd.ACUTE_UNITS)
    # The curves are on the PK grid, which ends follow_up (28 d) after the last session.
    t = six.symptoms["time_h"].to_numpy()
    assert t[0] == 0.0 and t[-1] == pytest.approx(24.0 * (11 + 28), rel=1e-12)
    np.testing.assert_array_equal(six.pk.time, t)
    assert "Ce" in six.pk.outputs
    assert set(six.clinical) >= {
        "onset_h",
        "response_h",
        "remission_h",
        "response_duration_h",
        "relapse_after_last_h",
        "sessions_to_response",
        "min_madrs",
    }
    assert "6 sessions" in repr(six)


def test_six_iv_sessions_believable(six):
    c, s, m = six.clinical, six.sessions, six.symptoms["madrs"].to_numpy()
    assert c["sessions_to_response"] is not None and c["sessions_to_response"] >= 1
    assert np.all((m >= 0) & (m <= 60))
    baseline = six.symptom_model.baseline
    assert s["madrs_before"].iloc[0] == pytest.approx(baseline, abs=1e-9)  # no effect before dose 1
    assert np.all(s["madrs_24h"] <= s["madrs_before"])  # each session improves
    assert np.all(np.isfinite(s["discharge_min"])) and np.all(s["discharge_min"] > 40)  # after the infusion
    assert c["onset_h"] <= c["response_h"]
    assert c["min_madrs"] <= six.response_level


def test_side_effect_probabilities_per_session_and_course(six):
    s = six.sessions
    cols = ["p_nausea", "p_dizziness", "p_drowsiness", "p_dissociation"]
    assert all(six.sessions.attrs["units"][c] == "1" for c in cols)
    p = s[cols].to_numpy()
    assert np.all((p > 0) & (p < 1))
    # The course incidence is 1 - prod(1 - p_k) over the sessions (the C++ aggregation).
    for c in cols:
        name = c[2:]
        assert six.side_effects[name] == pytest.approx(1 - np.prod(1 - s[c].to_numpy()), rel=1e-12)
    # Calibrated on the 6-session IV course (Rodrigues 2022; docs/calibration.md): the same here.
    assert six.side_effects["drowsiness"] == pytest.approx(0.564, abs=0.005)
    assert six.side_effects["nausea"] == pytest.approx(0.133, abs=0.005)
    # A larger peak exposure, a larger probability.
    hi = ks.course(ks.schedules.iv_days([0], mg_per_kg=1.0), follow_up="1 d").sessions
    assert np.all(hi[cols].to_numpy()[0] > p[0])
    r = ks._core.course_incidence([ks._core.SideEffectRisk()] * 2)
    assert r.nausea == 0.0


def test_esketamine_induction_believable(esk):
    s = esk.sessions
    assert len(s) == 12
    # 56 mg at session 1, 84 mg afterwards: higher peak and longer discharge from session 2.
    assert s["peak_ce_ng_per_mL"].iloc[1] > s["peak_ce_ng_per_mL"].iloc[0]
    assert s["discharge_min"].iloc[1] > s["discharge_min"].iloc[0]
    m = esk.symptoms["madrs"].to_numpy()
    assert np.all((m >= 0) & (m <= 60))


def test_weight_follows_the_covariate_rule():
    # A weight the model cannot use is an error naming the covariates it uses (as in ks.simulate
    # and ks.population); esketamine's doses are in mg and its model has no weight covariate.
    with pytest.raises(ValueError, match="does not use covariate 'weight'"):
        ks.course(ks.schedules.esketamine_induction(1), weight=90)
    # IV mg/kg: the weight is used; the course's peak Ce equals ks.simulate's for that weight.
    heavy = ks.course(ks.schedules.iv_days([0]), weight=90, follow_up="1 d").sessions
    r = ks.simulate("ketamine_iv_clements", ks.Regimen.iv_infusion("0.5 mg/kg", "40 min"), "1 d", "1 min", weight=90)
    assert np.isclose(r.to_pandas(wide=True)["Ce"].to_numpy().max(), heavy["peak_ce_ng_per_mL"].iloc[0], rtol=1e-9)


def test_course_set_overrides_the_pk_model_as_simulate_does():
    # The same override word as ks.simulate: a slower effect site (ke0 halved) peaks later and
    # lower, and the course's effect-site curve equals ks.simulate's with the same override.
    sched = ks.schedules.iv_days([0])
    base = ks.course(sched, follow_up="1 d")
    ke0 = {p.name: p.value for p in ks.load_model("ketamine_iv_clements").parameters}["ke0"]
    slow = ks.course(sched, follow_up="1 d", set={"ke0": ke0 / 2})
    assert slow.sessions["peak_ce_ng_per_mL"].iloc[0] < base.sessions["peak_ce_ng_per_mL"].iloc[0]
    r = ks.simulate(
        "ketamine_iv_clements", ks.Regimen.iv_infusion("0.5 mg/kg", "40 min"), "1 d", "1 min", set={"ke0": ke0 / 2}
    )
    ce = r.to_pandas(wide=True)["Ce"].to_numpy()
    assert np.isclose(ce.max(), slow.sessions["peak_ce_ng_per_mL"].iloc[0], rtol=1e-9)
    with pytest.raises(ValueError, match="nope"):
        ks.course(sched, follow_up="1 d", set={"nope": 1.0})


def test_discharge_time_increases_with_dose():
    mins = [
        ks.course(ks.schedules.iv_days([0], mg_per_kg=d), follow_up="1 d").sessions["discharge_min"].iloc[0]
        for d in (0.25, 0.5, 1.0)
    ]
    assert mins[0] < mins[1] < mins[2], mins


def test_pd_solvers_agree_from_python():
    # The coupled ODE (PK + effect site + symptom states in one dopri5 system) against the default
    # semi-analytic path; the C++ suite checks 1e-6 at rtol 1e-10, here at the default 1e-8.
    a = ks.course(ks.schedules.iv_days([0, 2, 4]), follow_up="3 d")
    b = ks.course(ks.schedules.iv_days([0, 2, 4]), follow_up="3 d", pd_solver="coupled-ode")
    np.testing.assert_allclose(b.symptoms["madrs"], a.symptoms["madrs"], rtol=1e-5, atol=0)
    assert b.clinical["sessions_to_response"] == a.clinical["sessions_to_response"]


def test_diss_tolerance_lowers_later_sessions_only():
    base = ks.course(ks.schedules.iv_days([0, 2, 4]), follow_up="1 d")
    tol = ks.course(ks.schedules.iv_days([0, 2, 4]), follow_up="1 d", diss_tolerance=0.7)
    a, b = base.sessions, tol.sessions
    # factor**0 == 1 for session 1: the same computation.
    assert b["peak_dissociation_pct"].iloc[0] == a["peak_dissociation_pct"].iloc[0]
    assert b["peak_dissociation_pct"].iloc[1] < a["peak_dissociation_pct"].iloc[1]
    assert b["peak_dissociation_pct"].iloc[2] < b["peak_dissociation_pct"].iloc[1]
    # Only dissociation tolerates: blood pressure and symptoms are unchanged.
    np.testing.assert_array_equal(b["peak_sbp_rise_mmHg"], a["peak_sbp_rise_mmHg"])
    np.testing.assert_array_equal(b["madrs_24h"], a["madrs_24h"])


def test_symptom_and_clinical_overrides():
    r = ks.course(ks.schedules.iv_days([0]), follow_up="2 d", symptoms={"baseline": 28}, response_fraction=0.3)
    assert r.sessions["madrs_before"].iloc[0] == pytest.approx(28.0, abs=1e-9)
    assert r.response_level == pytest.approx(28.0 * 0.7, rel=1e-15)


def test_schedule_on_another_model():
    # A schedule run on another PK model uses that model (its own Ce), keeping the sessions.
    clem = ks.course(ks.schedules.iv_days([0]), follow_up="1 d")
    dom = ks.course(ks.schedules.iv_days([0]), follow_up="1 d", model="ketamine_iv_domino")
    assert dom.pk.model.name == "ketamine_iv_domino" and clem.pk.model.name == "ketamine_iv_clements"
    assert dom.sessions["peak_ce_ng_per_mL"].iloc[0] == pytest.approx(dom.pk["Ce"].max(), rel=1e-12)
    assert dom.sessions["peak_ce_ng_per_mL"].iloc[0] != clem.sessions["peak_ce_ng_per_mL"].iloc[0]
    np.testing.assert_array_equal(dom.schedule.session_starts_h, clem.schedule.session_starts_h)
    with pytest.raises(ValueError, match="route 'intranasal'"):
        ks.course("esketamine-induction", model="ketamine_iv_clements")


def test_named_schedules_are_the_cli_names():
    # One list (C++ schedule_registry()), iv-days included; named() = the builders.
    assert ks.schedules.NAMES == ("iv-3x-weekly", "iv-2x-weekly", "iv-days", "esketamine-induction")
    np.testing.assert_array_equal(ks.schedules.named("iv-days", days=SIX_DAYS).session_days, SIX_DAYS)
    np.testing.assert_array_equal(
        ks.schedules.named("iv-2x-weekly").session_starts_h, ks.schedules.iv(2, 4).session_starts_h
    )
    assert len(ks.schedules.named("esketamine-induction", weeks=2)) == 4
    with pytest.raises(ValueError, match=r"weeks = -1: must be in \[1, 52\]"):
        ks.schedules.named("iv-2x-weekly", weeks=-1)
    with pytest.raises(ValueError, match="days is empty"):
        ks.course("iv-days")
    with pytest.raises(ValueError, match="'weekly' is not a schedule.*iv-days"):
        ks.schedules.named("weekly")


def test_iv_schedule_on_the_esketamine_model_uses_its_scale_and_name():
    # Regression: the course carried the IV model's Ce scale (1) and name; now the model's own.
    r = ks.course(ks.schedules.iv_days([0]), model="esketamine_nasal", follow_up="1 d")
    assert r.schedule.model == "esketamine_nasal" and r.pk.model.name == "esketamine_nasal"
    assert r.schedule.ce_scale == 2.0
    assert r.sessions["peak_ce_ng_per_mL"].iloc[0] == pytest.approx(2.0 * r.pk["Ce"].max(), rel=1e-12)


def test_regimen_file_course_equals_schedule(six):
    # The same dose events on the same grid through the same code: equal to the last bit.
    f = ks.course(REGIMENS / "iv_6_sessions.toml")
    for col in ks._pd.SESSION_UNITS:
        np.testing.assert_array_equal(f.sessions[col], six.sessions[col], err_msg=col)


# ---- agreement with the command line ---------------------------------------------------------------


def _read_cli_csv(path: Path) -> dict:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


@pytest.mark.parametrize(
    "args, schedule",
    [
        (["--schedule", "iv-days", "--days", "0,2,4,7,9,11"], lambda: ks.schedules.iv_days(SIX_DAYS)),
        (["--schedule", "esketamine-induction"], lambda: ks.schedules.esketamine_induction()),
        (
            ["--regimen", str(REGIMENS / "iv_2x_weekly_4_weeks.toml"), "--diss-tolerance", "0.8", "--weight", "85"],
            lambda: ks.schedules.from_regimen(REGIMENS / "iv_2x_weekly_4_weeks.toml"),
        ),
    ],
    ids=["iv-6-sessions", "esketamine-induction", "iv-2x-file-tolerance-85kg"],
)
def test_python_course_equals_cli(tmp_path, args, schedule):
    exe = _cli()
    if exe is None:
        pytest.skip("no ketasim CLI binary (set KETASIM_CLI or build into build*/)")
    out = tmp_path / "sessions.csv"
    env = dict(os.environ, KETASIM_MODELS_DIR=ks.models_dir())
    p = subprocess.run([exe, "course", *args, "--out", str(out)], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    cli = _read_cli_csv(out)
    kw = {}
    if "--diss-tolerance" in args:
        kw = {"diss_tolerance": 0.8, "weight": 85}
    py = ks.course(schedule(), **kw).sessions
    assert list(py.columns) == list(cli)  # one session table (C++ session_columns())
    assert len(py) == len(cli["session"])
    for col, want in cli.items():
        got = py[col].to_numpy(float)
        np.testing.assert_allclose(got, want, rtol=RTOL_CLI, atol=0, err_msg=col)


# ---- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ks.course("iv-3x-weekly", diss_tolerance=1.5), r"diss_tolerance: 1\.5 must be in \(0, 1\]"),
        (lambda: ks.course("iv-3x-weekly", diss_tolerance=0), r"diss_tolerance: 0"),
        (lambda: ks.course("iv-3x-weekly", symptoms={"baselin": 28}), r"symptoms: 'baselin' is not a parameter"),
        (lambda: ks.course("iv-3x-weekly", symptoms={"baseline": 75}), r"baseline = 75"),
        (lambda: ks.course("iv-3x-weekly", acute={"diss_ec50": -1}), r"diss_ec50 = -1"),
        (lambda: ks.course("iv-3x-weekly", weight=-70), r"weight: -70"),
        (lambda: ks.course("iv-3x-weekly", follow_up="2 h"), r"follow_up_h = 2"),
        (lambda: ks.course("iv-3x-weekly", dt="1 kg"), r"dt"),
        (lambda: ks.course("iv-3x-weekly", response_fraction=1.5), r"response_fraction"),
        (lambda: ks.schedules.iv(per_week=4), r"per_week = 4: must be 2 or 3"),
        (lambda: ks.schedules.iv(weeks=2.5), r"weeks: 2\.5 must be a whole number"),
        (lambda: ks.schedules.esketamine_induction(weeks=9), r"weeks = 9: must be in \[1, 8\]"),
        (lambda: ks.schedules.iv_days([]), r"days is empty"),
        (lambda: ks.course(REGIMENS / "esketamine_induction.toml"), r"route 'intranasal'.*routes: iv"),
        (
            lambda: ks.schedules.from_regimen(REGIMENS / "iv_6_sessions.toml", session_window="0 h"),
            r"session_window_h = 0: must be in \(0, 24\]",
        ),
        (lambda: ks.load_pd("no_such_pd"), r"no_such_pd"),
        (lambda: ks.course("iv-3x-weekly", pd_solver="rk4"), r"'rk4' is not a PD solver"),
    ],
)
def test_bad_input_raises_value_error_naming_the_field(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_schedule_type_error():
    with pytest.raises(TypeError, match="schedule"):
        ks.course(42)


# ---- PD parameter sets and plotting -------------------------------------------------------------------


def test_load_pd_frames():
    m = ks.load_pd("madrs")
    assert {"value", "unit", "description", "source", "calibrated"} <= set(m.columns)
    assert m.loc["baseline", "unit"] and m["calibrated"].dtype == bool
    # Calibrated parameters say what they were calibrated to.
    assert all(src.startswith("calibrated:") for src in m.loc[m["calibrated"], "source"])
    a = ks.load_pd("acute_effects")
    assert "diss_tolerance_per_session" in a.index
    assert a.attrs["name"] == "acute_effects" and a.attrs["source_path"].endswith("acute_effects.toml")
    # The course uses the file's values.
    r = ks.course(ks.schedules.iv_days([0]), follow_up="1 d")
    assert r.symptom_model.baseline == m.loc["baseline", "value"]
    assert r.acute_model.diss_ec50 == a.loc["diss_ec50", "value"]


def test_plot_course(six, esk):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    axes = ks.plot.course({"IV 3x weekly": six, "esketamine": esk}, days=60)
    assert len(axes) == 2
    assert len(axes[0].get_lines()) >= 3  # control + two courses (+ thresholds)
    assert "MADRS" in axes[0].get_ylabel()
    plt.close("all")
    assert math.isfinite(six.clinical["min_madrs"])
