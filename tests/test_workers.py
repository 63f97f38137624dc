"""Local workers: one that dies is started again for its share, or reported with what was
lost; never a hang; workers die with their parent (issue 15, F3 and F5)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pagesim.parallel import WorkerLostWarning

DYING_FILE = '''
import fcntl, os, signal
import pagesim as ps

@ps.scenario(kernel="v4.8", cpus=2)
def dies(k):
    """Two tasks racing on a counter; the first {deaths} processes other than the test's
    that run a task SIGKILL themselves (counted in the marker file)."""
    c = k.counter("c")

    def task():
        if os.getpid() != {parent}:
            with open({marker!r}, "a+") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                f.seek(0)
                if len(f.read()) < {deaths}:
                    f.write("x")
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
        v = yield c.read()
        yield c.set(v + 1)

    k.cpu(0).run(task, name="t0")
    k.cpu(1).run(task, name="t1")
'''


def dying_scenario(marker: str, deaths: int):
    """DYING_FILE, written next to the marker and loaded as a user's scenario file (so Ray
    workers can load it too)."""
    from pagesim.cli import load_scenarios

    path = f"{marker}.py"
    with open(path, "w") as f:
        f.write(DYING_FILE.format(deaths=deaths, parent=os.getpid(), marker=marker))
    return load_scenarios(path)["dies"]


def test_a_worker_killed_once_is_started_again_and_the_result_is_whole(tmp_path) -> None:
    sc = dying_scenario(str(tmp_path / "deaths"), deaths=1)
    one = sc.explore(strategy="dfs", preemption_bound=None, minimise=False)
    two = sc.explore(strategy="dfs", preemption_bound=None, minimise=False, workers=2)
    assert (tmp_path / "deaths").read_text() == "x"  # a worker did die
    assert one.every_schedule and two.every_schedule
    assert two.outcomes == one.outcomes


def test_a_worker_that_dies_again_is_reported_with_the_partial_result(tmp_path) -> None:
    sc = dying_scenario(str(tmp_path / "deaths"), deaths=3)
    t0 = time.monotonic()
    with pytest.warns(WorkerLostWarning, match=r"worker \d killed by SIGKILL twice: its share"):
        ex = sc.explore(strategy="dfs", preemption_bound=None, minimise=False, workers=2)
    assert time.monotonic() - t0 < 30
    assert not ex.exhausted and ex.bound_covered is None
    assert ex.executions > 0  # the other worker's share


def test_workers_die_with_their_parent(tmp_path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.join(os.path.dirname(os.path.dirname(__file__)), "scenarios")!r})
        from zs_free_double_isolation import zs_free_double_isolation as sc
        print("exploring", flush=True)
        sc.explore(kernel="v4.8", strategy="random", seconds=60, workers=2)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "exploring"
    children: list[int] = []
    for _ in range(100):  # wait until both workers run
        path = f"/proc/{parent.pid}/task/{parent.pid}/children"
        children = [int(p) for p in Path(path).read_text().split()]
        if len(children) >= 2:
            break
        time.sleep(0.05)
    assert len(children) >= 2
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 2
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [c for c in children if _running(c)]
        time.sleep(0.05)
    assert not alive, f"workers {alive} outlived their parent"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")




def test_ray_workers_that_die_are_retried_or_reported(tmp_path) -> None:
    ray = pytest.importorskip("ray")

    def scenario(deaths: int):
        return dying_scenario(str(tmp_path / f"deaths{deaths}"), deaths)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        once, always = scenario(1), scenario(3)
        whole = once.explore(strategy="dfs", preemption_bound=None, minimise=False, workers=2,
                             backend="ray")
        t0 = time.monotonic()
        with pytest.warns(WorkerLostWarning,
                          match=r"ray worker \d lost \(\w+\) twice: its share"):
            partial = always.explore(strategy="dfs", preemption_bound=None, minimise=False,
                                     workers=2, backend="ray")
        assert time.monotonic() - t0 < 120
    finally:
        ray.shutdown()
    alone = once.explore(strategy="dfs", preemption_bound=None, minimise=False)
    assert (tmp_path / "deaths1").read_text() == "x"  # a Ray worker did die, and was retried
    assert whole.every_schedule and whole.outcomes == alone.outcomes
    assert (tmp_path / "deaths3").read_text() == "xxx"
    assert not partial.exhausted and partial.bound_covered is None
    assert partial.executions > 0  # the other worker's share
