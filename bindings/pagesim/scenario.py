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
import hashlib
import importlib.util
import inspect
import itertools
import json
import math
import os
import re
import shlex
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import _core, display, perfetto
from .diagram import render_diagram
from .names import (
    InconclusiveWarning,
    ScriptError,
    check_breakpoint,
    check_outcome_key,
    fix_flips,
    outcome_matches,
    unknown_name,
)

# Defaults the pytest plugin (or a user) can set: the seed, and a schedule to replay.
DEFAULTS: dict[str, Any] = {"seed": None, "replay": None, "replay_used": False}
# The runs and explorations scenarios made, oldest first (the pytest plugin reports those of
# a failing test).
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

    def as_tuple(self, stop: bool = False) -> tuple[int, str, str | None, int | None, int, bool]:
        obj = self.obj if self.obj is not None else (
            None if self.page is None else _core.page_obj(self.page))
        return (self.ctx.lane, self.until, self.function, obj, self.count, stop)

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
    """A task on a CPU, as a script names it. Its lane is what a script step chooses: the
    CPU, or with ``preempt=True`` or ``softirq=True`` the task itself (its place among the
    spawned tasks)."""

    cpu: int
    name: str
    lane: int = -1

    def __post_init__(self) -> None:
        if self.lane < 0:
            object.__setattr__(self, "lane", self.cpu)

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
    """A scripted interleaving: steps in order; what they leave open falls to the strategy.
    With `stop`, the last step is a breakpoint where the run ends: the run's state is the
    kernel's state there."""

    steps: tuple[Step, ...]
    stop: bool = False

    def as_tuples(self) -> list[tuple[int, str, str | None, int | None, int, bool]]:
        last = len(self.steps) - 1
        return [s.as_tuple(self.stop and i == last) for i, s in enumerate(self.steps)]

    def __str__(self) -> str:
        text = "; ".join(str(s) for s in self.steps)
        return text + " (stop there)" if self.stop else text


def script(*steps: Step | Context, stop: Step | None = None) -> Script:
    """Build a script: each argument is a Step (``a.until("unlock_page", T)``) or a Context
    (run it to the end). ``stop=c.before("free_zspage")`` runs until that breakpoint after
    the others and ends the run there (``run.kernel`` is the state at that point)."""
    out = []
    for s in steps:
        if isinstance(s, Context):
            out.append(Step(s))
        elif isinstance(s, Step):
            out.append(s)
        else:
            raise _core.UsageError(f"script steps are contexts or breakpoints, not {s!r}")
    if stop is not None:
        if not isinstance(stop, Step) or stop.until == "done":
            raise _core.UsageError(f"stop= takes a breakpoint (ctx.before/until/steps), not {stop!r}")
        out.append(stop)
    return Script(tuple(out), stop is not None)


class Cpu:
    """A simulated CPU of the scenario's kernel."""

    def __init__(self, k: KernelBuilder, index: int) -> None:
        self._k = k
        self.index = index

    def run(self, task: Any, *args: Any, name: str | None = None) -> Context:
        """Put a context on this CPU: an entry point name with integer arguments, a Call,
        a set-up method marked as an entry point (``pool.free``), or a generator function
        (a Python task yielding operations such as ``ps.call(...)`` or lock operations)."""
        return self._spawn(task, args, name, softirq=False)

    def softirq(self, task: Any, *args: Any, name: str | None = None) -> Context:
        """Put a softirq context on this CPU (a scenario with ``softirq=True``): it
        interrupts the CPU's task at any scheduling point where that task has bottom halves
        enabled (not between ``lock_bh()`` and ``unlock_bh()``, even inside a plain
        ``lock()``), runs to its end before the task goes on, and cannot sleep (a sleeping
        lock in it is ``bug:__schedule_bug``). Same tasks as :meth:`run`."""
        return self._spawn(task, args, name, softirq=True)

    def _spawn(self, task: Any, args: tuple[Any, ...], name: str | None,
               softirq: bool) -> Context:
        call = to_call(task, args)
        if call is not None:
            label = name or call.entry
            lane = self._k.core.spawn(self.index, call.entry, *call.args, name=label,
                                      softirq=softirq)
        elif callable(task):
            label = name or getattr(task, "__name__", "task")
            lane = self._k.core.spawn(self.index, _python_task(task), *args, name=label,
                                      softirq=softirq)
            self._k.task_functions.add(getattr(task, "__name__", "task"))
        else:
            raise _core.UsageError(f"cannot run {task!r} on a CPU")
        ctx = Context(self.index, label, lane)
        self._k.contexts.append(ctx)
        return ctx


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

    @entry("alloc_contig_range", lambda self, start, end: (start, end))
    def contig(self, start: int, end: int) -> int:
        """alloc_contig_range's migration of [start, end), as CMA runs it: 0 or -errno."""
        return self._k.call("alloc_contig_range", start, end)

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
        """zs_compact: the pages this call freed (since 239592815805, 5.12), before it the
        pool's total pool->stats.pages_compacted."""
        return self._k.call("zs_compact", self.id)

    def pages_of(self, handle: int, state: _core.KernelState | None = None) -> list[int]:
        """The pfns of the zspage that holds `handle`, first page first: now, or in `state`
        (a kernel state such as the one `k.probe(pool.malloc, size)` returns)."""
        return list(_core.zs_pages_of(state or self._k.state, self.id, handle))

    def handle_obj(self, handle: int) -> int:
        """The object id of a handle (its pin bit, its obj word), for breakpoints:
        ``ctx.until("record_obj", obj=pool.handle_obj(h))``."""
        return _core.zs_handle_obj(self.id, handle)


class Z3fold:
    """A z3fold pool (mm/z3fold.c from 4.8: presets v4.8 and later)."""

    def __init__(self, k: KernelBuilder) -> None:
        self._k = k
        self.id = k.call("z3fold_create_pool")

    @entry("z3fold_alloc", lambda self, size: (self.id, size))
    def alloc(self, size: int) -> int:
        """z3fold_alloc with zswap's gfp: the handle."""
        handle = self._k.call("z3fold_alloc", self.id, size)
        if handle <= 0:
            raise _core.UsageError(f"z3fold_alloc({size}) failed at set-up: {handle}")
        return handle

    @entry("z3fold_free", lambda self, h: (self.id, h))
    def free(self, handle: int) -> None:
        self._k.call("z3fold_free", self.id, handle)

    @entry("z3fold_destroy_pool", lambda self: (self.id,))
    def destroy(self) -> None:
        self._k.call("z3fold_destroy_pool", self.id)

    @entry("z3fold_map", lambda self, h: (self.id, h))
    def map(self, handle: int) -> int:
        """z3fold_map: the object's address; it stays mapped until unmap."""
        return self._k.call("z3fold_map", self.id, handle)

    @entry("z3fold_unmap", lambda self, h: (self.id, h))
    def unmap(self, handle: int) -> None:
        self._k.call("z3fold_unmap", self.id, handle)

    @entry("z3fold_write", lambda self, h, token: (self.id, h, token))
    def write(self, handle: int, token: int) -> None:
        self._k.call("z3fold_write", self.id, handle, token)

    @entry("z3fold_read", lambda self, h: (self.id, h))
    def read(self, handle: int) -> int:
        return self._k.call("z3fold_read", self.id, handle)

    def page_of(self, handle: int) -> int:
        """The pfn of the page that holds `handle`'s object now."""
        return self._k.call("z3fold_page_of", self.id, handle)


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

    @entry("balloon_oom_notify", lambda self: ())
    def oom_notify(self) -> int:
        """The OOM notifier (virtballoon_oom_notify): leak_balloon(256), whatever the
        balloon holds; returns the pages deflated. 4.19 to 5.6 deflate through the
        shrinker instead (:meth:`shrink`)."""
        return self._k.call("balloon_oom_notify")

    @entry("balloon_shrink", lambda self, n: (n,))
    def shrink(self, nr_to_scan: int) -> int:
        """Reclaim calls the balloon's shrinker (virtio_balloon_shrinker_scan, 4.19 to
        5.6): leak_balloon in a loop until `nr_to_scan` pages; returns the pages deflated."""
        return self._k.call("balloon_shrink", nr_to_scan)

    def pages(self) -> list[int]:
        """pfns on the balloon's pages list, in list order."""
        return list(_core.balloon_state(self._k.state)["pages"])

    def obj(self, name: str) -> int:
        """The object id of a part of the balloon, for breakpoints: "balloon_dev_info",
        "pages_lock", "balloon_lock", "inflate_vq", "deflate_vq" or "pfns" (vb->pfns and
        vb->num_pfns, a point of their own before f68b992bbb47)."""
        objs = _core.BALLOON_OBJECTS
        if name not in objs:
            raise unknown_name("balloon object", name, objs)
        return objs[name]


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

    def set(self, *positional: Any, **options: bool | int) -> dict[str, int]:
        """Sets driver options by name; returns their previous values. ``busy=True``:
        migratepage returns -EAGAIN; ``migrate_error=16``: it returns -16 (a permanent
        failure); ``refuse_isolate``: isolate_page fails; the others make the driver break
        a rule of the movable interface (``set_pg_isolated``, ``touch_lru_while_isolated``,
        ``forget_clear_movable``, ``forget_get_newpage``, ``mmap_no_ref``). See
        `pagesim._core.TEST_DRIVER_OPTIONS` for every name."""
        known = _core.TEST_DRIVER_OPTIONS
        if positional or not options:
            raise _core.UsageError(
                "TestDriver.set takes options by name, e.g. drv.set(busy=True) "
                f"(options: {', '.join(known)})")
        previous = {}
        for name, value in options.items():
            if name not in known:
                raise unknown_name("test driver option", name, known)
            previous[name] = self._k.call("test_driver_set", known[name], int(value))
        return previous

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
        self.contexts: list[Context] = []
        self.task_functions: set[str] = set()  # Python tasks' generator functions

    @property
    def state(self) -> _core.KernelState:
        """The state set up so far."""
        return self.core.state

    def cpu(self, index: int) -> Cpu:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.core.cpus:
            raise _core.UsageError(
                f"cpu {index!r} out of range (the scenario has {self.core.cpus} CPUs)"
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

    def z3fold(self) -> Z3fold:
        return Z3fold(self)

    def test_driver(self) -> TestDriver:
        return TestDriver(self)

    def mutex(self, name: str) -> _core.Lock:
        return self.core.mutex(name)

    def spinlock(self, name: str) -> _core.Lock:
        return self.core.spinlock(name)

    def counter(self, name: str, value: int = 0) -> _core.Counter:
        """A scenario-level atomic_t for Python tasks (``yield c.add(1)``)."""
        return self.core.counter(name, value)


# ---------------------------------------------------------------------------------------
# Runs


@dataclass(frozen=True)
class Names:
    """The names a scenario adds to the model's: its contexts (bug:<task>, warn:<task>)
    and its end-of-run checks (check:<name>)."""

    tasks: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()

    def check_key(self, key: str, preset: str, fixes: dict[str, bool],
                  checks_ran: Iterable[str], seen: Iterable[str]) -> None:
        """UsageError unless some run of this scenario could have outcome `key`."""
        check_outcome_key(key, preset, fixes, self.tasks, (*self.checks, *checks_ran), seen)


class Built(NamedTuple):
    """What Scenario.build() returns."""

    core: _core.Kernel
    script: Script | None
    preset: str
    fixes: dict[str, bool]
    names: Names


def unmatched_steps(script: Script, result: _core.RunResult) -> list[str]:
    """The script's breakpoints that never matched in `result`, each with how far its
    context got."""
    out = []
    for i, (step, st) in enumerate(zip(script.steps, result.script_status)):
        if step.until == "done" or st["matched"]:
            continue
        where = f"step {i + 1} ({step})"
        if not st["reached"]:
            out.append(f"{where}: not reached, the run ended after {result.steps} steps")
            continue
        last = st["last_function"]
        got = (f"{step.ctx.name} ran {st['ops']} operations in it"
               + (f", the last in {last}" if last else ""))
        why = "then its context ended" if st["context_ended"] else "then the run ended"
        out.append(f"{where}: {got}; {why}")
    return out


# The CPU line of a kernel report ("CPU: 1 PID: 1 Comm: migrate_ctx_B").
_CPU_LINE = re.compile(r"^(CPU: \d+ PID: \d+ Comm: .*)$", re.MULTILINE)
_DIE = re.compile(r"^((?:Oops|invalid opcode): 0000 )\[#1\]", re.MULTILINE)


class PageHistory(list):  # type: ignore[type-arg]
    """Trace records of one page, in order (Run.page_history)."""

    def _repr_html_(self) -> str:
        return display.history_html(self)


class Run:
    """The result of running a scenario once."""

    def __init__(
        self,
        scenario: Scenario,
        result: _core.RunResult,
        preset: str,
        fixes: dict[str, bool],
        script: Script | None = None,
        names: Names | None = None,
    ) -> None:
        self.scenario = scenario
        self.result = result
        self.preset = preset
        self.fixes = dict(fixes)
        self.script = str(script) if script else ""
        self.names = names or Names()
        self.unmatched_steps = unmatched_steps(script, result) if script else []
        # The objects the script's breakpoints name: the diagram shows what is done to them.
        objs = [s.as_tuple()[3] for s in script.steps] if script else []
        self.watched = sorted({_core.obj_label(o) for o in objs if o is not None})

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
        """Whether an outcome with this key ("oops:zs_page_isolate") or kind ("oops") happened.
        A key no run of this scenario can have raises UsageError."""
        self.names.check_key(key, self.preset, self.fixes, self.result.checks,
                             self.outcome_counts)
        return any(o.key == key or o.kind == key for o in self.outcomes) or (
            key == "ok" and self.ok)

    @property
    def stopped(self) -> bool:
        """The run ended at its script's stop step: `kernel` is the state there."""
        return self.result.stopped

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
            **self.scenario.meta(self.preset, self.fixes),
            "cpus": str(self.scenario.options["cpus"]),
            "trace_hash": f"{self.trace_hash:016x}",
        }

    def state_at(self, step: int) -> _core.KernelState:
        """The kernel state after the first `step` steps of this run (replayed)."""
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= self.steps:
            raise _core.UsageError(f"step must be an int in 0..{self.steps}, not {step!r}")
        prefix = _core.Schedule(list(self.result.schedule.choices[:step]))
        prefix.meta = {k: v for k, v in self.meta().items() if k != "trace_hash"}
        return self.scenario.run(kernel=self.preset, fixes=self.fixes, schedule=prefix,
                                 stop_at_end=True).kernel

    def page_history(self, pfn: int) -> PageHistory:
        """Every operation on one page, in order (a list of trace records; a table in a
        notebook)."""
        checked_int("pfn", pfn, 0, self.kernel.nr_pages - 1)
        label = page_label(pfn)
        return PageHistory(e for e in self.trace() if e.get("obj") == label)

    def diagram(self, depth: int = 3, width: int = 34,
                objects: Iterable[int | str] | None = None) -> str:
        """LKML-style: one column per CPU, one line per model function entered (to
        `depth` levels), and a line for each operation on the objects that matter:
        `objects` (pfns or object labels), by default those the script's breakpoints
        name, such as ``TestSetPageLocked(pfn 1)`` or ``spin_lock(pool->lock (pool 0))``.
        Text longer than a column wraps."""
        checked_int("depth", depth, 0)
        checked_int("width", width, 4, 1000)  # a column of `width` characters per CPU
        if objects is None:
            watched = list(self.watched)
        else:
            watched = [page_label(checked_int("pfn", o, 0)) if isinstance(o, int) else str(o)
                       for o in objects]
        return render_diagram(self.result, depth=depth, width=width, objects=watched)

    @property
    def uname(self) -> str:
        """The kernel the run simulated, as its reports name it: the preset and the fixes
        flipped on it."""
        return " ".join([self.preset, *fix_flips(self.fixes), "(pagesim)"])

    def report(self) -> str:
        """Outcomes as the kernel would print them, then the script steps that never matched.
        The CPU line names the kernel and its taint, as the kernel's does: after an oops or
        BUG (D) or a WARN (W), later reports are tainted; oopses and BUGs are numbered [#1],
        [#2], as the kernel's die counter does."""
        if self.ok:
            text = "ok: no oops, BUG, WARN, deadlock, leak or invariant violation"
        else:
            reports, taint, oopses = [], "", 0
            for o in self.outcomes:
                state = f"Tainted: {taint}" if taint else "Not tainted"
                text = _CPU_LINE.sub(rf"\1 {state} {self.uname}", o.report, count=1)
                if _DIE.search(text):  # the kernel numbers its oopses and BUGs
                    oopses += 1
                    text = _DIE.sub(rf"\1[#{oopses}]", text, count=1)
                reports.append(text)
                if o.kind in ("oops", "bug", "uaf") and "D" not in taint:
                    taint += "D"
                elif o.kind == "warn" and "W" not in taint:
                    taint += "W"
            text = "\n\n".join(reports)
        if self.unmatched_steps:
            text += "\n\nscript steps that never matched:\n" + "\n".join(
                f"  {u}" for u in self.unmatched_steps)
        return text

    def replay_command(self) -> str:
        return run_command(self.scenario, self.preset, self.fixes, self.result.schedule)

    def to_perfetto(self, path: str | None = None) -> dict[str, Any]:
        """The run as Chrome trace-event JSON for Perfetto (ui.perfetto.dev) or
        chrome://tracing: a thread per task under its CPU, a slice per model function, an
        instant per operation, an arrow per wake-up (waker to wakee), counter tracks for
        nr_free_pages and NR_ISOLATED_*. Written to `path` when given; returned."""
        doc = perfetto.trace_events(self)
        if path is not None:
            with open(path, "w") as f:
                json.dump(doc, f)
        return doc

    def to_json(self, trace: bool = False) -> dict[str, Any]:
        j = json.loads(self.result.to_json(trace))
        j.update(
            {
                "scenario": self.scenario.base_name,
                "params": self.scenario.bound,
                "file": self.scenario.file,
                "preset": self.preset,
                "kernel": self.preset,
                "fixes": self.fixes,
                "source_hash": self.scenario.source_hash,
                "script": self.script,
                "unmatched_steps": self.unmatched_steps,
            }
        )
        return j

    def __repr__(self) -> str:
        return (
            f"<Run {self.scenario.name} [{self.preset}] {self.outcome_counts} steps={self.steps}>"
        )

    def _repr_html_(self) -> str:
        return display.run_html(self)


def _on_variant(method: Callable[..., Any]) -> Callable[..., Any]:
    """A Scenario method that runs on the scenario's default variant when it has
    parameters and none is bound."""

    @functools.wraps(method)
    def call(self: Scenario, *args: Any, **kwargs: Any) -> Any:
        return method(self.bind() if self.params and not self.bound else self, *args, **kwargs)

    return call


# The scenario options a parameter may vary (the others are the function's own arguments).
KERNEL_OPTIONS = ("kernel", "cpus", "pages", "fixes", "debug_vm", "window", "max_steps", "check",
                  "kcompactd", "kswapd", "panic_on_oops", "debug_atomic_sleep", "preempt", "softirq")


def param_text(name: str, value: Any) -> str:
    """One parameter as a variant's name shows it: kernel=v6.1, fixes=+4b5d1e47b694."""
    if name == "fixes" and isinstance(value, dict):
        return "fixes=" + ("".join(("+" if on else "-") + n for n, on in sorted(value.items()))
                           or "none")
    return f"{name}={value if isinstance(value, str) else json.dumps(value)}"


def variant_name(base: str, params: dict[str, Any]) -> str:
    """zs_race, or a variant's zs_race[fixes=none,objects=4]."""
    return base + (f"[{','.join(param_text(n, v) for n, v in params.items())}]"
                   if params else "")


def param_arg(name: str, value: Any) -> str:
    """A parameter as `--param` takes it: NAME=JSON, or NAME=TEXT for a string that is not
    JSON (kernel=v6.1)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return f"{name}={value}"
    return f"{name}={json.dumps(value)}"


def parse_param(text: str) -> tuple[str, Any]:
    """`--param NAME=VALUE`: the value as JSON, or as text when it is not JSON."""
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise _core.UsageError(f"--param {text}: use NAME=VALUE (a JSON value, or text)")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


@dataclass
class Scenario:
    """A scenario function with its kernel options (see :func:`scenario`). A scenario
    with parameters is a family of variants: `bind(...)` picks one, `variants()` lists
    them all; an unbound one runs its default variant (each parameter's first value)."""

    fn: Callable[..., Script | None]
    options: dict[str, Any] = field(default_factory=dict)
    params: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # declared values
    bound: dict[str, Any] = field(default_factory=dict)  # this variant's, every parameter

    @property
    def base_name(self) -> str:
        """The scenario function's name: how files, schedules and the CLI name it."""
        return self.fn.__name__

    @property
    def name(self) -> str:
        """zs_isolated_fullness_race, or a variant's zs_isolated_fullness_race[fixes=none]."""
        return variant_name(self.base_name, self.bound)

    @property
    def variant_id(self) -> str:
        """The variant's parameters, "fixes=none,objects=3" ("" when not bound)."""
        return ",".join(param_text(n, v) for n, v in self.bound.items())

    def bind(self, **values: Any) -> Scenario:
        """The variant with these parameter values; the parameters not given keep this
        variant's values, or their first declared value."""
        for n, v in values.items():
            if n not in self.params:
                raise unknown_name(f"parameter of {self.base_name}", n, self.params)
            try:
                json.dumps(v)
            except (TypeError, ValueError):
                raise _core.UsageError(f"parameter {n} of {self.base_name} must be JSON (a "
                                       f"number, string, list or dict), not {v!r}") from None
        bound = {n: values.get(n, self.bound.get(n, vals[0])) for n, vals in self.params.items()}
        return Scenario(self.fn, self.options, self.params, bound)

    def variants(self) -> list[Scenario]:
        """Every combination of the declared parameter values, in order (the scenario
        itself when it has none)."""
        if not self.params:
            return [self]
        names = list(self.params)
        return [self.bind(**dict(zip(names, vals)))
                for vals in itertools.product(*self.params.values())]

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

    @property
    def source_hash(self) -> str:
        """A hash of the scenario function's source: a schedule recorded before an edit is
        refused rather than replayed into something else."""
        try:
            text = inspect.getsource(self.fn)
        except (OSError, TypeError):
            text = self.name
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def meta(self, preset: str, fixes: dict[str, bool]) -> dict[str, str]:
        """What a recorded schedule says about where it belongs."""
        meta = {
            "scenario": self.base_name,
            "scenario_file": self.file,
            "source_hash": self.source_hash,
            "preset": preset,
            "fixes": json.dumps(fixes, sort_keys=True),
        }
        if self.bound:
            meta["params"] = json.dumps(self.bound, sort_keys=True)
        return meta

    def initial_state(self, kernel: str | None = None,
                      fixes: dict[str, bool] | None = None) -> _core.KernelState:
        """The kernel state the scenario set up, before any context ran."""
        return self.build(kernel=kernel, fixes=fixes).core.state

    @_on_variant
    def build(
        self,
        kernel: str | None = None,
        fixes: dict[str, bool] | None = None,
        trace: bool = True,
        **overrides: Any,
    ) -> Built:
        """A fresh kernel set up by the scenario, its script, the preset, the fixes and the
        names a script or outcome key may use. Breakpoints are checked here."""
        if kernel is not None and not isinstance(kernel, str):
            raise _core.UsageError(f"kernel must be a preset name or None, not {kernel!r}")
        if fixes is not None and not isinstance(fixes, dict):
            raise _core.UsageError(f"fixes must be a dict of fix names to True or False, not "
                                   f"{fixes!r}")
        given = {n: v for n, v in self.bound.items() if n in KERNEL_OPTIONS}
        opts = {**self.options, **given, **overrides}
        if "fixes" in given:  # the variant's fixes flip on top of the scenario's
            opts["fixes"] = {**self.options["fixes"], **given["fixes"]}
        preset = kernel if kernel is not None else opts.pop("kernel", "v4.8")
        opts.pop("kernel", None)
        all_fixes = {**opts.pop("fixes", {}), **(fixes or {})}
        checks = opts.pop("checks", ())
        core = _core.Kernel(preset=preset, fixes=all_fixes, trace=trace, **opts)
        for fn in checks:
            core.add_check(fn)
        builder = KernelBuilder(core)
        scr = self(builder)
        if scr is not None and not isinstance(scr, Script):
            raise _core.UsageError(
                f"scenario {self.name} must return a ps.script(...) or None, not {scr!r}"
            )
        for step in scr.steps if scr else ():
            if step.function is not None:
                check_breakpoint(step.function, preset, all_fixes, builder.task_functions)
        names = Names(tuple(c.name for c in builder.contexts),
                      tuple(getattr(f, "__name__", "") for f in checks))
        return Built(core, scr, preset, all_fixes, names)

    @_on_variant
    def run(
        self,
        kernel: str | None = None,
        fixes: dict[str, bool] | None = None,
        seed: int | None = None,
        strategy: str = "random",
        schedule: None | str | _core.Schedule = None,
        scripted: bool = True,
        trace: bool = True,
        strict: bool = True,
        errors_as_outcomes: bool = False,
        stop_at_end: bool = False,
        **overrides: Any,
    ) -> Run:
        """Build the scenario on `kernel` (a preset; default the scenario's), run it once
        and return the Run. The script decides the interleaving it names; the rest falls
        to `strategy` with `seed`. `schedule` replays a recorded run exactly (`stop_at_end`:
        and ends the run where the schedule ends).

        A script step whose breakpoint never matched raises ScriptError (the run attached);
        with ``strict=False`` the run lists them in ``run.unmatched_steps``. An exception
        in a Python task or check is raised, or with `errors_as_outcomes` an outcome
        ``exception:<Type>`` as in an exploration."""
        built = self.build(kernel, fixes, trace=trace, **overrides)
        preset, all_fixes = built.preset, built.fixes
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
            DEFAULTS["replay_used"] = True
        if isinstance(schedule, _core.Schedule):
            check_schedule_fits(schedule, self, preset, all_fixes)
        scr = built.script if scripted and schedule is None else None
        result = built.core.run(
            strategy=strategy,
            seed=seed,
            schedule=schedule,
            script=scr.as_tuples() if scr else None,
            errors_as_outcomes=errors_as_outcomes,
            stop_at_end=stop_at_end,
        )
        run = Run(self, result, preset, all_fixes, scr, built.names)
        record(run)
        if isinstance(schedule, _core.Schedule) and not stop_at_end:
            check_replay_hash(schedule, run)
        if strict and run.unmatched_steps:
            raise ScriptError(
                f"{self.name} [{preset}]: script step never matched: {run.unmatched_steps[0]}"
                + (f" (and {len(run.unmatched_steps) - 1} more)"
                   if len(run.unmatched_steps) > 1 else "")
                + f"; the run: {run.outcome_counts} (strict=False keeps the run)",
                run, run.unmatched_steps)
        return run

    @_on_variant
    def explore(
        self,
        kernel: str | None = None,
        fixes: dict[str, bool] | None = None,
        strategy: str = "random",
        executions: int | None = None,
        seconds: float | None = None,
        seed: int = 0,
        preemption_bound: int | None | str = "iterative",
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
        `pct_depth`), "dfs" (every schedule) or "dpor" (one schedule per Mazurkiewicz
        trace: exhaustive, with far fewer executions).
        preemption_bound (dfs, dpor): "iterative" (the default) covers every schedule with
        0 preemptions, then 1, 2, ... as CHESS does, so a bug that needs k preemptions is
        found after bound k-1 is covered; K covers the schedules within K preemptions;
        None searches without a bound.
        Budget: `executions` and/or `seconds` (the first reached stops; when neither is
        given 1000 executions for random and pct, 100,000 for dfs and dpor), or `budget` alone: 20000 (executions), "30s", "5min", "1h", or
        both as "20000,30s". dfs and dpor also stop when exhausted.
        workers: processes on this machine (backend "local") or Ray tasks (backend "ray",
        on the cluster at `ray_address` or a local one); for dfs and dpor the outcome set
        does not depend on it. progress: draw a progress line on stderr. minimise: shrink
        the first failing schedule to its fewest preemptions (Exploration.first_failure).
        """
        from . import parallel

        if not isinstance(strategy, str):
            raise _core.UsageError(f"strategy must be random, pct, dfs or dpor, not {strategy!r}")
        executions, seconds = _budget(executions, seconds, budget, strategy)
        checked_int("workers", workers, 1, MAX_WORKERS)
        checked_int("seed", seed, 0)
        checked_int("pct_depth", pct_depth, 1, 64)
        if backend not in ("local", "ray"):
            raise _core.UsageError(f"unknown backend {backend!r} (local, ray)")
        iterative, bound = _bound(preemption_bound)
        build_args = {"kernel": kernel, "fixes": fixes, "trace": False, **overrides}
        built = self.build(**build_args)
        core = built.core
        args = {
            "strategy": strategy,
            "executions": executions,
            "seconds": seconds,
            "seed": int(seed),
            "preemption_bound": bound,
            "pct_depth": int(pct_depth),
            "iterative": iterative,
        }
        bar = parallel.ProgressBar(f"explore {self.name} {strategy}", executions,
                                   seconds) if progress else None
        try:
            with parallel.Interrupt() as interrupt:
                if backend == "ray":
                    found = parallel.run_ray(
                        self.file, self.base_name, self.bound, build_args, args, workers, ray_address,
                        interrupt
                    )
                elif workers > 1:
                    found = parallel.run_local(core, args, workers, bar, interrupt)
                else:

                    def tick(r: Any) -> bool:
                        if bar:
                            bar(r.executions, len(r.outcomes), r.seconds)
                        return not interrupt.set

                    found = parallel.explore_share(core, args, 0, 1, tick)
            if bar:
                bar.finish(found.executions, len(found.outcomes), found.seconds,
                           found.exhausted)
        finally:
            if bar:
                bar.close()
        # Interrupted: what was found, at once (minimising would run on).
        if minimise and not interrupt.set:
            first = found.first_failing()
            if first is not None:
                found.first_failure = core.minimise(first.key, list(first.schedule.choices))
        ex = Exploration(self, found, built.preset, built.fixes, built.names,
                         asked=preemption_bound, interrupted=interrupt.set, options=overrides)
        record(ex)
        return ex

    def __call__(self, k: KernelBuilder) -> Script | None:
        return self.fn(k, **{n: v for n, v in self.bound.items() if n not in KERNEL_OPTIONS})


def page_label(pfn: int) -> str:
    """A page as traces name it ("page pfn 7")."""
    return _core.obj_label(_core.page_obj(pfn))


def run_command(scenario: Scenario, preset: str, fixes: dict[str, bool], schedule: Any) -> str:
    """The `pagesim run` command that replays `schedule` in the scenario."""
    flags = "".join(f" --fix {flip}" for flip in fix_flips(fixes))
    flags += "".join(f" --param {shlex.quote(param_arg(n, v))}" for n, v in scenario.bound.items())
    return (
        f"pagesim run {scenario.file}::{scenario.base_name} --kernel {preset}{flags}"
        f" --schedule '{schedule}'"
    )


def record(x: Run | Exploration) -> None:
    RECORDED.append(x)
    del RECORDED[:-64]  # a long-running session without the plugin keeps only the newest


_SECONDS = {"s": 1.0, "min": 60.0, "h": 3600.0}
_U64 = 2**64 - 1
MAX_WORKERS = 4096


def checked_int(name: str, value: Any, lo: int, hi: int = _U64) -> int:
    """An int argument in [lo, hi], or a one-line UsageError (no bool, float or string)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        bounds = f"at least {lo}" if hi == _U64 else f"between {lo} and {hi}"
        raise _core.UsageError(f"{name} must be an int {bounds}, not {value!r}")
    return value


def checked_seconds(value: Any) -> float:
    """A time budget: a finite number of seconds >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0):
        raise _core.UsageError(f"seconds must be a finite number >= 0, not {value!r}")
    return float(value)
_NO_BOUND = 2**32 - 1


def _bound(preemption_bound: int | None | str) -> tuple[bool, int]:
    """(iterative, bound) for the core from explore()'s preemption_bound."""
    if preemption_bound == "iterative":
        return True, _NO_BOUND
    if preemption_bound is None:
        return False, _NO_BOUND
    if isinstance(preemption_bound, bool) or not isinstance(preemption_bound, int) or not (
            0 <= preemption_bound < _NO_BOUND):
        raise _core.UsageError(
            f"preemption_bound must be 'iterative', None or an int >= 0, not {preemption_bound!r}")
    return False, preemption_bound


# Executions when no budget is given: a sample for random and pct; for dfs and dpor enough
# to exhaust a bounded search of a library scenario or reach its race iteratively.
DEFAULT_EXECUTIONS = {"random": 1000, "pct": 1000, "dfs": 100_000, "dpor": 100_000}


def _budget(executions: int | None, seconds: float | None, budget: int | str | None,
            strategy: str = "random") -> tuple[int, float]:
    """(executions, seconds) of an exploration; 0 means no limit of that kind."""
    if budget is None:
        secs = 0.0 if seconds is None else checked_seconds(seconds)
        default = 0 if secs else DEFAULT_EXECUTIONS.get(strategy, 1000)
        runs = default if executions is None else checked_int("executions", executions, 0)
        if not runs and not secs:
            raise _core.UsageError("an exploration needs a budget: executions > 0 or seconds > 0")
        return runs, secs
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
    and one replayable schedule, and the scope it covered."""

    def __init__(self, scenario: Scenario, found: Any, preset: str, fixes: dict[str, bool],
                 names: Names | None = None, asked: int | None | str = "iterative",
                 interrupted: bool = False, options: dict[str, Any] | None = None) -> None:
        self.scenario = scenario
        self.options = dict(options or {})  # kernel options explore() was given (debug_vm=...)
        self.found = found
        self.preset = preset
        self.fixes = dict(fixes)
        self.names = names or Names()
        self.asked = asked  # the preemption_bound explore() was given
        self.interrupted = interrupted  # stopped by Ctrl-C: what it found until then

    @property
    def strategy(self) -> str:
        return self.found.strategy

    @property
    def systematic(self) -> bool:
        """dfs or dpor: a search that can prove a property for its scope."""
        return self.strategy in ("dfs", "dpor")

    @property
    def executions(self) -> int:
        return self.found.executions

    @property
    def exhausted(self) -> bool:
        """Every schedule in the scope asked for was run (dfs, dpor): with a fixed preemption
        bound K every schedule within K preemptions, otherwise every schedule."""
        return self.found.exhausted

    @property
    def every_schedule(self) -> bool:
        """Every schedule with no bound at all was run."""
        return self.found.every_schedule

    @property
    def bound_covered(self) -> int | None:
        """The highest preemption bound whose schedules were all run (None: not even 0)."""
        return self.found.bound_covered

    @property
    def seconds(self) -> float:
        return self.found.seconds

    @property
    def outcomes(self) -> dict[str, int]:
        """{key: executions with that outcome}; "ok" counts clean executions."""
        return {k: c.count for k, c in self.found.outcomes.items()}

    @property
    def scope(self) -> str:
        """What the exploration covered, in words: strategy, executions, bound, and whether
        the space in scope was exhausted or the budget ran out."""
        head = f"{self.strategy}, {self.executions:,} executions"
        if not self.systematic:
            return f"{head}, sampled (a random search proves nothing)" + (
                ", interrupted" if self.interrupted else "")
        if self.every_schedule:
            return f"{head}, every schedule (exhausted)"
        if self.asked == "iterative":
            mode = "iterative preemption bounding"
        elif self.asked is None:
            mode = "no preemption bound"
        else:
            mode = f"preemption bound {self.asked}"
        covered = ("no bound fully covered" if self.bound_covered is None
                   else f"bound {self.bound_covered} fully covered")
        end = "exhausted" if self.exhausted else "interrupted" if self.interrupted else "budget spent"
        return f"{head}, {mode}, {covered}, {end}"

    def _matches(self, key: str) -> list[str]:
        self.names.check_key(key, self.preset, self.fixes, self.found.checks, self.outcomes)
        return [k for k in self.outcomes if outcome_matches(k, key)]

    def sometimes(self, key: str) -> bool:
        """Some execution had this outcome (a key like "oops:zs_page_isolate" or a kind)."""
        return bool(self._matches(key))

    def never(self, key: str) -> bool:
        """No execution had this outcome. On a systematic search that did not exhaust the
        scope asked for, warns InconclusiveWarning (see proves_never)."""
        absent = not self._matches(key)
        if absent and self.systematic and not self.exhausted:
            warnings.warn(InconclusiveWarning(
                f"never({key!r}) is not a proof: {self.scenario.name} [{self.preset}] "
                f"explored {self.scope}"), stacklevel=2)
        return absent

    def proves_never(self, key: str) -> bool:
        """No schedule in the scope asked for has this outcome: True only for a dfs or dpor
        search that exhausted it."""
        return self.systematic and self.exhausted and not self._matches(key)

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
        sched.meta = self.scenario.meta(self.preset, self.fixes)
        return sched

    def replay(self, key: str | None = None) -> Run:
        """Run the example of this outcome again, with its trace (without a key: the first
        failure). Exceptions in tasks are outcomes, as they were in the exploration."""
        return self.scenario.run(kernel=self.preset, fixes=self.fixes, schedule=self.example(key),
                                 errors_as_outcomes=True, **self.options)

    @property
    def redundant(self) -> int:
        """dpor: executions cut short because a sleep set showed them redundant."""
        return self.found.redundant

    @property
    def repeated(self) -> int:
        """Iterative bounding: executions run again at a higher bound, counted once."""
        return self.found.repeated

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
            "scenario": self.scenario.base_name,
            "params": self.scenario.bound,
            "file": self.scenario.file,
            "source_hash": self.scenario.source_hash,
            "preset": self.preset,
            "fixes": self.fixes,
            "strategy": found["strategy"],
            "executions": found["executions"],
            "redundant": found["redundant"],
            "repeated": found["repeated"],
            "preemption_bound": self.asked,
            "bound_covered": found["bound_covered"],
            "exhausted": found["exhausted"],
            "every_schedule": found["every_schedule"],
            "scope": self.scope,
            "interrupted": self.interrupted,
            "seconds": found["seconds"],
            "rate": found["executions_per_s"],
            "workers": found["workers"],
            "outcomes": found["outcomes"],
            "examples": {k: e["schedule"] for k, e in found["examples"].items()},
            "first_seen": {k: e["first_run"] for k, e in found["examples"].items()},
            "first_failure": found["first_failure"],
        }

    def __repr__(self) -> str:
        return (f"<Exploration {self.scenario.name} [{self.preset}] {self.outcomes} "
                f"({self.scope})>")

    def _repr_html_(self) -> str:
        return display.exploration_html(self)


def check_schedule_fits(schedule: _core.Schedule, sc: Scenario, preset: str,
                        fixes: dict[str, bool]) -> None:
    """A schedule recorded for another scenario, preset, fixes or an earlier version of the
    scenario's source is stale: refuse it clearly rather than run something else."""
    meta = schedule.meta
    if meta.get("scenario") not in (None, sc.base_name):
        raise _core.StaleScheduleError(
            f"schedule was recorded for scenario {meta['scenario']!r}, not {sc.base_name!r}"
        )
    params = json.dumps(sc.bound, sort_keys=True) if sc.bound else ""
    if meta.get("params", "") != params and "scenario" in meta:
        raise _core.StaleScheduleError(
            f"schedule was recorded with parameters {meta.get('params') or 'none'}, this run "
            f"has {params or 'none'}")
    if meta.get("preset") not in (None, preset):
        raise _core.StaleScheduleError(
            f"schedule was recorded on kernel {meta['preset']!r}, this run is on {preset!r}"
        )
    if meta.get("fixes") not in (None, "", json.dumps(fixes, sort_keys=True)):
        raise _core.StaleScheduleError(
            f"schedule was recorded with fixes {meta['fixes']}, this run has "
            f"{json.dumps(fixes, sort_keys=True)}")
    if meta.get("source_hash") not in (None, "", sc.source_hash):
        raise _core.StaleScheduleError(
            f"schedule was recorded for another version of {sc.name} (its source changed "
            f"since: source hash {meta['source_hash']}, now {sc.source_hash}); record it again")


def check_replay_hash(schedule: _core.Schedule, run: Run) -> None:
    """A replay that ran differently from the recorded run (the model changed) is stale."""
    recorded = schedule.meta.get("trace_hash")
    if recorded and recorded != f"{run.trace_hash:016x}":
        raise _core.StaleScheduleError(
            f"replaying {run.scenario.name} gave trace hash {run.trace_hash:016x}, the "
            f"recorded run had {recorded}: the model changed since it was recorded")


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
    kswapd: bool = False,
    panic_on_oops: bool = False,
    debug_atomic_sleep: bool = False,
    preempt: bool = False,
    softirq: bool = False,
    checks: Iterable[Callable[[_core.KernelState], str | None]] = (),
    params: dict[str, Iterable[Any]] | None = None,
) -> Any:
    """Declare a scenario: ``@ps.scenario(kernel="movable-v3", cpus=3)``.

    kernel: the preset (``pagesim.presets()``); fixes: named fixes flipped on top of it;
    pages: memory size in 4 KiB pages (a multiple of 512); check: invariant checks at the
    "end" of the run, after every "step", or "off"; checks: end-of-run properties, each
    ``fn(state)`` returning None or a message (outcome ``check:<fn name>``); preempt:
    CONFIG_PREEMPT, tasks of one CPU preempt each other wherever they hold no spinlock;
    softirq: ``k.cpu(i).softirq(task)`` may put softirq contexts on CPUs; kcompactd: start
    kcompactd0 (it sleeps until woken); kswapd: start kswapd0, which the allocator's slow
    path wakes, and kcompactd0, which kswapd wakes before it sleeps (v4.8 to v4.19).

    params: the values each parameter takes, ``{"fixes": [{}, {"4b5d1e47b694": True}]}``
    or ``{"objects": [2, 3]}``: a kernel option above, or a keyword argument of the
    function. The scenario is then a family of variants (`variants()`, `bind()`; pytest:
    ``@ps.parametrize(scenario)``); run unbound, it runs each parameter's first value."""
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
        "kswapd": kswapd,
        "panic_on_oops": panic_on_oops,
        "debug_atomic_sleep": debug_atomic_sleep,
        "preempt": preempt,
        "softirq": softirq,
        "checks": tuple(checks),
    }

    def wrap(f: Callable[..., Any]) -> Scenario:
        return Scenario(f, options, checked_params(f, params))

    return wrap(fn) if fn is not None else wrap


def checked_params(fn: Callable[..., Any],
                   params: dict[str, Iterable[Any]] | None) -> dict[str, tuple[Any, ...]]:
    """The declared parameters, each a kernel option or a keyword argument of `fn` with a
    non-empty list of values; every other argument of `fn` after the kernel has a default."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise _core.UsageError(f"params must be a dict of names to lists of values, not {params!r}")
    args = list(inspect.signature(fn).parameters.values())[1:]
    own = {a.name for a in args}
    out: dict[str, tuple[Any, ...]] = {}
    for name, values in params.items():
        if name not in own and name not in KERNEL_OPTIONS:
            raise unknown_name(f"parameter of {fn.__name__} (neither a kernel option nor an "
                               "argument of the function):", name, [*KERNEL_OPTIONS, *own])
        if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
            raise _core.UsageError(f"params[{name!r}] must be a list of values, not {values!r}")
        out[name] = tuple(values)
        if not out[name]:
            raise _core.UsageError(f"params[{name!r}] has no value")
        try:
            json.dumps(out[name])  # schedules and replay commands record a variant's values
        except (TypeError, ValueError):
            raise _core.UsageError(f"params[{name!r}] must be JSON values (numbers, strings, "
                                   f"lists, dicts), not {values!r}") from None
    for a in args:
        if a.name not in out and a.default is inspect.Parameter.empty:
            raise _core.UsageError(f"{fn.__name__}({a.name}): declare its values in "
                                   f"params={{{a.name!r}: [...]}} or give it a default")
    return out


def parametrize(sc: Scenario, argname: str = "scenario") -> Any:
    """A pytest mark that runs a test once per variant of `sc`, as `argname`:
    ``@ps.parametrize(zs_race)`` then ``def test_it(scenario): scenario.explore(...)``."""
    import pytest

    variants = sc.variants()
    return pytest.mark.parametrize(argname, variants, ids=[v.variant_id or v.name
                                                           for v in variants])


def scenarios_in(namespace: Iterable[tuple[str, Any]]) -> dict[str, Scenario]:
    """The scenarios defined in a module's namespace, by name."""
    return {v.name: v for _, v in namespace if isinstance(v, Scenario) and not v.bound}


def load_scenarios(path: str) -> dict[str, Scenario]:
    """The scenarios a Python file defines, by name: how the CLI, Ray workers and notebooks
    load a scenario file without putting its folder on sys.path."""
    if not os.path.isfile(path):
        raise _core.UsageError(f"no such file: {path}")
    name = "pagesim_scenario_" + hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise _core.UsageError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file: where it failed, on one line
        del sys.modules[name]
        line = getattr(e, "lineno", None) if isinstance(e, SyntaxError) else None
        for frame in traceback.extract_tb(e.__traceback__):
            if os.path.abspath(frame.filename) == os.path.abspath(path):
                line = frame.lineno
        where = f"{path}:{line}" if line else path
        text = str(e).splitlines()[0] if str(e) else ""
        raise _core.UsageError(f"cannot load {where}: {type(e).__name__}"
                               + (f": {text}" if text else "")) from e
    found = scenarios_in(vars(module).items())
    if not found:
        raise _core.UsageError(f"{path} defines no @pagesim.scenario")
    return found
