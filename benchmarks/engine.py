"""Engine throughput: pagesim's scheduler loop against SimPy on the same workload.

The ping workload: 64 tasks, one per CPU; each step is a delay of 1..64 simulated ns
drawn from a per-task LCG (x = x * 6364136223846793005 + 1442695040888963407 mod 2**64,
seeded with the task index + 1; delay = 1 + (x >> 58)). pagesim runs it in C++
(pagesim._core.bench_ping: timed strategy, window 0, i.e. a plain discrete-event
simulation, tracing off); SimPy runs 64 processes, each looping ``yield env.timeout(d)``
with the same delays. Both count one step per delay. The simulated end times of the two
are compared on a common size, so the workloads are checked to be the same.

Prints both rates (best of a few repetitions) and their ratio; the last line is
``engine_steps_per_s=<float> simpy_steps_per_s=<float> ratio=<float>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import simpy
from pagesim import _core

TASKS = 64
ENGINE_STEPS_PER_TASK = 50_000  # 3.2 M steps per repetition
SIMPY_STEPS_PER_TASK = 16_000  # 1.02 M steps per repetition
REPEATS = 5

_MUL = 6364136223846793005
_INC = 1442695040888963407
_MASK = (1 << 64) - 1


def ping(env: simpy.Environment, task: int, steps: int) -> Generator[simpy.Event, None, None]:
    """One SimPy process of the ping workload: `steps` delays from the task's LCG."""
    x = task + 1
    for _ in range(steps):
        x = (x * _MUL + _INC) & _MASK
        yield env.timeout(1 + (x >> 58))


def run_simpy(tasks: int, steps_per_task: int) -> tuple[int, float, int]:
    """Run the ping workload in SimPy. Returns (steps, wall seconds, simulated end time)."""
    env = simpy.Environment()
    for i in range(tasks):
        env.process(ping(env, i, steps_per_task))
    t0 = time.perf_counter()
    env.run()
    seconds = time.perf_counter() - t0
    return tasks * steps_per_task, seconds, int(env.now)


def run_engine(tasks: int, steps_per_task: int) -> tuple[int, float, int]:
    """Run the ping workload in pagesim. Returns (steps, wall seconds, simulated end time)."""
    r = _core.bench_ping(tasks=tasks, steps_per_task=steps_per_task, trace=False)
    return int(r["steps"]), float(r["seconds"]), int(r["sim_time_ns"])


Workload = Callable[[int, int], tuple[int, float, int]]


def best_rate(
    run: Workload, tasks: int, steps_per_task: int, repeats: int
) -> tuple[float, int, float]:
    """Steps per second of the fastest of `repeats` runs, with its step count and seconds."""
    best = 0.0
    steps, secs = 0, 0.0
    for _ in range(repeats):
        steps, secs, _end = run(tasks, steps_per_task)
        best = max(best, steps / secs)
    return best, steps, steps / best


def main() -> None:
    """Check the two workloads agree, measure both, print the rates and the ratio."""
    # Same workload: equal simulated end times on a common (small) size.
    check = 2_000
    _, _, engine_end = run_engine(TASKS, check)
    _, _, simpy_end = run_simpy(TASKS, check)
    assert engine_end == simpy_end, f"workloads differ: {engine_end} ns vs {simpy_end} ns"
    print(f"ping workload: {TASKS} tasks; check at {check} steps/task: both end at {engine_end} ns")

    run_engine(TASKS, 1_000)  # warm the fiber stack pool
    engine, e_steps, e_secs = best_rate(run_engine, TASKS, ENGINE_STEPS_PER_TASK, REPEATS)
    print(
        f"pagesim: {e_steps:>9,} steps in {e_secs:7.3f} s  {engine:14,.0f} steps/s "
        f"({1e9 / engine:6.1f} ns/step, best of {REPEATS})"
    )
    simpy_rate, s_steps, s_secs = best_rate(run_simpy, TASKS, SIMPY_STEPS_PER_TASK, REPEATS)
    print(
        f"SimPy {simpy.__version__}: {s_steps:>9,} steps in {s_secs:7.3f} s  "
        f"{simpy_rate:14,.0f} steps/s ({1e9 / simpy_rate:6.1f} ns/step, best of {REPEATS})"
    )
    ratio = engine / simpy_rate
    print(f"pagesim is {ratio:.1f}x SimPy on this workload")
    print(f"engine_steps_per_s={engine:.1f} simpy_steps_per_s={simpy_rate:.1f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
