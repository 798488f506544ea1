"""Figure regression check (pytest-mpl): every plotting helper draws a fixed scene, compared with a
stored baseline image in tests/python/baseline/ when pytest runs with ``--mpl`` (scripts/test.sh
does). Without ``--mpl`` the tests only check that the figures draw.

Tolerance: RMS difference of at most ``TOLERANCE`` (on the 0-255 pixel scale) between the
new image and its baseline. Matplotlib renders text with the FreeType it bundles and its own
DejaVu fonts, under the Agg backend and the "default" style given here, so the images do not depend
on the machine's fonts; a changed label, line, colour, marker or axis range moves the RMS well past
it (one word of an axis label changed: RMS 11-12, measured). Regenerate after an intended change
(docs/design.md, "Figure regression check"):

    python3 -m pytest tests/python/test_figures.py --mpl-generate-path=tests/python/baseline
"""

from __future__ import annotations

import numpy as np
import pytest

import ketasim as ks

pytest.importorskip("matplotlib")
pytest.importorskip("pytest_mpl")

#: RMS tolerance (0-255 scale), see the module docstring.
TOLERANCE = 2
#: Baselines at a low resolution keep the stored PNGs small; text and marks are still resolved.
COMPARE = dict(baseline_dir="baseline", tolerance=TOLERANCE, style="default", savefig_kwargs={"dpi": 60})


@pytest.fixture(scope="module")
def flagship_results():
    results, _ = ks.flagship.compare(out=None, show_table=False, t_end="4 h")
    return results


@pytest.mark.mpl_image_compare(**COMPARE)
def test_concentration_figure(flagship_results):
    ax = ks.plot.concentration(
        flagship_results, "Ce", thresholds={"dissociative": 100}, time_unit="min", racemic_equivalent=True
    )
    return ax.figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_flagship_figure(flagship_results):
    return ks.flagship.figure(flagship_results)


@pytest.mark.mpl_image_compare(**COMPARE)
def test_sweep_heatmap_figure(esketamine, nasal56):
    df = ks.sweep(esketamine, nasal56, {"ka_n": np.linspace(1, 5, 9), "FRn": np.linspace(0.3, 0.8, 6)}, t_end="12 h")
    ax = ks.plot.sweep_heatmap(
        df,
        "ka_n",
        "FRn",
        "cmax",
        xlabel="Nasal absorption rate (1/h)",
        ylabel="Fraction absorbed nasally",
        label="Peak plasma esketamine (ng/mL)",
        title="Esketamine 56 mg (two devices)",
    )
    return ax.figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_course_figure():
    results = {
        "IV 3x weekly (2 wk)": ks.course(ks.schedules.iv(per_week=3, weeks=2), follow_up="14 d", dt="5 min"),
        "esketamine induction (2 wk)": ks.course(
            ks.schedules.esketamine_induction(weeks=2), follow_up="14 d", dt="5 min"
        ),
    }
    axes = ks.plot.course(results)
    return axes[0].figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_bands_figure(esketamine, nasal56):
    pop = ks.population(esketamine, nasal56, n=60, seed=7, bands=True, outputs="C_plasma", t_end="12 h", dt="10 min")
    ax = ks.plot.bands(pop, "C_plasma", label="esketamine 56 mg", regimen=nasal56)
    return ax.figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_population_rates_figure():
    opts = {"dt": "15 min", "follow_up": "2 d"}
    iv = ks.population(None, ks.schedules.iv(per_week=3, weeks=1), n=40, seed=7, course_options=opts)
    esk = ks.population(None, ks.schedules.esketamine_induction(weeks=1), n=40, seed=7, course_options=opts)
    ax = ks.plot.population_rates({"IV 3x weekly": iv, "esketamine induction": esk})
    return ax.figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_widgets_onset_figure():
    pytest.importorskip("ipywidgets")
    return ks.widgets.onset_figure("esketamine")


@pytest.mark.mpl_image_compare(**COMPARE)
def test_widgets_course_figure():
    pytest.importorskip("ipywidgets")
    return ks.widgets.course_figure("iv-3x-weekly", sessions=6, follow_up_days=14)
