"""Tests of the engine's Python API: locks, strategies, replay, determinism, misuse, JSON.

Simulated times below are computed by hand from the engine's default cost model:
mutex lock 25 ns, unlock 10 ns; spin_lock 20 ns, spin_unlock 5 ns; atomic_read 1 ns,
atomic add 20 ns; delay(n) n ns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pagesim as ps
import pytest

TESTS_DIR = Path(__file__).resolve().parent

# ---- workloads ----


def abba_machine() -> ps.Machine:
    """Task A (cpu0) takes mutex M then spinlock S; task B (cpu1) takes S then M."""
    m = ps.Machine(cpus=2)
    mutex, spin = m.mutex("M"), m.spinlock("S")

    def lock_m_then_s() -> Iterator[ps.Op]:
        yield mutex.lock()
        yield spin.lock()
        yield ps.delay(10)
        yield spin.unlock()
        yield mutex.unlock()

    def lock_s_then_m() -> Iterator[ps.Op]:
        yield spin.lock()
        yield mutex.lock()
        yield ps.delay(10)
        yield mutex.unlock()
        yield spin.unlock()

    m.spawn(0, lock_m_then_s, name="A")
    m.spawn(1, lock_s_then_m, name="B")
    return m


def find_deadlock(m: ps.Machine, max_seeds: int = 50) -> ps.RunResult:
    """The first random run (seed 0, 1, ...) of `m` that deadlocks."""
    for seed in range(max_seeds):
        r = m.run(strategy="random", seed=seed)
        if not r.ok:
            return r
    raise AssertionError(f"no deadlock within {max_seeds} seeds")


def rmw_machine(locked: bool, tasks: int = 2, iters: int = 2) -> tuple[ps.Machine, list[int]]:
    """Tasks that each increment counter x `iters` times by a non-atomic read-modify-write.

    The counter offers only atomic_read and atomic_add_return, so the plain store of the
    RMW is `add(new - current)`. Each task reads x when it is done and appends it to the
    returned list: the last value appended in a run is x's final value.
    """
    m = ps.Machine(cpus=tasks)
    mutex, x = m.mutex("M"), m.counter("x", 0)
    finals: list[int] = []

    def store(value: int) -> Iterator[ps.Op]:
        current = yield x.read()
        yield x.add(value - current)

    def increment() -> Iterator[ps.Op]:
        for _ in range(iters):
            if locked:
                yield mutex.lock()
            v = yield x.read()
            yield from store(v + 1)
            if locked:
                yield mutex.unlock()
        finals.append((yield x.read()))

    for cpu in range(tasks):
        m.spawn(cpu, increment, name=f"inc{cpu}")
    return m, finals


def trace_hashes(seeds: range) -> list[str]:
    """Trace hashes of the ABBA and RMW machines over `seeds` (random) and timed runs.

    Used in this process and in subprocesses to compare runs across processes.
    """
    out = []
    for seed in seeds:
        out.append(f"{abba_machine().run(strategy='random', seed=seed).trace_hash:016x}")
        out.append(f"{rmw_machine(False)[0].run(strategy='random', seed=seed).trace_hash:016x}")
        out.append(f"{rmw_machine(True)[0].run(strategy='timed', seed=seed).trace_hash:016x}")
    return out


def two_lock_users(kind: str, window: int | None = 0) -> ps.Machine:
    """A (cpu0): delay 100, lock, delay 50, unlock. B (cpu1): delay 120, lock, delay 40, unlock."""
    m = ps.Machine(cpus=2, window=window)
    lock = m.mutex("L") if kind == "mutex" else m.spinlock("L")

    def user(before: int, inside: int) -> Iterator[ps.Op]:
        yield ps.delay(before)
        yield lock.lock()
        yield ps.delay(inside)
        yield lock.unlock()

    m.spawn(0, user, 100, 50, name="A")
    m.spawn(1, user, 120, 40, name="B")
    return m


def steps_of(r: ps.RunResult) -> list[dict[str, object]]:
    """The trace records of operations (without function enter/exit records)."""
    return [e for e in r.trace() if e["kind"] == "step"]


# ---- locks protect data ----


def test_mutex_prevents_lost_update() -> None:
    m, finals = rmw_machine(locked=True)
    for seed in range(50):
        finals.clear()
        r = m.run(strategy="random", seed=seed)
        assert r.ok, r.outcomes
        assert finals[-1] == 4, f"seed {seed} lost an update under the mutex"


def test_unlocked_rmw_loses_update() -> None:
    m, finals = rmw_machine(locked=False)
    lost: dict[int, int] = {}
    for seed in range(50):
        finals.clear()
        assert m.run(strategy="random", seed=seed).ok
        if finals[-1] != 4:
            lost[seed] = finals[-1]
    assert lost, "no seed interleaved the unlocked read-modify-writes"
    assert set(lost.values()) <= {2, 3}
    # The lost update is a property of the schedule: replaying it loses the same update.
    seed, final = next(iter(lost.items()))
    recorded = m.run(strategy="random", seed=seed)
    finals.clear()
    replay = m.run(schedule=recorded.schedule)
    assert finals[-1] == final
    assert replay.trace_hash == recorded.trace_hash


# ---- the ABBA deadlock ----


def test_abba_deadlock_found_and_reported() -> None:
    r = find_deadlock(abba_machine())
    assert not r.ok
    assert [o.kind for o in r.outcomes] == ["deadlock"]
    (o,) = r.outcomes
    assert o.key == "deadlock"
    assert o.message == "no task can run while 2 wait"
    assert sorted(o.details[:2]) == [
        "A (cpu0) spins on spinlock 'S' held by B in lock_m_then_s",
        "B (cpu1) sleeps on mutex 'M' held by A in lock_s_then_m",
    ]
    # Then, as lockdep: where each holder took its lock, and the unsafe scenario.
    assert sorted(o.details[2:4]) == ["A took mutex 'M' in lock_m_then_s at step 0",
                                      "B took spinlock 'S' in lock_s_then_m at step 1"]
    assert o.details[4:] == [
        " Possible unsafe locking scenario:",
        "      CPU0                            CPU1",
        "      ----                            ----",
        "  lock('M');",
        "                                  lock('S');",
        "  lock('S');",
        "                                  lock('M');",
        " *** DEADLOCK ***"]
    assert o.report.startswith("deadlock: no task can run while 2 wait\n")
    assert all(line in o.report for line in o.details)
    # Each task took its first lock and tried its second: A 25 + 20 ns, B 20 + 25 ns.
    assert (r.steps, r.time_ns, o.step, o.time_ns) == (4, 45, 4, 45)
    assert r.tasks[:2] == ["A", "B"]


def test_abba_replay_gives_same_hash_and_outcome() -> None:
    m = abba_machine()
    r = find_deadlock(m)
    replay = m.run(schedule=r.schedule)
    assert replay.trace_hash == r.trace_hash
    assert [(o.key, o.details) for o in replay.outcomes] == [(o.key, o.details) for o in r.outcomes]
    assert replay.schedule == r.schedule
    assert replay.trace_text() == r.trace_text()
    assert replay.meta["strategy"] == "replay"
    # The same through the compact text and a plain list of CPUs.
    assert m.run(schedule=str(r.schedule)).trace_hash == r.trace_hash
    assert m.run(schedule=list(r.schedule.choices)).trace_hash == r.trace_hash


def test_abba_some_seeds_finish_cleanly() -> None:
    m = abba_machine()
    keys = {tuple(o.key for o in m.run(seed=s).outcomes) for s in range(50)}
    assert keys == {(), ("deadlock",)}


# ---- determinism ----


def test_same_seed_same_hash_in_process() -> None:
    m = abba_machine()
    for seed in range(10):
        assert m.run(seed=seed).trace_hash == m.run(seed=seed).trace_hash


def test_trace_off_keeps_hash() -> None:
    def machine(trace: bool) -> ps.Machine:
        m = ps.Machine(cpus=2, trace=trace)
        lock = m.spinlock("S")

        def t() -> Iterator[ps.Op]:
            for _ in range(5):
                yield lock.lock()
                yield ps.delay(3)
                yield lock.unlock()

        m.spawn(0, t)
        m.spawn(1, t)
        return m

    on, off = machine(True).run(seed=3), machine(False).run(seed=3)
    assert on.trace_hash == off.trace_hash
    assert off.trace() == [] and off.trace_text() == ""
    assert len(steps_of(on)) == on.steps == off.steps


def _hashes_in_subprocess(hash_seed: str) -> list[str]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import test_engine as t; "
        "print(json.dumps(t.trace_hashes(range(20))))"
    )
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(TESTS_DIR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_determinism_across_processes() -> None:
    first = _hashes_in_subprocess("1")
    second = _hashes_in_subprocess("2")  # different Python str hashing
    assert first == second
    assert first == trace_hashes(range(20))
    abba = first[0::3]
    assert len(set(abba)) > 1, "every seed produced the same ABBA run"
    assert len(set(first)) > 3


# ---- timed strategy ----


@pytest.mark.parametrize(
    ("kind", "expected", "end"),
    [
        # A locks at 100 (+25), delays 50, unlocks at 175 (+10) and wakes B at 185.
        # B's first attempt at 120 fails (+25) and it sleeps; it retries at 185 (+25),
        # delays 40 and unlocks at 250 (+10): 260.
        (
            "mutex",
            [
                (0, "A", "delay"),
                (0, "B", "delay"),
                (100, "A", "lock"),
                (120, "B", "lock"),
                (125, "A", "delay"),
                (175, "A", "unlock"),
                (185, "B", "lock"),
                (210, "B", "delay"),
                (250, "B", "unlock"),
            ],
            260,
        ),
        # A: spin_lock at 100 (+20), delay 50, spin_unlock at 170 (+5) = 175. B's attempt
        # at 120 fails (+20) and it spins until 175, retries at 175 (+20), delays 40 and
        # unlocks at 235 (+5): 240.
        (
            "spin",
            [
                (0, "A", "delay"),
                (0, "B", "delay"),
                (100, "A", "spin_lock"),
                (120, "A", "delay"),
                (120, "B", "spin_lock"),
                (170, "A", "spin_unlock"),
                (175, "B", "spin_lock"),
                (195, "B", "delay"),
                (235, "B", "spin_unlock"),
            ],
            240,
        ),
    ],
)
def test_timed_window0_runs_in_clock_order(
    kind: str, expected: list[tuple[int, str, str]], end: int
) -> None:
    m = two_lock_users(kind, window=0)
    orders = set()
    for seed in range(8):
        r = m.run(strategy="timed", seed=seed)
        assert r.ok
        steps = [(e["t"], e["task"], e["op"]) for e in steps_of(r)]
        # Operations run in clock order; equal clocks in a seeded order.
        assert [t for t, _, _ in steps] == [t for t, _, _ in expected]
        assert sorted(steps) == expected
        orders.add(tuple(steps))
        assert (r.steps, r.time_ns) == (9, end)
    # The seed only breaks ties: two orders of the t=0 delays (and, for the spinlock,
    # of the two operations at t=120).
    assert 2 <= len(orders) <= (2 if kind == "mutex" else 4)


def test_now_is_the_tasks_clock() -> None:
    m = ps.Machine(cpus=1, window=0)
    mutex = m.mutex("M")
    seen: list[int] = []

    def t() -> Iterator[ps.Op]:
        t0 = yield ps.now()  # no scheduling point, no time
        yield mutex.lock()  # 25
        yield ps.delay(1000)  # 1000
        seen.append((yield ps.now()) - t0)

    m.spawn(0, t)
    assert m.run(strategy="timed").ok
    assert seen == [1025]
    with pytest.raises(ps.UsageError, match="now"):
        ps.now(1)


def test_timed_single_task_time_is_sum_of_costs() -> None:
    m = ps.Machine(cpus=1, window=0)
    mutex, x = m.mutex("M"), m.counter("x", 5)
    seen: list[int] = []

    def t() -> Iterator[ps.Op]:
        yield mutex.lock()  # 25
        seen.append((yield x.read()))  # 1
        seen.append((yield x.add(3)))  # 20
        yield ps.delay(1000)  # 1000
        yield mutex.unlock()  # 10

    m.spawn(0, t)
    r = m.run(strategy="timed")
    assert r.ok
    assert seen == [5, 8]
    assert (r.steps, r.time_ns) == (5, 1056)
    assert [e["t"] for e in steps_of(r)] == [0, 25, 26, 46, 1046]


# ---- misuse raises, never crashes ----


def _one_task(task: object, cpus: int = 1) -> ps.Machine:
    m = ps.Machine(cpus=cpus)
    m.spawn(0, task)
    return m


def test_spawn_cpu_out_of_range() -> None:
    m = ps.Machine(cpus=2)

    def t() -> Iterator[ps.Op]:
        yield ps.delay(1)

    with pytest.raises(ps.UsageError, match=r"spawn: cpu 2 out of range \(machine has 2 CPUs\)"):
        m.spawn(2, t)
    with pytest.raises(ps.UsageError, match=r"spawn: cpu -1 out of range"):
        m.spawn(-1, t)
    with pytest.raises(ps.UsageError, match="cpus must be between 1 and 256"):
        ps.Machine(cpus=0)


def test_task_not_a_generator_function() -> None:
    def not_a_generator() -> int:
        return 5

    with pytest.raises(ps.UsageError, match="must be a generator function"):
        ps.Machine(cpus=1).spawn(0, 42)
    with pytest.raises(ps.UsageError, match=r"a task must be a generator function .* returned 5"):
        _one_task(not_a_generator).run()


def test_task_yields_non_operation() -> None:
    def bad() -> Iterator[object]:
        yield 42

    def bare() -> Iterator[object]:
        yield

    with pytest.raises(ps.UsageError, match="a task yielded 42, which is not a pagesim operation"):
        _one_task(bad).run()
    with pytest.raises(ps.UsageError, match="a task yielded None"):
        _one_task(bare).run()


@pytest.mark.parametrize("kind", ["mutex", "spinlock"])
def test_unlock_of_lock_not_held(kind: str) -> None:
    m = ps.Machine(cpus=2)
    lock = m.mutex("L") if kind == "mutex" else m.spinlock("L")

    def unlock_only() -> Iterator[ps.Op]:
        yield lock.unlock()

    m.spawn(0, unlock_only)
    with pytest.raises(ps.UsageError, match="task unlocks 'L', which it does not hold"):
        m.run()


def test_unlock_of_lock_held_by_another_task() -> None:
    m = ps.Machine(cpus=2, window=0)
    lock = m.mutex("L")

    def holder() -> Iterator[ps.Op]:
        yield lock.lock()
        yield ps.delay(1000)
        yield lock.unlock()

    def thief() -> Iterator[ps.Op]:
        yield ps.delay(100)
        yield lock.unlock()

    m.spawn(0, holder)
    m.spawn(1, thief)
    with pytest.raises(ps.UsageError, match="task unlocks 'L', which it does not hold"):
        m.run(strategy="timed")


@pytest.mark.parametrize("op", ["read_unlock", "write_unlock"])
def test_rwlock_unlock_not_held(op: str) -> None:
    m = ps.Machine(cpus=1)
    rw = m.rwlock("R")

    def unlock_only() -> Iterator[ps.Op]:
        yield getattr(rw, op)()

    m.spawn(0, unlock_only)
    with pytest.raises(ps.UsageError, match="does not hold"):
        m.run()


def test_malformed_schedule() -> None:
    for bad in ["0x", "x3", "0x0", "1 -1", "0x3 1 0y2", "0,1", "65535"]:
        with pytest.raises(ps.UsageError, match=r"malformed schedule token"):
            ps.Schedule(bad)
    with pytest.raises(ps.UsageError, match=r"schedule CPU -1 out of range"):
        ps.Schedule([0, -1])
    with pytest.raises(ps.UsageError, match="schedule must be a Schedule"):
        ps.Schedule(3.5)
    m = abba_machine()
    with pytest.raises(ps.UsageError, match="malformed schedule token 'zz'"):
        m.run(schedule="0 1 zz")
    assert issubclass(ps.UsageError, ValueError)
    assert ps.Schedule("0x3 1 0x2").choices == [0, 0, 0, 1, 0, 0]
    assert str(ps.Schedule([1, 1, 0])) == "1x2 0"


def test_schedule_list_with_non_integer() -> None:
    with pytest.raises(ps.UsageError):
        ps.Schedule(["a"])


def test_stale_schedule_from_other_machine() -> None:
    recorded = next(
        r for r in (abba_machine().run(seed=s) for s in range(50)) if r.schedule.choices[0] == 1
    )
    # Same tasks and CPU count, but both tasks on cpu0: cpu1 never has anything to run.
    other = ps.Machine(cpus=2)
    mutex, spin = other.mutex("M"), other.spinlock("S")

    def a() -> Iterator[ps.Op]:
        yield mutex.lock()
        yield spin.lock()
        yield spin.unlock()
        yield mutex.unlock()

    other.spawn(0, a, name="A")
    other.spawn(0, a, name="B")
    msg = r"stale schedule: step 0 chooses cpu1 but only cpu \{0\} can run there"
    with pytest.raises(ps.StaleScheduleError, match=msg):
        other.run(schedule=recorded.schedule)
    with pytest.raises(ps.StaleScheduleError, match=msg):
        other.run(schedule=str(recorded.schedule))
    assert other.run(seed=0).ok  # the machine is still usable
    assert issubclass(ps.StaleScheduleError, ps.UsageError)


def test_stale_schedule_cpu_count() -> None:
    recorded = abba_machine().run(seed=0).schedule
    assert recorded.meta["cpus"] == "2"
    m = ps.Machine(cpus=3)

    def t() -> Iterator[ps.Op]:
        yield ps.delay(1)

    m.spawn(0, t)
    with pytest.raises(ps.StaleScheduleError, match="recorded on 2 CPUs, this machine has 3"):
        m.run(schedule=recorded)


def test_schedule_json_wrong_version() -> None:
    j = json.loads(abba_machine().run(seed=0).schedule.to_json())
    j["pagesim_version"] = "0.0.1"
    with pytest.raises(
        ps.UsageError, match=r"schedule recorded by pagesim 0\.0\.1, this is pagesim"
    ):
        ps.Schedule.from_json(json.dumps(j))
    del j["pagesim_version"]
    with pytest.raises(ps.UsageError, match=r"schedule recorded by pagesim \?"):
        ps.Schedule.from_json(json.dumps(j))
    with pytest.raises(ps.UsageError, match="schedule is not valid JSON"):
        ps.Schedule.from_json("{")
    with pytest.raises(ps.UsageError, match='no "schema" field'):
        ps.Schedule.from_json("[1]")


def test_schedule_json_version_not_a_string() -> None:
    j = json.loads(abba_machine().run(seed=0).schedule.to_json())
    j["pagesim_version"] = 1
    with pytest.raises(ps.UsageError):
        ps.Schedule.from_json(json.dumps(j))


class ScenarioError(Exception):
    """An exception a scenario's own code raises."""


def test_python_exception_in_task_propagates_unchanged() -> None:
    m = ps.Machine(cpus=2)
    mutex = m.mutex("M")

    def failing_task() -> Iterator[ps.Op]:
        yield mutex.lock()
        raise ScenarioError("page 42 is not what the scenario expected")

    def bystander() -> Iterator[ps.Op]:
        yield mutex.lock()
        yield mutex.unlock()

    m.spawn(0, failing_task)
    m.spawn(1, bystander)
    for seed in range(3):
        with pytest.raises(ScenarioError) as exc:
            m.run(seed=seed)
        assert type(exc.value) is ScenarioError
        assert str(exc.value) == "page 42 is not what the scenario expected"
        assert any(entry.name == "failing_task" for entry in exc.traceback)

    def key_error() -> Iterator[ps.Op]:
        yield ps.delay(1)
        _ = {}["missing"]

    with pytest.raises(KeyError) as kexc:
        _one_task(key_error).run()
    assert type(kexc.value) is KeyError and kexc.value.args == ("missing",)


def test_exploration_runs_python_tasks_on_one_reused_sim() -> None:
    # Every execution of an exploration runs on the same Sim, reset: each outcome's example
    # replays to it on a fresh Sim, an execution that raises does not spoil the next
    # exploration, and the same exploration gives the same outcome set.
    m = abba_machine()
    fail = {"on": False}

    def bystander() -> Iterator[ps.Op]:
        yield ps.delay(5)
        if fail["on"]:
            raise ScenarioError("raised in the middle of an exploration")

    m.spawn(1, bystander, name="C")

    def explore() -> dict[str, tuple[int, list[int]]]:
        ex = m.explore(strategy="random", executions=300, minimise=False)
        return {k: (c.count, list(c.schedule.choices)) for k, c in ex.outcomes.items()}

    first = explore()
    assert set(first) == {"ok", "deadlock"} and sum(n for n, _ in first.values()) == 300
    for key, (_, schedule) in first.items():
        assert [o.key for o in m.run(schedule=schedule).outcomes] == ([] if key == "ok" else [key])
    fail["on"] = True
    # An exception in a task is an outcome of the execution, with its traceback, not the
    # end of the exploration; run() raises it.
    failing = m.explore(strategy="random", executions=10, minimise=False)
    assert {k: c.count for k, c in failing.outcomes.items()}["exception:ScenarioError"] == 10
    report = failing.outcomes["exception:ScenarioError"].report
    assert "raised in the middle of an exploration" in report and "in bystander" in report
    with pytest.raises(ScenarioError):
        m.run()
    fail["on"] = False
    assert explore() == first


def test_rwlock_ops_on_mutex_and_lock_ops_on_rwlock() -> None:
    m = ps.Machine(cpus=1)
    mutex, spin, rw = m.mutex("M"), m.spinlock("S"), m.rwlock("R")
    for op in ("read_lock", "read_unlock", "write_lock", "write_unlock"):
        with pytest.raises(ps.UsageError, match=r"lock 'M' does not support .*not an rwlock"):
            getattr(mutex, op)()
        with pytest.raises(ps.UsageError, match=r"lock 'S' does not support .*not an rwlock"):
            getattr(spin, op)()
    for op in ("lock", "unlock", "trylock"):
        with pytest.raises(
            ps.UsageError, match=r"lock 'R' does not support .*read_lock/write_lock"
        ):
            getattr(rw, op)()

    def in_task() -> Iterator[ps.Op]:  # the same misuse inside a task
        yield mutex.read_lock()

    with pytest.raises(ps.UsageError, match="not an rwlock"):
        _one_task(in_task).run()


def test_other_bad_arguments() -> None:
    with pytest.raises(ps.UsageError, match="delay: ns must be an int between 0 and"):
        ps.delay(-1)
    m = abba_machine()
    with pytest.raises(ps.UsageError, match="unknown strategy 'dfs'"):
        m.run(strategy="dfs")


_FOREIGN_HANDLE = """
import pagesim as ps
m, other = ps.Machine(cpus=1), ps.Machine(cpus=1)
c = other.counter("belongs_to_other", 7)
def t():
    yield c.read()
m.spawn(0, t)
try:
    m.run()
except ps.UsageError as e:
    print("UsageError:", e)
"""


def test_handle_of_another_machine_raises() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _FOREIGN_HANDLE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"interpreter died with {proc.returncode}"
    assert "UsageError" in proc.stdout


# ---- other outcomes ----


def test_step_limit_outcome_time() -> None:
    m = ps.Machine(cpus=1, max_steps=3)

    def forever() -> Iterator[ps.Op]:
        while True:
            yield ps.delay(10)

    m.spawn(0, forever)
    r = m.run()
    assert [o.key for o in r.outcomes] == ["step_limit"]
    assert (r.steps, r.time_ns) == (3, 30)
    assert r.outcomes[0].time_ns == 30


# ---- JSON ----


def test_run_json() -> None:
    m = abba_machine()
    dead = find_deadlock(m)
    j = json.loads(dead.to_json())
    assert j["schema"] == "pagesim.run/1"
    assert j["pagesim_version"] == ps.__version__
    assert j["outcomes"] == {"deadlock": 1}
    assert j["trace_hash"] == f"{dead.trace_hash:016x}"
    assert j["schedule"] == str(dead.schedule)
    assert (j["steps"], j["time_ns"]) == (dead.steps, dead.time_ns)
    assert [o["details"] for o in j["outcome_reports"]] == [dead.outcomes[0].details]
    assert j["outcome_reports"][0]["report"] == dead.outcomes[0].report
    assert "trace" not in j
    assert json.loads(dead.to_json(trace=True))["trace"] == dead.trace()

    clean = next(r for r in (m.run(seed=s) for s in range(50)) if r.ok)
    jc = json.loads(clean.to_json())
    assert jc["schema"] == "pagesim.run/1"
    assert jc["outcomes"] == {"ok": 1}
    assert jc["outcome_reports"] == []


def test_schedule_json_round_trip() -> None:
    m = abba_machine()
    r = find_deadlock(m)
    text = r.schedule.to_json()
    j = json.loads(text)
    assert j["schema"] == "pagesim.schedule/1"
    assert j["pagesim_version"] == ps.__version__
    assert j["schedule"] == str(r.schedule)
    assert j["steps"] == len(r.schedule) == r.steps
    back = ps.Schedule.from_json(text)
    assert back == r.schedule
    assert back.choices == r.schedule.choices
    assert back.meta == r.schedule.meta
    assert back.to_json() == text
    assert m.run(schedule=back).trace_hash == r.trace_hash


# ---- logging ----


def test_set_log_level(capfd: pytest.CaptureFixture[str]) -> None:
    m = abba_machine()
    try:
        ps.set_log_level("debug")
        m.run(seed=0)
        assert "[debug]" in capfd.readouterr().err
        ps.set_log_level("warn")
        m.run(seed=0)
        assert "[debug]" not in capfd.readouterr().err
        with pytest.raises(ps.UsageError, match="unknown log level 'junk'"):
            ps.set_log_level("junk")
    finally:
        ps.set_log_level("warn")


def test_tasks_stuck_on_a_dead_tasks_lock_are_its_aftermath_not_a_deadlock() -> None:
    # A task that hits a BUG dies holding its mutex, as an oopsed kernel task keeps its
    # locks. The task that then sleeps on it is listed in the BUG's report; the run's
    # outcome is the BUG alone.
    m = ps.Machine(cpus=2)
    mutex = m.mutex("M")

    def dies_holding_it() -> Iterator[ps.Op]:
        yield mutex.lock()
        yield ps.bug("gone")

    def waits_for_it() -> Iterator[ps.Op]:
        yield mutex.lock()
        yield mutex.unlock()

    m.spawn(0, dies_holding_it, name="A")
    m.spawn(1, waits_for_it, name="B")
    runs = [m.run(seed=s) for s in range(20)]
    assert {tuple(o.key for o in r.outcomes) for r in runs} == {("bug:A",)}
    # In the runs where B came to the mutex after A took it, the BUG's report lists B.
    stuck = [r for r in runs if "after it:" in r.outcomes[0].details]
    assert stuck
    details = stuck[0].outcomes[0].details
    assert details[details.index("after it:") + 1].startswith("B (cpu1) sleeps on mutex")
    assert "held by A (dead)" in details[-1]
    # A cycle among live tasks is still a deadlock.
    assert [o.key for o in find_deadlock(abba_machine()).outcomes] == ["deadlock"]


# ---- CONFIG_PREEMPT: tasks of one CPU preempt each other ----


def one_cpu_rmw(preempt: bool, locked: bool = False) -> ps.Machine:
    """Two tasks on cpu0 each increment x once by a non-atomic read-modify-write (under a
    spinlock when `locked`); the second checks that both increments are there."""
    m = ps.Machine(cpus=1, preempt=preempt)
    spin, x, done = m.spinlock("S"), m.counter("x", 0), m.counter("done", 0)

    def increment() -> Iterator[ps.Op]:
        if locked:
            yield spin.lock()
        v = yield x.read()
        yield x.set(v + 1)
        if locked:
            yield spin.unlock()
        if (yield done.add(1)) == 2:
            yield ps.check((yield x.read()) == 2, "lost_update")

    m.spawn(0, increment, name="A")
    m.spawn(0, increment, name="B")
    return m


@pytest.mark.parametrize("strategy", ["dfs", "dpor"])
def test_preemption_interleaves_the_tasks_of_one_cpu(strategy: str) -> None:
    # Without CONFIG_PREEMPT the second task runs when the first ends: no lost update.
    ex = one_cpu_rmw(preempt=False).explore(strategy=strategy, minimise=False)
    assert ex.exhausted and set(ex.outcomes) == {"ok"}, ex
    # With it, B can preempt A between its read and its store.
    ex = one_cpu_rmw(preempt=True).explore(strategy=strategy, minimise=False)
    assert ex.exhausted and set(ex.outcomes) == {"ok", "check:lost_update"}, ex
    run = one_cpu_rmw(preempt=True).run(schedule=ex.outcomes["check:lost_update"].schedule)
    steps = [(e["task"], e["op"]) for e in steps_of(run)]
    # Both read x before either stores it: one task was preempted between the two.
    assert sorted(steps[:2]) == [("A", "atomic_read"), ("B", "atomic_read")], steps
    assert steps[2][1] == "write", steps
    assert {e["cpu"] for e in steps_of(run)} == {0}  # traces name the CPU, not the lane


@pytest.mark.parametrize("strategy", ["dfs", "dpor"])
def test_a_spinlock_holder_is_not_preempted(strategy: str) -> None:
    ex = one_cpu_rmw(preempt=True, locked=True).explore(strategy=strategy, minimise=False)
    assert ex.exhausted and set(ex.outcomes) == {"ok"}, ex


def test_an_idle_cpu_pulls_a_preempted_task() -> None:
    # B preempts A and holds a spinlock (cpu0 is B's until it unlocks); cpu1 has no task,
    # so it pulls A, as the scheduler's idle balancing would. Lanes: A is 0, B is 1.
    m = ps.Machine(cpus=2, preempt=True)
    spin, x = m.spinlock("S"), m.counter("x", 0)

    def reader() -> Iterator[ps.Op]:
        for _ in range(3):
            yield x.read()

    def locker() -> Iterator[ps.Op]:
        yield spin.lock()
        yield ps.delay(10)
        yield spin.unlock()

    m.spawn(0, reader, name="A")
    m.spawn(0, locker, name="B")
    run = m.run(schedule=[0, 1, 0, 0, 1, 1])
    assert [(e["task"], e["cpu"]) for e in steps_of(run)] == [
        ("A", 0), ("B", 0), ("A", 1), ("A", 1), ("B", 0), ("B", 0)]
    # A task that never ran stays on its CPU: A cannot start on cpu1 while B holds cpu0.
    msg = r"step 1 chooses lane1 but only lane \{0\} can run there"
    with pytest.raises(ps.StaleScheduleError, match=msg):
        m2 = ps.Machine(cpus=2, preempt=True)
        spin, x = m2.spinlock("S"), m2.counter("x", 0)
        m2.spawn(0, locker, name="B")
        m2.spawn(0, reader, name="A")
        m2.run(schedule=[0, 1])


# ---- rwlocks are x86 queued rwlocks ----


def test_a_reader_does_not_overtake_a_waiting_writer() -> None:
    # qrwlock (4.8 x86): once a writer waits, a new reader queues behind it, so a task that
    # takes the read lock again while a writer waits deadlocks (lockdep's "recursive read"
    # in process context). A reader-preferring rwlock would let the second read through.
    m = ps.Machine(cpus=2)
    rw = m.rwlock("R")

    def nested_reader() -> Iterator[ps.Op]:
        yield rw.read_lock()
        yield ps.delay(10)
        yield rw.read_lock()
        yield rw.read_unlock()
        yield rw.read_unlock()

    def writer() -> Iterator[ps.Op]:
        yield rw.write_lock()
        yield rw.write_unlock()

    m.spawn(0, nested_reader, name="A")
    m.spawn(1, writer, name="B")
    ex = m.explore(strategy="dfs", minimise=False)
    assert ex.exhausted and set(ex.outcomes) == {"ok", "deadlock"}, ex
    (o,) = m.run(schedule=ex.outcomes["deadlock"].schedule).outcomes
    assert o.details[:2] == ["A (cpu0) spins on rwlock (read) 'R' held by A in nested_reader",
                             "B (cpu1) spins on rwlock (write) 'R' held by A in writer"], o.details


def test_queued_rwlock_grants_in_arrival_order() -> None:
    # Reader A holds R; writer B comes and waits; then reader C comes: C queues behind B
    # and gets R only after B released it, whatever happens after those three steps.
    m = ps.Machine(cpus=3)
    rw, phase = m.rwlock("R"), m.counter("phase", 0)

    def holder() -> Iterator[ps.Op]:
        yield rw.read_lock()
        yield ps.delay(10)
        yield rw.read_unlock()

    def writer() -> Iterator[ps.Op]:
        yield rw.write_lock()
        yield phase.set(1)
        yield rw.write_unlock()

    def late_reader() -> Iterator[ps.Op]:
        yield rw.read_lock()
        yield ps.check((yield phase.read()) == 1, "overtook")
        yield rw.read_unlock()

    m.spawn(0, holder, name="A")
    m.spawn(1, writer, name="B")
    m.spawn(2, late_reader, name="C")
    for seed in range(30):
        assert m.run(schedule=[0, 1, 2], seed=seed).ok
