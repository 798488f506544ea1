"""ks.widgets: the pure figure functions draw the library's numbers; the widgets update them."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import ketasim as ks  # noqa: E402

W = ks.widgets


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _regimen(route, dose, devices=None, infusion_min=40.0):
    if route == "iv":
        return ks.Regimen.iv_infusion(f"{dose} mg/kg", duration=f"{infusion_min} min")
    return ks.Regimen.intranasal(f"{dose} mg", devices=devices)


CASES = {
    "iv": dict(dose=0.5, infusion_min=40.0, weight=80.0, ke0=0.08),
    "esketamine": dict(dose=84.0, devices=3, fraction_absorbed=0.6, ka=2.0, ke0=0.15),
    "racemic_nasal": dict(dose=50.0, devices=1, fraction_absorbed=0.45, ka=4.0, weight=60.0),
}


@pytest.mark.parametrize("route", list(W.ROUTES))
def test_onset_curves_are_simulate_output(route):
    v = CASES[route]
    fig = W.onset_figure(route, hours=3.0, **v)
    spec = W.ROUTES[route]
    over = {}
    if "fraction_absorbed" in v:
        over[spec.fraction] = v["fraction_absorbed"]
        over[spec.ka] = v["ka"]
    if "ke0" in v:
        over["ke0"] = v["ke0"]
    reg = _regimen(route, v["dose"], v.get("devices"), v.get("infusion_min", 40.0))
    r = ks.simulate(spec.model, reg, "3 h", "1 min", weight=v.get("weight"), set=over)
    scale = ks._core.racemic_equivalent_scale(ks.load_model(spec.model))
    assert scale == (2.0 if route == "esketamine" else 1.0)  # the model files' racemic_equivalent
    art = fig.ketasim
    np.testing.assert_array_equal(art["plasma"].get_xdata(), r.time * 60.0)
    np.testing.assert_allclose(art["plasma"].get_ydata(), r["C_plasma"] * scale, rtol=1e-12, atol=0)
    np.testing.assert_allclose(art["ce"].get_ydata(), r["Ce"] * scale, rtol=1e-12, atol=0)
    # The course behind onset/discharge runs the same PK (overrides written into the model text):
    # its Ce on the first 3 h equals simulate's.
    c = art["data"]["course"]
    np.testing.assert_allclose(c.pk["Ce"][: r.time.size], r["Ce"], rtol=1e-9, atol=1e-9)
    # Onset: the first time the library's dissociation curve reaches its discharge threshold.
    diss = c.acute["dissociation_pct"].to_numpy()
    onset = art["data"]["onset_min"]
    if math.isfinite(onset):
        i = int(np.argmax(diss >= c.acute_model.diss_discharge_threshold))
        assert c.acute["time_h"].iloc[i - 1] * 60 <= onset <= c.acute["time_h"].iloc[i] * 60
    assert art["data"]["discharge_min"] == c.sessions["discharge_min"].iloc[0]
    # Subject stated; weight only where the model has it.
    title = fig.axes[0].get_title()
    assert (f"{v['weight']:g} kg" in title) if "weight" in v else ("kg" not in title)
    # Axis labels in words with units, and a legend.
    assert "minutes" in fig.axes[0].get_xlabel() and "ng/mL" in fig.axes[0].get_ylabel()
    assert fig.axes[0].get_legend() is not None


def test_dissociative_range_from_acute_model():
    # 10 % and 90 % of Emax on the library's sigmoid: the file's reading of Krystal's 100-250 ng/mL.
    fig = W.onset_figure("iv")
    c = fig.ketasim["data"]["course"]
    am = c.acute_model
    lo, hi = W.dissociative_range(c)

    def e(x):
        return am.diss_emax * x**am.diss_hill / (am.diss_ec50**am.diss_hill + x**am.diss_hill)

    assert e(lo) == pytest.approx(am.diss_discharge_threshold, rel=1e-12)
    assert e(hi) == pytest.approx(am.diss_emax - am.diss_discharge_threshold, rel=1e-12)
    assert 95 < lo < 110 and 240 < hi < 260  # Krystal 1994 100-250 ng/mL (within the calibration)
    band = fig.ketasim["range"]  # a Rectangle (matplotlib >= 3.9)
    assert band.get_y() == pytest.approx(lo) and band.get_y() + band.get_height() == pytest.approx(hi)


def test_iv_default_discharge_is_calibration_target():
    # acute_effects.toml: discharge 37.5 min after the end of the 40-min 0.5 mg/kg infusion, read on
    # the 1-min grid (78 min from the start).
    d = W.onset_figure("iv").ketasim["data"]
    assert d["discharge_min"] == pytest.approx(77.5, abs=1.0)
    assert 0 < d["onset_min"] < 40


def test_dose_markers():
    art = W.onset_figure("esketamine", dose=84.0, devices=3).ketasim
    np.testing.assert_allclose(art["dose_marks"].get_xdata(), [0.0, 5.0, 10.0])
    assert len(art["dose_bar"].get_xdata()) == 0
    art = W.onset_figure("iv", infusion_min=30.0).ketasim
    np.testing.assert_allclose(art["dose_bar"].get_xdata(), [0.0, 30.0])


def test_update_in_place():
    fig = W.onset_figure("iv")
    line = fig.ketasim["ce"]
    before = line.get_ydata().copy()
    fig2 = W.onset_figure("iv", ke0=0.03, fig=fig)
    assert fig2 is fig and fig.ketasim["ce"] is line
    assert np.max(line.get_ydata()) < np.max(before)  # slower equilibration: lower Ce peak


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(route="oral"), "route"),
        (dict(route="esketamine", weight=70.0), "weight"),  # not a covariate of esketamine_nasal
        (dict(route="iv", dose=-1.0), "dose"),
        (dict(route="iv", fraction_absorbed=0.5), "fraction_absorbed"),
        (dict(route="iv", devices=2), "devices"),
        (dict(route="esketamine", devices=0), "devices"),
        (dict(route="iv", ke0=-0.1), "ke0"),
        (dict(route="iv", hours=0.1), "hours"),
        (dict(route="iv", dose="lots"), "dose"),
    ],
)
def test_onset_bad_values_are_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        W.onset_figure(**kwargs)


@pytest.mark.parametrize("schedule", list(ks._pd.SCHEDULE_NAMES))
def test_course_figure_is_course_output(schedule):
    fig = W.course_figure(schedule, sessions=3, follow_up_days=14.0)
    art = fig.ketasim
    c = art["course"]
    assert len(c.sessions) == 3
    full = ks.schedules.named(schedule, days="0,2,4,7,9,11") if schedule == "iv-days" else ks.schedules.named(schedule)
    np.testing.assert_allclose(c.schedule.session_starts_h, full.session_starts_h[:3])
    ref = ks.course(c.schedule, follow_up="14 d")
    np.testing.assert_allclose(art["madrs"].get_ydata(), ref.symptoms["madrs"], rtol=1e-12)
    np.testing.assert_allclose(art["madrs"].get_xdata(), ref.symptoms["day"], rtol=1e-12)
    # Per-session side effects: markers only (no line joins sessions), one point per session.
    for col in ("p_nausea", "p_dizziness", "p_drowsiness", "p_dissociation"):
        line = art[col]
        assert line.get_linestyle() == "None" and line.get_marker() not in (None, "", "None")
        np.testing.assert_allclose(line.get_ydata(), 100 * ref.sessions[col].to_numpy(), rtol=1e-12)
    assert all(ax.get_legend() is not None for ax in fig.axes)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(schedule="weekly"), "schedule"),
        (dict(schedule="esketamine-induction", sessions=40), "sessions"),
        (dict(sessions=0), "sessions"),
        (dict(follow_up_days=0.1), "follow_up_days"),
        (dict(schedule="iv-3x-weekly", days="0,1"), "days"),
    ],
)
def test_course_bad_values_are_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        W.course_figure(**kwargs)


def test_widgets_update_line_data():
    pytest.importorskip("ipywidgets")
    e = W.onset_explorer()
    line = e.figure.ketasim["ce"]
    before = line.get_ydata().copy()
    e.controls["ke0"].value = 0.04
    assert e.figure.ketasim["ce"] is line and np.max(line.get_ydata()) < np.max(before)
    e.controls["route"].value = "esketamine"
    assert e.controls["weight"].disabled and "weight" not in e.values()
    assert e.message.value == ""
    r = ks.simulate("esketamine_nasal", ks.Regimen.intranasal("56 mg"), "4 h", "1 min", set={"ke0": 0.04})
    np.testing.assert_allclose(line.get_ydata(), 2.0 * r["Ce"], rtol=1e-12)

    c = W.course_explorer()
    n0 = len(c.figure.ketasim["p_nausea"].get_xdata())
    c.controls["sessions"].value = 4
    assert len(c.figure.ketasim["p_nausea"].get_xdata()) == 4 != n0
    c.controls["schedule"].value = "iv-days"
    c.controls["sessions"].value = 9  # iv-days default has 6 sessions: the message says so
    assert "sessions" in c.message.value
    with pytest.raises(ValueError):
        c.update()
