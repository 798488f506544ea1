"""The Python API: same semantics as the C++ library (and so the CLI)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import ketasim as ks
from ketasim import _core


def test_version_and_exports():
    assert ks.__version__ == ks.version() == _core.__version__
    for name in ks.__all__:
        assert hasattr(ks, name), name


def test_library_lists_the_four_models():
    df = ks.list_models()
    assert {"ketamine_iv_clements", "esketamine_nasal", "ketamine_intranasal_racemic"} <= set(df["name"])
    assert df.columns.tolist()[:3] == ["name", "title", "route"]


def test_load_model_by_name_and_path(esketamine):
    assert esketamine.name == "esketamine_nasal"
    again = ks.load_model(esketamine.source_path)
    assert again.name == esketamine.name
    assert esketamine.parameter("ka_n").unit == "1/h"
    assert "intranasal" in esketamine.route_names()
    assert ks.parameters_frame(esketamine).loc["ka_n", "value"] == pytest.approx(2.93)


def test_issue_example(esketamine, nasal56):
    r = ks.simulate(esketamine, nasal56, t_end="24 h", dt="1 min")
    assert r.time.shape == (24 * 60 + 1,)
    assert r.time[-1] == pytest.approx(24.0)
    assert r.outputs == ["C_plasma", "C_metabolite", "Ce"]
    assert r.units["C_plasma"] == "ng/mL"
    assert r.dose_total_mg == pytest.approx(56.0)
    df = r.to_pandas()
    assert df.columns.tolist() == ["time", "output", "value", "unit"]
    assert len(df) == 3 * r.time.size
    c = df[df.output == "C_plasma"]["value"].to_numpy()
    np.testing.assert_array_equal(c, r["C_plasma"])
    wide = r.to_pandas(wide=True)
    np.testing.assert_array_equal(wide["Ce"].to_numpy(), r["Ce"])
    m = ks.metrics(r)
    assert set(m) == set(r.outputs)
    assert m["C_plasma"]["cmax"] == pytest.approx(r["C_plasma"].max())
    frame = ks.metrics(r, as_frame=True)
    assert frame.loc["Ce", "tmax"] == m["Ce"]["tmax"]
    # One spelling: the keys are the registry's names (ks.METRICS), in its order.
    assert list(m["Ce"]) == list(ks.METRICS)


def test_python_equals_core(esketamine, nasal56):
    """The Python layer adds parsing only: the numbers are the C++ library's."""
    r = ks.simulate(esketamine, nasal56, t_end="6 h", dt="6 min", age=70, set={"ka_n": 2.0})
    s = _core.Subject()
    s.age_years, s.parameters = 70.0, {"ka_n": 2.0}
    t = _core.simulate(
        esketamine, _core.Regimen.intranasal(56.0, [0.0]), _core.OutputGrid.uniform(0, 6, 0.1), _core.SimOptions(), s
    )
    np.testing.assert_array_equal(r.values, t.values)
    # The trajectory knows its last dose (5 min: the second device); no need to pass it.
    assert t.last_dose_time == 5 / 60 and list(t.dose_times) == [0.0, 5 / 60]
    mt = _core.compute_metrics(t, "C_plasma", ks._simulate.make_metric_options(last_dose_time=5 / 60))
    assert ks.metrics(r, "C_plasma")["auc_0_t"] == mt.auc_0_t
    assert ks.metrics(r, "C_plasma")["terminal_start"] == mt.terminal_start
    assert _core.compute_metrics(t, "C_plasma").terminal_start == mt.terminal_start


def test_metric_registry():
    assert list(ks.METRICS)[:3] == ["cmax", "tmax", "auc_0_t"]
    assert all(n == n.lower() for n in ks.METRICS)
    assert ks.METRICS["auc_0_inf"].unit == "output unit * h" and ks.METRICS["auc_0_inf"].terminal_fit
    assert ks.METRICS["time_above"].threshold and not ks.METRICS["cmax"].terminal_fit
    with pytest.raises(ValueError, match="metric 'Cmax' is not known.*cmax"):
        ks._simulate.metric_name("Cmax")


def test_units_in_strings_match_numbers(clements):
    a = ks.simulate(clements, ks.Regimen.iv_infusion("0.5 mg/kg", duration="40 min"), t_end="1 d", dt="5 min")
    b = ks.simulate(clements, ks.Regimen.iv_infusion("0.5 mg/kg", duration="40 min"), t_end="24 h", dt="5 min")
    np.testing.assert_array_equal(a.values, b.values)
    assert a.dose_total_mg == pytest.approx(35.0)


def test_regimens():
    r = ks.Regimen.intranasal("84 mg")
    assert [e.device for e in r.events] == [1, 2, 3]
    assert [round(e.time * 60) for e in r.events] == [0, 5, 10]
    days = ks.Regimen.intranasal("56 mg").on_days("0,2,4")
    assert len(days) == 6 and days.last_time() == pytest.approx(96 + 5 / 60)
    both = ks.Regimen.iv_bolus("10 mg") + ks.Regimen.oral("20 mg", at="2 h")
    assert [e.route for e in both.events] == ["iv", "oral"]
    assert both.total_mg() == 30
    assert ks.Regimen.iv_bolus("0.2 mg/kg").total_mg(weight_kg=50) == pytest.approx(10)
    assert "device 2" in repr(ks.Regimen.intranasal("56 mg"))
    toml = ks.Regimen.from_toml('[[dose]]\ntime = "0 h"\namount = "56 mg"\nroute = "intranasal"\n')
    assert len(toml) >= 1


def test_steady_state_regimen(clements):
    # SS=1 with II: at its time the state is the periodic steady state, computed exactly; it
    # equals the same infusion given 60 times every 12 h (distance left ~ e^{-60 x 12 h / t1/2}).
    one = ks.Regimen.iv_infusion("35 mg", duration="40 min", at="720 h")
    ss = one.at_steady_state("12 h")
    assert [(e.steady_state, e.interval) for e in ss.events] == [(True, 12.0)]
    assert "steady state every 12 h" in repr(ss)
    assert (ss + ks.Regimen.iv_bolus("1 mg", at="730 h")).events[0].steady_state  # copies keep the flag
    repeated = ks.Regimen.iv_infusion("35 mg", duration="40 min", at=[f"{12 * k} h" for k in range(61)])
    a = ks.simulate(clements, ss, times=[f"{t} h" for t in np.linspace(720, 732, 49)])
    b = ks.simulate(clements, repeated, times=[f"{t} h" for t in np.linspace(720, 732, 49)])
    np.testing.assert_allclose(a["C_plasma"], b["C_plasma"], rtol=1e-9)
    assert a.dose_total_mg == pytest.approx(35.0)
    with pytest.raises(ValueError, match="interval"):
        one.at_steady_state("0 h")
    with pytest.raises(ValueError, match="longer than the steady-state interval"):
        one.at_steady_state("30 min")


def test_ode_solver_agrees_with_exact(esketamine, nasal56):
    a = ks.simulate(esketamine, nasal56, t_end="12 h", dt="10 min")
    b = ks.simulate(esketamine, nasal56, t_end="12 h", dt="10 min", solver="ode", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b["C_plasma"], a["C_plasma"], rtol=1e-6, atol=1e-9)


def test_metrics_threshold_and_at_times(clements):
    r = ks.simulate(clements, ks.Regimen.iv_infusion("0.5 mg/kg", "40 min"), t_end="24 h", dt="1 min")
    m = ks.metrics(r, "C_plasma", threshold=100, at_times=["40 min", "2 h"])
    assert 0 < m["time_to_threshold"] < 40 / 60
    assert m["time_above"] > 0
    assert m["c_at_0.666667h"] == pytest.approx(m["cmax"])
    assert math.isnan(ks.metrics(r, "C_plasma")["time_above"])


def test_explicit_times_and_amounts(esketamine, nasal56):
    r = ks.simulate(esketamine, nasal56, times=[0, "30 min", "1 h", "2 h"], output_amounts=True)
    np.testing.assert_allclose(r.time, [0, 0.5, 1, 2])
    assert any(n.startswith("A_") for n in r.outputs)


def test_result_is_a_dataframe_friendly_object(esketamine, nasal56):
    r = ks.simulate(esketamine, nasal56, t_end="2 h", dt="30 min")
    assert isinstance(r.to_pandas(), pd.DataFrame)
    assert "C_plasma" in r and "nothing" not in r
    assert "esketamine_nasal" in repr(r)


def test_a_covariate_the_model_does_not_use_is_an_error(esketamine, nasal56, clements):
    """Regression (issue 8): weight on esketamine_nasal was silently ignored."""
    with pytest.raises(
        ValueError,
        match=r"simulate: model 'esketamine_nasal' does not use covariate 'weight' "
        r"\(it uses: age, asian, japanese\)",
    ):
        ks.simulate(esketamine, nasal56, weight=80)
    with pytest.raises(ValueError, match="sweep: model 'esketamine_nasal' does not use covariate 'weight'"):
        ks.sweep(esketamine, nasal56, {"weight": [60, 80]})
    # Weight is used by per-kg parameters (clements) and by mg/kg doses on any model.
    ks.simulate(clements, ks.Regimen.iv_infusion("0.5 mg/kg", "40 min"), weight=80)
    ks.simulate(esketamine, ks.Regimen.iv_infusion("0.2 mg/kg", "40 min"), weight=80)
