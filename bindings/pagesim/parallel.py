"""Exploration across processes: local workers (one per core) or a Ray cluster.

Each worker has the built scenario (a forked copy, or built again from its file on Ray)
and explores its share of the space (executions by index for random and pct, subtrees
for dfs and dpor, see core/explore/explorer.h); the shares come back as JSON and merge
in C++ (core/explore/merge.h) into the result one worker gives under the same budget of
executions, whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import signal
import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable

from . import _core

if TYPE_CHECKING:  # Python 3.11's typing.Self
    from typing_extensions import Self

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


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when the process that forked it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


class Interrupt:
    """Ctrl-C (SIGINT) while exploring: the exploration stops at its next look (every 64
    executions) and returns what it found, marked interrupted. A second Ctrl-C raises
    KeyboardInterrupt at once. Only the main thread can catch signals; elsewhere Ctrl-C
    keeps Python's default."""

    def __init__(self) -> None:
        self.set = False
        self._old: Any = None

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _local_worker(worker: int, conn: Any) -> None:
    _die_with_parent()
    if os.getppid() != _JOB["parent"]:  # the parent died before prctl took effect
        os._exit(1)
    # A terminal's Ctrl-C reaches the whole process group: the parent decides, and tells
    # the workers to stop through `stop`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    job = _JOB
    counters, stop = job["counters"], job["stop"]

    def progress(r: Any) -> bool:
        counters[2 * worker] = r.executions
        counters[2 * worker + 1] = len(r.outcomes)
        return not stop.value

    try:
        conn.send(("ok", explore_share(job["core"], job["args"], worker, job["workers"],
                                       progress).to_json()))
    except BaseException as e:  # noqa: BLE001 - any error is reported in the parent, typed
        try:
            conn.send(("error", e))
        except Exception:  # noqa: BLE001 - it does not pickle: send its text
            conn.send(("error", RuntimeError(f"{type(e).__name__}: {e}")))
    finally:
        conn.close()


class WorkerLostWarning(UserWarning):
    """A local worker died twice (killed, out of memory): its share was not explored."""


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


# How long interrupted workers have to send what they found before they are killed.
STOP_GRACE = 1.0


def run_local(core: Any, args: dict[str, Any], workers: int, show: Callable | None,
              interrupt: Interrupt | None = None) -> Any:
    """Explore `core` (a built scenario) with `workers` forked processes on this machine,
    each with its copy of it; returns the merged result. A worker that dies is started
    again once for its share; if it dies again, the result is the other shares, marked
    incomplete, with a WorkerLostWarning. Workers die with this process. When `interrupt`
    is set, the workers stop and the result is what they found so far."""
    ctx = mp.get_context("fork")
    _JOB.update(core=core, args=args, workers=workers, counters=ctx.Array("q", 2 * workers),
                stop=ctx.Value("b", 0), parent=os.getpid())
    t0 = time.monotonic()
    shares: dict[int, str] = {}
    lost: list[str] = []
    running: dict[int, tuple[Any, Any]] = {}  # worker: (process, parent's end of its pipe)
    tries = dict.fromkeys(range(workers), 0)

    def start(w: int) -> None:
        mine, theirs = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_local_worker, args=(w, theirs), daemon=True)
        tries[w] += 1
        p.start()
        theirs.close()
        running[w] = (p, mine)

    deadline = None  # once interrupted: when the workers that did not answer are killed
    try:
        for w in range(workers):
            start(w)
        while running:
            if interrupt is not None and interrupt.set and deadline is None:
                _JOB["stop"].value = 1
                deadline = time.monotonic() + STOP_GRACE
            if deadline is not None and time.monotonic() > deadline:
                lost.extend(f"worker {w} did not stop in time" for w in sorted(running))
                break
            ready = mp_connection.wait([c for _, c in running.values()], timeout=0.05)
            for w, (p, conn) in list(running.items()):
                if conn not in ready:
                    continue
                try:
                    kind, value = conn.recv()
                except EOFError:  # it died without a word
                    p.join()
                    what = f"worker {w} {_describe_exit(p.exitcode)}"
                    del running[w]
                    if deadline is not None:  # interrupted: not started again
                        lost.append(what)
                    elif tries[w] < 2:
                        start(w)
                    else:
                        lost.append(f"{what} twice")
                    continue
                p.join()
                del running[w]
                if kind == "error":
                    raise value
                shares[w] = value
            if show:
                c = _JOB["counters"]
                done = sum(c[2 * w] for w in range(workers))
                seen = max(c[2 * w + 1] for w in range(workers))
                show(done, seen, time.monotonic() - t0)
    finally:
        for p, conn in running.values():
            p.kill()
            p.join()
            conn.close()
        _JOB.clear()
    return _merge_what_came_back(shares, lost, workers, time.monotonic() - t0,
                                 deadline is not None)


def _merge_what_came_back(shares: dict[int, str], lost: list[str], workers: int,
                          seconds: float, interrupted: bool = False) -> Any:
    """The shares that came back, merged; with a WorkerLostWarning naming what was lost,
    and marked incomplete, when some did not."""
    if not shares and interrupted:
        raise KeyboardInterrupt  # nothing came back to show
    if not shares:
        raise RuntimeError(f"every worker died: {'; '.join(lost)}")
    merged = merge([shares[w] for w in sorted(shares)], workers, seconds)
    if lost:
        merged.mark_incomplete()
    if lost and not interrupted:
        warnings.warn(WorkerLostWarning(
            f"{'; '.join(lost)}: its share of the space was not explored, the outcome "
            "set is of the other workers' shares"), stacklevel=4)
    return merged


def run_ray(
    scenario_file: str,
    scenario_name: str,
    params: dict[str, Any],
    build_args: dict[str, Any],
    args: dict[str, Any],
    workers: int,
    address: str | None,
    interrupt: Interrupt | None = None,
) -> Any:
    """Explore on a Ray cluster (`address`, or a local one started here) with `workers`
    tasks; each loads the scenario from its file and binds its variant's `params`. When
    `interrupt` is set, the tasks are told to stop (a flag they poll) and send what they
    found; those that have not within STOP_GRACE are cancelled, and the result is the
    shares that came back."""
    try:
        import ray
    except ImportError as e:  # pragma: no cover - ray is a dev dependency
        raise _core.UsageError("the ray backend needs the 'ray' package (pip install ray)") from e
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    # A task whose worker process dies (killed, out of memory, its node lost) runs once more.
    remote = ray.remote(max_retries=1)(_ray_worker)
    stop = ray.remote(num_cpus=0)(StopFlag).remote()
    t0 = time.monotonic()
    refs = {remote.remote(scenario_file, scenario_name, params, build_args, args, w,
                          workers, stop): w
            for w in range(workers)}
    shares: dict[int, str] = {}
    lost: list[str] = []
    pending = list(refs)
    deadline = None  # once interrupted: when the tasks that did not answer are cancelled
    while pending:
        if interrupt is not None and interrupt.set and deadline is None:
            stop.set.remote()
            deadline = time.monotonic() + STOP_GRACE
        if deadline is not None and time.monotonic() > deadline:
            for ref in pending:
                ray.cancel(ref, force=True)
            lost.extend(f"ray worker {refs[ref]} did not stop in time" for ref in pending)
            break
        done, pending = ray.wait(pending, num_returns=1, timeout=0.05)
        if not done:
            continue
        w = refs[done[0]]
        try:
            shares[w] = ray.get(done[0])
        except ray.exceptions.RayTaskError:
            raise  # an exception in the task (also an instance of its own type): the user's
        except ray.exceptions.RayError as e:  # the task's process or node died, twice
            lost.append(f"ray worker {w} lost ({type(e).__name__}) twice")
    return _merge_what_came_back(shares, lost, workers, time.monotonic() - t0,
                                 interrupt is not None and interrupt.set)


def _ray_worker(
    scenario_file: str,
    scenario_name: str,
    params: dict[str, Any],
    build_args: dict[str, Any],
    args: dict[str, Any],
    worker: int,
    workers: int,
    stop: Any = None,
) -> str:
    from .cli import load_scenarios

    sc = load_scenarios(scenario_file)[scenario_name].bind(**params)
    core = sc.build(**build_args)[0]
    asked = 0.0  # when the stop flag was last read

    def running(_: Any) -> bool:  # every 64 executions: go on unless the driver said stop
        nonlocal asked
        if stop is None or time.monotonic() - asked < POLL_STOP:
            return True
        import ray

        asked = time.monotonic()
        return not ray.get(stop.get.remote())

    return explore_share(core, args, worker, workers, running).to_json()


POLL_STOP = 0.1  # seconds between a Ray task's reads of its stop flag


class StopFlag:
    """A Ray actor the driver sets on Ctrl-C; its tasks read it as they explore."""

    def __init__(self) -> None:
        self.stop = False

    def set(self) -> None:
        self.stop = True

    def get(self) -> bool:
        return self.stop


def merge(shares: list[str], workers: int, seconds: float) -> Any:
    merged = _core.ExploreResult.merge_shares(shares)
    merged.set_workers(workers, seconds)
    return merged


class ProgressBar:
    """An exploration's progress (tqdm: a line on stderr, a widget in a notebook): the
    executions against the budget with percentage, rate and ETA, and the distinct outcomes
    so far; with a budget of seconds alone, the time against it. finish() redraws it with
    the final figures (a search that exhausted its space early ends at 100%)."""

    def __init__(self, label: str, executions: int, seconds: float,
                 stream: Any = None) -> None:
        self.by_time = not executions
        kw: dict[str, Any] = {
            "total": seconds if self.by_time else executions, "desc": label,
            "unit": "s" if self.by_time else "exec", "unit_scale": not self.by_time,
            "file": stream or sys.stderr, "leave": True,
            "mininterval": 0.2, "dynamic_ncols": True, "smoothing": 0.1}
        if self.by_time:
            kw["bar_format"] = "{l_bar}{bar}| {elapsed}<{remaining}{postfix}"
        try:
            from tqdm.auto import tqdm
            self.bar = tqdm(**kw)
        except ImportError:  # a notebook without ipywidgets: the text bar
            from tqdm.std import tqdm
            self.bar = tqdm(**kw)
        self.last = 0.0

    def __call__(self, executions: int, outcomes: int, seconds: float) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        self._draw(executions, outcomes, seconds)

    def _draw(self, executions: int, outcomes: int, seconds: float) -> None:
        self.bar.n = min(seconds, self.bar.total) if self.by_time else executions
        rate = executions / seconds if seconds > 0 else 0.0
        self.bar.set_postfix_str(
            (f"{executions:,} executions, {rate:,.0f}/s, " if self.by_time else "")
            + f"{outcomes} outcome{'' if outcomes == 1 else 's'}", refresh=False)
        self.bar.refresh()

    def finish(self, executions: int, outcomes: int, seconds: float, done: bool) -> None:
        """The final figures; `done`: the search ended before its budget (exhausted)."""
        if done and not self.by_time:
            self.bar.total = executions
        self._draw(executions, outcomes, seconds)

    def close(self) -> None:
        self.bar.close()
