"""ketasim: ketamine and esketamine PK/PD simulation (C++ core, Python API).

    import ketasim as ks
    m = ks.load_model("esketamine_nasal")
    r = ks.simulate(m, ks.Regimen.intranasal("56 mg", devices=2), t_end="24 h", dt="1 min")
    r["C_plasma"]          # NumPy view of the plasma curve, ng/mL
    ks.metrics(r)          # cmax, tmax, auc_0_t, ... per output (ks.METRICS)
    c = ks.course(ks.schedules.iv_days([0, 2, 4, 7, 9, 11]))
    c.sessions             # per session: peak Ce, dissociation, discharge time, MADRS

Bad input raises ``ValueError`` (``ketasim.InputError``) with the C++ library's message;
numerical and file failures raise ``RuntimeError`` (``SolverError``, ``IoError``).
"""

from __future__ import annotations

from . import _core, schedules
from ._core import InputError, IoError, Model, SolverError
from ._models import list_models, load_model, models_dir, parameters_frame, set_models_dir
from ._pd import CourseResult, Schedule, course, load_pd
from ._population import CoursePopulationResult, PopulationResult, population
from ._regimen import Regimen
from ._results import ResultArm, ResultFile, read_results, write_results
from ._run import RunReport, merge_runs, open_run, run
from ._sensitivity import design, sensitivity
from ._simulate import METRICS, Result, metrics, simulate
from ._sweep import sweep
from ._units import Q

__version__: str = _core.__version__
version = _core.version

__all__ = [
    "CourseResult",
    "InputError",
    "IoError",
    "METRICS",
    "Model",
    "Regimen",
    "Result",
    "CoursePopulationResult",
    "PopulationResult",
    "Q",
    "ResultArm",
    "ResultFile",
    "RunReport",
    "Schedule",
    "SolverError",
    "__version__",
    "course",
    "design",
    "list_models",
    "load_model",
    "load_pd",
    "merge_runs",
    "metrics",
    "models_dir",
    "open_run",
    "parameters_frame",
    "population",
    "read_results",
    "run",
    "schedules",
    "set_models_dir",
    "simulate",
    "sensitivity",
    "sweep",
    "version",
    "write_results",
]


def __getattr__(name: str):
    # Submodules with optional dependencies (matplotlib, ipywidgets) load on first use: ks.plot,
    # ks.flagship, ks.widgets.
    if name in ("plot", "flagship", "widgets"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ketasim' has no attribute {name!r}")
