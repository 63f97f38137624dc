"""Exploration across processes: local workers (one per core) or a Ray cluster.

Each worker has the built scenario (a forked copy, or built again from its file on Ray)
and explores its share of the space (executions by index for random and pct, subtrees
for dfs and dpor, see core/explore/explorer.h); the shares come back as JSON and merge
in C++. For dfs and dpor the merged outcome set is the
same whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from typing import Any, Callable

from . import _core

# The machine a forked local worker explores (set before the fork, read in the child).
_JOB: dict[str, Any] = {}


def explore_share(
    core: Any, args: dict[str, Any], worker: int, workers: int, progress: Callable | None
) -> Any:
    """This worker's share: a core ExploreResult, not minimised."""
    return core.explore(
        args["strategy"],
        args["executions"],
        args["seconds"],
        args["seed"],
        args["preemption_bound"],
        args["pct_depth"],
        worker,
        workers,
        progress,
        False,
        iterative=args["iterative"],
    )


def _local_worker(worker: int) -> str:
    job = _JOB
    counters = job["counters"]

    def progress(r: Any) -> bool:
        counters[2 * worker] = r.executions
        counters[2 * worker + 1] = len(r.outcomes)
        return True

    return explore_share(job["core"], job["args"], worker, job["workers"], progress).to_json()


def run_local(core: Any, args: dict[str, Any], workers: int, show: Callable | None) -> Any:
    """Explore `core` (a built scenario) with `workers` forked processes on this machine,
    each with its copy of it; returns the merged result."""
    ctx = mp.get_context("fork")
    _JOB.update(core=core, args=args, workers=workers, counters=ctx.Array("q", 2 * workers))
    t0 = time.monotonic()
    try:
        with ctx.Pool(workers) as pool:
            pending = pool.map_async(_local_worker, range(workers))
            while not pending.ready():
                pending.wait(0.25)
                if show:
                    c = _JOB["counters"]
                    done = sum(c[2 * w] for w in range(workers))
                    seen = max(c[2 * w + 1] for w in range(workers))
                    show(done, seen, time.monotonic() - t0)
            shares = pending.get()
    finally:
        _JOB.clear()
    return merge(shares, workers, time.monotonic() - t0)


def run_ray(
    scenario_file: str,
    scenario_name: str,
    build_args: dict[str, Any],
    args: dict[str, Any],
    workers: int,
    address: str | None,
) -> Any:
    """Explore on a Ray cluster (`address`, or a local one started here) with `workers`
    tasks; each loads the scenario from its file."""
    try:
        import ray
    except ImportError as e:  # pragma: no cover - ray is a dev dependency
        raise _core.UsageError("the ray backend needs the 'ray' package (pip install ray)") from e
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(_ray_worker)
    t0 = time.monotonic()
    shares = ray.get(
        [
            remote.remote(scenario_file, scenario_name, build_args, args, w, workers)
            for w in range(workers)
        ]
    )
    return merge(shares, workers, time.monotonic() - t0)


def _ray_worker(
    scenario_file: str,
    scenario_name: str,
    build_args: dict[str, Any],
    args: dict[str, Any],
    worker: int,
    workers: int,
) -> str:
    from .cli import load_scenarios

    sc = load_scenarios(scenario_file)[scenario_name]
    core = sc.build(**build_args)[0]
    return explore_share(core, args, worker, workers, None).to_json()


def merge(shares: list[str], workers: int, seconds: float) -> Any:
    merged = _core.ExploreResult.from_json(shares[0])
    for s in shares[1:]:
        merged.merge(_core.ExploreResult.from_json(s))
    merged.set_workers(workers, seconds)
    return merged


class ProgressBar:
    """One line on stderr, redrawn: executions, distinct outcomes so far, rate."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, executions: int, outcomes: int, seconds: float | None = None) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        secs = seconds if seconds is not None else now - self.t0
        rate = executions / secs if secs > 0 else 0.0
        self.stream.write(
            f"\r{self.label}: {executions:,} executions, {outcomes} outcomes, "
            f"{rate:,.0f}/s, {secs:.1f} s "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.last:
            self.stream.write("\n")
            self.stream.flush()
