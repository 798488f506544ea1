"""Short reprs, Jupyter HTML tables and units in pandas frames (df.attrs["units"])."""

from __future__ import annotations

import pytest

import ketasim as ks

REPR_MAX = 300  # a repr is one readable line, not the model text and arrays (was 22-28k)


@pytest.fixture(scope="module")
def nasal(esketamine):
    return ks.simulate(esketamine, ks.Regimen.intranasal("56 mg", devices=2), t_end="6 h", dt="5 min")


def test_result_repr_and_html(nasal):
    assert len(repr(nasal)) < REPR_MAX
    h = nasal._repr_html_()
    assert h.startswith("<table>") and "C_plasma" in h and "ng/mL" in h


def test_result_file_repr_and_html(tmp_path, nasal):
    pytest.importorskip("h5py")
    path = tmp_path / "r.h5"
    ks.write_results(path, nasal)
    f = ks.read_results(path)
    for obj in (f, f.arm):
        assert len(repr(obj)) < REPR_MAX, repr(obj)[:400]
        assert "<table>" in obj._repr_html_()
    assert ks.__version__ in repr(f)
    assert "C_plasma [ng/mL]" in f._repr_html_()


def test_html_is_escaped():
    from ketasim._results import _html_table

    h = _html_table("<b>", ["a&b"], [["<script>"]])
    assert "<script>" not in h and "&lt;script&gt;" in h and "a&amp;b" in h


def test_course_repr_and_html():
    c = ks.course(ks.schedules.iv_days([0, 2, 4]))
    assert len(repr(c)) < REPR_MAX
    h = c._repr_html_()
    assert "<table>" in h and "3 sessions" in h


def test_population_repr_and_html(clements):
    p = ks.population(clements, ks.Regimen.iv_infusion("35 mg", "40 min"), n=5, seed=1, t_end="6 h")
    assert len(repr(p)) < REPR_MAX
    h = p._repr_html_()
    assert "<table>" in h and "5 subjects" in h


def test_units_in_frames(nasal, tmp_path):
    wide = nasal.to_pandas(wide=True)
    assert wide.attrs["units"]["C_plasma"] == "ng/mL" and wide.attrs["units"]["time"] == "h"
    pytest.importorskip("h5py")
    path = tmp_path / "r.h5"
    ks.write_results(path, nasal)
    mf = ks.read_results(path).arm.metrics_frame()
    units = mf.attrs["units"]
    assert set(units) == set(mf.columns)
    assert units["C_plasma.cmax"] == "ng/mL" and units["C_plasma.tmax"] == "h"
