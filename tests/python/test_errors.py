"""Errors are Python exceptions carrying the C++ message: ValueError for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import ketasim as ks


def test_unknown_route(esketamine):
    with pytest.raises(ValueError, match=r"unknown route 'rectal' \(this model has: intranasal, iv, oral\)"):
        ks.simulate(esketamine, ks.Regimen.dose("10 mg", "rectal"))


def test_negative_dose_is_value_error_with_cpp_message():
    with pytest.raises(ValueError, match=r"iv_bolus: dose: '-5 mg' must be > 0") as e:
        ks.Regimen.iv_bolus("-5 mg")
    assert isinstance(e.value, ks.InputError)
    # The C++ validator's message when an event is built by hand.
    r = ks.Regimen.iv_bolus("5 mg")
    core = r.to_core()
    e0 = core.events[0]
    e0.amount = -5.0
    core.events = [e0]
    with pytest.raises(ks.InputError, match=r"dose\[0\]\.amount: -5 mg must be finite and > 0") as e:
        core.validate()
    assert (e.value.key, e.value.value, e.value.rule, e.value.index) == ("amount", "-5 mg", "must be finite and > 0", 0)


def test_intranasal_not_whole_devices():
    with pytest.raises(ValueError, match="not a whole number of 28 mg devices"):
        ks.Regimen.intranasal("50 mg")


def test_unknown_model():
    with pytest.raises(ValueError, match=r"model 'no_such_model' is neither a \.toml file nor in the library"):
        ks.load_model("no_such_model")


def test_unknown_output(esketamine, nasal56):
    r = ks.simulate(esketamine, nasal56, t_end="1 h", dt="30 min")
    with pytest.raises(ValueError, match=r"trajectory: no output 'C_brain' \(outputs: C_plasma, C_metabolite, Ce\)"):
        r["C_brain"]


def test_bad_time_string(esketamine, nasal56):
    with pytest.raises(ValueError, match="t_end"):
        ks.simulate(esketamine, nasal56, t_end="24 parsecs")
    with pytest.raises(ValueError, match="output grid"):
        ks.simulate(esketamine, nasal56, t_end="1 h", dt=0)


def test_unknown_parameter_override(esketamine, nasal56):
    with pytest.raises(
        ValueError,
        match=r"set: value 'ka_x' names no parameter of model 'esketamine_nasal' "
        r"\(did you mean ka_n\?\)",
    ):
        ks.simulate(esketamine, nasal56, set={"ka_x": 1.0})


def test_one_override_word_set_everywhere(esketamine, nasal56):
    # Issue 8: simulate(params=), sweep(fixed=) and the CLI's --set were three words for one thing;
    # set= everywhere now, parsed by the one C++ override parser (NAME=VALUE [UNIT]).
    a = ks.simulate(esketamine, nasal56, "6 h", "10 min", set={"ka_n": 2.0})
    # A value with a unit is converted to the file unit (ka_n is in 1/h): 2/h = 1/30 per minute.
    b = ks.simulate(esketamine, nasal56, "6 h", "10 min", set={"ka_n": "0.5 1/min"})
    c = ks.simulate(esketamine, nasal56, "6 h", "10 min", set={"ka_n": 30.0})
    assert np.array_equal(b["C_plasma"], c["C_plasma"])
    assert not np.array_equal(a["C_plasma"], c["C_plasma"])
    assert ks._core.parse_parameter_override(esketamine, "ka_n=2 1/h", "--set") == ("ka_n", 2.0)
    # The old words still work, with a DeprecationWarning, and give the same numbers.
    with pytest.warns(DeprecationWarning, match="simulate: params= is deprecated; use set="):
        old = ks.simulate(esketamine, nasal56, "6 h", "10 min", params={"ka_n": 2.0})
    assert np.array_equal(old["C_plasma"], a["C_plasma"])
    grid = {"FRn": [0.4, 0.6]}
    new_sweep = ks.sweep(esketamine, nasal56, grid, t_end="6 h", dt="10 min", set={"ka_n": 2.0})
    with pytest.warns(DeprecationWarning, match="sweep: fixed= is deprecated; use set="):
        old_sweep = ks.sweep(esketamine, nasal56, grid, t_end="6 h", dt="10 min", fixed={"ka_n": 2.0})
    assert new_sweep.equals(old_sweep)
    assert new_sweep["cmax"].iloc[0] != ks.sweep(esketamine, nasal56, grid, t_end="6 h", dt="10 min")["cmax"].iloc[0]
    with pytest.raises(TypeError, match="simulate: give the overrides once, as set="):
        ks.simulate(esketamine, nasal56, set={"ka_n": 2.0}, params={"ka_n": 2.0})
    # Units must fit the parameter.
    with pytest.raises(
        ValueError, match=r"set ka_n: value '2 L' has unit 'L' of dimension volume; parameter 'ka_n' is in 1/h"
    ):
        ks.simulate(esketamine, nasal56, set={"ka_n": "2 L"})
    with pytest.raises(ValueError, match=r"set ka_n: value 'fast' must be a number in the parameter's unit \(1/h\)"):
        ks.simulate(esketamine, nasal56, set={"ka_n": "fast"})


def test_bad_options(esketamine, nasal56):
    with pytest.raises(ValueError, match=r"solver: 'rk4' is not a solver \(accepted: exact, ode\)"):
        ks.simulate(esketamine, nasal56, solver="rk4")
    with pytest.raises(ValueError, match=r"SimOptions\.rtol: 2 must be in \[1e-14, 0\.001\]"):
        ks.simulate(esketamine, nasal56, solver="ode", rtol=2)


def test_sweep_errors(esketamine, nasal56):
    with pytest.raises(ValueError, match="'kaa' is neither a parameter"):
        ks.sweep(esketamine, nasal56, {"kaa": [1, 2]})
    with pytest.raises(ValueError, match="metric 'Cmin' is not known"):
        ks.sweep(esketamine, nasal56, {"ka_n": [1, 2]}, metrics=["Cmin"])
    # threads=0 is "all cores" (the executor's rule); a negative count is an error.
    with pytest.raises(ValueError, match=r"SweepOptions\.threads: -1 must be in \[0, 4096\]"):
        ks.sweep(esketamine, nasal56, {"ka_n": [1, 2]}, threads=-1)
    # An invalid point (weight <= 0) fails with the C++ subject message.
    with pytest.raises(ValueError, match=r"subject\.weight_kg: -1 must be in \(0, 1000\) kg"):
        ks.sweep("ketamine_iv_clements", ks.Regimen.iv_infusion("0.5 mg/kg", "40 min"), {"weight": [70, -1]}, threads=2)
    # Points are built in C++: a non-positive dose names the point, the value and the rule.
    with pytest.raises(ValueError, match=r"sweep point 1: dose = 0 mg must be > 0"):
        ks.sweep(esketamine, nasal56, {"dose": [56, 0]})
    with pytest.raises(ValueError, match=r"SimOptions\.outputs\[0\]: 'C_nonsense' is not an output"):
        ks.sweep(esketamine, nasal56, {"ka_n": [1, 2]}, outputs="C_nonsense")


def test_exception_classes():
    assert issubclass(ks.InputError, ValueError)
    assert issubclass(ks.SolverError, RuntimeError)
    assert issubclass(ks.IoError, RuntimeError)


# ---- issue 9: no silent wrong numbers at the Python boundary ---------------------------------


def test_bare_numbers_are_not_given_a_unit():
    with pytest.raises(ValueError, match=r"iv_infusion: dose: 0\.5 is a bare number; give its unit, e\.g\. '0\.5 mg'"):
        ks.Regimen.iv_infusion(0.5)
    with pytest.raises(ValueError, match=r"iv_infusion: duration: 40 is a bare number"):
        ks.Regimen.iv_infusion("35 mg", 40)
    with pytest.raises(ValueError, match=r"intranasal: total: 56 is a bare number"):
        ks.Regimen.intranasal(56)
    with pytest.raises(ValueError, match=r"dt: 5 is a bare number"):
        ks.simulate("ketamine_iv_clements", ks.Regimen.iv_bolus("35 mg"), "1 h", 5)
    # Zero is zero in every unit.
    assert ks.Regimen.iv_bolus("35 mg", at=0).events[0].time == 0.0


def test_units_spelt_out_and_one_parser():
    a = ks.Regimen.iv_infusion("35 mg", "40 minutes")
    b = ks.Regimen.iv_infusion("35 mg", "40 min")
    assert a.events[0].duration == b.events[0].duration == 40 / 60
    # "23 min" is the same double here as in a regimen file (one C++ parser).
    r = ks.Regimen.from_toml('[[dose]]\nroute = "iv"\namount = "1 mg"\nduration = "23 min"\n')
    assert ks.Regimen.iv_infusion("1 mg", "23 min").events[0].duration == r.events[0].duration == 23 / 60
    assert ks.Regimen.iv_bolus("5 mg", at="2 hours").events[0].time == 2.0


def test_arrays_of_times_take_one_explicit_unit_with_Q():
    # Issue 9: arrays of numbers carry their unit in ks.Q, converted by the C++ unit table value
    # by value, so Q([23], "min") is the same double as "23 min".
    import numpy as np

    reg = ks.Regimen.iv_bolus("35 mg")
    grid = np.arange(0, 6, 0.5)
    a = ks.simulate("ketamine_iv_clements", reg, times=ks.Q(grid, "h"))
    b = ks.simulate("ketamine_iv_clements", reg, times=[f"{float(t)!r} h" for t in grid])
    assert np.array_equal(a.time, grid)
    assert np.array_equal(a["C_plasma"], b["C_plasma"])
    m = ks.simulate("ketamine_iv_clements", reg, times=ks.Q([0, 30, 90], "min"))
    assert list(m.time) == [0.0, 0.5, 1.5]
    assert ks.Q([23], "min").values.tolist() == [23.0]
    assert ks._core.quantities([23.0], "min", "time", "x")[0] == ks._core.parse_quantity("23 min", "time", "x")
    # Every entry point that takes times takes a Q: regimen times, metric times, a single time.
    r = ks.Regimen.iv_bolus("5 mg", at=ks.Q(np.array([0, 12]), "h"))
    assert [e.time for e in r.events] == [0.0, 12.0]
    mt = ks.metrics(a, at_times=ks.Q([1, 2], "h"))
    assert "c_at_1h" in mt["C_plasma"] and "c_at_2h" in mt["C_plasma"]
    one = ks.simulate("ketamine_iv_clements", reg, t_end=ks.Q(2, "h"), dt=ks.Q(30, "min"))
    assert list(one.time) == [0.0, 0.5, 1.0, 1.5, 2.0]
    # Bare numbers stay errors, naming the argument and the way to give a unit.
    with pytest.raises(ValueError, match=r"times: a NumPy array of bare numbers has no unit.*ks\.Q\(array, 'h'\)"):
        ks.simulate("ketamine_iv_clements", reg, times=grid)
    with pytest.raises(ValueError, match=r"times: \[0, 1, 2\] are bare numbers.*ks\.Q\(values, 'h'\)"):
        ks.simulate("ketamine_iv_clements", reg, times=[0, 1, 2])
    # The unit must be a time; values must be finite real numbers.
    with pytest.raises(ValueError, match=r"times: value 'mg' has unit 'mg' of dimension amount, expected time"):
        ks.simulate("ketamine_iv_clements", reg, times=ks.Q(grid, "mg"))
    with pytest.raises(ValueError, match=r"times: value 'parsec' has an unknown unit 'parsec'"):
        ks.simulate("ketamine_iv_clements", reg, times=ks.Q(grid, "parsec"))
    with pytest.raises(ValueError, match=r"times\[1\]: value 'nan' is not a finite number"):
        ks.simulate("ketamine_iv_clements", reg, times=ks.Q([0, np.nan], "h"))
    with pytest.raises(TypeError, match="Q: values must be real numbers"):
        ks.Q(["1", "2"], "h")
    with pytest.raises(TypeError, match="Q: values must be real numbers"):
        ks.Q([True, False], "h")
    with pytest.raises(TypeError, match="Q: unit must be a unit string"):
        ks.Q([1.0], 3600)
    with pytest.raises(ValueError, match="t_end: expected one time"):
        ks.simulate("ketamine_iv_clements", reg, t_end=ks.Q([1, 2], "h"))


def test_intranasal_means_devices_everywhere():
    r = ks.Regimen.intranasal("56 mg")
    assert [(e.amount, e.device) for e in r.events] == [(28.0, 1), (28.0, 2)]
    assert r.events[1].time == pytest.approx(5 / 60)
    with pytest.raises(ValueError, match="intranasal: total: '1 mg/kg' is per kg"):
        ks.Regimen.intranasal("1 mg/kg")


def test_argument_types_are_checked_naming_the_argument():
    reg = ks.Regimen.iv_bolus("35 mg")
    with pytest.raises(TypeError, match="weight: expected a body weight in kg"):
        ks.simulate("ketamine_iv_clements", reg, "1 h", "10 min", weight=True)
    with pytest.raises(TypeError, match="age: expected an age in years"):
        ks.simulate("ketamine_iv_clements", reg, "1 h", "10 min", age="40")
    with pytest.raises(TypeError, match="times: expected a time"):
        ks.simulate("ketamine_iv_clements", reg, times={1: 2})
    with pytest.raises(TypeError, match=r"set: expected a mapping such as \{'k10': 1\.0\}"):
        ks.simulate("ketamine_iv_clements", reg, "1 h", "10 min", set=[("k10", 1)])
    with pytest.raises(TypeError, match=r"set\['k10'\]: expected a number \(in the parameter's file unit\) or text"):
        ks.simulate("ketamine_iv_clements", reg, "1 h", "10 min", set={"k10": [1]})
    with pytest.raises(TypeError, match="threads: expected a whole number"):
        ks.sweep("ketamine_iv_clements", reg, {"k10": [0.5, 1]}, t_end="1 h", dt="10 min", threads="2")
    with pytest.raises(TypeError, match="include_event_times: expected True or False"):
        ks.simulate("ketamine_iv_clements", reg, "1 h", "10 min", include_event_times="yes")
    with pytest.raises(ValueError, match="threshold: nan must be a finite concentration"):
        ks.metrics(ks.simulate("ketamine_iv_clements", reg, "1 h", "10 min"), threshold=float("nan"))


def test_input_error_fields(tmp_path):
    p = tmp_path / "reg.toml"
    p.write_text('[[dose]]\nroute = "iv"\namount = "35 mg"\nduration = "40"\n')
    with pytest.raises(ks.InputError) as e:
        ks.Regimen.from_file(p)
    err = e.value
    assert (err.file, err.line, err.key) == (str(p), 4, "dose[0].duration")
    assert "needs a unit of time" in err.rule
    csv = tmp_path / "ev.csv"
    csv.write_text("TIME,AMT,DUR\n0,35,0.5\n0.25,-35,0.5\n")
    with pytest.raises(ks.InputError) as e:
        ks.Regimen.from_file(csv)
    assert (e.value.file, e.value.line) == (str(csv), 3)
    assert "AMT" in str(e.value)


def test_event_table_unknown_column_and_covariate_hook(tmp_path):
    csv = tmp_path / "ev.csv"
    csv.write_text("TIME,AMT,WT\n0,35,70\n")
    with pytest.raises(ks.InputError, match="column WT: value 'WT' is not a known column"):
        ks.Regimen.from_file(csv)
    t = ks._core.load_event_table(str(csv), None, -1, ["WT"])
    assert list(t.covariate_columns) == ["WT"] and t.regimen.events[0].amount == 35.0


def test_input_error_fields_default_to_none():
    with pytest.raises(ks.InputError) as e:
        ks.simulate("ketamine_iv_clements", ks.Regimen.iv_bolus("35 mg"), "1 h", "0 min")
    assert str(e.value).startswith("t_start/t_end/dt: output grid")
    assert (e.value.file, e.value.line, e.value.key) == (None, None, None)
