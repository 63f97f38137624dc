"""Long explorations leave Python responsive (issue 15): other Python threads run while one
explores, Ctrl-C stops an exploration, and the scenario's initial state cannot change
under an exploration running in another thread."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

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


@pytest.mark.parametrize("strategy", ["dpor", "random"])
def test_ctrl_c_stops_an_exploration_which_returns_what_it_found(strategy) -> None:
    code = textwrap.dedent(f"""
        import os, signal, sys, threading, time
        sys.path.insert(0, {SCENARIOS!r})
        import zs_free_double_isolation as z
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        t0 = time.monotonic()
        ex = z.zs_free_double_isolation.explore(strategy={strategy!r}, executions=0,
                                                seconds=120)
        print(round(time.monotonic() - t0), ex.interrupted, ex.executions > 0,
              ex.sometimes("oops:zs_page_isolate"), ex.first_failure, ex.scope)
    """)
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seconds, interrupted, ran, found, minimised, scope = out.stdout.split(" ", 5)
    assert int(seconds) <= 2 and interrupted == "True" and ran == "True", out.stdout
    # What it found so far, not minimised (that would run on).
    assert found == "True" and minimised == "None", out.stdout
    assert scope.rstrip().endswith("interrupted"), scope


def _processes(group: int | None = None, session: int | None = None) -> list[tuple[int, str]]:
    """The live processes (pid, name) of a process group, or of a session: Ray's workers
    have process groups of their own but stay in the session of the command that started
    the cluster."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    head, rest = f.read().rsplit(")", 1)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            state, _, pgrp, sid = rest.split()[:4]
            if state != "Z" and (int(pgrp) == group or int(sid) == session):
                found.append((int(entry), head.split("(", 1)[1]))
    return found


def _interrupted_cli_exploration(tmp_path, flags: list[str], started, to_group: bool,
                                 exploring: float, timeout: float):
    """`pagesim explore` of the zs_free race with `flags` and --json, in a session of its
    own: once `started(pid)`, let it explore, send SIGINT (to its process group, as a
    terminal's Ctrl-C, or to the process) and wait. It must exit 130 and write what it
    found, interrupted; returns (the process, seconds from the signal to its exit)."""
    out = tmp_path / "ex.json"
    target = os.path.join(SCENARIOS, "zs_free_double_isolation.py") + "::zs_free_double_isolation"
    p = subprocess.Popen([sys.executable, "-m", "pagesim.cli", "explore", target,
                          "--seconds", "300", *flags, "--json", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not started(p.pid):
            assert time.monotonic() < deadline and p.poll() is None, p.communicate()
            time.sleep(0.05)
        time.sleep(exploring)
        t0 = time.monotonic()
        if to_group:
            os.killpg(p.pid, signal.SIGINT)
        else:
            p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=timeout)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True and doc["workers"] == 2
    assert 0 < doc["outcomes"]["ok"] < doc["executions"]
    assert "oops:zs_page_isolate" in doc["outcomes"]
    assert doc["scope"].endswith("interrupted")
    assert f"interrupted after {doc['executions']} executions" in stdout
    return p, took


# SIGINT to the CLI process, or to its process group as a terminal's Ctrl-C sends it.
@pytest.mark.parametrize("to_group", [False, True], ids=["process", "group"])
def test_ctrl_c_stops_a_cli_exploration_with_workers_and_writes_its_json(
        tmp_path, to_group) -> None:
    p, took = _interrupted_cli_exploration(
        tmp_path, ["--workers", "2"], lambda pid: len(_processes(group=pid)) >= 3,
        to_group, exploring=0.5, timeout=10)  # started: the CLI and its two workers
    assert took < 2, took
    assert _processes(group=p.pid) == []


def test_ctrl_c_stops_a_ray_exploration_and_writes_its_json(tmp_path) -> None:
    # A local Ray cluster of its own; its tasks are told to stop through a flag they poll.
    pytest.importorskip("ray")

    def ray_workers(pid: int) -> bool:  # named ray::_ray_worker, cut to 15 characters
        return sum(n.startswith("ray::_ray_worke") for _, n in _processes(session=pid)) >= 2

    p, took = _interrupted_cli_exploration(tmp_path, ["--workers", "2", "--ray"], ray_workers,
                                           to_group=True, exploring=1.0, timeout=30)
    assert took < 5, took  # the tasks' answer within STOP_GRACE, then Ray's own shutdown
    time.sleep(1)
    assert _processes(session=p.pid) == []  # the cluster went with the command


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
