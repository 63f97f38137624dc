"""ABBA deadlock: the engine demo (`make demo`) until the zs_free scenario exists.

Two tasks take the same two locks in opposite orders:

    CPU 0, task A                    CPU 1, task B
    mutex_lock(&M);                  spin_lock(&S);
    spin_lock(&S);                   mutex_lock(&M);
    ...                              ...

If each takes its first lock before the other takes its second, A spins on S (held
by B) and B sleeps on M (held by A): nothing can run again. The random strategy finds
this interleaving within a few seeds; the schedule it records replays it exactly.

Run it as a script for a readable report (``python scenarios/engine_abba.py``), or
under pytest for the assertions at the end of this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pagesim as ps

if TYPE_CHECKING:
    import pytest

#: Seeds the demo and the tests try before giving up.
MAX_SEEDS = 100

#: The deadlock report's lines, one per stuck task: who waits on what, held by whom.
EXPECTED_WAITS = [
    "A (cpu0) spins on spinlock 'S' held by B in lock_m_then_s",
    "B (cpu1) sleeps on mutex 'M' held by A in lock_s_then_m",
]


def build_abba() -> ps.Machine:
    """Return a 2-CPU machine: task A takes mutex M then spinlock S, task B the reverse."""
    m = ps.Machine(cpus=2)
    mutex = m.mutex("M")
    spin = m.spinlock("S")

    def lock_m_then_s() -> Iterator[ps.Op]:
        yield mutex.lock()
        yield spin.lock()
        yield ps.delay(100)  # the critical section
        yield spin.unlock()
        yield mutex.unlock()

    def lock_s_then_m() -> Iterator[ps.Op]:
        yield spin.lock()
        yield mutex.lock()
        yield ps.delay(100)
        yield mutex.unlock()
        yield spin.unlock()

    m.spawn(0, lock_m_then_s, name="A")
    m.spawn(1, lock_s_then_m, name="B")
    return m


def find_deadlock(
    machine: ps.Machine, max_seeds: int = MAX_SEEDS, verbose: bool = False
) -> tuple[int, ps.RunResult]:
    """Run `machine` with the random strategy, seed 0, 1, ..., until a run deadlocks.

    Returns (seed, result). Raises AssertionError if no seed below `max_seeds` deadlocks.
    """
    for seed in range(max_seeds):
        r = machine.run(strategy="random", seed=seed)
        if verbose:
            what = ", ".join(o.key for o in r.outcomes) or "ok"
            print(f"  seed {seed:3d}: {what:<9} {r.steps:3d} steps  schedule {r.schedule}")
        if any(o.kind == "deadlock" for o in r.outcomes):
            return seed, r
    raise AssertionError(f"no deadlock in {max_seeds} random seeds")


def _section(title: str) -> None:
    print()
    print(f"-- {title} --")


def main() -> None:
    """Find the ABBA deadlock, print it the way a kernel developer reads it, replay it."""
    print("== pagesim engine demo: ABBA deadlock ==")
    print(
        "Task A (cpu0): mutex_lock(M); spin_lock(S).  Task B (cpu1): spin_lock(S); mutex_lock(M)."
    )
    print("Searching seeds with the random strategy (each run starts from the same state):")
    machine = build_abba()
    seed, r = find_deadlock(machine, verbose=True)
    print(f"Deadlock at seed {seed}, after {r.steps} steps and {r.time_ns} simulated ns.")

    _section("Report, as the kernel would print it")
    for o in r.outcomes:
        print(o.report)

    _section("Schedule: the CPU chosen at each step (CPUxCOUNT = that CPU COUNT times)")
    print(r.schedule)
    _section("Schedule as JSON (save it; run(schedule=Schedule.from_json(text)) replays it)")
    print(r.schedule.to_json())

    _section("Trace: one line per operation; enter/exit mark model functions")
    print("(time_ns is the clock of that CPU; the random strategy lets CPU clocks drift apart)")
    print(f"{'step':>6} {'time_ns':>10} {'cpu':<4} {'task':<12} {'op':<14} function object")
    print(r.trace_text(), end="")

    _section("Replay of the recorded schedule")
    replay = machine.run(schedule=ps.Schedule.from_json(r.schedule.to_json()))
    same = replay.trace_hash == r.trace_hash
    outcomes = ", ".join(o.key for o in replay.outcomes) or "ok"
    print(f"outcome:    {outcomes}")
    print(f"trace hash: recorded {r.trace_hash:016x}, replayed {replay.trace_hash:016x}")
    assert same, "replay diverged from the recorded run"
    assert [o.details for o in replay.outcomes] == [o.details for o in r.outcomes]
    print("The replay reproduced the same trace hash: the deadlock is deterministic.")


# ---- pytest ----


def test_random_finds_abba_deadlock() -> None:
    """The random strategy finds the deadlock, and the report names waiters and holders."""
    _seed, r = find_deadlock(build_abba())
    assert not r.ok
    assert [o.key for o in r.outcomes] == ["deadlock"]
    (o,) = r.outcomes
    assert o.message == "no task can run while 2 wait"
    assert sorted(o.details[:2]) == EXPECTED_WAITS
    for line in EXPECTED_WAITS:
        assert line in o.report
    # A: lock M (25 ns) + spin_lock S (20 ns); B: spin_lock S (20 ns) + lock M (25 ns).
    assert (r.steps, r.time_ns) == (4, 45)


def test_replay_reproduces_abba_deadlock() -> None:
    """Replaying the recorded schedule (compact and JSON) gives the same run, bit for bit."""
    machine = build_abba()
    _seed, r = find_deadlock(machine)
    for schedule in (r.schedule, str(r.schedule), ps.Schedule.from_json(r.schedule.to_json())):
        replay = machine.run(schedule=schedule)
        assert replay.trace_hash == r.trace_hash
        assert [o.key for o in replay.outcomes] == ["deadlock"]
        assert replay.outcomes[0].details == r.outcomes[0].details
        assert replay.schedule == r.schedule
        assert replay.trace() == r.trace()


def test_demo_main_prints_report_and_replay(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo runs to the end and shows the report, the schedule and the replay check."""
    main()
    out = capsys.readouterr().out
    assert "deadlock: no task can run while 2 wait" in out
    assert '"schema": "pagesim.schedule/1"' in out
    assert "reproduced the same trace hash" in out


if __name__ == "__main__":
    main()
