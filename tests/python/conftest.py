"""Shared fixtures. Matplotlib draws off-screen; models come from the package's library."""

from __future__ import annotations

import os

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
