"""Every public function and method taking numbers or strings, with hostile arguments.

Oracle (oracle.attempt): a result or a one-line UsageError, nothing raw; and nothing
invalid silently accepted: a call that returned had only valid values (hostile.Arg).
"""

from __future__ import annotations

from typing import Any, Callable

import pagesim as ps
import pytest
from hostile import (
    ANY,
    BOOL,
    Arg,
    argument_values,
    hostile,
    int_arg,
    is_int,
    one_of,
    required,
    seconds_arg,
    str_arg,
)
from hypothesis import given
from hypothesis import strategies as st
from oracle import Refused, attempt
from pagesim import _core
from tiny_scenarios import PAGES, tiny

U32, U64, I64 = 2**32 - 1, 2**64 - 1, 2**63 - 1
PRESETS = [p["name"] for p in ps.presets()]


def kernel() -> ps.Kernel:
    k = ps.Kernel(pages=PAGES, cpus=2)
    pid = k.process("p")
    k.fault_in(pid, 8)
    return k


def running_kernel() -> ps.Kernel:
    k = kernel()
    pfn = k.state.process_pages(0)[2]
    k.spawn(0, "compact_page", pfn)
    k.spawn(1, "compact_page", pfn)
    return k


def pages_arg() -> Arg:
    return Arg(lambda v: is_int(v) and 512 <= v <= 2**23 and v % 512 == 0,
               lambda v: is_int(v) and v > 4096, st.sampled_from([512, 1024]))


def explore_executions(v: Any) -> bool:
    return is_int(v) and v > 40


def bound_arg() -> Arg:
    return Arg(lambda v: v in ("iterative", None) or (is_int(v) and 0 <= v < U32),
               values=st.sampled_from(["iterative", None, 0, 1, 2]))


KERNEL_ARGS = {
    "preset": one_of(*PRESETS),
    "fixes": ANY,
    "pages": pages_arg(),
    "zones": ANY,
    "cpus": int_arg(1, 256),
    "window": int_arg(0, U64, optional=True),
    "max_steps": int_arg(1, U64),
    "trace": BOOL,
    "panic_on_oops": BOOL,
    "debug_vm": Arg(lambda v: v is None or isinstance(v, bool)),
    "debug_atomic_sleep": BOOL,
    "preempt": BOOL,
    "check": one_of("end", "step", "off"),
    "kcompactd": BOOL,
}
MACHINE_ARGS = {k: KERNEL_ARGS[k] for k in ("cpus", "window", "max_steps", "trace",
                                             "panic_on_oops", "debug_atomic_sleep", "preempt")}
RUN_ARGS = {
    "strategy": one_of("random", "timed"),
    "seed": int_arg(0, U64),
    "schedule": ANY,
    "script": ANY,
    "errors_as_outcomes": BOOL,
    "stop_at_end": BOOL,
}
CORE_EXPLORE_ARGS = {
    "strategy": one_of("random", "pct", "dfs", "dpor"),
    "executions": Arg(lambda v: is_int(v) and 0 <= v <= U64, explore_executions,
                      st.integers(0, 30)),
    "seconds": seconds_arg(),
    "seed": int_arg(0, U64),
    "preemption_bound": int_arg(0, U32),
    "pct_depth": int_arg(1, 64),
    "minimise": BOOL,
    "iterative": BOOL,
}
SCENARIO_RUN_ARGS = {
    "kernel": Arg(lambda v: v is None or v in PRESETS, values=st.sampled_from([None, *PRESETS])),
    "fixes": ANY,
    "seed": int_arg(0, U64, optional=True),
    "strategy": one_of("random", "timed"),
    "schedule": ANY,
    "scripted": BOOL,
    "trace": BOOL,
    "strict": BOOL,
    "errors_as_outcomes": BOOL,
    "stop_at_end": BOOL,
}
SCENARIO_EXPLORE_ARGS = {
    "kernel": SCENARIO_RUN_ARGS["kernel"],
    "strategy": one_of("random", "pct", "dfs", "dpor"),
    "executions": Arg(lambda v: v is None or (is_int(v) and 0 <= v <= U64), explore_executions,
                      st.integers(1, 30)),
    "seconds": seconds_arg(optional=True),
    "seed": int_arg(0, U64),
    "preemption_bound": bound_arg(),
    "pct_depth": int_arg(1, 64),
    "workers": Arg(lambda v: is_int(v) and 1 <= v <= 4096, lambda v: is_int(v) and v > 1,
                   st.just(1)),
    "backend": Arg(lambda v: v == "local", lambda v: v == "ray", st.just("local")),
    "progress": BOOL,
    "minimise": BOOL,
    "budget": ANY,
}
LEVELS = ["trace", "debug", "info", "warn", "warning", "err", "error", "critical", "off"]

Call = Callable[[dict[str, Any]], Any]
TARGETS: dict[str, tuple[dict[str, Arg], Call]] = {
    "Kernel": (KERNEL_ARGS, lambda kw: ps.Kernel(**kw)),
    "Machine": (MACHINE_ARGS, lambda kw: ps.Machine(**kw)),
    "Kernel.alloc_pages": ({"order": int_arg(0, 10), "gfp": ANY},
                           lambda kw: kernel().alloc_pages(**kw)),
    "Kernel.free_pages": ({"pfn": int_arg(0, PAGES - 1), "order": int_arg(0, 10)},
                          lambda kw: kernel().free_pages(**kw)),
    "Kernel.fault_in": ({"pid": int_arg(0, 0), "npages": int_arg(0, U32, costly_above=PAGES)},
                        lambda kw: kernel().fault_in(**kw)),
    "Kernel.process": ({"name": str_arg()}, lambda kw: kernel().process(**kw)),
    "Kernel.counter": ({"name": str_arg(), "value": int_arg(-I64 - 1, I64)},
                       lambda kw: kernel().counter(**kw)),
    "Kernel.mutex": ({"name": str_arg()}, lambda kw: kernel().mutex(**kw)),
    "Kernel.run": (RUN_ARGS, lambda kw: running_kernel().run(**kw)),
    "Kernel.explore": (CORE_EXPLORE_ARGS,
                       lambda kw: running_kernel().explore(**{"executions": 5, **kw})),
    "KernelState.page": ({"pfn": int_arg(0, PAGES - 1)}, lambda kw: kernel().state.page(**kw)),
    "KernelState.dump_page": ({"pfn": int_arg(0, PAGES - 1)},
                              lambda kw: kernel().state.dump_page(**kw)),
    "KernelState.free_blocks": ({"zone": int_arg(0, 0)},
                                lambda kw: kernel().state.free_blocks(**kw)),
    "KernelState.unusable_free_index": (
        {"order": int_arg(0, 10), "zone": int_arg(0, 0)},
        lambda kw: kernel().state.unusable_free_index(**{"order": 0, **kw})),
    "KernelState.fragmentation_index": (
        {"order": int_arg(0, 10), "zone": int_arg(0, 0)},
        lambda kw: kernel().state.fragmentation_index(**{"order": 0, **kw})),
    "KernelState.process_pages": ({"pid": int_arg(0, 0)},
                                  lambda kw: kernel().state.process_pages(**kw)),
    "KernelState.corrupt_pages": ({"pid": int_arg(0, 0)},
                                  lambda kw: kernel().state.corrupt_pages(**kw)),
    "Scenario.run": (SCENARIO_RUN_ARGS, lambda kw: tiny.run(**kw)),
    "Scenario.explore": (SCENARIO_EXPLORE_ARGS,
                         lambda kw: tiny.explore(**({"executions": 5} if not {"executions", "seconds", "budget"} & set(kw) else {}), **kw)),
    "Schedule": ({"schedule": ANY}, lambda kw: ps.Schedule(**kw)),
    "delay": ({"ns": int_arg(0, I64)}, lambda kw: ps.delay(**kw)),
    "check": ({"cond": ANY, "name": str_arg(), "message": str_arg()},
              lambda kw: ps.check(**{"cond": True, "name": "c", **kw})),
    "vmstat": ({"name": str_arg(["nr_free_pages", "nr_isolated_anon"])},
               lambda kw: ps.vmstat(**kw)),
    "bug": ({"message": str_arg()}, lambda kw: ps.bug(**kw)),
    "warn": ({"message": str_arg()}, lambda kw: ps.warn(**kw)),
    "model_functions": ({"kernel": Arg(lambda v: v is None or v in PRESETS), "fixes": ANY},
                        lambda kw: ps.model_functions(**kw)),
    "page_obj": ({"pfn": int_arg(0, U32)}, lambda kw: _core.page_obj(**kw)),
    "zs_handle_obj": ({"pool": int_arg(0, U32), "handle": int_arg(0, U64)},
                      lambda kw: _core.zs_handle_obj(**{"pool": 0, "handle": 1, **kw})),
    "zspage_obj": ({"zspage": int_arg(0, U32)}, lambda kw: _core.zspage_obj(**kw)),
    "zs_stats": ({"pool": int_arg(0, 0)}, lambda kw: _core.zs_stats(pool_kernel().state, **kw)),
    "zs_handle": ({"pool": int_arg(0, 0), "handle": int_arg(1, 1)},
                  lambda kw: _core.zs_handle(pool_kernel().state, **{"pool": 0, "handle": 1, **kw})),
    "zs_pages_of": ({"pool": int_arg(0, 0), "handle": int_arg(1, 1)},
                    lambda kw: _core.zs_pages_of(pool_kernel().state,
                                                 **{"pool": 0, "handle": 1, **kw})),
    "zs_check": ({"settled": BOOL}, lambda kw: _core.zs_check(pool_kernel().state, **kw)),
    "set_log_level": ({"level": one_of(*LEVELS)}, lambda kw: set_log_level(**kw)),
    "Exploration.example": ({"key": required(ANY)}, lambda kw: exploration().example(**kw)),
    "Exploration.sometimes": ({"key": required(ANY)}, lambda kw: exploration().sometimes(**kw)),
    "Exploration.never": ({"key": required(ANY)}, lambda kw: exploration().never(**kw)),
    "Run.state_at": ({"step": required(int_arg(0, 10**6))}, lambda kw: a_run().state_at(**kw)),
    "Run.page_history": ({"pfn": required(int_arg(0, PAGES - 1))}, lambda kw: a_run().page_history(**kw)),
    "Run.diagram": ({"depth": int_arg(0, 2**64), "width": int_arg(4, 1000)},
                    lambda kw: a_run().diagram(**kw)),
    "Run.has": ({"key": required(ANY)}, lambda kw: a_run().has(**kw)),
    "KernelBuilder.cpu": ({"index": required(int_arg(0, 1))}, lambda kw: builder(lambda k: k.cpu(**kw))),
}


def pool_kernel() -> ps.Kernel:
    k = ps.Kernel(pages=PAGES)
    pool = k.call("zs_create_pool")
    k.call("zs_malloc", pool, 100)
    return k


_CACHE: dict[str, Any] = {}


def exploration() -> Any:
    if "ex" not in _CACHE:
        _CACHE["ex"] = tiny.explore(executions=20, minimise=False)
    return _CACHE["ex"]


def a_run() -> Any:
    if "run" not in _CACHE:
        _CACHE["run"] = tiny.run(seed=1)
    return _CACHE["run"]


def builder(fn: Callable[[Any], Any]) -> Any:
    return fn(ps.KernelBuilder(kernel()))


def set_log_level(**kw: Any) -> None:
    try:
        ps.set_log_level(**kw)
    finally:
        _core.set_log_level("warn")


@pytest.mark.parametrize("name", sorted(TARGETS))
@given(data=st.data())
def test_hostile_arguments(name: str, data: st.DataObject) -> None:
    spec, call = TARGETS[name]
    kw = data.draw(argument_values(spec), label="arguments")
    kw = {k: v for k, v in kw.items() if not spec[k].costly(v)}
    r = attempt(call, kw, what=name)
    if isinstance(r, Refused):
        return
    accepted = {k: v for k, v in kw.items() if not spec[k].valid(v)}
    assert not accepted, f"{name} silently accepted {accepted!r} (all arguments: {kw!r})"


@pytest.mark.parametrize("name", ["call", "Kernel.call", "Kernel.probe", "Kernel.spawn",
                                  "Cpu.run"])
@given(entry=st.one_of(st.sampled_from([e["name"] for e in ps.entry_points()]), hostile),
       args=st.lists(hostile, max_size=4))
def test_hostile_entry_point_arguments(name: str, entry: Any, args: list[Any]) -> None:
    """Entry points by name with any arguments: refused, or run (set-up calls may fail with
    a SetupFault; that is a UsageError too)."""
    k = kernel()
    calls = {
        "call": lambda: ps.call(entry, *args),
        "Kernel.call": lambda: k.call(entry, *args),
        "Kernel.probe": lambda: k.probe(entry, *args),
        "Kernel.spawn": lambda: (k.spawn(0, entry, *args), k.run(seed=1)),
        "Cpu.run": lambda: ps.KernelBuilder(k).cpu(0).run(entry, *args),
    }
    if entry in ("zram_create", "zram_backing_dev", "balloon_fill", "test_driver_alloc",
                 "fault_in") and any(
            is_int(a) and a > 4 * PAGES for a in args):
        return  # valid, and slow: a device of 2^40 slots
    attempt(calls[name], what=name)
