"""Virtual populations from Python: reproducibility, covariates, tables, bands, errors, CLI agreement."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

import ketasim as ks

WEIGHT = {"weight": {"distribution": "normal", "mean": "80 kg", "sd": "15 kg", "lower": "40 kg", "upper": "150 kg"}}


def test_same_seed_same_population_whatever_threads_and_chunk(esketamine, nasal56):
    runs = [
        ks.population(esketamine, nasal56, n=30, seed=7, threads=t, chunk=c, t_end="24 h")
        for t, c in ((1, 16), (2, 1), (2, 7))
    ]
    first = runs[0].frame
    for r in runs[1:]:
        pd.testing.assert_frame_equal(first, r.frame, check_exact=True)
    other = ks.population(esketamine, nasal56, n=30, seed=8, t_end="24 h").frame
    assert not np.array_equal(first["C_plasma.cmax"], other["C_plasma.cmax"])


def test_typical_subjects_equal_the_single_simulation(esketamine, nasal56):
    pop = ks.population(esketamine, nasal56, n=3, variability=False, outputs="C_plasma", t_end="24 h", dt="5 min")
    one = ks.simulate(esketamine, nasal56, t_end="24 h", dt="5 min", outputs="C_plasma")
    # Cmax is the largest value on the output grid.
    np.testing.assert_array_equal(pop.frame["C_plasma.cmax"], np.full(3, one["C_plasma"].max()))


def test_units_and_columns(esketamine, nasal56):
    f = ks.population(esketamine, nasal56, n=5, seed=1, outputs="C_plasma").frame
    assert f.index.name == "subject"
    assert f.attrs["units"]["C_plasma.cmax"] == "ng/mL"
    assert f.attrs["units"]["C_plasma.auc_0_t"] == "ng/mL*h"
    assert f.attrs["units"]["Vc"] == "L"
    assert {"age", "asian", "japanese", "ka_n", "FRn"} <= set(f.columns)


def test_covariates_drawn_within_bounds_and_unused_covariate_is_an_error(clements, esketamine, nasal56):
    iv = ks.Regimen.iv_infusion("0.5 mg/kg", "40 min", at=0)
    pop = ks.population(clements, iv, n=400, seed=2, covariates=WEIGHT, outputs="C_plasma")
    w = pop.frame["weight"]
    assert w.between(40, 150).all()
    assert abs(w.mean() - 80) < 4 * 15 / np.sqrt(400)
    with pytest.raises(ValueError, match=r"does not use covariate 'weight' \(it uses: age, asian, japanese\)"):
        ks.population(esketamine, nasal56, n=3, covariates=WEIGHT)
    with pytest.raises(ValueError, match="needs its unit, kg"):
        ks.population(clements, iv, n=3, covariates={"weight": {"distribution": "fixed", "value": 80}})


def test_asian_flag_lowers_clearance(esketamine, nasal56):
    pop = ks.population(
        esketamine,
        nasal56,
        n=200,
        seed=3,
        variability=False,
        covariates={"asian": {"distribution": "bernoulli", "p": 0.5}},
    )
    f = pop.frame
    assert set(np.unique(f["asian"])) == {0.0, 1.0}
    np.testing.assert_allclose(f.loc[f.asian == 1, "kel"], 1.11 * 0.36, rtol=1e-14)
    assert f.loc[f.asian == 1, "C_plasma.auc_0_t"].min() > f.loc[f.asian == 0, "C_plasma.auc_0_t"].max()


def test_table_of_subjects(clements):
    iv = ks.Regimen.iv_infusion("0.5 mg/kg", "40 min", at=0)
    table = pd.DataFrame({"ID": [10, 11], "WT[kg]": [60.0, 90.0], "k10[1/min]": [0.0109, 0.0218]})
    pop = ks.population(clements, iv, table=table, variability=False, outputs="C_plasma", t_end="12 h")
    f = pop.frame
    np.testing.assert_array_equal(f["weight"], [60.0, 90.0])
    np.testing.assert_allclose(f["k10"], [0.0109 * 60, 0.0218 * 60], rtol=1e-14)
    for i, (w, k10) in enumerate([(60.0, 0.0109), (90.0, 0.0218)]):
        one = ks.simulate(clements, iv, weight=w, set={"k10": k10}, t_end="12 h", dt="5 min", outputs="C_plasma")
        assert f["C_plasma.cmax"].iloc[i] == pytest.approx(one["C_plasma"].max(), rel=1e-12)
    with pytest.raises(ValueError, match=r"write the header as k10\[1/min\]"):
        ks.population(clements, iv, table=pd.DataFrame({"k10[1/h]": [1.0]}))


def test_bands_are_percentiles_of_the_trajectories(esketamine, nasal56):
    pop = ks.population(esketamine, nasal56, n=200, seed=4, bands=True, outputs="C_plasma", t_end="12 h", dt="10 min")
    b = pop.bands("C_plasma")
    assert list(b.columns) == ["P5", "P50", "P95"]
    traj = pop.trajectories[:, 0, :]
    np.testing.assert_array_equal(b["P50"].to_numpy(), np.percentile(traj, 50, axis=0))
    assert (b["P5"] <= b["P50"]).all() and (b["P50"] <= b["P95"]).all()
    ds = pop.to_xarray()
    assert ds["C_plasma_band"].dims == ("percentile", "time")
    assert ds["C_plasma.cmax"].attrs["units"] == "ng/mL"


def test_residual_error_gives_noisy_observations_with_the_stated_log_sd(esketamine, nasal56):
    clean = ks.population(esketamine, nasal56, n=100, seed=5, bands=True, outputs="C_plasma", t_end="12 h")
    noisy = ks.population(esketamine, nasal56, n=100, seed=5, residual_error=True, outputs="C_plasma", t_end="12 h")
    a, b = clean.trajectories[:, 0, 1:], noisy.trajectories[:, 0, 1:]  # t = 0 is 0 in both
    r = np.log(b / a).ravel()
    n = r.size
    # exp(eps) with eps ~ N(0, 0.276^2): the log ratio has SD 0.276 (4 standard errors).
    assert abs(r.std(ddof=1) - 0.276) < 4 * 0.276 / np.sqrt(2 * (n - 1))
    assert abs(r.mean()) < 4 * 0.276 / np.sqrt(n)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"n": 0}, ValueError, "n: 0 must be >= 1"),
        ({"n": True}, TypeError, "n: expected an integer"),
        ({"n": 3, "threads": "2"}, TypeError, "threads: expected an integer"),
        ({"n": 3, "seed": -1}, ValueError, "seed: -1 must be >= 0"),
        ({"n": 3, "seed": 2**63}, ValueError, r"seed: .* must be in \[0, 2\^63 - 1\]"),
        ({"n": 3, "covariates": {"weight": 80}}, TypeError, "expected a mapping of fields"),
        ({}, ValueError, "give n"),
    ],
)
def test_bad_arguments_name_the_argument(esketamine, nasal56, kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        ks.population(esketamine, nasal56, **kwargs)


def test_cli_population_writes_the_same_numbers(esketamine, tmp_path, ketasim_cli):
    reg = tmp_path / "esk56.toml"
    reg.write_text('[[dose]]\nroute = "intranasal"\namount = "56 mg"\ndevice_mg = 28\ndays = [0]\n')
    out = tmp_path / "pop.csv"
    subprocess.run(
        [
            ketasim_cli,
            "population",
            "esketamine_nasal",
            "--regimen",
            str(reg),
            "--n",
            "25",
            "--seed",
            "9",
            "--t-end",
            "24 h",
            "--dt",
            "5 min",
            "--threads",
            "2",
            "--quiet",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    cli = pd.read_csv(out)
    py = ks.population(esketamine, str(reg), n=25, seed=9, t_end="24 h", dt="5 min").frame
    assert cli.columns[0] == "subject"
    for name in ("C_plasma.cmax", "C_plasma.auc_0_t", "ka_n"):
        col = next(c for c in cli.columns if c.startswith(name + "["))
        np.testing.assert_allclose(cli[col].to_numpy(), py[name].to_numpy(), rtol=1e-15)


# ---- treatment courses in a population ----------------------------------------------------------


@pytest.fixture(scope="module")
def iv6():
    return ks.population(
        None, "iv-3x-weekly", n=60, seed=11, threads=2, course_options={"follow_up": "14 d", "dt": "5 min"}
    )


def test_course_population_rates_match_the_patient_rows(iv6):
    assert isinstance(iv6, ks.CoursePopulationResult)
    f, r = iv6.frame, iv6.rates
    assert list(r.index) == [1, 2, 3, 4, 5, 6]
    for k in (1, 6):
        assert r.loc[k, "response"] == pytest.approx(f[f"response.{k}"].mean(), abs=1e-15)
        assert r.loc[k, "response_lo"] <= r.loc[k, "response"] <= r.loc[k, "response_hi"]
    # Sessions to first response: the Kaplan-Meier median equals the plain median when every
    # patient responded (no censoring), else it is at least the plain median of the responders.
    first = f["sessions_to_response"]
    if first.notna().all():
        assert iv6.sessions_to_response["median"] == np.sort(first)[(len(first) - 1) // 2]
    assert 0 <= iv6.still_responding("28 d") <= 1
    assert "iv-3x-weekly" in repr(iv6)


def test_course_population_is_thread_invariant_and_stops_at_remission():
    kw = dict(n=8, seed=2, course_options={"follow_up": "7 d", "dt": "5 min"})
    a = ks.population(None, "iv-3x-weekly", threads=1, **kw).frame
    b = ks.population(None, "iv-3x-weekly", threads=2, chunk=1, **kw).frame
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    s = ks.population(
        None, "iv-3x-weekly", n=8, seed=2, course_options={"follow_up": "7 d", "dt": "5 min", "stop_at_remission": True}
    ).frame
    rem = a["sessions_to_remission"]
    np.testing.assert_array_equal(s["sessions_given"], np.where(rem.notna(), rem, 6))


def test_course_population_metrics_only_equals_the_full_path():
    # course_options metrics_only (the CLI's --metrics-only): the same columns as the full path,
    # within the tolerances of tests/cpp/course_metrics_test.cpp (kCourseMetrics*: MADRS 1e-5
    # points, peaks 1e-7 relative, times within one grid step, decisions equal).
    kw = dict(n=6, seed=5, threads=2, course_options={"follow_up": "10 d", "dt": "1 min"})
    full = ks.population(None, ks.schedules.esketamine_induction(weeks=2), **kw).frame
    kw["course_options"] = dict(kw["course_options"], metrics_only=True)
    fast = ks.population(None, ks.schedules.esketamine_induction(weeks=2), **kw).frame
    assert list(full.columns) == list(fast.columns)
    dt_h = 1.0 / 60.0
    for c in full.columns:
        a, b = full[c].to_numpy(dtype=float), fast[c].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=c)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if c.startswith("madrs") or c == "baseline_madrs":
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-5, err_msg=c)
        elif c.startswith("peak_"):
            np.testing.assert_allclose(b, a, rtol=1e-7, atol=0, err_msg=c)
        elif c.startswith("discharge.") or c == "relapse_h":
            np.testing.assert_allclose(b, a, rtol=0, atol=dt_h * (1 + 1e-9), err_msg=c)
        else:
            np.testing.assert_array_equal(b, a, err_msg=c)
    with pytest.raises(TypeError, match="metrics_only: expected True or False"):
        ks.population(None, "iv-3x-weekly", n=2, course_options={"metrics_only": 1})


def test_course_population_errors(esketamine):
    with pytest.raises(TypeError, match="course_options apply to a schedule"):
        ks.population(esketamine, ks.Regimen.intranasal("56 mg", devices=2), n=2, course_options={"dt": "5 min"})
    with pytest.raises(TypeError, match="stop_at_remission: expected True or False"):
        ks.population(None, "iv-3x-weekly", n=2, course_options={"stop_at_remission": 1})
    with pytest.raises(ValueError, match="does not use covariate 'weight'"):
        ks.population(
            None, "esketamine-induction", n=2, covariates={"weight": {"distribution": "fixed", "value": "80 kg"}}
        )


def test_plots(iv6, esketamine, nasal56):
    import matplotlib

    matplotlib.use("Agg")
    pop = ks.population(esketamine, nasal56, n=50, seed=1, bands=True, outputs="C_plasma", t_end="12 h")
    ax = ks.plot.bands(pop, "C_plasma")
    assert ax.get_ylabel() == "Plasma concentration (ng/mL)"  # words and the unit, not the code name
    ax = ks.plot.bands(pop, "C_plasma", regimen=nasal56)  # the doses marked: two devices, 5 min apart
    devices = [x for ln in ax.get_lines() if ln.get_marker() == "v" for x in ln.get_xdata()]
    assert devices == pytest.approx([0.0, 5.0 / 60.0])
    ax2 = ks.plot.population_rates({"IV 3x weekly": iv6})
    assert ax2.get_ylim() == (0, 100)


# ---- datasets: one subject per ID (issue 8) -------------------------------------------------------

DATASET = pd.DataFrame(
    {
        "ID": [1, 1, 1, 2, 2, 2, 2],
        "TIME": [0, 0.5, 4, 1, 1.5, 3, 12],
        "AMT": [10, 0, 0, 20, 0, 0, 0],
        "EVID": [1, 0, 0, 1, 0, 0, 0],
        "WT[kg]": [60, 60, 60, 90, 90, 90, 90],
    }
)


def test_dataset_each_id_its_own_subject_times_and_covariates(tmp_path):
    res = ks.population("ketamine_iv_clements", data=DATASET, variability=False, outputs="C_plasma")
    f = res.frame
    assert list(f["ID"]) == [1, 2] and list(f["weight"]) == [60.0, 90.0]
    obs = res.observations
    assert list(obs.columns) == ["ID", "time", "C_plasma"]
    assert list(obs["ID"]) == [1, 1, 2, 2, 2] and list(obs["time"]) == [0.5, 4.0, 1.5, 3.0, 12.0]
    assert obs.attrs["units"]["C_plasma"] == "ng/mL"
    # Each ID equals a single simulation of that subject at its own times.
    for i, (mg, w, start, times) in enumerate([(10, 60, 0, [0.5, 4]), (20, 90, 1, [1.5, 3, 12])]):
        one = ks.simulate(
            "ketamine_iv_clements",
            ks.Regimen.iv_bolus(f"{mg} mg", at=f"{start} h"),
            times=ks.Q(times, "h"),
            weight=w,
            outputs="C_plasma",
        )
        got = obs[obs["ID"] == i + 1]["C_plasma"].to_numpy()
        assert np.array_equal(got, one["C_plasma"])
        assert f["C_plasma.cmax"].iloc[i] == one["C_plasma"].max()
    # A CSV file gives the same, through the same C++ reader.
    path = tmp_path / "data.csv"
    DATASET.to_csv(path, index=False)
    again = ks.population("ketamine_iv_clements", data=path, variability=False, outputs="C_plasma")
    pd.testing.assert_frame_equal(again.observations, obs)
    # Random effects are drawn per ID from the seed, reproducibly.
    a = ks.population("ketamine_iv_clements", data=DATASET, seed=3).frame
    b = ks.population("ketamine_iv_clements", data=DATASET, seed=3, threads=2, chunk=1).frame
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    with pytest.raises(ValueError, match="bands: the subjects of a dataset have their own times"):
        res.bands("C_plasma")


def test_dataset_errors_name_the_id_and_the_covariates():
    no_dose = DATASET.copy()
    no_dose.loc[no_dose["ID"] == 2, "AMT"] = 0
    no_dose.loc[no_dose["ID"] == 2, "EVID"] = 0
    with pytest.raises(ValueError, match=r"data:5: ID: value '2' has no dose"):
        ks.population("ketamine_iv_clements", data=no_dose)
    aged = DATASET.assign(**{"AGE[years]": 40})
    with pytest.raises(
        ValueError,
        match=r"column 'age': not a covariate model 'ketamine_iv_clements' uses "
        r"\(covariates: weight\)",
    ):
        ks.population("ketamine_iv_clements", data=aged)
    with pytest.raises(ValueError, match=r"column HT: value 'HT' is not a known column"):
        ks.population("ketamine_iv_clements", data=DATASET.assign(HT=170))
    with pytest.raises(TypeError, match="data= gives every subject's doses, times and covariates; not with regimen, n"):
        ks.population("ketamine_iv_clements", ks.Regimen.iv_bolus("1 mg"), data=DATASET, n=3)
    with pytest.raises(TypeError, match="data: expected a pandas DataFrame or a CSV path"):
        ks.population("ketamine_iv_clements", data=[1, 2])
