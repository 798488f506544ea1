"""The notebooks run top to bottom (nbclient), and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert {
        "01_iv_vs_intranasal_onset.ipynb",
        "02_parameter_sweep.ipynb",
        "03_repeated_sessions.ipynb",
        "05_teaching_widgets.ipynb",
    } <= set(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear outputs before committing"


# Run first in the kernel (not saved in the notebook): every warning is an error, as pytest's
# filterwarnings = ["error"] does for the test process, so a warning raised by ketasim or by a
# notebook's own cells (e.g. a pandas FutureWarning that a future pandas turns into an error)
# fails the notebook test. The kernel machinery's own DeprecationWarnings (jupyter_client,
# ipykernel, zmq: attributed to their modules, not to ketasim or the cells) stay warnings.
WARNINGS_AS_ERRORS = """\
import warnings
warnings.simplefilter("error")
for _m in ("jupyter_client", "ipykernel", "IPython", "zmq", "traitlets", "comm", "tornado"):
    warnings.filterwarnings("default", category=DeprecationWarning, module=_m)
    warnings.filterwarnings("default", category=PendingDeprecationWarning, module=_m)
"""


def execute(path, tmp_path):
    """The notebook executed with warnings as errors (the extra first cell is removed again)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(WARNINGS_AS_ERRORS))
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name}: {e}")
    del nb.cells[0]
    return nb


def test_notebook_warnings_are_errors(tmp_path, monkeypatch):
    # The guard itself: a cell that warns (as a ketasim or pandas call would) fails the run.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    path = tmp_path / "warns.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('import warnings\nwarnings.warn("x", FutureWarning)')]
    nbformat.write(nb, path)
    with pytest.raises(pytest.fail.Exception, match="FutureWarning"):
        execute(path, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = execute(path, tmp_path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name}: no figure produced"
