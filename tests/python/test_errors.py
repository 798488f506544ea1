"""Errors are Python exceptions carrying the C++ message: ValueError for bad input."""

from __future__ import annotations

import pytest

import ketasim as ks


def test_unknown_route(esketamine):
    with pytest.raises(ValueError, match=r"unknown route 'rectal' \(this model has: intranasal, iv, oral\)"):
        ks.simulate(esketamine, ks.Regimen.dose(10, "rectal"))


def test_negative_dose_is_value_error_with_cpp_message():
    with pytest.raises(ValueError, match=r"dose\[0\]\.amount: -5 mg must be finite and > 0") as e:
        ks.Regimen.iv_bolus(-5)
    assert isinstance(e.value, ks.InputError)


def test_intranasal_not_whole_devices():
    with pytest.raises(ValueError, match="not a whole number of 28 mg devices"):
        ks.Regimen.intranasal(50)


def test_unknown_model():
    with pytest.raises(ValueError, match=r"model 'no_such_model' is neither a \.toml file nor in the library"):
        ks.load_model("no_such_model")


def test_unknown_output(esketamine, nasal56):
    r = ks.simulate(esketamine, nasal56, t_end=1, dt=0.5)
    with pytest.raises(ValueError, match=r"trajectory: no output 'C_brain' \(outputs: C_plasma, C_metabolite, Ce\)"):
        r["C_brain"]


def test_bad_time_string(esketamine, nasal56):
    with pytest.raises(ValueError, match="t_end"):
        ks.simulate(esketamine, nasal56, t_end="24 parsecs")
    with pytest.raises(ValueError, match="output grid"):
        ks.simulate(esketamine, nasal56, t_end=1, dt=0)


def test_unknown_parameter_override(esketamine, nasal56):
    with pytest.raises(ValueError, match="subject sets unknown parameter 'ka_x'"):
        ks.simulate(esketamine, nasal56, params={"ka_x": 1.0})


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
    with pytest.raises(ValueError, match=r"SweepOptions\.threads: 0 must be in"):
        ks.sweep(esketamine, nasal56, {"ka_n": [1, 2]}, threads=0)
    # An invalid point (weight <= 0) fails with the C++ subject message.
    with pytest.raises(ValueError, match=r"subject\.weight_kg: -1 must be in \(0, 1000\) kg"):
        ks.sweep(esketamine, nasal56, {"weight": [70, -1]}, threads=2)
    # Points are built in C++: a non-positive dose names the point, the value and the rule.
    with pytest.raises(ValueError, match=r"sweep point 1: dose = 0 mg must be > 0"):
        ks.sweep(esketamine, nasal56, {"dose": [56, 0]})
    with pytest.raises(ValueError, match=r"SimOptions\.outputs\[0\]: 'C_nonsense' is not an output"):
        ks.sweep(esketamine, nasal56, {"ka_n": [1, 2]}, outputs="C_nonsense")


def test_exception_classes():
    assert issubclass(ks.InputError, ValueError)
    assert issubclass(ks.SolverError, RuntimeError)
    assert issubclass(ks.IoError, RuntimeError)
