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
        # Absolute: the same file when a Dask worker with another working directory reads it.
        return _Path(os.path.abspath(os.fspath(spec)))
    raise TypeError(f"run: spec: expected a TOML file path or a dict, got {type(spec).__name__}")


class _Path:
    """A str path the binding accepts (it reads ``__fspath__``)."""

    def __init__(self, p: str) -> None:
        self._p = p

    def __fspath__(self) -> str:
        return self._p

    def __reduce__(self) -> Any:  # picklable: sent to Dask workers
        return (_Path, (self._p,))


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
    client: Any = None,
    shards: Optional[int] = None,
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
        client: a ``dask.distributed.Client`` (e.g. of a dask-jobqueue ``SLURMCluster``): the run
            is split into ``shards`` index ranges, each run by a worker as ``shard="i/N"`` into its
            own file, then merged on this process into the spec's output (the same file as a
            local run: same rows, same values) and the shard files removed. Workers need
            ketasim and the spec's files at the same paths (a shared file system). With
            ``resume=True`` a rerun finishes the shards an interrupted run left.
        shards: number of shards for ``client`` (default: the client's worker count).

    Ctrl-C stops the run at the next chunk with the file resumable and raises KeyboardInterrupt.
    Returns a RunReport (complete is False when ``progress`` stopped the run).
    """
    s = _spec(spec)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise TypeError(f"run: threads: expected an int, got {threads!r}")
    if shard is not None and not isinstance(shard, str):
        raise TypeError(f"run: shard: expected 'i/N', got {shard!r}")
    base_dir = os.getcwd()
    if client is not None:
        if shard is not None:
            raise ValueError("run: shard= and client= exclude each other (client= runs every shard)")
        if not dry_run:
            return _run_on_dask(s, base_dir, client, shards, threads, resume, over_budget, progress)
    elif shards is not None:
        raise ValueError("run: shards= needs client= (a dask.distributed Client); for one shard use shard='i/N'")
    if dry_run:
        return dict(_core.estimate_run(s, models_dir(), threads, shard, over_budget, base_dir))
    cb = _progress_callback(progress)
    r = _core.execute_run(s, models_dir(), threads, shard, resume, over_budget, cb, base_dir)
    return RunReport(
        str(r["path"]),
        int(r["points"]),
        int(r["computed"]),
        int(r["resumed"]),
        bool(r["complete"]),
        float(r["seconds"]),
    )


def _progress_callback(progress: Any) -> Optional[Callable[[int, int], Any]]:
    if progress is None:
        return _tqdm_progress() if sys.stderr is not None and sys.stderr.isatty() else None
    if progress is False:
        return None
    if progress is True:
        return _tqdm_progress()
    if callable(progress):
        return progress  # type: ignore[no-any-return]
    raise TypeError(f"run: progress: expected None, a bool or a callable(done, total), got {progress!r}")


def _run_shard_on_worker(
    spec: Any, models: str, base_dir: str, shard: str, threads: Optional[int], resume: bool, over_budget: bool
) -> Dict[str, Any]:
    """One shard, on a Dask worker (module level so workers import it by name)."""
    from . import _core as core

    return dict(core.execute_run(spec, models, threads, shard, resume, over_budget, None, base_dir))


def _run_on_dask(
    s: Any,
    base_dir: str,
    client: Any,
    shards: Optional[int],
    threads: Optional[int],
    resume: bool,
    over_budget: bool,
    progress: Any,
) -> RunReport:
    import time

    try:
        from distributed import as_completed
    except ImportError as e:  # pragma: no cover - the extra is installed in CI
        raise ImportError("run: client= needs dask.distributed (pip install 'ketasim[dask]')") from e
    if shards is None:
        shards = max(1, len(client.scheduler_info().get("workers", {})))
    if isinstance(shards, bool) or not isinstance(shards, int):
        raise TypeError(f"run: shards: expected an int, got {shards!r}")
    if shards < 1:
        raise ValueError(f"run: shards = {shards}: must be >= 1")
    cb = _progress_callback(progress)
    t0 = time.perf_counter()
    # The whole run's estimate (checks the spec here, before any worker starts; its path is the
    # merged output) and each shard's (its file and rows); a shard with no rows is an error.
    whole = _core.estimate_run(s, models_dir(), threads, None, True, base_dir)
    parts = [f"{i}/{shards}" for i in range(shards)]
    for p in parts:
        _core.estimate_run(s, models_dir(), threads, p, True, base_dir)
    futures = [
        client.submit(_run_shard_on_worker, s, models_dir(), base_dir, p, threads, resume, over_budget, pure=False)
        for p in parts
    ]
    reports: Dict[str, Dict[str, Any]] = {}
    done = 0
    try:
        for fut in as_completed(futures):
            r = fut.result()
            reports[str(r["path"])] = r
            done += int(r["points"])
            if cb is not None and cb(done, int(whole["total"])) is False:
                break
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    by_shard = [futures[i].result() for i in range(len(futures))] if len(reports) == len(futures) else []
    computed = sum(int(r["computed"]) for r in reports.values())
    resumed = sum(int(r["resumed"]) for r in reports.values())
    if not by_shard or not all(bool(r["complete"]) for r in by_shard):
        for fut in futures:
            fut.cancel()
        return RunReport(str(whole["path"]), int(whole["total"]), computed, resumed, False, time.perf_counter() - t0)
    paths = [str(r["path"]) for r in by_shard]
    _core.merge_runs(str(whole["path"]), paths)
    for p in paths:
        os.remove(p)
    return RunReport(str(whole["path"]), int(whole["total"]), computed, resumed, True, time.perf_counter() - t0)


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
