"""Scenarios: a kernel set up in Python, contexts on CPUs, and a scripted interleaving.

A scenario is a function decorated with :func:`scenario`. It receives a :class:`KernelBuilder`,
builds the initial state (allocations, objects, processes), puts contexts on CPUs and may
return a :class:`Script` that names the interleaving by breakpoints::

    @ps.scenario(kernel="movable-v3", cpus=3)
    def zs_free_double_isolation(k):
        pool = k.zsmalloc()
        h = pool.malloc(3000)
        T = pool.pages_of(h)[1]
        a = k.cpu(0).run(k.compaction.isolate, T)
        b = k.cpu(1).run(k.compaction.isolate, T)
        c = k.cpu(2).run(pool.free, h)
        return ps.script(a.until("unlock_page", T), c, b)

``zs_free_double_isolation.run()`` builds a fresh kernel, runs the script (the steps it does
not decide fall to the strategy) and returns a :class:`Run`.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import _core
from .diagram import render_diagram

# Defaults the pytest plugin (or a user) can set: the seed, and a schedule to replay.
DEFAULTS: dict[str, Any] = {"seed": None, "replay": None}
# The runs and explorations scenarios made, newest last (the pytest plugin reports the last
# one when a test fails).
RECORDED: list[Run | Exploration] = []


# ---------------------------------------------------------------------------------------
# Calls and contexts


@dataclass(frozen=True)
class Call:
    """A kernel entry point with its arguments: what a context runs."""

    entry: str
    args: tuple[int, ...] = ()

    def op(self) -> _core.KernelCall:
        """The operation a generator task yields to make this call."""
        return _core.call(self.entry, *self.args)


def entry(name: str, args: Callable[..., tuple[int, ...]]) -> Callable[[Callable[..., Any]], Any]:
    """Marks a set-up method as a kernel entry point, so that ``cpu.run(obj.method, *a)``
    runs the entry point in a task instead of calling the method at set-up time."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._pagesim_entry = (name, args)  # type: ignore[attr-defined]
        return fn

    return wrap


def to_call(task: Any, args: tuple[Any, ...]) -> Call | None:
    """A Call for an entry name, a Call, or an entry-marked bound method; None otherwise."""
    if isinstance(task, Call):
        if args:
            raise _core.UsageError("a Call already carries its arguments")
        return task
    if isinstance(task, str):
        return Call(task, tuple(args))
    fn = getattr(task, "__func__", None)
    marked = getattr(fn, "_pagesim_entry", None)
    if marked is not None:
        name, argf = marked
        return Call(name, tuple(argf(task.__self__, *args)))
    return None


@dataclass(frozen=True)
class Step:
    """One step of a script: run `ctx` until a breakpoint (or to the end)."""

    ctx: Context
    until: str = "done"  # done, before, after, steps
    function: str | None = None
    page: int | None = None
    obj: int | None = None  # any object id (e.g. _core.zs_handle_obj(pool, h))
    count: int = 0

    def as_tuple(self) -> tuple[int, str, str | None, int | None, int]:
        obj = self.obj if self.obj is not None else (
            None if self.page is None else _core.page_obj(self.page))
        return (self.ctx.cpu, self.until, self.function, obj, self.count)

    def __str__(self) -> str:
        who = f"{self.ctx.name} (cpu{self.ctx.cpu})"
        if self.until == "done":
            return f"{who} to the end"
        if self.until == "steps":
            return f"{who} for {self.count} operations"
        on = "" if self.page is None else f" on page {self.page}"
        if self.obj is not None:
            on = f" on object {self.obj:#x}"
        return f"{who} until {self.until} {self.function}{on}"


@dataclass(frozen=True)
class Context:
    """A task on a CPU, as a script names it."""

    cpu: int
    name: str

    def until(self, function: str, page: int | None = None, obj: int | None = None) -> Step:
        """Run until this context has returned from `function` (called on `page`/`obj`)."""
        return Step(self, "after", function, page, obj)

    after = until

    def before(self, function: str, page: int | None = None, obj: int | None = None) -> Step:
        """Run until this context is about to run `function` (on `page`/`obj`)."""
        return Step(self, "before", function, page, obj)

    def steps(self, n: int) -> Step:
        """Run this context for `n` operations."""
        return Step(self, "steps", count=int(n))


@dataclass(frozen=True)
class Script:
    """A scripted interleaving: steps in order; what they leave open falls to the strategy."""

    steps: tuple[Step, ...]

    def __str__(self) -> str:
        return "; ".join(str(s) for s in self.steps)


def script(*steps: Step | Context) -> Script:
    """Build a script: each argument is a Step (``a.until("unlock_page", T)``) or a Context
    (run it to the end)."""
    out = []
    for s in steps:
        if isinstance(s, Context):
            out.append(Step(s))
        elif isinstance(s, Step):
            out.append(s)
        else:
            raise _core.UsageError(f"script steps are contexts or breakpoints, not {s!r}")
    return Script(tuple(out))


class Cpu:
    """A simulated CPU of the scenario's kernel."""

    def __init__(self, k: KernelBuilder, index: int) -> None:
        self._k = k
        self.index = index

    def run(self, task: Any, *args: Any, name: str | None = None) -> Context:
        """Put a context on this CPU: an entry point name with integer arguments, a Call,
        a set-up method marked as an entry point (``pool.free``), or a generator function
        (a Python task yielding operations such as ``ps.call(...)`` or lock operations)."""
        call = to_call(task, args)
        if call is not None:
            label = name or call.entry
            self._k.core.spawn(self.index, call.entry, *call.args, name=label)
        elif callable(task):
            label = name or getattr(task, "__name__", "task")
            self._k.core.spawn(self.index, _python_task(task), *args, name=label)
        else:
            raise _core.UsageError(f"cannot run {task!r} on a CPU")
        return Context(self.index, label)


def _python_task(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """Lets a generator task yield Calls as well as operations."""

    @functools.wraps(fn)
    def task(*args: Any) -> Iterator[Any]:
        gen = fn(*args)
        if not inspect.isgenerator(gen):
            raise _core.UsageError(f"{fn.__name__} must be a generator function")
        value = None
        while True:
            try:
                op = gen.send(value)
            except StopIteration:
                return
            value = yield (op.op() if isinstance(op, Call) else op)

    return task


# ---------------------------------------------------------------------------------------
# What a scenario builds with


class Compaction:
    """Compaction entry points as contexts: ``k.cpu(0).run(k.compaction.isolate, T)``."""

    def __init__(self, k: KernelBuilder) -> None:
        self._k = k

    @entry("compact_page", lambda self, pfn: (pfn,))
    def page(self, pfn: int) -> int:
        """A synchronous compaction context aimed at one page: isolate it, migrate it."""
        return self._k.call("compact_page", pfn)

    # A migrate context that isolates T and migrates it, as in the LKML reports.
    isolate = page

    @entry("compact_range", lambda self, start, end, mode=2: (start, end, mode))
    def range(self, start: int, end: int, mode: int = 2) -> int:
        """A compaction context on [start, end); mode 0 async, 1 sync-light, 2 sync."""
        return self._k.call("compact_range", start, end, mode)

    @entry("compact_memory", lambda self: ())
    def memory(self) -> int:
        """Compact every zone fully (echo 1 > /proc/sys/vm/compact_memory)."""
        return self._k.call("compact_memory")


class Process:
    """A process owning anonymous LRU pages."""

    def __init__(self, k: KernelBuilder, name: str) -> None:
        self._k = k
        self.name = name
        self.pid = k.core.process(name)

    @entry("fault_in", lambda self, n: (self.pid, n))
    def fault_in(self, npages: int) -> int:
        return self._k.call("fault_in", self.pid, npages)

    @entry("unmap", lambda self, v: (self.pid, v))
    def unmap(self, vpage: int) -> None:
        self._k.call("unmap", self.pid, vpage)

    @entry("exit", lambda self: (self.pid,))
    def exit(self) -> None:
        self._k.call("exit", self.pid)

    def pages(self) -> list[int | None]:
        """pfn of each virtual page (None: not present)."""
        return self._k.state.process_pages(self.pid)


class Pool:
    """A zsmalloc pool."""

    def __init__(self, k: KernelBuilder) -> None:
        self._k = k
        self.id = k.call("zs_create_pool")

    @entry("zs_malloc", lambda self, size: (self.id, size))
    def malloc(self, size: int) -> int:
        handle = self._k.call("zs_malloc", self.id, size)
        if not handle:
            raise _core.UsageError(f"zs_malloc({size}) failed at set-up: out of memory")
        return handle

    @entry("zs_free", lambda self, h: (self.id, h))
    def free(self, handle: int) -> None:
        self._k.call("zs_free", self.id, handle)

    @entry("zs_write", lambda self, h, token: (self.id, h, token))
    def write(self, handle: int, token: int) -> None:
        self._k.call("zs_write", self.id, handle, token)

    @entry("zs_read", lambda self, h: (self.id, h))
    def read(self, handle: int) -> int:
        return self._k.call("zs_read", self.id, handle)

    @entry("zs_compact", lambda self: (self.id,))
    def compact(self) -> int:
        return self._k.call("zs_compact", self.id)

    def pages_of(self, handle: int) -> list[int]:
        """The pfns of the zspage that holds `handle`, first page first."""
        pages = []
        for i in range(4):
            pfn = self._k.call("zs_page_of", self.id, handle, i)
            if pfn < 0:
                break
            pages.append(pfn)
        return pages


class Balloon:
    """The virtio balloon (balloon_compaction + virtio_balloon)."""

    def __init__(self, k: KernelBuilder) -> None:
        self._k = k
        k.call("balloon_init")

    @entry("balloon_fill", lambda self, n: (n,))
    def fill(self, npages: int) -> int:
        """Inflate: fill_balloon(n); returns the pages inflated."""
        return self._k.call("balloon_fill", npages)

    @entry("balloon_leak", lambda self, n: (n,))
    def leak(self, npages: int) -> int:
        """Deflate: leak_balloon(n) (balloon_page_dequeue per page)."""
        return self._k.call("balloon_leak", npages)

    def pages(self) -> list[int]:
        """pfns on the balloon's pages list, in list order."""
        return list(_core.balloon_state(self._k.state)["pages"])


class TestDriver:
    """The movable test driver (a misc device whose pages are non-LRU movable)."""

    __test__ = False  # not a pytest class

    def __init__(self, k: KernelBuilder) -> None:
        self._k = k

    @entry("test_driver_alloc", lambda self, n: (n,))
    def alloc(self, npages: int) -> int:
        """Allocates pages, each movable in the driver's mapping; returns the first pfn."""
        return self._k.call("test_driver_alloc", npages)

    @entry("test_driver_release", lambda self, pfn: (pfn,))
    def release(self, pfn: int) -> None:
        self._k.call("test_driver_release", pfn)

    def set(self, option: int, value: int) -> int:
        return self._k.call("test_driver_set", option, value)

    def mmap(self, pfn: int, process: Process) -> int:
        """Maps the driver page into the process; returns the virtual page."""
        return self._k.call("test_driver_mmap", pfn, process.pid)

    def pages(self) -> list[int]:
        return list(_core.test_driver_pages(self._k.state))


class KernelBuilder:
    """What a scenario function receives: the kernel being set up."""

    def __init__(self, core: _core.Kernel) -> None:
        self.core = core
        self.compaction = Compaction(self)

    @property
    def state(self) -> _core.KernelState:
        """The state set up so far."""
        return self.core.state

    def cpu(self, index: int) -> Cpu:
        if not 0 <= index < self.core.cpus:
            raise _core.UsageError(
                f"cpu {index} out of range (the scenario has {self.core.cpus} CPUs)"
            )
        return Cpu(self, index)

    def call(self, entry_name: str, *args: int) -> int:
        """Run a kernel entry point now, at set-up."""
        return self.core.call(entry_name, *args)

    def probe(self, task: Any, *args: Any) -> tuple[int, _core.KernelState]:
        """Run an entry point (or an entry-marked method such as ``pool.malloc``) on a copy
        of the state set up so far: (its result, the copy's state). The allocator is
        deterministic, so this tells which pages a context will use."""
        call = to_call(task, args)
        if call is None:
            raise _core.UsageError(f"cannot probe {task!r}: not a kernel entry point")
        return self.core.probe(call.entry, *call.args)

    def alloc_pages(self, order: int = 0, gfp: str | int = "GFP_KERNEL") -> int | None:
        return self.core.alloc_pages(order, gfp)

    def free_pages(self, pfn: int, order: int = 0) -> None:
        self.core.free_pages(pfn, order)

    def process(self, name: str) -> Process:
        return Process(self, name)

    def zsmalloc(self) -> Pool:
        return Pool(self)

    def balloon(self) -> Balloon:
        return Balloon(self)

    def test_driver(self) -> TestDriver:
        return TestDriver(self)

    def mutex(self, name: str) -> _core.Lock:
        return self.core.mutex(name)

    def spinlock(self, name: str) -> _core.Lock:
        return self.core.spinlock(name)


# ---------------------------------------------------------------------------------------
# Runs


class Run:
    """The result of running a scenario once."""

    def __init__(
        self,
        scenario: Scenario,
        result: _core.RunResult,
        preset: str,
        fixes: dict[str, bool],
        script_text: str,
    ) -> None:
        self.scenario = scenario
        self.result = result
        self.preset = preset
        self.fixes = dict(fixes)
        self.script = script_text

    # outcomes
    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def outcomes(self) -> list[_core.Outcome]:
        return self.result.outcomes

    @property
    def outcome_counts(self) -> dict[str, int]:
        """{key: count}, {"ok": 1} for a clean run."""
        c = Counter(o.key for o in self.outcomes)
        return dict(c) if c else {"ok": 1}

    @property
    def keys(self) -> set[str]:
        return set(self.outcome_counts)

    def _first(self, kind: str) -> _core.Outcome | None:
        return next((o for o in self.outcomes if o.kind == kind), None)

    @property
    def oops(self) -> _core.Outcome | None:
        return self._first("oops")

    @property
    def bug(self) -> _core.Outcome | None:
        return self._first("bug")

    @property
    def warn(self) -> _core.Outcome | None:
        return self._first("warn")

    @property
    def deadlock(self) -> _core.Outcome | None:
        return self._first("deadlock")

    def has(self, key: str) -> bool:
        """Whether an outcome with this key ("oops:zs_page_isolate") or kind ("oops") happened."""
        return any(o.key == key or o.kind == key for o in self.outcomes)

    # what happened
    @property
    def kernel(self) -> _core.KernelState:
        """The kernel state at the end of the run."""
        return self.result.kernel

    @property
    def trace_hash(self) -> int:
        return self.result.trace_hash

    @property
    def steps(self) -> int:
        return self.result.steps

    @property
    def schedule(self) -> _core.Schedule:
        s = self.result.schedule
        s.meta = {**s.meta, **self.meta()}
        return s

    def trace(self) -> list[dict[str, Any]]:
        return self.result.trace()

    def meta(self) -> dict[str, str]:
        return {
            "scenario": self.scenario.name,
            "scenario_file": self.scenario.file,
            "preset": self.preset,
            "fixes": json.dumps(self.fixes, sort_keys=True),
            "cpus": str(self.scenario.options["cpus"]),
        }

    def page_history(self, pfn: int) -> list[dict[str, Any]]:
        """Every operation on one page, in order."""
        label = f"page pfn {pfn}"
        return [e for e in self.trace() if e.get("obj") == label]

    def diagram(self, depth: int = 3, width: int = 34) -> str:
        """LKML-style: one column per CPU, one line per model function entered."""
        return render_diagram(self.result, depth=depth, width=width)

    def report(self) -> str:
        """Outcomes as the kernel would print them."""
        if self.ok:
            return "ok: no oops, BUG, WARN, deadlock, leak or invariant violation"
        return "\n\n".join(o.report for o in self.outcomes)

    def replay_command(self) -> str:
        return run_command(self.scenario, self.preset, self.fixes, self.result.schedule)

    def to_json(self, trace: bool = False) -> dict[str, Any]:
        j = json.loads(self.result.to_json(trace))
        j.update(
            {
                "scenario": self.scenario.name,
                "file": self.scenario.file,
                "preset": self.preset,
                "kernel": self.preset,
                "fixes": self.fixes,
                "script": self.script,
            }
        )
        return j

    def __repr__(self) -> str:
        return (
            f"<Run {self.scenario.name} [{self.preset}] {self.outcome_counts} steps={self.steps}>"
        )


@dataclass
class Scenario:
    """A scenario function with its kernel options (see :func:`scenario`)."""

    fn: Callable[[KernelBuilder], Script | None]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def file(self) -> str:
        path = inspect.getsourcefile(self.fn) or "<unknown>"
        try:
            return os.path.relpath(path)
        except ValueError:
            return path

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.fn) or ""

    def build(
        self,
        kernel: str | None = None,
        fixes: dict[str, bool] | None = None,
        trace: bool = True,
        **overrides: Any,
    ) -> tuple[_core.Kernel, Script | None, str, dict[str, bool]]:
        """A fresh kernel set up by the scenario, its script, the preset and the fixes."""
        opts = {**self.options, **overrides}
        preset = kernel or opts.pop("kernel", "v4.8")
        opts.pop("kernel", None)
        all_fixes = {**opts.pop("fixes", {}), **(fixes or {})}
        core = _core.Kernel(preset=preset, fixes=all_fixes, trace=trace, **opts)
        builder = KernelBuilder(core)
        scr = self.fn(builder)
        if scr is not None and not isinstance(scr, Script):
            raise _core.UsageError(
                f"scenario {self.name} must return a ps.script(...) or None, not {scr!r}"
            )
        return core, scr, preset, all_fixes

    def run(
        self,
        kernel: str | None = None,
        fixes: dict[str, bool] | None = None,
        seed: int | None = None,
        strategy: str = "random",
        schedule: None | str | _core.Schedule = None,
        scripted: bool = True,
        trace: bool = True,
        **overrides: Any,
    ) -> Run:
        """Build the scenario on `kernel` (a preset; default the scenario's), run it once
        and return the Run. The script decides the interleaving it names; the rest falls
        to `strategy` with `seed`. `schedule` replays a recorded run exactly."""
        core, scr, preset, all_fixes = self.build(kernel, fixes, trace=trace, **overrides)
        if seed is None:
            seed = DEFAULTS["seed"] if DEFAULTS["seed"] is not None else 0
        replay = DEFAULTS["replay"]
        if (
            schedule is None
            and replay is not None
            and replay.meta.get("scenario") == self.name
            and replay.meta.get("preset", preset) == preset
        ):
            schedule = replay
        if isinstance(schedule, _core.Schedule):
            check_schedule_fits(schedule, self.name, preset)
        steps = [s.as_tuple() for s in scr.steps] if (scr is not None and scripted) else None
        result = core.run(
            strategy=strategy,
            seed=seed,
            schedule=schedule,
            script=None if schedule is not None else steps,
        )
        run = Run(self, result, preset, all_fixes, str(scr) if scr else "")
        record(run)
        return run

    def explore(
        self,
        kernel: str | None = None,
        fixes: dict[str, bool] | None = None,
        strategy: str = "random",
        executions: int | None = None,
        seconds: float | None = None,
        seed: int = 0,
        preemption_bound: int | None = None,
        pct_depth: int = 3,
        workers: int = 1,
        backend: str = "local",
        ray_address: str | None = None,
        progress: bool = False,
        minimise: bool = True,
        budget: int | str | None = None,
        **overrides: Any,
    ) -> Exploration:
        """Run the scenario's contexts under many schedules (its script is ignored) and
        return the outcome set.

        strategy: "random" (execution i uses seed + i), "pct" (PCT with bug depth
        `pct_depth`), "dfs" (every schedule within `preemption_bound` preemptions) or "dpor"
        (one schedule per Mazurkiewicz trace: exhaustive, with far fewer executions).
        Budget: `executions` and/or `seconds` (the first reached stops; 1000 executions when
        neither is given), or `budget` alone: 20000 (executions), "30s", "5min", "1h", or
        both as "20000,30s". dfs and dpor also stop when exhausted.
        workers: processes on this machine (backend "local") or Ray tasks (backend "ray",
        on the cluster at `ray_address` or a local one); for dfs and dpor the outcome set
        does not depend on it. progress: draw a progress line on stderr. minimise: shrink
        the first failing schedule to its fewest preemptions (Exploration.first_failure).
        """
        from . import parallel

        executions, seconds = _budget(executions, seconds, budget)
        if workers < 1:
            raise _core.UsageError(f"workers must be at least 1, not {workers}")
        if backend not in ("local", "ray"):
            raise _core.UsageError(f"unknown backend {backend!r} (local, ray)")
        build_args = {"kernel": kernel, "fixes": fixes, "trace": False, **overrides}
        core, _, preset, all_fixes = self.build(**build_args)
        args = {
            "strategy": strategy,
            "executions": executions,
            "seconds": seconds,
            "seed": int(seed),
            "preemption_bound": 2**32 - 1 if preemption_bound is None else int(preemption_bound),
            "pct_depth": int(pct_depth),
        }
        bar = parallel.ProgressBar(f"explore {self.name} {strategy}") if progress else None
        try:
            if backend == "ray":
                found = parallel.run_ray(
                    self.file, self.name, build_args, args, workers, ray_address
                )
            elif workers > 1:
                found = parallel.run_local(core, args, workers, bar)
            else:

                def tick(r: Any) -> bool:
                    bar(r.executions, len(r.outcomes), r.seconds)
                    return True

                found = parallel.explore_share(core, args, 0, 1, tick if bar else None)
        finally:
            if bar:
                bar.close()
        if minimise:
            first = found.first_failing()
            if first is not None:
                found.first_failure = core.minimise(first.key, list(first.schedule.choices))
        ex = Exploration(self, found, preset, all_fixes)
        record(ex)
        return ex

    def __call__(self, k: KernelBuilder) -> Script | None:
        return self.fn(k)


def run_command(scenario: Scenario, preset: str, fixes: dict[str, bool], schedule: Any) -> str:
    """The `pagesim run` command that replays `schedule` in the scenario."""
    flags = "".join(f" --fix {k}={'on' if v else 'off'}" for k, v in sorted(fixes.items()))
    return (
        f"pagesim run {scenario.file}::{scenario.name} --kernel {preset}{flags}"
        f" --schedule '{schedule}'"
    )


def record(x: Run | Exploration) -> None:
    RECORDED.append(x)
    del RECORDED[:-8]


_SECONDS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def _budget(executions: int | None, seconds: float | None, budget: int | str | None
            ) -> tuple[int, float]:
    """(executions, seconds) of an exploration; 0 means no limit of that kind."""
    if budget is None:
        secs = float(seconds or 0.0)
        return (0 if secs else 1000) if executions is None else int(executions), secs
    if executions is not None or seconds is not None:
        raise _core.UsageError("give budget= or executions=/seconds=, not both")
    if isinstance(budget, bool) or not isinstance(budget, (int, str)):
        raise _core.UsageError(f"budget must be executions or a string like '30s', not {budget!r}")
    runs, secs = 0, 0.0
    for part in str(budget).replace(" ", "").split(","):
        m = re.fullmatch(r"([0-9_]+(?:\.[0-9]+)?)(s|min|h)?", part)
        if not m or (m[2] is None and "." in m[1]):
            raise _core.UsageError(
                f"bad budget {budget!r}: use executions (20000), a time (30s, 5min, 1h) or both "
                "('20000,30s')")
        if m[2] is None:
            runs = int(m[1])
        else:
            secs = float(m[1].replace("_", "")) * _SECONDS[m[2]]
    return runs, secs


class Exploration:
    """The outcome set of an exploration, herd7-style: each distinct outcome with its count
    and one replayable schedule."""

    def __init__(self, scenario: Scenario, found: Any, preset: str, fixes: dict[str, bool]) -> None:
        self.scenario = scenario
        self.found = found
        self.preset = preset
        self.fixes = dict(fixes)

    @property
    def executions(self) -> int:
        return self.found.executions

    @property
    def exhausted(self) -> bool:
        """Every schedule in scope was run (exhaustive strategies only)."""
        return self.found.exhausted

    @property
    def seconds(self) -> float:
        return self.found.seconds

    @property
    def outcomes(self) -> dict[str, int]:
        """{key: executions with that outcome}; "ok" counts clean executions."""
        return {k: c.count for k, c in self.found.outcomes.items()}

    def _matches(self, key: str) -> list[str]:
        return [k for k in self.outcomes if k == key or k.split(":")[0] == key]

    def sometimes(self, key: str) -> bool:
        """Some execution had this outcome (a key like "oops:zs_page_isolate" or a kind)."""
        return bool(self._matches(key))

    def never(self, key: str) -> bool:
        return not self._matches(key)

    def always(self, key: str) -> bool:
        return sum(self.outcomes[k] for k in self._matches(key)) >= self.executions > 0

    def example(self, key: str | None = None) -> _core.Schedule:
        """A schedule of an execution with this outcome, ready for scenario.run(schedule=).
        Without a key: the first failure, minimised when the exploration minimised it."""
        if key is None and self.first_failure is not None:
            sched = self.first_failure.schedule
        else:
            if key is None:
                first = self.found.first_failing()
                if first is None:
                    raise _core.UsageError(f"no execution failed (outcomes: {self.outcomes})")
                key = first.key
            keys = self._matches(key)
            if not keys:
                raise _core.UsageError(
                    f"no execution had outcome {key!r} (outcomes: {self.outcomes})")
            sched = self.found.outcomes[keys[0]].schedule
        sched.meta = {
            "scenario": self.scenario.name,
            "scenario_file": self.scenario.file,
            "preset": self.preset,
            "fixes": json.dumps(self.fixes, sort_keys=True),
        }
        return sched

    def replay(self, key: str | None = None) -> Run:
        """Run the example of this outcome again, with its trace (without a key: the first
        failure)."""
        return self.scenario.run(kernel=self.preset, fixes=self.fixes, schedule=self.example(key))

    @property
    def redundant(self) -> int:
        """dpor: executions cut short because a sleep set showed them redundant."""
        return self.found.redundant

    @property
    def rate(self) -> float:
        """Executions per second (wall clock, all workers)."""
        return self.found.rate

    @property
    def first_failure(self) -> Any:
        """The first failing outcome's schedule, shrunk to its fewest preemptions (key,
        schedule, preemptions, steps), or None when every execution was ok."""
        return self.found.first_failure

    def replay_command(self, key: str | None = None) -> str:
        """A shell command that replays the (minimised first) failure or an outcome."""
        sched = self.example(key if key or self.found.first_failing() else "ok")
        return run_command(self.scenario, self.preset, self.fixes, sched)

    def to_json(self) -> dict[str, Any]:
        found = json.loads(self.found.to_json())
        if found["first_failure"] is not None:
            found["first_failure"]["replay"] = self.replay_command()
        return {
            "schema": "pagesim.explore/1",
            "pagesim_version": _core.__version__,
            "scenario": self.scenario.name,
            "file": self.scenario.file,
            "preset": self.preset,
            "fixes": self.fixes,
            "strategy": found["strategy"],
            "executions": found["executions"],
            "redundant": found["redundant"],
            "exhausted": found["exhausted"],
            "seconds": found["seconds"],
            "rate": found["executions_per_s"],
            "workers": found["workers"],
            "outcomes": found["outcomes"],
            "examples": {k: e["schedule"] for k, e in found["examples"].items()},
            "first_failure": found["first_failure"],
        }

    def __repr__(self) -> str:
        return (
            f"<Exploration {self.scenario.name} [{self.preset}] {self.outcomes} "
            f"executions={self.executions}{' exhausted' if self.exhausted else ''}>"
        )


def check_schedule_fits(schedule: _core.Schedule, name: str, preset: str) -> None:
    """A schedule recorded for another scenario or preset is stale: refuse it clearly."""
    meta = schedule.meta
    if meta.get("scenario") not in (None, name):
        raise _core.StaleScheduleError(
            f"schedule was recorded for scenario {meta['scenario']!r}, not {name!r}"
        )
    if meta.get("preset") not in (None, preset):
        raise _core.StaleScheduleError(
            f"schedule was recorded on kernel {meta['preset']!r}, this run is on {preset!r}"
        )


def scenario(
    fn: Callable[..., Any] | None = None,
    *,
    kernel: str = "v4.8",
    cpus: int = 2,
    pages: int = 1024,
    fixes: dict[str, bool] | None = None,
    debug_vm: bool | None = None,
    window: int | None = None,
    max_steps: int = 1_000_000,
    check: str = "end",
    kcompactd: bool = False,
    panic_on_oops: bool = False,
    debug_atomic_sleep: bool = False,
) -> Any:
    """Declare a scenario: ``@ps.scenario(kernel="movable-v3", cpus=3)``.

    kernel: the preset (``pagesim.presets()``); fixes: named fixes flipped on top of it;
    pages: memory size in 4 KiB pages (a multiple of 512); check: invariant checks at the
    "end" of the run, after every "step", or "off"."""
    options: dict[str, Any] = {
        "kernel": kernel,
        "cpus": cpus,
        "pages": pages,
        "fixes": dict(fixes or {}),
        "debug_vm": debug_vm,
        "window": window,
        "max_steps": max_steps,
        "check": check,
        "kcompactd": kcompactd,
        "panic_on_oops": panic_on_oops,
        "debug_atomic_sleep": debug_atomic_sleep,
    }

    def wrap(f: Callable[..., Any]) -> Scenario:
        return Scenario(f, options)

    return wrap(fn) if fn is not None else wrap


def scenarios_in(namespace: Iterable[tuple[str, Any]]) -> dict[str, Scenario]:
    """The scenarios defined in a module's namespace, by name."""
    return {v.name: v for _, v in namespace if isinstance(v, Scenario)}
