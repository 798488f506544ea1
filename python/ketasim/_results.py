"""Reading ketasim HDF5 result files with h5py (the layout of docs/formats.md).

One arm at the root::

    /time (T,) units="h"; /outputs/<name> (N, T) units; /metrics/<output>/<metric> (N,)
    /subjects/weight_kg, /subjects/age_years (N,); /subjects/parameters (N, P) attrs names, units
    root attrs: model_name, model_toml, ketasim_version, solver, ..., complete="yes"

Several arms: the same layout under /arms/<arm>/ (attr "order" on /arms), run attributes at
the root. Only h5py and NumPy are needed; ketasim's compiled core is not used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np


def _text(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.dtype.kind in ("O", "S"):
        return [_text(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _attrs(obj) -> Dict[str, Any]:
    return {k: _text(v) for k, v in obj.attrs.items()}


@dataclass
class ResultArm:
    """One arm of a result file: N subjects on a common time grid."""

    name: str
    time: np.ndarray
    outputs: Dict[str, np.ndarray]  # output -> (N, T)
    units: Dict[str, str]
    metrics: Dict[str, Dict[str, np.ndarray]]  # output -> metric (ks.METRICS name; c_at (N, K)) -> values
    metric_units: Dict[str, Dict[str, str]]
    subjects: Optional["pandas.DataFrame"]  # noqa: F821  one row per subject
    attrs: Dict[str, Any] = field(default_factory=dict)
    metric_at_times: Dict[str, List[float]] = field(default_factory=dict)  # output -> c_at times, h

    @property
    def n_subjects(self) -> int:
        return next(iter(self.outputs.values())).shape[0] if self.outputs else 0

    def __getitem__(self, output: str) -> np.ndarray:
        try:
            return self.outputs[output]
        except KeyError:
            raise KeyError(f"arm '{self.name}': no output '{output}' (outputs: {', '.join(self.outputs)})") from None

    def to_pandas(self) -> "pandas.DataFrame":  # noqa: F821
        """Tidy: subject, time (h), output, value, unit."""
        import pandas as pd

        frames = []
        t = self.time
        for name, v in self.outputs.items():
            n = v.shape[0]
            frames.append(
                pd.DataFrame(
                    {
                        "subject": np.repeat(np.arange(n), t.size),
                        "time": np.tile(t, n),
                        "output": name,
                        "value": v.reshape(-1),
                        "unit": self.units.get(name, ""),
                    }
                )
            )
        return (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["subject", "time", "output", "value", "unit"])
        )

    def metrics_frame(self) -> "pandas.DataFrame":  # noqa: F821
        """One row per subject, columns "<output>.<metric>" (``ks.METRICS`` names; c_at as
        "<output>.c_at_<t>h" per time of its ``at_times`` attribute)."""
        import pandas as pd

        cols: Dict[str, np.ndarray] = {}
        units: Dict[str, str] = {}
        for o, d in self.metrics.items():
            for k, v in d.items():
                if v.ndim == 2:
                    times = self.metric_at_times.get(o, [])
                    for j in range(v.shape[1]):
                        col = f"{o}.c_at_{times[j]:g}h" if j < len(times) else f"{o}.{k}_{j}"
                        cols[col] = v[:, j]
                        units[col] = self.metric_units.get(o, {}).get(k, "")
                else:
                    cols[f"{o}.{k}"] = v
                    units[f"{o}.{k}"] = self.metric_units.get(o, {}).get(k, "")
        df = pd.DataFrame(cols)
        df.index.name = "subject"
        df.attrs["units"] = units  # column -> unit, the documented place for units in frames
        return df

    def __repr__(self) -> str:
        t = self.time
        span = f"{t[0]:g}-{t[-1]:g} h" if t.size else "empty"
        outs = ", ".join(self.outputs)
        if len(outs) > 120:
            outs = outs[:117] + "..."
        return f"<ketasim.ResultArm {self.name!r}: {self.n_subjects} subjects, {t.size} times ({span}); outputs {outs}>"

    def _repr_html_(self) -> str:
        rows = [(o, self.units.get(o, ""), f"{np.nanmax(v):.4g}" if v.size else "-") for o, v in self.outputs.items()]
        return _html_table(
            f"ketasim result arm {self.name!r}: {self.n_subjects} subjects, {self.time.size} times",
            ("output", "unit", "max"),
            rows,
        )


@dataclass
class ResultFile:
    """A result file: run attributes and its arms (in file order)."""

    path: str
    attrs: Dict[str, Any]
    arms: Dict[str, ResultArm]

    @property
    def complete(self) -> bool:
        return self.attrs.get("complete") == "yes"

    @property
    def arm(self) -> ResultArm:
        """The only arm (ValueError if the file has several)."""
        if len(self.arms) != 1:
            raise ValueError(f"{self.path}: {len(self.arms)} arms ({', '.join(self.arms)}); pick one with file[name]")
        return next(iter(self.arms.values()))

    def __getitem__(self, name: str) -> ResultArm:
        try:
            return self.arms[name]
        except KeyError:
            raise KeyError(f"{self.path}: no arm '{name}' (arms: {', '.join(self.arms)})") from None

    def __iter__(self):
        return iter(self.arms.values())

    def __len__(self) -> int:
        return len(self.arms)

    def __repr__(self) -> str:
        arms = ", ".join(f"{a.name} ({a.n_subjects} subj.)" for a in self.arms.values())
        if len(arms) > 150:
            arms = arms[:147] + "..."
        v = self.attrs.get("ketasim_version", "?")
        state = "complete" if self.complete else "INCOMPLETE"
        return f"<ketasim.ResultFile {os.path.basename(self.path)!r} ({state}, ketasim {v}): {len(self.arms)} arms: {arms}>"

    def _repr_html_(self) -> str:
        rows = [
            (a.name, a.n_subjects, a.time.size, ", ".join(f"{o} [{a.units.get(o, '')}]" for o in a.outputs))
            for a in self.arms.values()
        ]
        return _html_table(
            f"ketasim result file {os.path.basename(self.path)} (ketasim {self.attrs.get('ketasim_version', '?')})",
            ("arm", "subjects", "times", "outputs [unit]"),
            rows,
        )

    def to_pandas(self) -> "pandas.DataFrame":  # noqa: F821
        """Tidy over all arms: arm, subject, time, output, value, unit."""
        import pandas as pd

        frames = []
        for a in self.arms.values():
            df = a.to_pandas()
            df.insert(0, "arm", a.name)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)


def _read_arm(g, name: str) -> ResultArm:
    import pandas as pd

    if "time" not in g:
        raise ValueError(f"{g.file.filename}: group '{g.name}' has no 'time' dataset; not a ketasim result")
    where = f"{g.file.filename}:{g.name}"
    time = g["time"][()]
    # No silent wrong numbers from a damaged or foreign file: the time axis is a finite, strictly
    # increasing float vector and every output is a finite float (subjects, times) array.
    if not (isinstance(time, np.ndarray) and time.ndim == 1 and np.issubdtype(time.dtype, np.floating)):
        raise ValueError(
            f"{where}/time: must be a 1-D float dataset (hours), got {getattr(time, 'dtype', type(time))} "
            f"of shape {getattr(time, 'shape', ())}"
        )
    if not (np.all(np.isfinite(time)) and np.all(np.diff(time) > 0)):
        raise ValueError(f"{where}/time: must be finite and strictly increasing")
    outputs: Dict[str, np.ndarray] = {}
    units: Dict[str, str] = {}
    if "outputs" in g:
        for k, ds in g["outputs"].items():
            v = ds[()]
            if not (isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating) and v.ndim in (1, 2)):
                raise ValueError(
                    f"{where}/outputs/{k}: must be a float array (subjects, times), got "
                    f"{getattr(v, 'dtype', type(v))} of shape {getattr(v, 'shape', ())}"
                )
            v = v.reshape(1, -1) if v.ndim == 1 else v
            if v.shape[1] != time.size:
                raise ValueError(f"{where}/outputs/{k}: {v.shape[1]} columns for {time.size} times")
            if not np.all(np.isfinite(v)):
                bad = np.argwhere(~np.isfinite(v))[0]
                raise ValueError(
                    f"{where}/outputs/{k}: value {v[tuple(bad)]} at subject {bad[0]}, time "
                    f"{time[bad[1]]} h is not finite"
                )
            outputs[k] = v
            units[k] = _text(ds.attrs.get("units", ""))
    metrics: Dict[str, Dict[str, np.ndarray]] = {}
    metric_units: Dict[str, Dict[str, str]] = {}
    at_times: Dict[str, List[float]] = {}
    if "metrics" in g:
        for o, og in g["metrics"].items():
            if hasattr(og, "items"):
                metrics[o] = {k: ds[()] for k, ds in og.items()}
                metric_units[o] = {k: _text(ds.attrs.get("units", "")) for k, ds in og.items()}
                if "c_at" in og and "at_times" in og["c_at"].attrs:
                    at_times[o] = [float(x) for x in np.atleast_1d(og["c_at"].attrs["at_times"])]
            else:  # flat /metrics/<name>
                metrics.setdefault("", {})[o] = og[()]
                metric_units.setdefault("", {})[o] = _text(og.attrs.get("units", ""))
    subjects = None
    if "subjects" in g:
        sg = g["subjects"]
        cols: Dict[str, np.ndarray] = {}
        for k in ("weight_kg", "age_years"):
            if k in sg:
                cols[k] = sg[k][()]
        if "parameters" in sg:
            p = sg["parameters"][()]
            pnames = _text(sg["parameters"].attrs.get("names", []))
            if isinstance(pnames, str):
                pnames = [pnames]
            for j, pn in enumerate(pnames):
                cols[pn] = p[:, j]
        subjects = pd.DataFrame(cols) if cols else None
    return ResultArm(name, time, outputs, units, metrics, metric_units, subjects, _attrs(g), at_times)


def read_results(path: Union[str, os.PathLike]) -> ResultFile:
    """Read a ketasim HDF5 result file (one arm at the root, or several under /arms).

    Needs h5py. The single arm of a one-arm file is named after the root attribute "arm" (or
    "model_name", else "main"); arms under /arms keep their group names, in the order of the
    /arms attribute "order" when present.
    """
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ketasim.read_results needs h5py (pip install h5py)") from e
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"read_results: path: expected a file path, got {type(path).__name__} {path!r}")
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise FileNotFoundError(f"read_results: path: '{p}' is not a file")
    if not h5py.is_hdf5(p):
        raise ValueError(f"read_results: path: '{p}' is not an HDF5 file (ketasim writes .h5; read .csv with pandas)")
    with h5py.File(p, "r") as f:
        attrs = _attrs(f)
        if "arms" not in f and "time" not in f:
            raise ValueError(f"{p}: neither /time nor /arms; not a ketasim result file")
        if attrs.get("layout") == "ketasim-run/1":
            raise ValueError(f"{p}: a `ketasim run` file (streamed layout, docs/hpc.md): open it with ks.open_run")
        # The writer sets complete = "yes" last: anything else is a run that did not finish.
        if attrs.get("complete") != "yes":
            raise ValueError(
                f"{p}: not a complete ketasim result (root attribute complete = "
                f"{attrs.get('complete')!r}, not 'yes'): the run that wrote it did not finish"
            )
        arms: Dict[str, ResultArm] = {}
        if "arms" in f:
            ag = f["arms"]
            order: List[str] = _text(ag.attrs.get("order", [])) or []
            if isinstance(order, str):
                order = [order]
            names = [n for n in order if n in ag] + sorted(n for n in ag if n not in order)
            for n in names:
                arms[n] = _read_arm(ag[n], n)
        elif "time" in f:
            name = attrs.get("arm") or attrs.get("model_name") or "main"
            arms[str(name)] = _read_arm(f, str(name))
        else:
            raise ValueError(f"{p}: neither /time nor /arms; not a ketasim result file")
    return ResultFile(p, attrs, arms)


__all__ = ["read_results", "ResultFile", "ResultArm"]


def write_results(path: Union[str, os.PathLike], results: Any, *, command: str = "python") -> None:
    """Write simulation results to an HDF5 file in the CLI's layout (docs/formats.md), through the
    C++ writer: the file is written under a temporary name and renamed when complete, so a failed
    write leaves nothing behind.

    Args:
        path: the .h5 file to create (replaced if it exists).
        results: one ``ks.Result`` (one arm, one subject), or ``{arm name: Result or [Result,
            ...]}`` for several arms; the Results of one arm must share the model, the regimen
            and the time grid (one row per subject).
        command: stored as the file's "command" attribute.

    Metrics (``ks.METRICS``: cmax, tmax, auc_0_t, ..., as ``ks.metrics``) are computed for every output and stored
    under /metrics. ``ks.read_results(path)`` reads the file back.
    """
    from . import _core
    from ._regimen import Regimen
    from ._simulate import Result, make_metric_options

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"write_results: path: expected a file path, got {type(path).__name__} {path!r}")
    if not isinstance(command, str):
        raise TypeError(f"write_results: command: expected a str, got {type(command).__name__} {command!r}")
    if not isinstance(results, (Result, Mapping)):
        raise TypeError(
            f"write_results: results: expected a ks.Result or {{arm name: Result or [Result, ...]}}, "
            f"got {type(results).__name__}"
        )
    arms_in = {"arm": results} if isinstance(results, Result) else dict(results)
    if not arms_in:
        raise ValueError("write_results: no results to write")
    arms = []
    options = None
    for name, rs in arms_in.items():
        rs = [rs] if isinstance(rs, Result) else list(rs)
        if not rs or not all(isinstance(r, Result) for r in rs):
            raise ValueError(f"write_results: arm '{name}': expected a ks.Result or a non-empty list of them")
        first = rs[0]
        for r in rs[1:]:
            if r.model is not first.model and r.model.name != first.model.name:
                raise ValueError(
                    f"write_results: arm '{name}': results from different models ({first.model.name}, {r.model.name})"
                )
            if not np.array_equal(np.asarray(r.time), np.asarray(first.time)):
                raise ValueError(f"write_results: arm '{name}': results on different time grids")
        mo = make_metric_options()  # last dose: each trajectory's own
        metrics = [{o: _core.compute_metrics(r.trajectory, o, mo) for o in r.outputs} for r in rs]
        reg = first.regimen if isinstance(first.regimen, Regimen) else Regimen._wrap(first.regimen)
        arms.append((str(name), first.model, repr(reg), [r.trajectory for r in rs], [r.subject for r in rs], metrics))
        options = options or getattr(first, "options", None)
    _core.write_results(os.fspath(path), arms, options or _core.SimOptions(), command)


def _html_table(caption: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A small HTML table for Jupyter (``_repr_html_``), every cell escaped."""
    import html

    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values)

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{cells('th', header)}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
