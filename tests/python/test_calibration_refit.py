"""The madrs_v2 and madrs_v3 calibrations refit from scratch to the values in models/pd/madrs.toml
and models/pd/madrs_v3.toml (scripts/calibrate_madrs.py; docs/calibration.md sections 2 and 2a).
About 9 minutes each on 2 cores, so they run
only when asked: KETASIM_RUN_REFIT=1 pytest tests/python/test_calibration_refit.py. The fast checks
of the same file are C++ (tests/cpp/symptoms_v2_test.cpp: the typical-patient refit and every
calibration row)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KETASIM_RUN_REFIT") != "1", reason="set KETASIM_RUN_REFIT=1 (about 9 min)")
@pytest.mark.parametrize("model", ["madrs", "madrs_v3"])
def test_refit_reproduces_the_file(model):
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "calibrate_madrs.py"), "--model", model],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "refit reproduces the file" in r.stdout
