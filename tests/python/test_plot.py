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
    assert ax.get_ylabel() == "C_plasma (ng/mL)"
    plt.close(ax.figure)


def test_sweep_heatmap(esketamine, nasal56):
    import matplotlib.pyplot as plt

    df = ks.sweep(
        esketamine, nasal56, {"ka_n": np.linspace(1, 5, 5), "FRn": [0.3, 0.45, 0.6]}, t_end="12 h", dt="5 min"
    )
    ax = ks.plot.sweep_heatmap(df, "ka_n", "FRn", "cmax")
    assert ax.get_xlabel() == "ka_n"
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
