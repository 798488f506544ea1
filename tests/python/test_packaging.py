"""The package as installed: one version number, where the model library is found, overrides."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import ketasim as ks

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_version() -> str:
    # Parsed here independently of CMake's reader (cmake/KetasimVersion.cmake).
    text = (ROOT / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    m = re.search(r'^version\s*=\s*"([^"]+)"', project, re.M)
    assert m, "pyproject.toml [project] has no version"
    return m.group(1)


def test_version_is_pyproject_version():
    assert ks.__version__ == _pyproject_version()
    assert ks.version() == ks.__version__


def test_results_file_stores_the_version(tmp_path, esketamine):
    h5py = pytest.importorskip("h5py")
    r = ks.simulate(esketamine, ks.Regimen.intranasal("56 mg", devices=2), t_end="2 h", dt="10 min")
    path = tmp_path / "r.h5"
    ks.write_results(path, r)
    with h5py.File(path, "r") as f:
        stored = f.attrs["ketasim_version"]
    assert (stored.decode() if isinstance(stored, bytes) else str(stored)) == ks.__version__


def test_installed_package_reads_its_own_models():
    # The wheel carries the library as package data; the installed module finds it next to itself,
    # not in the source tree it was built from.
    packaged = Path(ks.__file__).resolve().parent / "models"
    if not (packaged / "index.toml").is_file():
        pytest.skip("ketasim is not installed as a wheel (no package data)")
    assert Path(ks.models_dir()).resolve() == packaged


def _small_library(tmp_path: Path) -> Path:
    d = tmp_path / "lib"
    d.mkdir()
    (d / "other.toml").write_text((ROOT / "models" / "ketamine_iv_clements.toml").read_text())
    (d / "index.toml").write_text('[[model]]\nname = "only_this_one"\nfile = "other.toml"\n')
    return d


def test_env_var_overrides(tmp_path, monkeypatch):
    d = _small_library(tmp_path)
    monkeypatch.setenv("KETASIM_MODELS_DIR", str(d))
    assert ks.models_dir() == str(d)
    assert list(ks.list_models()["name"]) == ["only_this_one"]
    assert ks.load_model("only_this_one").name


def test_env_var_without_index_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KETASIM_MODELS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"KETASIM_MODELS_DIR=.*nowhere.*index\.toml"):
        ks.list_models()


def test_set_models_dir_overrides_env_and_argument_overrides_both(tmp_path, monkeypatch):
    d = _small_library(tmp_path)
    monkeypatch.setenv("KETASIM_MODELS_DIR", str(tmp_path / "nowhere"))
    try:
        ks.set_models_dir(d)
        assert ks.models_dir() == str(d)
        assert list(ks.list_models()["name"]) == ["only_this_one"]
        assert "esketamine_nasal" in set(ks.list_models(models_dir=ROOT / "models")["name"])
    finally:
        ks.set_models_dir(None)
    monkeypatch.delenv("KETASIM_MODELS_DIR")
    assert "esketamine_nasal" in set(ks.list_models()["name"])


def test_set_models_dir_refuses_a_directory_without_index(tmp_path):
    with pytest.raises(ValueError, match="set_models_dir: .* has no index.toml"):
        ks.set_models_dir(tmp_path)
    with pytest.raises(TypeError, match="set_models_dir"):
        ks.set_models_dir(3)  # type: ignore[arg-type]


def test_toml_path_needs_no_library(tmp_path, monkeypatch):
    monkeypatch.setenv("KETASIM_MODELS_DIR", str(tmp_path / "nowhere"))
    assert ks.load_model(ROOT / "models" / "ketamine_iv_clements.toml").name


def test_library_not_found_in_a_fresh_process_names_places(tmp_path):
    # A subprocess so the session's module state is untouched.
    code = "import ketasim as ks; ks.list_models()"
    env = {"KETASIM_MODELS_DIR": str(tmp_path / "x"), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.returncode != 0
    assert "KETASIM_MODELS_DIR=" in p.stderr


def _cli() -> Path:
    cli = ROOT / "build" / "ketasim"
    if not cli.is_file():
        pytest.skip("no build/ketasim (the C++ command line is built by CMake, not by pip)")
    return cli


def _dash_m(args, **env):
    e = {k: v for k, v in __import__("os").environ.items() if k != "KETASIM_CLI"}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "ketasim", *args], capture_output=True, text=True, env=e, timeout=300)


def test_python_dash_m_is_the_ketasim_program():
    cli = _cli()
    for args in (["--version"], ["models"], ["simulate", "ketamine_iv_clements", "--dose", "-5 mg"]):
        direct = subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=300)
        via = _dash_m(args, KETASIM_CLI=str(cli))
        assert (via.returncode, via.stdout, via.stderr) == (direct.returncode, direct.stdout, direct.stderr), args
    assert _dash_m(["--version"], KETASIM_CLI=str(cli)).stdout.strip() == _pyproject_version()


def test_python_dash_m_without_the_program_says_so(tmp_path):
    p = _dash_m(["models"], KETASIM_CLI=str(tmp_path / "missing"))
    assert p.returncode == 2
    assert "ketasim command line was not found" in p.stderr and "KETASIM_CLI=" in p.stderr
    p = _dash_m(["models"], PATH=str(tmp_path))
    assert p.returncode == 2 and "not on PATH" in p.stderr
