"""pagesim: a deterministic discrete-event simulator of Linux memory management.

Simulated CPUs run kernel code paths over a model of struct page; Python scenarios
script races between them and assert the outcome. This module exposes the engine:

    import pagesim as ps
    m = ps.Machine(cpus=2)
    lock = m.mutex("M")

    def task():
        yield lock.lock()
        yield ps.delay(100)
        yield lock.unlock()

    m.spawn(0, task)
    result = m.run(strategy="random", seed=1)
    assert result.ok
"""

from __future__ import annotations

from . import _core as _core_module
from . import args as _args  # noqa: F401  (first: wraps the core's functions in checks)
from . import display as _display
from ._core import (
    GFP,
    Counter,
    Kernel,
    KernelCall,
    KernelState,
    Lock,
    Machine,
    Op,
    Outcome,
    RunResult,
    Schedule,
    SetupFault,
    StaleScheduleError,
    UsageError,
    __version__,
    balloon_check,
    balloon_state,
    bug,
    call,
    check,
    delay,
    entry_points,
    fixes,
    now,
    outcome_functions,
    preset,
    presets,
    set_log_level,
    test_driver_check,
    test_driver_pages,
    vmstat,
    warn,
    zram_check,
    zram_stats,
)

_display.install(_core_module)

from .names import InconclusiveWarning, ScriptError, model_functions
from .scenario import (
    Call,
    Context,
    Exploration,
    KernelBuilder,
    Run,
    Scenario,
    Script,
    Step,
    load_scenarios,
    parametrize,
    scenario,
    script,
)

__all__ = [
    "GFP",
    "Call",
    "Context",
    "Counter",
    "Exploration",
    "InconclusiveWarning",
    "Kernel",
    "KernelBuilder",
    "KernelCall",
    "KernelState",
    "Lock",
    "Machine",
    "Op",
    "Outcome",
    "Run",
    "RunResult",
    "Scenario",
    "Schedule",
    "Script",
    "ScriptError",
    "SetupFault",
    "StaleScheduleError",
    "Step",
    "UsageError",
    "__version__",
    "balloon_check",
    "balloon_state",
    "bug",
    "call",
    "check",
    "delay",
    "entry_points",
    "fixes",
    "load_scenarios",
    "model_functions",
    "now",
    "outcome_functions",
    "parametrize",
    "preset",
    "presets",
    "scenario",
    "script",
    "set_log_level",
    "test_driver_check",
    "test_driver_pages",
    "vmstat",
    "warn",
    "zram_check",
    "zram_stats",
]
