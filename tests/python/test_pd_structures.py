"""The symptom-model structures from Python: chosen by the model file, v1 kept, MADRS at chosen times
in course populations (docs/symptom_model.md)."""

from __future__ import annotations

import numpy as np
import pytest

import ketasim as ks


def test_structures_are_named_by_the_files():
    assert ks.load_pd("madrs").attrs["structure"] == "madrs_v2"
    assert ks.load_pd("madrs_v3").attrs["structure"] == "madrs_v3"
    assert ks.load_pd("madrs_v1").attrs["structure"] == "madrs_v1"
    v3, v2 = ks.load_pd("madrs_v3"), ks.load_pd("madrs")
    assert {"k_cons", "k_off_c", "n_cons"} <= set(v3.index)
    assert {"k_cons", "k_off_c"} <= set(v2.index) and "n_cons" not in set(v2.index)
    assert "k_cons" not in set(ks.load_pd("madrs_v1").index)


def test_course_with_either_structure():
    six = ks.schedules.iv_days([0, 2, 4, 7, 9, 11])
    v1 = ks.course(six, follow_up="21 d", dt="15 min", symptom_model="madrs_v1")
    v2 = ks.course(six, follow_up="21 d", dt="15 min")
    v3 = ks.course(six, follow_up="21 d", dt="15 min", symptom_model="madrs_v3")
    assert v1.symptom_model.structure == "madrs_v1" and v2.symptom_model.structure == "madrs_v2"
    assert v3.symptom_model.structure == "madrs_v3" and v3.symptom_model.n_cons > 1
    assert np.all(v1.symptoms["C"] == 0.0)
    assert v2.symptoms["C"].max() > 0.0 and v3.symptoms["C"].max() > 0.0
    for r in (v1, v2, v3):
        m = r.symptoms["madrs"]
        assert np.all((m >= 0) & (m <= r.symptom_model.baseline + 1e-12))
        # Same single-dose calibration (24 h after session 1), different durability.
        assert r.sessions["madrs_24h"].iloc[0] == pytest.approx(v1.sessions["madrs_24h"].iloc[0], abs=0.1)


def test_structure_errors(tmp_path):
    from pathlib import Path

    text = Path(ks.load_pd("madrs").attrs["source_path"]).read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('structure = "madrs_v2"', 'structure = "madrs_v9"'))
    with pytest.raises(ValueError, match=r"bad.toml:\d+: structure = 'madrs_v9'.*madrs_v1, madrs_v2, madrs_v3"):
        ks.course("iv-3x-weekly", symptom_model=str(bad))
    v1 = tmp_path / "v1_with_v2_parameter.toml"
    v1.write_text(text.replace('structure = "madrs_v2"', 'structure = "madrs_v1"'))
    with pytest.raises(ValueError, match="parameters.k_cons.*not a parameter of this PD model"):
        ks.course("iv-3x-weekly", symptom_model=str(v1))
    with pytest.raises(ValueError, match="k_cons = -1"):
        ks.course("iv-3x-weekly", symptoms={"k_cons": -1.0})
    with pytest.raises(ValueError, match="n_cons = 0.5: must be in \\[1, 10\\]"):
        ks.course("iv-3x-weekly", symptom_model="madrs_v3", symptoms={"n_cons": 0.5})
    with pytest.raises(ValueError, match="n_cons = 2: must be 1 for structures madrs_v1 and madrs_v2"):
        ks.course("iv-3x-weekly", symptoms={"n_cons": 2.0})
    v2n = tmp_path / "v2_with_v3_parameter.toml"
    v3text = Path(ks.load_pd("madrs_v3").attrs["source_path"]).read_text()
    v2n.write_text(v3text.replace('structure = "madrs_v3"', 'structure = "madrs_v2"'))
    with pytest.raises(ValueError, match="parameters.n_cons.*not a parameter of this PD model"):
        ks.course("iv-3x-weekly", symptom_model=str(v2n))


def test_population_madrs_at_columns():
    p = ks.population(
        None,
        ks.schedules.iv_days([0]),
        n=6,
        seed=3,
        course_options=dict(follow_up="8 d", dt="15 min", madrs_at=["24 h", "7 d"]),
    )
    f = p.frame
    np.testing.assert_array_equal(f["madrs_at.24"], f["madrs_24h.1"])
    assert np.all(f["madrs_at.168"] <= f["baseline_madrs"])
    with pytest.raises(ValueError, match="madrs_times_h: 240 h is after the end of the simulation"):
        ks.population(
            None, ks.schedules.iv_days([0]), n=2, course_options=dict(follow_up="8 d", dt="15 min", madrs_at=["10 d"])
        )
