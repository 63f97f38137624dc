"""Long explorations leave Python responsive (issue 15): other Python threads run while one
explores, Ctrl-C stops an exploration, and the scenario's initial state cannot change
under an exploration running in another thread."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pagesim as ps
import pytest

HERE = os.path.dirname(__file__)
SCENARIOS = os.path.join(os.path.dirname(HERE), "scenarios")
sys.path.insert(0, SCENARIOS)
import zs_free_double_isolation

# Tasks that are kernel entry points: no Python code runs during the exploration.
NATIVE = zs_free_double_isolation.zs_free_double_isolation
# Python generator tasks (isolator): Python code runs in every execution.
PYTHON = zs_free_double_isolation.isolate_once


def _ticks_while(explore) -> int:
    """How many times another Python thread got to run while `explore()` ran."""
    ticks = 0
    done = threading.Event()

    def other() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            done.wait(0.001)

    t = threading.Thread(target=other)
    t.start()
    try:
        explore()
    finally:
        done.set()
        t.join()
    return ticks


@pytest.mark.parametrize("scenario", [NATIVE, PYTHON], ids=["native_tasks", "python_tasks"])
def test_other_python_threads_run_during_an_exploration(scenario) -> None:
    # The exploration held the GIL from start to end: the other thread ran about once.
    ticks = _ticks_while(lambda: scenario.explore(strategy="random", executions=0,
                                                  seconds=1.0, minimise=False))
    assert ticks >= 50, ticks


def test_ctrl_c_stops_an_exploration() -> None:
    code = textwrap.dedent(f"""
        import os, signal, sys, threading, time
        sys.path.insert(0, {SCENARIOS!r})
        import zs_free_double_isolation as z
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        t0 = time.monotonic()
        try:
            z.zs_free_double_isolation.explore(strategy="dpor", executions=0, seconds=120,
                                               minimise=False)
        except KeyboardInterrupt:
            print("interrupted", round(time.monotonic() - t0))
    """)
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("interrupted"), out.stdout + out.stderr


def test_the_initial_state_cannot_change_under_an_exploration() -> None:
    core = NATIVE.build().core
    started, finished, refused = threading.Event(), threading.Event(), []

    def progress(r) -> bool:  # every 64 executions; False stops the exploration
        started.set()
        return not finished.is_set()

    def explore() -> None:
        core.explore("random", 0, 60.0, 0, 2**32 - 1, 3, 0, 1, progress, False, iterative=False)

    t = threading.Thread(target=explore)
    t.start()
    try:
        assert started.wait(30)
        for change in (lambda: core.call("zs_create_pool"), lambda: core.counter("c", 0),
                       lambda: core.spawn(0, "compact_zone", 0),
                       lambda: core.add_check(lambda state: None)):
            with pytest.raises(ps.UsageError, match="being explored"):
                change()
            refused.append(change)
    finally:
        finished.set()
        t.join()
    assert len(refused) == 4
    core.counter("after", 0)  # the exploration is over: set-up works again
