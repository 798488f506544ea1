"""The SciPy comparison benchmark runs and agrees (small N; timings are not checked)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("scipy")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_python_vs_scipy.py"


def test_scipy_benchmark_agrees(capsys):
    spec = importlib.util.spec_from_file_location("bench_python_vs_scipy", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--n", "4", "--repeat", "1"]) == 0
    assert "agreement within 0.001 relative on Cmax and AUC: yes" in capsys.readouterr().out
