"""Shared fixtures. Matplotlib draws off-screen; models come from the package's library."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

import ketasim as ks  # noqa: E402

# Relative tolerance for agreement between two independent computations of the same exact
# quantity (solver output stored and re-read, or metrics recomputed): round-off only.
RTOL_ROUNDOFF = 1e-12


@pytest.fixture(scope="session")
def esketamine():
    return ks.load_model("esketamine_nasal")


@pytest.fixture(scope="session")
def clements():
    return ks.load_model("ketamine_iv_clements")


@pytest.fixture(scope="session")
def nasal56():
    return ks.Regimen.intranasal("56 mg", devices=2)


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ketasim_cli() -> str:
    """The `ketasim` binary: $KETASIM_CLI, else this checkout's build/ (scripts/test.sh builds it
    there), else PATH (last: an installed binary may be older). Skips when none exists."""
    candidates = [os.environ.get("KETASIM_CLI"), str(ROOT / "build" / "ketasim")]
    candidates += [str(p) for p in sorted(ROOT.glob("build*/ketasim"))] + [shutil.which("ketasim")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.skip("ketasim CLI binary not found ($KETASIM_CLI, build/ketasim, PATH)")
