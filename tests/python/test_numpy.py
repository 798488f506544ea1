"""NumPy views of trajectories share memory with the C++ object and keep it alive."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import ketasim as ks


@pytest.fixture()
def result(esketamine, nasal56):
    return ks.simulate(esketamine, nasal56, t_end="6 h", dt="1 min")


def test_two_accesses_share_memory(result):
    a, b = result["C_plasma"], result["C_plasma"]
    assert np.shares_memory(a, b)
    assert np.shares_memory(a, result.values)
    assert np.shares_memory(result["Ce"], result.values[2])
    assert np.shares_memory(result.time, result.trajectory.time)


def test_views_do_not_own_data_and_are_read_only(result):
    a = result["C_plasma"]
    assert not a.flags.owndata
    assert not a.flags.writeable
    assert a.flags.c_contiguous
    assert a.dtype == np.float64
    with pytest.raises(ValueError):
        a[0] = 1.0
    v = result.values
    assert v.flags.c_contiguous and v.shape == (3, result.time.size)


def test_base_chain_keeps_trajectory_alive(esketamine, nasal56):
    r = ks.simulate(esketamine, nasal56, t_end="6 h", dt="1 min")
    a = r["C_plasma"]
    expected = a.copy()
    assert a.base is r.trajectory
    del r
    gc.collect()
    # The trajectory lives on through the view's base; allocate to reuse freed memory if any.
    junk = [np.ones(a.size) * 7 for _ in range(50)]
    np.testing.assert_array_equal(a, expected)
    del junk


def test_to_pandas_is_consistent_with_views(result):
    df = result.to_pandas()
    np.testing.assert_array_equal(df["value"].to_numpy(), result.values.reshape(-1))
