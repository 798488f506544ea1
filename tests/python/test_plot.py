"""Plot helpers and the flagship comparison."""

from __future__ import annotations

import numpy as np
import pytest

import ketasim as ks

pytest.importorskip("matplotlib")


def test_first_crossing_interpolates():
    from ketasim.plot import first_crossing

    assert first_crossing(np.array([0, 1, 2.0]), np.array([0, 10, 20.0]), 15) == pytest.approx(1.5)
    assert np.isnan(first_crossing(np.array([0, 1.0]), np.array([0, 1.0]), 5))


def test_concentration_plot_marks_onsets(esketamine, clements, nasal56):
    import matplotlib.pyplot as plt

    iv = ks.simulate(clements, ks.Regimen.iv_infusion("0.5 mg/kg", "40 min"), "4 h", "1 min")
    nasal = ks.simulate(esketamine, nasal56, "4 h", "1 min")
    ax = ks.plot.concentration(
        {"IV": iv, "IN": nasal}, "C_plasma", thresholds={"dissociative": 100, "low": 50}, time_unit="min"
    )
    # Two curves; onset markers: IV crosses 100 and 50, IN crosses 50 only.
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(markers) == 3
    # Words and the unit, not the code name; the doses drawn (infusion bar, two nasal devices).
    assert ax.get_ylabel() == "Plasma concentration\n(ng/mL)"
    assert ax.get_xlabel() == "Time since the first dose (minutes)"
    bars = [ln for ln in ax.get_lines() if ln.get_linewidth() == 7]
    assert len(bars) == 1 and list(bars[0].get_xdata()) == pytest.approx([0.0, 40.0])
    devices = [x for ln in ax.get_lines() if ln.get_marker() == "v" for x in ln.get_xdata()]
    assert devices == pytest.approx([0.0, 5.0])
    # The legend states the subject: the IV dose is per kg, so the weight matters.
    assert ax.get_legend().get_title().get_text() == "70 kg adult"
    plt.close(ax.figure)


def test_racemic_equivalent_scale_comes_from_the_model_file(esketamine, clements, nasal56):
    import matplotlib.pyplot as plt

    nasal = ks.simulate(esketamine, nasal56, "4 h", "1 min")
    f = ks.plot.racemic_equivalent_factor(esketamine)
    assert f == esketamine.parameter("racemic_equivalent").value == 2.0
    assert ks.plot.racemic_equivalent_factor(clements) == 1.0
    ax = ks.plot.concentration({"IN": nasal}, "Ce", racemic_equivalent=True, thresholds=100, time_unit="min")
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), f * nasal["Ce"])
    assert "racemic-equivalent" in ax.get_ylabel()
    plt.close(ax.figure)


def test_sweep_heatmap(esketamine, nasal56):
    import matplotlib.pyplot as plt

    df = ks.sweep(
        esketamine, nasal56, {"ka_n": np.linspace(1, 5, 5), "FRn": [0.3, 0.45, 0.6]}, t_end="12 h", dt="5 min"
    )
    ax = ks.plot.sweep_heatmap(df, "ka_n", "FRn", "cmax")
    assert ax.get_xlabel() == "ka_n (1/h)"  # the unit from df.attrs["units"]
    plt.close(ax.figure)
    ax = ks.plot.sweep_heatmap(df, "ka_n", "FRn", "cmax", xlabel="Nasal absorption rate (1/h)")
    assert ax.get_xlabel() == "Nasal absorption rate (1/h)"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="no column 'Cmin'"):
        ks.plot.sweep_heatmap(df, "ka_n", "FRn", "Cmin")


def test_flagship_compare_writes_png_and_table(tmp_path, capsys):
    out = tmp_path / "fig" / "flagship.png"
    results, table = ks.flagship.compare(out)
    assert out.stat().st_size > 10_000
    assert len(results) == 3 and table.shape[0] == 3
    printed = capsys.readouterr().out
    assert "cmax (ng/mL)" in printed and str(out) in printed
    iv = table.iloc[0]
    # IV 0.5 mg/kg over 40 min: peak at the end of the infusion.
    assert iv["tmax (min)"] == pytest.approx(40.0)
    assert iv["dose (mg)"] == pytest.approx(35.0)


def test_flagship_thresholds_on_the_racemic_equivalent_scale():
    # The flagship compares every arm with the (racemic) dissociative threshold on the scale of
    # the course model: esketamine x its file's factor. 56 mg esketamine then reaches 100 ng/mL,
    # as ks.course predicts dissociation after it; the times equal first crossings of f x C.
    import matplotlib.pyplot as plt

    results, table = ks.flagship.compare(out=None, show_table=False, t_end="6 h")
    esk_label = next(k for k, (m, _) in ks.flagship.arms().items() if m == "esketamine_nasal")
    esk = results[esk_label]
    f = ks.plot.racemic_equivalent_factor(esk.model)
    row = table.loc[esk_label]
    assert row["racemic-equivalent factor"] == f == 2.0
    t = ks.plot.first_crossing(esk.time * 60, f * esk["C_plasma"], 100)
    assert np.isfinite(t) and row["time_to_threshold 100 ng/mL (min)"] == pytest.approx(t, abs=1.0)
    te = ks.plot.first_crossing(esk.time * 60, f * esk["Ce"], 100)
    assert row["Ce time_to_threshold 100 ng/mL (min)"] == pytest.approx(te, abs=1.0)
    c = ks.course(ks.schedules.from_regimen(ks.flagship.arms()[esk_label][1], "esketamine_nasal"))
    assert c.sessions["peak_dissociation_pct"].iloc[0] > 10  # the course model sees dissociation too
    assert c.sessions["peak_ce_ng_per_mL"].iloc[0] == pytest.approx(f * np.max(esk["Ce"]), rel=0.02)
    fig = ks.flagship.figure(results)
    for ax in fig.axes:  # a legend (stating the subject) on every panel, words on the axes
        assert ax.get_legend() is not None and ax.get_legend().get_title().get_text() == "70 kg adult"
        assert "racemic-equivalent" in ax.get_ylabel() and "C_plasma" not in ax.get_ylabel()
    plt.close(fig)


def test_course_plot_does_not_join_sessions_and_has_legends():
    import matplotlib.pyplot as plt

    r = ks.course(ks.schedules.iv(per_week=2, weeks=1), follow_up="3 d", dt="5 min")
    ax_m, ax_s = ks.plot.course(r)
    twin = [a for a in ax_s.figure.axes if a not in (ax_m, ax_s)][0]
    dots = twin.get_lines()
    assert len(dots) == 1 and dots[0].get_linestyle() == "None"  # per-session points, not joined
    np.testing.assert_array_equal(dots[0].get_ydata(), r.sessions["discharge_min"])
    assert ax_m.get_legend() is not None and ax_s.get_legend() is not None
    assert ax_m.get_legend().get_title().get_text() == "70 kg adult"
    plt.close(ax_m.figure)
