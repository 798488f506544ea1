"""read_results(): files in the documented HDF5 layout (written here with h5py, by the C++
writer through the bindings, and by the CLI when its binary is available)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ketasim as ks
from ketasim import _core

h5py = pytest.importorskip("h5py")

REPO = Path(__file__).resolve().parents[2]


def _write_arm(g, n=3, t=5, seed=0):
    rng = np.random.default_rng(seed)
    g.create_dataset("time", data=np.linspace(0, 4, t)).attrs["units"] = "h"
    out = g.create_group("outputs")
    for name in ("C_plasma", "Ce"):
        out.create_dataset(name, data=rng.random((n, t))).attrs["units"] = "ng/mL"
    mg = g.create_group("metrics").create_group("C_plasma")
    mg.create_dataset("cmax", data=rng.random(n)).attrs["units"] = "ng/mL"
    mg.create_dataset("auc_0_t", data=rng.random(n)).attrs["units"] = "ng/mL*h"
    sg = g.create_group("subjects")
    sg.create_dataset("weight_kg", data=np.array([50.0, 70.0, 90.0])[:n])
    p = sg.create_dataset("parameters", data=rng.random((n, 2)))
    p.attrs["names"] = ["ka_n", "FRn"]
    p.attrs["units"] = ["1/h", "1"]


def test_single_arm_layout(tmp_path):
    path = tmp_path / "one.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_name"] = "esketamine_nasal"
        f.attrs["model_toml"] = "name = 'esketamine_nasal'"
        f.attrs["ketasim_version"] = "0.1.0"
        f.attrs["solver"] = "exact"
        f.attrs["complete"] = "yes"
        _write_arm(f)
    res = ks.read_results(path)
    assert res.complete and res.attrs["solver"] == "exact"
    arm = res.arm
    assert arm.name == "esketamine_nasal" and arm.n_subjects == 3
    assert arm["C_plasma"].shape == (3, 5) and arm.units["Ce"] == "ng/mL"
    assert arm.metric_units["C_plasma"]["auc_0_t"] == "ng/mL*h"
    assert arm.subjects.columns.tolist() == ["weight_kg", "ka_n", "FRn"]
    df = arm.to_pandas()
    assert df.columns.tolist() == ["subject", "time", "output", "value", "unit"] and len(df) == 2 * 3 * 5
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(arm["Ce"], f["outputs/Ce"][()])
        np.testing.assert_array_equal(arm.metrics["C_plasma"]["cmax"], f["metrics/C_plasma/cmax"][()])
    assert arm.metrics_frame().shape == (3, 2)


def test_several_arms_layout(tmp_path):
    path = tmp_path / "arms.h5"
    with h5py.File(path, "w") as f:
        f.attrs["ketasim_version"] = "0.1.0"
        f.attrs["complete"] = "yes"
        ag = f.create_group("arms")
        for i, name in enumerate(["iv", "nasal"]):
            _write_arm(ag.create_group(name), n=2, seed=i)
        ag.attrs["order"] = ["nasal", "iv"]
    res = ks.read_results(path)
    assert list(res.arms) == ["nasal", "iv"]
    with pytest.raises(ValueError, match="2 arms"):
        _ = res.arm
    assert res["iv"]["C_plasma"].shape == (2, 5)
    assert set(res.to_pandas()["arm"]) == {"iv", "nasal"}
    with pytest.raises(KeyError, match="no arm 'oral'"):
        res["oral"]


def test_not_a_result_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=[1, 2])
    with pytest.raises(ValueError, match="not a ketasim result file"):
        ks.read_results(path)


def test_cpp_writer_round_trip(tmp_path, esketamine, nasal56):
    """Written by the C++ writer (through the bindings), read with h5py only."""
    from ketasim import _core

    r = ks.simulate(esketamine, nasal56, "6 h", "5 min")
    mt = {o: _core.compute_metrics(r.trajectory, o) for o in r.outputs}
    path = tmp_path / "cpp.h5"
    _core.write_results(str(path), [("nasal", esketamine, "56 mg", [r.trajectory], [r.subject], [mt])])
    res = ks.read_results(path)
    arm = res.arm
    np.testing.assert_array_equal(arm.time, r.time)
    np.testing.assert_array_equal(arm["C_plasma"][0], r["C_plasma"])
    assert arm.units["C_plasma"] == "ng/mL"
    assert arm.metrics["C_plasma"]["cmax"][0] == mt["C_plasma"].cmax
    assert res.attrs["model_name"] == "esketamine_nasal" and res.complete


def test_public_write_results_round_trip(tmp_path, esketamine, nasal56):
    """ks.write_results -> ks.read_results: one arm of two subjects, and a second arm."""
    a = ks.simulate(esketamine, nasal56, "8 h", "5 min", age=30)
    b = ks.simulate(esketamine, nasal56, "8 h", "5 min", age=75, set={"ka_n": 3.0})
    iv = ks.simulate("ketamine_iv_clements", ks.Regimen.iv_infusion("0.5 mg/kg", "40 min"), "8 h", "5 min")
    path = tmp_path / "py.h5"
    ks.write_results(path, {"nasal": [a, b], "iv": iv}, command="pytest")
    res = ks.read_results(path)
    assert list(res.arms) == ["nasal", "iv"] and res.complete
    nasal = res.arms["nasal"]
    np.testing.assert_array_equal(nasal["C_plasma"][0], a["C_plasma"])
    np.testing.assert_array_equal(nasal["C_plasma"][1], b["C_plasma"])
    np.testing.assert_array_equal(res.arms["iv"]["Ce"][0], iv["Ce"])
    assert nasal.metrics["C_plasma"]["cmax"][1] == ks.metrics(b, "C_plasma")["cmax"]
    # Every metric of the registry, nothing else.
    assert set(nasal.metrics["C_plasma"]) == set(ks.METRICS)
    np.testing.assert_array_equal(nasal.subjects["age_years"], [30, 75])
    # A failed write (no such directory) raises and leaves no file behind.
    bad = tmp_path / "missing" / "x.h5"
    with pytest.raises(RuntimeError):
        ks.write_results(bad, a)
    assert not bad.exists() and not any((tmp_path).glob("missing*"))
    with pytest.raises(ValueError, match="different time grids"):
        ks.write_results(tmp_path / "y.h5", {"x": [a, ks.simulate(esketamine, nasal56, "8 h", "10 min")]})


def _cli() -> str | None:
    for c in (os.environ.get("KETASIM_CLI"), shutil.which("ketasim"), str(REPO / "build" / "ketasim")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


# Runs whenever a CLI binary is found ($KETASIM_CLI, PATH, build/ketasim); scripts/test.sh builds it.
@pytest.mark.skipif(_cli() is None, reason="ketasim CLI binary not found ($KETASIM_CLI, PATH, build/ketasim)")
def test_cli_compare_file_round_trip(tmp_path):
    out = tmp_path / "flagship.h5"
    proc = subprocess.run([_cli(), "compare", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = ks.read_results(out)
    assert list(res.arms) == ["iv_racemic", "in_esketamine", "in_racemic"]
    # Same numbers as the Python flagship (same library, same arms).
    results, table = ks.flagship.compare(None, show_table=False)
    # One concentration scale (issue 13): the CLI's threshold metrics compare the racemic-equivalent
    # concentration, as the Python flagship does: the same first crossing on the same grid.
    for arm, (label, row) in zip(res, table.iterrows()):
        cli_minutes = arm.metrics_frame()["C_plasma.time_to_threshold"].iloc[0] * 60
        np.testing.assert_allclose(cli_minutes, row["time_to_threshold 100 ng/mL (min)"], rtol=1e-12, err_msg=label)
    assert np.isfinite(table.loc[table.index[1], "time_to_threshold 100 ng/mL (min)"])  # esketamine reaches it
    for arm, r in zip(res, results.values()):
        np.testing.assert_allclose(arm["C_plasma"][0], r["C_plasma"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(arm["Ce"][0], r["Ce"], rtol=1e-12, atol=1e-12)
    # Same arms (C++ flagship_arms()): names and labels.
    assert list(results) == [a.label for a in _core.flagship_arms()]
    # C at the table's times is in the file, with its times; metric_frame spells them c_at_<t>h.
    iv = res["iv_racemic"]
    assert iv.metric_at_times["C_plasma"][:2] == [0.25, pytest.approx(2 / 3)]
    frame = iv.metrics_frame()
    assert "C_plasma.c_at_0.25h" in frame.columns and "C_plasma.cmax" in frame.columns


@pytest.mark.parametrize("order", ["import h5py, ketasim", "import ketasim, h5py"])
def test_h5py_and_ketasim_in_one_process(order, tmp_path):
    """h5py bundles its own libhdf5; the extension links Debian's. Both orders must work, and a
    file written by each must be readable by the other."""
    code = f"""
{order}
import numpy as np, ketasim as ks
from ketasim import _core
p = {str(tmp_path / "x.h5")!r}
r = ks.simulate('esketamine_nasal', ks.Regimen.intranasal('56 mg'), '2 h', '10 min')
_core.write_results(p, [('a', r.model, '', [r.trajectory], [r.subject], [{{}}])])
with h5py.File(p, 'r') as f:
    assert np.array_equal(f['outputs/C_plasma'][0], r['C_plasma'])
q = {str(tmp_path / "y.h5")!r}
with h5py.File(q, 'w') as f:
    f.attrs['complete'] = 'yes'
    f.create_dataset('time', data=np.arange(3.0)).attrs['units'] = 'h'
    f.create_group('outputs').create_dataset('C_plasma', data=np.ones((1, 3)))
assert ks.read_results(q).arm['C_plasma'].shape == (1, 3)
print('ok')
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_read_results_refuses_incomplete_or_damaged_files(tmp_path, esketamine, nasal56):
    """Regression (issue 9): files without complete = "yes", a text time axis, outputs of the
    wrong shape or with NaN were read as results."""
    h5py = pytest.importorskip("h5py")
    good = tmp_path / "good.h5"
    ks.write_results(good, {"a": ks.simulate(esketamine, nasal56, "2 h", "30 min")})
    assert ks.read_results(good).complete

    def damaged(name, edit):
        p = tmp_path / name
        p.write_bytes(good.read_bytes())
        with h5py.File(p, "r+") as f:
            edit(f)
        return p

    def time_as_text(f):
        del f["time"]
        f["time"] = np.array([b"0", b"1"])

    def wrong_shape(f):
        name = next(iter(f["outputs"]))
        del f["outputs"][name]
        f["outputs"][name] = np.zeros((1, 3))

    def with_nan(f):
        name = next(iter(f["outputs"]))
        v = f["outputs"][name][()]
        v[0, 1] = np.nan
        f["outputs"][name][...] = v

    cases = {
        "incomplete.h5": (lambda f: f.attrs.__setitem__("complete", "no"), "not a complete ketasim result"),
        "text_time.h5": (time_as_text, "time: must be a 1-D float dataset"),
        "shape.h5": (wrong_shape, "3 columns for 5 times"),
        "nan.h5": (with_nan, "is not finite"),
    }
    for name, (edit, msg) in cases.items():
        with pytest.raises(ValueError, match=msg):
            ks.read_results(damaged(name, edit))
