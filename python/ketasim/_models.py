"""The model library: where it lives and how a name or path becomes a Model."""

from __future__ import annotations

import os
from typing import Union

from . import _core

ModelLike = Union[str, os.PathLike, _core.Model]

_override: str | None = None


def set_models_dir(path: str | os.PathLike | None) -> None:
    """Use this model library directory (holding index.toml) for the rest of the session.

    It takes precedence over $KETASIM_MODELS_DIR and the installed library; ``None`` restores the
    default. A ``models_dir=`` argument to a single call still wins over it.
    """
    global _override
    if path is None:
        _override = None
        return
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"set_models_dir: expected a directory path or None, got {type(path).__name__} {path!r}")
    p = os.fspath(path)
    if not os.path.isfile(os.path.join(p, "index.toml")):
        raise ValueError(f"set_models_dir: {p!r} has no index.toml (the model library directory holds index.toml)")
    _override = p


def models_dir() -> str:
    """Directory holding the library's index.toml.

    ks.set_models_dir(...) if called; else the C++ library's rule, shared with the CLI:
    $KETASIM_MODELS_DIR if set, else the copy installed inside this package (ketasim/models),
    else the source tree for a module run from its build tree. If none has index.toml, ValueError
    naming every place looked.
    """
    return _override if _override is not None else _core.default_models_dir()


def _dir(explicit: str | os.PathLike | None) -> str:
    # "" lets the C++ library apply its default only when a library lookup is needed (a .toml
    # path needs none).
    if explicit is not None:
        return os.fspath(explicit)
    return _override if _override is not None else ""


def load_model(name_or_path: ModelLike, models_dir: str | os.PathLike | None = None) -> _core.Model:
    """Load a model: a library name ("esketamine_nasal") or a path to a .toml model file.

    Raises ValueError (ketasim.InputError) with the C++ message for an unknown name, a missing
    file or an invalid model.
    """
    if isinstance(name_or_path, _core.Model):
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            f"model: expected a library name, a .toml path or a loaded model, got "
            f"{type(name_or_path).__name__} {name_or_path!r}"
        )
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
