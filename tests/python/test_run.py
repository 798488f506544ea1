"""ks.run: run specs (dict or file) streamed into resumable HDF5 files that xarray opens with
named dimensions; stop and resume; shards and merge; dry-run estimate; errors from the C++ parser."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import ketasim as ks

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "run"

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")


def spec(out: Path, n: int = 40, chunk: int = 8, **outputs) -> dict:
    return {
        "model": "ketamine_iv_clements",
        "regimen": str(ROOT / "models" / "regimens" / "iv_6_sessions.toml"),
        "population": {"n": n, "seed": 3, "covariates": str(DATA / "weight.toml")},
        "outputs": {"names": ["C_plasma"], "trajectories": True, "t_end": "3 d", "dt": "1 h", **outputs},
        "run": {"out": str(out), "chunk": chunk, "threads": 1},
    }


def same(a: Path, b: Path) -> None:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert sorted(fa) == sorted(fb)
        for k in fa:
            x, y = fa[k][()], fb[k][()]
            if x.dtype.kind == "f":
                np.testing.assert_array_equal(x.view(np.uint64), y.view(np.uint64), err_msg=k)
            else:
                np.testing.assert_array_equal(x, y, err_msg=k)


def test_dict_spec_opens_in_xarray_with_named_dims(tmp_path):
    rep = ks.run(spec(tmp_path / "a.h5"), progress=False)
    assert rep.complete and rep.points == 40 and rep.computed == 40 and rep.resumed == 0
    ds = ks.open_run(rep.path)
    try:
        assert ds["C_plasma"].dims == ("subject", "time")
        assert ds["C_plasma"].shape == (40, 73)
        assert not any(d.startswith("phony_dim") for d in ds.dims)
        np.testing.assert_array_equal(ds["subject"].values, np.arange(40))
        np.testing.assert_allclose(ds["time"].values, np.arange(73.0))
        assert ds["C_plasma.cmax"].dims == ("subject",)
        assert ds["dose_time"].dims == ("dose",) and ds.sizes["dose"] == 6
        assert ds["C_plasma"].attrs["units"] == "ng/mL"
        # cmax of each stored trajectory is the trajectory's max (1 h grid: the metric is on it too).
        np.testing.assert_array_equal(ds["C_plasma.cmax"].values, ds["C_plasma"].values.max(axis=1))
    finally:
        ds.close()
    with h5py.File(rep.path, "r") as f:
        assert int(f.attrs["complete"]) == 1
        assert int(f.attrs["seed"]) == 3  # randomness used
        assert "rtol" not in f.attrs  # exact solver: no tolerance
        assert f.attrs["solver"] == "exact"
        assert "trajectories = true" in f.attrs["spec"]
        assert f.attrs["ketasim_version"] == ks.version()
    with pytest.raises(ValueError, match="open it with ks.open_run"):
        ks.read_results(rep.path)


def test_file_spec_and_errors(tmp_path):
    text = (DATA / "iv_population.toml").read_text().replace('out = "iv_population.h5"', f'out = "{tmp_path / "f.h5"}"')
    p = tmp_path / "spec.toml"
    # Relative paths in the spec resolve against the spec's directory: copy the covariate file.
    (tmp_path / "weight.toml").write_text((DATA / "weight.toml").read_text())
    p.write_text(text.replace("../../../models", str(ROOT / "models")))
    assert ks.run(p, progress=False).complete
    bad = spec(tmp_path / "b.h5")
    bad["outputs"]["trajectory"] = bad["outputs"].pop("trajectories")
    with pytest.raises(ValueError, match="did you mean 'trajectories'"):
        ks.run(bad)
    with pytest.raises(ValueError, match="regimen and schedule are exclusive"):
        ks.run({**spec(tmp_path / "c.h5"), "schedule": "iv-3x-weekly"})
    with pytest.raises(ValueError, match="shard"):
        ks.run(spec(tmp_path / "d.h5"), shard="2/2")
    with pytest.raises(TypeError):
        ks.run(42)


def test_dry_run_estimate(tmp_path):
    s = spec(tmp_path / "e.h5", n=200)
    est = ks.run(s, dry_run=True)
    assert est["points"] == 200 and not (tmp_path / "e.h5").exists()
    ks.run(s, progress=False)
    assert est["output_bytes"] == pytest.approx(os.path.getsize(tmp_path / "e.h5"), rel=0.2)
    s["run"]["memory_budget"] = "1 kB"
    assert "over the budget" in ks.run(s, dry_run=True)["over_budget"]
    with pytest.raises(ValueError, match="over the budget"):
        ks.run({**s, "run": {**s["run"], "out": str(tmp_path / "f.h5")}}, progress=False)


def test_stop_and_resume_equal_an_uninterrupted_run(tmp_path):
    ref = ks.run(spec(tmp_path / "ref.h5", n=2000, chunk=4), progress=False)
    s = spec(tmp_path / "part.h5", n=2000, chunk=4)
    # The first progress call (after ~50 ms) stops the run at the next chunk.
    r1 = ks.run(s, progress=lambda done, total: False)
    assert not r1.complete and 0 < r1.computed < 2000
    with h5py.File(r1.path, "r") as f:
        assert int(f.attrs["complete"]) == 0
        assert 0 < f["chunks_done"][()].sum() < 500
    with pytest.raises(ValueError, match="not complete"):
        ks.open_run(r1.path)
    with pytest.raises(ValueError, match="--resume"):
        ks.run(s, progress=False)
    r2 = ks.run(s, resume=True, progress=False)
    assert r2.complete and r2.resumed == r1.computed and r2.resumed + r2.computed == 2000
    same(Path(ref.path), Path(r2.path))


def test_shards_merge_to_the_unsharded_run(tmp_path):
    full = ks.run(spec(tmp_path / "full.h5", n=30), progress=False)
    parts = [ks.run(spec(tmp_path / "s.h5", n=30), shard=f"{i}/3", progress=False).path for i in range(3)]
    ks.merge_runs(tmp_path / "m.h5", parts[::-1])
    same(Path(full.path), tmp_path / "m.h5")
    a, m = ks.open_run(full.path), ks.open_run(tmp_path / "m.h5")
    try:
        xr.testing.assert_equal(a, m)
    finally:
        a.close()
        m.close()
    with pytest.raises(ValueError, match="missing"):
        ks.merge_runs(tmp_path / "bad.h5", parts[:2])


def test_dask_shards_equal_the_local_run(tmp_path, monkeypatch):
    """ks.run(spec, client=...): shards run on Dask worker processes (whose working directory is
    not the caller's: the dict's relative output path still means the caller's), merged into the
    same file as the local run, shard files removed."""
    distributed = pytest.importorskip("distributed")
    full = ks.run(spec(tmp_path / "full.h5", n=30), progress=False)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        monkeypatch.chdir(tmp_path)  # after the workers started elsewhere
        seen = []
        rep = ks.run(spec(Path("d.h5"), n=30), client=client, shards=3, progress=lambda d, t: seen.append((d, t)))
        assert rep.complete and rep.points == 30 and rep.computed == 30 and rep.resumed == 0
        assert Path(rep.path) == tmp_path / "d.h5"
        same(Path(full.path), tmp_path / "d.h5")
        assert sorted(p.name for p in tmp_path.glob("d*")) == ["d.h5"]
        assert seen[-1] == (30, 30)
        # A dead job left shard 1 complete: resume=True keeps it and runs the others.
        left = ks.run(spec(Path("r.h5"), n=30), shard="1/3", progress=False)
        rep = ks.run(spec(Path("r.h5"), n=30), client=client, shards=3, resume=True, progress=False)
        assert rep.complete and rep.resumed == left.points and rep.computed == 30 - left.points
        same(Path(full.path), tmp_path / "r.h5")
        with pytest.raises(ValueError, match="exclude"):
            ks.run(spec(Path("e.h5")), client=client, shard="0/2")
        with pytest.raises(ValueError, match="shards = 0"):
            ks.run(spec(Path("e.h5")), client=client, shards=0)
        with pytest.raises(ValueError, match="no subjects"):
            ks.run(spec(Path("e.h5"), n=2, chunk=1), client=client, shards=3)
    with pytest.raises(ValueError, match="needs client"):
        ks.run(spec(tmp_path / "e.h5"), shards=2)


def design_spec(out: Path, kind: str = "sobol", n: int = 24, **design) -> dict:
    return {
        "model": "ketamine_iv_clements",
        "regimen": str(ROOT / "models" / "regimens" / "iv_6_sessions.toml"),
        "design": {
            "kind": kind,
            "n": n,
            "factors": ["weight=uniform(50 kg, 110 kg)", "k10=lognormal(0.05 1/min, 0.3)"],
            **design,
        },
        "outputs": {"names": ["C_plasma"], "trajectories": True, "t_end": "2 d", "dt": "1 h"},
        "run": {"out": str(out), "chunk": 5, "threads": 2},
    }


@pytest.mark.parametrize("kind", ["sobol", "lhs"])
def test_design_run_rows_are_the_design_points(tmp_path, kind):
    """[design] in a run spec: one row per point (dimension `point`), the factor values of
    ks.design, curves equal to ks.simulate of that subject; shards merge to the whole run."""
    spec = design_spec(tmp_path / "d.h5", kind, seed=7)
    rep = ks.run(spec, progress=False)
    assert rep.complete and rep.points == 24
    factors = {"weight": "uniform(50 kg, 110 kg)", "k10": "lognormal(0.05 1/min, 0.3)"}
    points = ks.design(factors, 24, kind=kind, seed=7, model="ketamine_iv_clements")
    ds = ks.open_run(rep.path)
    try:
        assert ds["C_plasma"].dims == ("point", "time")
        np.testing.assert_array_equal(ds["point"].values, np.arange(24))
        for name in ("weight", "k10"):
            np.testing.assert_array_equal(ds[name].values, points[name].values)
        assert ds.attrs["design"] == kind
        # Only settings that affect the numbers: an unshifted Sobol' design has no seed.
        assert ("seed" in ds.attrs) == (kind == "lhs") and int(ds.attrs.get("seed", 7)) == 7
        for i in (0, 13, 23):
            w, k10 = float(points.loc[i, "weight"]), float(points.loc[i, "k10"])
            r = ks.simulate(
                "ketamine_iv_clements",
                ROOT / "models" / "regimens" / "iv_6_sessions.toml",
                "2 d",
                "1 h",
                weight=w,
                set={"k10": f"{k10!r} 1/min"},
            )
            np.testing.assert_allclose(ds["C_plasma"].values[i], r["C_plasma"], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ds["C_plasma.cmax"].values[i], r["C_plasma"].max(), rtol=1e-12)
    finally:
        ds.close()
    parts = [
        ks.run(design_spec(tmp_path / "s.h5", kind, seed=7), shard=f"{i}/2", progress=False).path for i in range(2)
    ]
    ks.merge_runs(tmp_path / "m.h5", parts)
    same(Path(rep.path), tmp_path / "m.h5")


def test_design_spec_errors(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        ks.run({**spec(tmp_path / "a.h5"), "design": design_spec(tmp_path / "a.h5")["design"]}, progress=False)
    with pytest.raises(ValueError, match='must be "sobol" or "lhs"'):
        ks.run(design_spec(tmp_path / "a.h5", "grid"), progress=False)
    with pytest.raises(ValueError, match="shift: applies to kind"):
        ks.run(design_spec(tmp_path / "a.h5", "lhs", shift=True), progress=False)
    with pytest.raises(ValueError, match="did you mean 'factors'"):
        s = design_spec(tmp_path / "a.h5")
        s["design"]["factor"] = s["design"].pop("factors")
        ks.run(s, progress=False)
    with pytest.raises(ValueError, match="does not use covariate 'age'"):
        s = design_spec(tmp_path / "a.h5")
        s["design"]["factors"].append("age=uniform(20, 60)")
        ks.run(s, progress=False)
    with pytest.raises(ValueError, match="in design order"):
        s = design_spec(tmp_path / "a.h5")
        s["design"]["factors"] = {"weight": "uniform(50 kg, 110 kg)"}
        ks.run(s, progress=False)
    assert not list(tmp_path.glob("*.h5"))


def course_spec(out: Path, **course) -> dict:
    return {
        "schedule": "iv-3x-weekly",
        "course": {"weeks": 2, "dt": "5 min", **course},
        "population": {"n": 40, "seed": 2026},
        "run": {"out": str(out), "chunk": 8, "threads": 2},
    }


def test_course_run_equals_ks_population(tmp_path):
    """schedule = NAME in a run spec: one row per patient with the session columns, the same
    numbers as ks.population on the same schedule and seed; shards merge to the whole run."""
    rep = ks.run(course_spec(tmp_path / "c.h5", stop_at_remission=True), progress=False)
    assert rep.complete and rep.points == 40
    pop = ks.population(
        None,
        ks.schedules.named("iv-3x-weekly", weeks=2),
        n=40,
        seed=2026,
        course_options={"dt": "5 min", "stop_at_remission": True},
    )
    with h5py.File(rep.path, "r") as f:
        assert f.attrs["schedule"] == "iv-3x-weekly"
        columns = [c for c in f.attrs["columns"] if c != "subject"]
        assert {"response.6", "remission.1", "relapse_h", "sessions_to_remission"} <= set(columns)
        for c in columns:
            np.testing.assert_array_equal(f[c][()], pop.frame[c].to_numpy(dtype=float), err_msg=c)
    parts = [
        ks.run(course_spec(tmp_path / "s.h5", stop_at_remission=True), shard=f"{i}/3", progress=False).path
        for i in range(3)
    ]
    ks.merge_runs(tmp_path / "m.h5", parts)
    same(Path(rep.path), tmp_path / "m.h5")


def test_course_spec_errors(tmp_path):
    with pytest.raises(ValueError, match="regimen and schedule are exclusive"):
        ks.run({**course_spec(tmp_path / "a.h5"), "regimen": "x.toml"}, progress=False)
    with pytest.raises(ValueError, match=r"\[outputs\]: a course run"):
        ks.run({**course_spec(tmp_path / "a.h5"), "outputs": {"t_end": "2 d"}}, progress=False)
    with pytest.raises(ValueError, match=r"\[course\]: applies with schedule"):
        ks.run({**spec(tmp_path / "a.h5"), "course": {"weeks": 2}}, progress=False)
    with pytest.raises(ValueError, match="did you mean 'follow_up'"):
        ks.run(course_spec(tmp_path / "a.h5", followup="28 d"), progress=False)
    with pytest.raises(ValueError, match="schedule: "):
        ks.run({**course_spec(tmp_path / "a.h5"), "schedule": "iv-weekly-forever"}, progress=False)
    assert not list(tmp_path.glob("*.h5"))


def test_course_design_over_schedules(tmp_path):
    """A dict spec whose design chooses the schedule per point (schedule=choice(...)): one row per
    point, each schedule equally often (Latin hypercube), the chosen schedule's sessions; shards
    merge to the whole run. (Equality with single-schedule runs: tests/cpp/stream_h5_test.cpp.)"""
    d = {
        "design": {
            "kind": "lhs",
            "n": 6,
            "seed": 5,
            "factors": ["schedule=choice(iv-2x-weekly, iv-3x-weekly)", "weight=uniform(50 kg, 110 kg)"],
        },
        "course": {"weeks": 1, "follow_up": "2 d", "metrics_only": True},
        "run": {"out": str(tmp_path / "d.h5"), "chunk": 2, "threads": 2},
    }
    rep = ks.run(d, progress=False)
    assert rep.complete and rep.points == 6
    with h5py.File(rep.path, "r") as f:
        assert f.attrs["schedule_choices"] == "iv-2x-weekly, iv-3x-weekly"
        s = f["schedule"][()]
        assert sorted(s.tolist()) == [0, 0, 0, 1, 1, 1]
        # One week: 2 sessions twice weekly, 3 thrice weekly; session 3 NaN where not given.
        np.testing.assert_array_equal(f["sessions_given"][()], np.where(s == 0, 2.0, 3.0))
        assert np.isnan(f["madrs_24h.3"][()][s == 0]).all()
        assert np.isfinite(f["madrs_24h.3"][()][s == 1]).all()
        assert "dose" not in f
    parts = [
        ks.run({**d, "run": {**d["run"], "out": str(tmp_path / "s.h5")}}, shard=f"{i}/2", progress=False).path
        for i in range(2)
    ]
    ks.merge_runs(tmp_path / "m.h5", parts)
    same(Path(rep.path), tmp_path / "m.h5")


def test_cli_population_out_h5_is_a_thin_form_of_run(tmp_path, ketasim_cli):
    """`ketasim population ... --out X.h5` writes the run file of the spec its flags mean (stored
    in the file): the same values as its CSV output, and the same file as `ketasim run` of that spec."""
    import subprocess

    args = [
        ketasim_cli,
        "population",
        "ketamine_iv_clements",
        "--regimen",
        str(ROOT / "models" / "regimens" / "iv_6_sessions.toml"),
    ]
    args += ["--n", "30", "--seed", "4", "--t-end", "2 d", "--dt", "1 h", "--quiet"]
    for out in ("p.h5", "p.csv"):
        proc = subprocess.run(args + ["--out", str(tmp_path / out)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    import pandas as pd

    csv = pd.read_csv(tmp_path / "p.csv", comment="#")
    csv.columns = [c.split("[")[0] for c in csv.columns]
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert int(f.attrs["complete"]) == 1
        cols = [c for c in f.attrs["columns"] if c != "subject"]
        assert "C_plasma.cmax" in cols
        for c in cols:
            np.testing.assert_array_equal(f[c][()], csv[c].to_numpy(dtype=float), err_msg=c)
        text = f.attrs["spec"]
    spec_file = tmp_path / "again.toml"
    spec_file.write_text(text.replace(str(tmp_path / "p.h5"), str(tmp_path / "again.h5")))
    proc = subprocess.run([ketasim_cli, "run", str(spec_file), "--quiet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    same(tmp_path / "p.h5", tmp_path / "again.h5")
    # A course population too (schedule flags become [course]).
    proc = subprocess.run(
        [ketasim_cli, "population", "--schedule", "iv-3x-weekly", "--weeks", "2", "--n", "12", "--seed", "2026"]
        + ["--dt", "5 min", "--out", str(tmp_path / "c.h5"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    pop = ks.population(
        None, ks.schedules.named("iv-3x-weekly", weeks=2), n=12, seed=2026, course_options={"dt": "5 min"}
    )
    with h5py.File(tmp_path / "c.h5", "r") as f:
        np.testing.assert_array_equal(f["response.6"][()], pop.frame["response.6"].to_numpy(dtype=float))


def test_course_run_metrics_only_agrees_with_the_full_path(tmp_path):
    """[course] metrics_only = true runs the metrics-only course path (run_course_metrics): the
    same decisions and MADRS within its stated tolerance (1e-5 points, tests/cpp/course_metrics_test.cpp)."""
    full = ks.run(course_spec(tmp_path / "full.h5"), progress=False)
    fast = ks.run(course_spec(tmp_path / "fast.h5", metrics_only=True), progress=False)
    with h5py.File(full.path, "r") as a, h5py.File(fast.path, "r") as b:
        for k in range(1, 7):
            np.testing.assert_array_equal(a[f"response.{k}"][()], b[f"response.{k}"][()])
            np.testing.assert_array_equal(a[f"remission.{k}"][()], b[f"remission.{k}"][()])
            np.testing.assert_allclose(a[f"madrs_24h.{k}"][()], b[f"madrs_24h.{k}"][()], rtol=0, atol=1e-4)
