"""The model library: where it lives and how a name or path becomes a Model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from . import _core

ModelLike = Union[str, os.PathLike, _core.Model]

_PACKAGED = Path(__file__).resolve().parent / "models"


def models_dir() -> str:
    """Directory holding the library's index.toml.

    Same precedence as the CLI: $KETASIM_MODELS_DIR if set, else the copy installed inside the
    package (ketasim/models), else the C++ default (source tree, then share/ketasim/models).
    """
    env = os.environ.get("KETASIM_MODELS_DIR")
    if env:
        return env
    if (_PACKAGED / "index.toml").is_file():
        return str(_PACKAGED)
    return _core.default_models_dir()


def _dir(explicit: str | os.PathLike | None) -> str:
    return os.fspath(explicit) if explicit is not None else models_dir()


def load_model(name_or_path: ModelLike, models_dir: str | os.PathLike | None = None) -> _core.Model:
    """Load a model: a library name ("esketamine_nasal") or a path to a .toml model file.

    Raises ValueError (ketasim.InputError) with the C++ message for an unknown name, a missing
    file or an invalid model.
    """
    if isinstance(name_or_path, _core.Model):
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"model: expected a library name, a .toml path or a loaded model, got "
                        f"{type(name_or_path).__name__} {name_or_path!r}")
    text = os.fspath(name_or_path)
    return _core.load_library_model(text, _dir(models_dir))


def list_models(models_dir: str | os.PathLike | None = None) -> "pandas.DataFrame":  # noqa: F821
    """The model library index as a DataFrame (name, title, route, analyte, default, notes)."""
    import pandas as pd

    entries = _core.list_models(_dir(models_dir))
    return pd.DataFrame(
        [
            {
                "name": e.name,
                "title": e.title,
                "route": e.route,
                "analyte": e.analyte,
                "default": e.is_default,
                "file": e.file,
                "notes": e.notes,
            }
            for e in entries
        ]
    )


def parameters_frame(model: ModelLike) -> "pandas.DataFrame":  # noqa: F821
    """A model's parameters: name, value, unit, description, source."""
    import pandas as pd

    m = load_model(model)
    return pd.DataFrame(
        [
            {"name": p.name, "value": p.value, "unit": p.unit, "description": p.description, "source": p.source}
            for p in m.parameters
        ]
    ).set_index("name")
