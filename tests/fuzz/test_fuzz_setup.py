"""A stateful fuzzer over the set-up API a scenario uses.

Rules build a kernel the way scenarios do (zsmalloc pools, processes, page allocation,
compaction, the balloon, the test driver, zram, raw entry point calls, contexts on CPUs),
with valid and hostile arguments, and run or explore it on small budgets. Oracle: no
crash, no hang, nothing but a one-line UsageError for a bad call (oracle.attempt), and a
set-up call that fails leaves the kernel's state exactly as it was.
"""

from __future__ import annotations

from typing import Any

import pagesim as ps
from hostile import EDGES, hostile
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from oracle import Refused, attempt
from pagesim import _core

ENTRIES = [e["name"] for e in ps.entry_points()]
# A long-running entry point with a huge count is valid and slow: keep counts small.
COUNTED = {"zram_create", "zram_backing_dev", "balloon_fill", "balloon_leak", "test_driver_alloc",
           "fault_in", "try_to_compact_pages"}


def small(hi: int) -> st.SearchStrategy[int]:
    return st.integers(0, hi)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values most of the time, else hostile or an edge."""
    return st.one_of(valid, valid, valid, st.sampled_from(EDGES), hostile)


def snapshot(k: ps.Kernel) -> Any:
    s = k.state
    pids, pools = [], []
    for pid in range(64):
        try:
            pids.append(s.process_pages(pid))
        except ps.UsageError:
            break
    for pool in range(64):
        try:
            pools.append(_core.zs_stats(s, pool))
        except ps.UsageError:
            break
    try:
        zram = _core.zram_stats(s)
    except ps.UsageError:
        zram = None
    return (
        [s.page(p) for p in range(s.nr_pages)],
        s.stats,
        s.zones(),
        s.free_blocks(0),
        pids,
        pools,
        zram,
        _core.balloon_state(s),
        _core.test_driver_state(s),
    )


class SetupMachine(RuleBasedStateMachine):
    pools = Bundle("pools")
    handles = Bundle("handles")
    processes = Bundle("processes")
    pfns = Bundle("pfns")

    @initialize(
        preset=st.sampled_from([p["name"] for p in ps.presets()]),
        pages=st.sampled_from([512, 1024]),
        cpus=st.integers(1, 3),
        check=st.sampled_from(["end", "step", "off"]),
    )
    def make_kernel(self, preset: str, pages: int, cpus: int, check: str) -> None:
        self.core = ps.Kernel(preset=preset, pages=pages, cpus=cpus, max_steps=20_000,
                              check=check)
        self.k = ps.KernelBuilder(self.core)
        self.balloon: Any = None
        self.driver: Any = None
        self.tasks = 0

    # -- the oracle for set-up calls ---------------------------------------------------------

    def setup(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        before = snapshot(self.core)
        r = attempt(fn, *args, what=what, **kw)
        if isinstance(r, Refused):
            after = snapshot(self.core)
            assert after == before, f"{what}: failed ({r}) and changed the initial state"
        return r

    # -- zsmalloc ----------------------------------------------------------------------------

    @rule(target=pools)
    def create_pool(self) -> Any:
        r = self.setup("zsmalloc", self.k.zsmalloc)
        return multiple() if isinstance(r, Refused) else r

    @rule(target=handles, pool=pools, size=mostly(st.integers(1, 4096)))
    def malloc(self, pool: Any, size: Any) -> Any:
        r = self.setup("Pool.malloc", pool.malloc, size)
        return multiple() if isinstance(r, Refused) else (pool, r)

    @rule(h=consumes(handles))
    def free(self, h: Any) -> None:
        pool, handle = h
        self.setup("Pool.free", pool.free, handle)

    @rule(pool=pools, handle=mostly(small(8)))
    def free_any(self, pool: Any, handle: Any) -> None:
        self.setup("Pool.free", pool.free, handle)

    @rule(h=handles, token=mostly(st.integers(0, 2**31)))
    def write_read(self, h: Any, token: Any) -> None:
        pool, handle = h
        self.setup("Pool.write", pool.write, handle, token)
        self.setup("Pool.read", pool.read, handle)
        attempt(pool.pages_of, handle, what="Pool.pages_of")

    @rule(pool=pools)
    def compact_pool(self, pool: Any) -> None:
        self.setup("Pool.compact", pool.compact)

    # -- processes and pages -----------------------------------------------------------------

    @rule(target=processes, name=mostly(st.just("p")))
    def process(self, name: Any) -> Any:
        r = self.setup("process", self.k.process, name)
        return multiple() if isinstance(r, Refused) else r

    @rule(target=pfns, p=processes, n=mostly(small(16)))
    def fault_in(self, p: Any, n: Any) -> Any:
        if isinstance(n, int) and n > 64:
            return multiple()
        r = self.setup("Process.fault_in", p.fault_in, n)
        if isinstance(r, Refused):
            return multiple()
        return multiple(*[pfn for pfn in p.pages() if pfn is not None][:4])

    @rule(p=processes, v=mostly(small(16)))
    def unmap(self, p: Any, v: Any) -> None:
        self.setup("Process.unmap", p.unmap, v)

    @rule(p=consumes(processes))
    def exit(self, p: Any) -> None:
        self.setup("Process.exit", p.exit)

    @rule(target=pfns, order=mostly(small(10)), gfp=mostly(st.sampled_from(
        ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_ATOMIC", "GFP_KERNEL|__GFP_MOVABLE", 0])))
    def alloc_pages(self, order: Any, gfp: Any) -> Any:
        r = self.setup("alloc_pages", self.k.alloc_pages, order, gfp)
        return multiple() if isinstance(r, Refused) or r is None else r

    @rule(pfn=consumes(pfns), order=mostly(small(3)))
    def free_pages(self, pfn: Any, order: Any) -> None:
        self.setup("free_pages", self.k.free_pages, pfn, order)

    @rule(pfn=st.one_of(pfns, mostly(small(1023))),
          entry=st.sampled_from(["get_page", "put_page", "lock_page", "unlock_page",
                                 "isolate_movable_page", "putback_isolated",
                                 "migrate_isolated", "compact_page"]))
    def page_call(self, pfn: Any, entry: str) -> None:
        self.setup(entry, self.k.call, entry, pfn)

    @rule(start=mostly(small(1024)), end=mostly(small(1024)), mode=mostly(small(2)))
    def compact_range(self, start: Any, end: Any, mode: Any) -> None:
        self.setup("Compaction.range", self.k.compaction.range, start, end, mode)

    @rule()
    def compact_memory(self) -> None:
        self.setup("Compaction.memory", self.k.compaction.memory)

    # -- balloon, test driver, zram ----------------------------------------------------------

    @rule()
    def balloon_init(self) -> None:
        r = self.setup("balloon", self.k.balloon)
        if not isinstance(r, Refused):
            self.balloon = r

    @precondition(lambda self: self.balloon is not None)
    @rule(n=mostly(small(32)), inflate=st.booleans())
    def balloon_fill_leak(self, n: Any, inflate: bool) -> None:
        if isinstance(n, int) and n > 256:
            return
        fn = self.balloon.fill if inflate else self.balloon.leak
        self.setup("Balloon.fill" if inflate else "Balloon.leak", fn, n)

    @rule(target=pfns, n=mostly(small(8)))
    def driver_alloc(self, n: Any) -> Any:
        if isinstance(n, int) and n > 64:
            return multiple()
        self.driver = self.driver or self.k.test_driver()
        r = self.setup("TestDriver.alloc", self.driver.alloc, n)
        return multiple() if isinstance(r, Refused) else r

    @rule(pfn=st.one_of(pfns, mostly(small(1023))), option=mostly(small(8)),
          value=mostly(small(2)))
    def driver_calls(self, pfn: Any, option: Any, value: Any) -> None:
        self.driver = self.driver or self.k.test_driver()
        self.setup("TestDriver.set", self.driver.set, option, value)
        self.setup("TestDriver.release", self.driver.release, pfn)

    @precondition(lambda self: self.driver is not None)
    @rule(pfn=pfns, p=processes)
    def driver_mmap(self, pfn: Any, p: Any) -> None:
        self.setup("TestDriver.mmap", self.driver.mmap, pfn, p)

    @rule(slots=mostly(small(16)), slot=mostly(small(16)), size=mostly(st.integers(0, 4096)),
          token=mostly(small(99)))
    def zram(self, slots: Any, slot: Any, size: Any, token: Any) -> None:
        if isinstance(slots, int) and slots > 4096:
            return
        self.setup("zram_create", self.k.call, "zram_create", slots)
        self.setup("zram_write", self.k.call, "zram_write", slot, size, token)
        self.setup("zram_read", self.k.call, "zram_read", slot)

    @rule(entry=st.one_of(st.sampled_from(ENTRIES), hostile), args=st.lists(mostly(small(64)),
                                                                             max_size=4))
    def raw_call(self, entry: Any, args: list[Any]) -> None:
        if isinstance(entry, str) and entry in COUNTED and any(
                isinstance(a, int) and a > 256 for a in args):
            return
        self.setup("call", self.k.call, entry, *args)

    @rule(entry=st.sampled_from(ENTRIES), args=st.lists(mostly(small(64)), max_size=3))
    def probe(self, entry: str, args: list[Any]) -> None:
        if entry in COUNTED and any(isinstance(a, int) and a > 256 for a in args):
            return
        self.setup("probe", self.k.probe, entry, *args)  # a copy: the state never changes

    @rule(name=mostly(st.just("lock")), value=mostly(small(3)))
    def locks_and_counters(self, name: Any, value: Any) -> None:
        attempt(self.k.mutex, name, what="mutex")
        attempt(self.k.spinlock, name, what="spinlock")
        attempt(self.k.counter, name, value, what="counter")

    # -- contexts and runs -------------------------------------------------------------------

    @precondition(lambda self: self.tasks < 6)
    @rule(cpu=mostly(small(2)), entry=st.sampled_from(ENTRIES),
          args=st.lists(mostly(small(64)), max_size=3))
    def context(self, cpu: Any, entry: str, args: list[Any]) -> None:
        if entry in COUNTED and any(isinstance(a, int) and a > 64 for a in args):
            return
        r = attempt(lambda: self.k.cpu(cpu).run(entry, *args), what="Cpu.run")
        self.tasks += not isinstance(r, Refused)

    @precondition(lambda self: self.tasks < 6)
    @rule(cpu=mostly(small(2)), h=handles)
    def context_free(self, cpu: Any, h: Any) -> None:
        pool, handle = h
        r = attempt(lambda: self.k.cpu(cpu).run(pool.free, handle), what="Cpu.run(pool.free)")
        self.tasks += not isinstance(r, Refused)

    @precondition(lambda self: self.tasks < 6)
    @rule(cpu=mostly(small(2)), pfn=pfns)
    def context_python_task(self, cpu: Any, pfn: Any) -> None:
        def task():
            if (yield ps.call("isolate_movable_page", pfn)):
                yield ps.delay(10)
                yield ps.call("putback_isolated", pfn)

        r = attempt(lambda: self.k.cpu(cpu).run(task), what="Cpu.run(task)")
        self.tasks += not isinstance(r, Refused)

    @rule(seed=mostly(small(1000)), strategy=mostly(st.sampled_from(["random", "timed"])))
    def run(self, seed: Any, strategy: Any) -> None:
        before = snapshot(self.core)
        r = attempt(self.core.run, seed=seed, strategy=strategy, errors_as_outcomes=True,
                    what="run")
        if not isinstance(r, Refused):
            assert r.steps <= 20_000 + 1
            attempt(r.to_json, what="RunResult.to_json")
        assert snapshot(self.core) == before, "a run changed the initial state"

    @rule(strategy=st.sampled_from(["random", "pct", "dfs", "dpor"]),
          executions=st.integers(1, 12), bound=st.sampled_from([0, 1, 2, 2**32 - 1]),
          seed=small(100))
    def explore(self, strategy: str, executions: int, bound: int, seed: int) -> None:
        r = attempt(self.core.explore, strategy=strategy, executions=executions, seconds=5.0,
                    seed=seed, preemption_bound=bound, minimise=False, what="explore")
        if not isinstance(r, Refused):
            assert r.executions <= executions
            attempt(r.to_json, what="ExploreResult.to_json")

    @invariant()
    def state_reads(self) -> None:
        if not hasattr(self, "core"):
            return
        s = self.core.state
        assert sum(z["pages"] for z in s.zones()) == s.nr_pages
        assert s.stats["nr_free_pages"] >= 0


TestSetupMachine = SetupMachine.TestCase
# On top of the profile: a third of its examples (each is up to 25 steps).
TestSetupMachine.settings = settings(stateful_step_count=25,
                                     max_examples=max(5, settings.default.max_examples // 3))
