"""Run files from Python: ``ks.run(spec)``, ``ks.merge_runs(out, shards)``, ``ks.open_run(path)``.

The spec (a TOML file, or a dict with the same keys) is parsed and checked by the C++ library,
which also runs it, streams the results into a chunked HDF5 file and merges shards; this module
translates arguments and opens result files with xarray. Format: docs/hpc.md.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

from . import _core
from ._models import models_dir

SpecArg = Union[str, os.PathLike, Mapping[str, Any]]


@dataclass(frozen=True)
class RunReport:
    """What ``ks.run`` did: the file, its points, how many this call computed and how many an
    interrupted run had already written (``resumed``), and whether the file is complete."""

    path: str
    points: int
    computed: int
    resumed: int
    complete: bool
    seconds: float


def _spec(spec: SpecArg) -> Any:
    if isinstance(spec, Mapping):
        return dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        return _Path(os.fspath(spec))
    raise TypeError(f"run: spec: expected a TOML file path or a dict, got {type(spec).__name__}")


class _Path:
    """A str path the binding accepts (it reads ``__fspath__``)."""

    def __init__(self, p: str) -> None:
        self._p = p

    def __fspath__(self) -> str:
        return self._p


def _tqdm_progress() -> Optional[Callable[[int, int], bool]]:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    bar = None

    def update(done: int, total: int) -> bool:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="pt", desc="ketasim run", leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()
        return True

    return update


def run(
    spec: SpecArg,
    *,
    threads: Optional[int] = None,
    shard: Optional[str] = None,
    resume: bool = False,
    dry_run: bool = False,
    over_budget: bool = False,
    progress: Union[None, bool, Callable[[int, int], Optional[bool]]] = None,
) -> Union[RunReport, Dict[str, Any]]:
    """Run a spec: a population streamed chunk by chunk into a resumable HDF5 file.

    Args:
        spec: a run-spec TOML file, or a dict with the same keys (``{"model": ..., "regimen": ...,
            "population": {"n": ..., "seed": ...}, "outputs": {...}, "run": {"out": ...}}``);
            relative paths in a dict resolve against the current directory.
        threads: overrides ``run.threads`` (0 = all cores).
        shard: ``"i/N"``: only shard i of N, into its own file (merge with ``ks.merge_runs``).
        resume: finish the file of an interrupted run (same spec) instead of refusing it.
        dry_run: run nothing; return the estimate (points, output_bytes, peak_memory_bytes,
            memory_budget_bytes, disk_free_bytes, over_budget: "" or the refusal message).
        over_budget: run even when the memory estimate exceeds ``run.memory_budget``.
        progress: None = a tqdm bar when tqdm is installed and stderr is a terminal; False = none;
            or a callable(done, total) returning False to stop (the file stays resumable).

    Ctrl-C stops the run at the next chunk with the file resumable and raises KeyboardInterrupt.
    Returns a RunReport (complete is False when ``progress`` stopped the run).
    """
    s = _spec(spec)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise TypeError(f"run: threads: expected an int, got {threads!r}")
    if shard is not None and not isinstance(shard, str):
        raise TypeError(f"run: shard: expected 'i/N', got {shard!r}")
    if dry_run:
        return dict(_core.estimate_run(s, models_dir(), threads, shard, over_budget))
    cb: Optional[Callable[[int, int], Any]]
    if progress is None:
        cb = _tqdm_progress() if sys.stderr is not None and sys.stderr.isatty() else None
    elif progress is False:
        cb = None
    elif progress is True:
        cb = _tqdm_progress()
    elif callable(progress):
        cb = progress
    else:
        raise TypeError(f"run: progress: expected None, a bool or a callable(done, total), got {progress!r}")
    r = _core.execute_run(s, models_dir(), threads, shard, resume, over_budget, cb)
    return RunReport(
        str(r["path"]),
        int(r["points"]),
        int(r["computed"]),
        int(r["resumed"]),
        bool(r["complete"]),
        float(r["seconds"]),
    )


def merge_runs(out: Union[str, os.PathLike], shards: Sequence[Union[str, os.PathLike]]) -> None:
    """Combine the shard files of one spec into ``out`` (checks: same spec, every row exactly once,
    every shard complete); the result equals the unsharded run's file."""
    _core.merge_runs(os.fspath(out), [os.fspath(s) for s in shards])


def open_run(path: Union[str, os.PathLike]) -> "xarray.Dataset":  # noqa: F821
    """Open a run file lazily as an xarray Dataset (engine h5netcdf): dimensions subject, time,
    dose, chunk. Refuses a file whose run did not finish (attribute complete != 1)."""
    import h5py
    import xarray as xr

    p = os.fspath(path)
    with h5py.File(p, "r") as f:
        if f.attrs.get("layout") != "ketasim-run/1":
            raise ValueError(
                f"{p}: not a ketasim run file (no layout = 'ketasim-run/1' attribute); "
                "read simulate/compare results with ks.read_results"
            )
        if int(f.attrs.get("complete", 0)) != 1:
            raise ValueError(
                f"{p}: not complete (attribute complete = {int(f.attrs.get('complete', 0))}): the run "
                "was interrupted; finish it with ks.run(spec, resume=True) or `ketasim run SPEC --resume`"
            )
    return xr.open_dataset(p, engine="h5netcdf", decode_timedelta=False)


__all__ = ["run", "merge_runs", "open_run", "RunReport"]
