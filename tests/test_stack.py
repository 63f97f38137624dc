"""Tasks run on fiber stacks: a runaway recursion in a task's Python code is a RecursionError
(raised by run(), outcome exception:RecursionError when exploring), as on the main thread;
a stack overflow past that ends the process with a one-line message, never a corruption.

Each case runs in a subprocess, so that a crash cannot take the test session down.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

# Recursion in a task's Python code: plain, and through C (a key function of sorted(), map(),
# a recursive __repr__), which takes C stack at every level.
RUNAWAY = """
import sys
import pagesim as ps

def plain(n=0):
    return plain(n + 1)

def via_sorted(x=0):
    return sorted([x], key=via_sorted)

def via_map(x=0):
    return list(map(via_map, [x]))

class Repr:
    def __repr__(self):
        return repr(self)

def via_repr():
    return repr(Repr())

def machine(fn):
    m = ps.Machine(cpus=2)
    lock = m.mutex("M")

    def runaway():
        yield lock.lock()
        yield lock.unlock()
        fn()

    def bystander():
        yield lock.lock()
        yield lock.unlock()

    m.spawn(0, runaway, name="runaway")
    m.spawn(1, bystander, name="bystander")
    return m

limit = sys.getrecursionlimit()
for fn in (plain, via_sorted, via_map, via_repr):
    m = machine(fn)
    try:
        m.run()
    except RecursionError:
        print("run raised RecursionError:", fn.__name__)
    ex = m.explore(strategy="random", executions=5, minimise=False)
    assert list(ex.outcomes) == ["exception:RecursionError"], list(ex.outcomes)
    found = ex.outcomes["exception:RecursionError"]
    assert found.count == 5, found.count
    assert "maximum recursion depth exceeded" in found.report, found.report
    assert f"in {fn.__name__}" in found.report, found.report
    print("explore found exception:RecursionError:", fn.__name__)
    assert sys.getrecursionlimit() == limit, (sys.getrecursionlimit(), limit)
print("done")
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("limit", [None, 100_000], ids=["default_limit", "raised_limit"])
def test_runaway_recursion_in_a_task_is_a_recursion_error(limit: int | None) -> None:
    # A limit the user raised (100,000: far more than a fiber stack holds with recursion
    # through C) is lowered while task code runs, and is theirs again afterwards.
    setup = f"import sys; sys.setrecursionlimit({limit})\n" if limit else ""
    p = _python(setup + RUNAWAY)
    assert p.returncode == 0, f"exit status {p.returncode}\n{p.stdout}\n{p.stderr}"
    for fn in ("plain", "via_sorted", "via_map", "via_repr"):
        assert f"run raised RecursionError: {fn}\n" in p.stdout
        assert f"explore found exception:RecursionError: {fn}\n" in p.stdout
    assert p.stdout.endswith("done\n")


# A task that raises the recursion limit itself, then recurses through C: nothing stops it
# before its stack ends.
OVERFLOW = """
import faulthandler
import sys
import pagesim as ps

if "faulthandler" in sys.argv:
    faulthandler.enable()

def via_sorted(x=0):
    return sorted([x], key=via_sorted)

def deep_task():
    yield ps.delay(1)
    sys.setrecursionlimit(1_000_000)
    via_sorted()

m = ps.Machine(cpus=1)
m.spawn(0, deep_task, name="deep-task")
print("running", flush=True)
m.run()
print("not reached")
"""


@pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="from Python 3.12, C recursion has a limit of its own"
)
@pytest.mark.parametrize("faulthandler", [False, True], ids=["plain", "faulthandler"])
def test_stack_overflow_aborts_with_a_message(faulthandler: bool) -> None:
    p = _python(OVERFLOW, *(["faulthandler"] if faulthandler else []))
    assert p.returncode == -signal.SIGABRT, f"exit status {p.returncode}\n{p.stderr}"
    assert p.stdout == "running\n"
    assert (
        "pagesim: fiber stack overflow in task deep-task (its 8192 KiB stack is exhausted: "
        "runaway recursion in model code or in C code it called); aborting\n"
    ) in p.stderr
    if faulthandler:  # then goes on to show the Python stack
        assert "Fatal Python error: Aborted" in p.stderr
        assert "in via_sorted" in p.stderr


# A fault that is not a fiber stack overflow goes to the handler installed before pagesim's.
OTHER_FAULT = """
import ctypes
import faulthandler
import sys
import pagesim as ps

if "faulthandler" in sys.argv:
    faulthandler.enable()

def task():
    yield ps.delay(1)

m = ps.Machine(cpus=1)
m.spawn(0, task)
m.run()
print("ran", flush=True)
ctypes.string_at(0)
"""


@pytest.mark.parametrize("faulthandler", [False, True], ids=["plain", "faulthandler"])
def test_other_faults_go_to_the_previous_handler(faulthandler: bool) -> None:
    p = _python(OTHER_FAULT, *(["faulthandler"] if faulthandler else []))
    assert p.returncode == -signal.SIGSEGV, f"exit status {p.returncode}\n{p.stderr}"
    assert p.stdout == "ran\n"
    assert "pagesim:" not in p.stderr
    assert ("Fatal Python error: Segmentation fault" in p.stderr) == faulthandler
