"""Exploration throughput and bug-finding power over the race library.

For each race scenario (1 to 4 of the library, on the kernel that has the bug):

- executions per second on one core: `random` exploration of the fixed kernel (full-length
  executions, nothing fails early), best of 3 runs of about 2 s, in this process;
- executions until the race's symptom first shows, per strategy: random and pct as the
  median over 5 seeds, dfs and dpor (preemption bound 2) once (they are deterministic);
  "-" when not found within the budget;
- the same for dfs and dpor with no bound given (iterative preemption bounding, the
  default): runs until the symptom first shows (re-runs of lower bounds included) and the
  seconds that took (runs x the exploration's seconds per run), next to bound 2's;
- dpor's reduction: executions to exhaust the fixed kernel's space with dfs and with dpor
  at preemption bounds 1 and 2, and their ratio;
- unbounded dpor (source sets and sleep sets) on the fixed kernel, up to 100,000
  complete executions (one per Mazurkiewicz trace): how many, the redundant ones cut
  short by a sleep set, whether the space was exhausted, and executions (both kinds)
  per second.

- zs_free executions per second on each of the presets v4.8, v5.10, v6.1 and v6.6 that exist,
  side by side with v4.8 (three rounds, each measuring every preset once; the best round
  of each), with the steps an execution takes (the mean over 200 random
  executions) and the steps per second: a later kernel's model does more per execution
  (6.x's deferred free worker visits 6.3's 119 size classes where 4.8 has 69, and its
  zs_page_migrate takes the pool's locks), so its executions are fewer for as many steps.

The last line is ``zs_free_exec_per_s=<float>`` (the zs_free scenario's rate).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenarios"))

import alloc_zspage_isolate
import balloon_dequeue_poison
import pagesim as ps
import zs_compact_pin_bit
import zs_free_double_isolation

# name: (scenario, buggy kernel options, fixed kernel options, symptom key prefix)
RACES = {
    "zs_free": (
        zs_free_double_isolation.zs_free_double_isolation,
        {},
        {"kernel": "v4.8"},
        "oops:zs_page_isolate",
    ),
    "alloc_zspage": (
        alloc_zspage_isolate.alloc_zspage_isolate,
        {},
        {"kernel": "v4.8"},
        "bug:remove_zspage",
    ),
    "pin_bit": (
        zs_compact_pin_bit.zs_compact_pin_bit,
        {"fixes": zs_compact_pin_bit.BUGGY},
        {},
        "oops",
    ),
    "balloon": (
        balloon_dequeue_poison.balloon_dequeue_poison,
        {"fixes": balloon_dequeue_poison.BUGGY},
        {},
        "oops:balloon_page_dequeue",
    ),
}
SEEDS = [0, 1_000_000, 2_000_000, 3_000_000, 4_000_000]
PRESETS = ["v4.8", "v5.10", "v6.1", "v6.6"]  # zs_free's rate on each that exists, against v4.8
BUDGET = {"executions": 300_000, "seconds": 20.0}


def rate(sc, fixed) -> float:
    best = 0.0
    for _ in range(3):
        ex = sc.explore(strategy="random", executions=0, seconds=2.0, minimise=False, **fixed)
        best = max(best, ex.executions / ex.seconds)
    return best


def steps_per_execution(sc, fixed, n: int = 200) -> float:
    """The mean steps of random executions 0..n-1 (those an exploration runs first)."""
    return statistics.mean(sc.run(seed=i, scripted=False, trace=False, **fixed).steps
                           for i in range(n))


def first_failure(sc, buggy, key: str, strategy: str, **kw) -> int | None:
    return first_failure_timed(sc, buggy, key, strategy, **kw)[0]


def first_failure_timed(sc, buggy, key: str, strategy: str, **kw) -> tuple[int | None, float]:
    """(runs until the symptom first shows, the seconds those runs took)."""
    ex = sc.explore(strategy=strategy, minimise=False, **buggy, **BUDGET, **kw)
    # Runs until first seen: for dfs and dpor `first` ranks the example (the smallest schedule).
    firsts = [
        c.first_run for k, c in ex.found.outcomes.items() if k == key or k.startswith(key + ":")
    ]
    if not firsts:
        return None, 0.0
    runs = ex.executions + ex.repeated + ex.redundant
    return min(firsts), min(firsts) * ex.seconds / max(runs, 1)


def fmt(n: float | None) -> str:
    return "-" if n is None else f"{n:,.0f}"


def main() -> None:
    print(f"{'scenario':14} {'exec/s/core':>12} {'random':>9} {'pct':>9} {'dfs b2':>9} "
          f"{'dpor b2':>9}   (executions until the race first shows)")
    rates = {}
    for name, (sc, buggy, fixed, key) in RACES.items():
        rates[name] = rate(sc, fixed)
        meds = []
        for strategy in ("random", "pct"):
            found = [first_failure(sc, buggy, key, strategy, seed=s) for s in SEEDS]
            hits = [f for f in found if f is not None]
            meds.append(statistics.median(hits) if len(hits) * 2 > len(found) else None)
        dfs = first_failure(sc, buggy, key, "dfs", preemption_bound=2)
        dpor = first_failure(sc, buggy, key, "dpor", preemption_bound=2)
        print(f"{name:14} {rates[name]:>12,.0f} {fmt(meds[0]):>9} {fmt(meds[1]):>9} "
              f"{fmt(dfs):>9} {fmt(dpor):>9}", flush=True)

    print(f"\n{'scenario':14} {'dfs iter':>9} {'s':>6} {'dpor iter':>9} {'s':>6} {'dfs b2':>9} "
          f"{'s':>6} {'dpor b2':>9} {'s':>6}   (runs and seconds until the race first shows)")
    for name, (sc, buggy, _, key) in RACES.items():
        cells = []
        for strategy, bound in (("dfs", "iterative"), ("dpor", "iterative"), ("dfs", 2),
                                ("dpor", 2)):
            runs, secs = first_failure_timed(sc, buggy, key, strategy, preemption_bound=bound)
            cells.append(f"{fmt(runs):>9} {secs:>6.2f}" if runs else f"{'-':>9} {'-':>6}")
        print(f"{name:14} {' '.join(cells)}", flush=True)

    print(f"\n{'scenario':14} {'bound':>5} {'dfs':>9} {'dpor':>9} {'ratio':>7} {'dpor s':>7}"
          "   (executions to exhaust the fixed kernel)")
    for name, (sc, _, fixed, _) in RACES.items():
        for bound in (1, 2):
            t = time.perf_counter()
            dpor = sc.explore(strategy="dpor", preemption_bound=bound, minimise=False,
                              executions=2_000_000, seconds=120, **fixed)
            secs = time.perf_counter() - t
            dfs = sc.explore(strategy="dfs", preemption_bound=bound, minimise=False,
                             executions=2_000_000, seconds=120, **fixed)
            done = dpor.exhausted and dfs.exhausted
            ratio = f"{dfs.executions / dpor.executions:.1f}x" if done else "-"
            print(f"{name:14} {bound:>5} {fmt(dfs.executions):>9} {fmt(dpor.executions):>9} "
                  f"{ratio:>7} {secs:>7.2f}", flush=True)

    print(f"\n{'scenario':14} {'dpor':>9} {'redundant':>9} {'exhausted':>9} {'runs/s':>9}"
          "   (unbounded dpor on the fixed kernel)")
    for name, (sc, _, fixed, _) in RACES.items():
        ex = sc.explore(strategy="dpor", minimise=False, executions=100_000, seconds=120,
                        preemption_bound=None, **fixed)
        total = ex.executions + ex.redundant
        print(f"{name:14} {fmt(ex.executions):>9} {fmt(ex.redundant):>9} "
              f"{ex.exhausted!s:>9} {fmt(total / ex.seconds):>9}", flush=True)
    known = {p["name"] for p in ps.presets()}
    print(f"\n{'preset':14} {'exec/s/core':>12} {'vs v4.8':>8} {'steps/exec':>11} "
          f"{'steps/s':>12} {'vs v4.8':>8}   (zs_free, random, the fixed side)")
    sc = RACES["zs_free"][0]
    # Side by side: each round measures every preset once, and each keeps its best round,
    # so that a slower or faster stretch of the machine falls on all of them alike.
    have = [p for p in PRESETS if p in known]
    best = dict.fromkeys(have, 0.0)
    for _ in range(3):
        for preset in have:
            ex = sc.explore(strategy="random", executions=0, seconds=2.0, minimise=False,
                            kernel=preset)
            best[preset] = max(best[preset], ex.executions / ex.seconds)
    base = base_steps = None
    for preset in PRESETS:
        if preset not in known:
            print(f"{preset:14} {'-':>12} {'-':>8}   (no such preset yet)")
            continue
        r = best[preset]
        steps = steps_per_execution(sc, {"kernel": preset})
        base, base_steps = base or r, base_steps or r * steps
        print(f"{preset:14} {r:>12,.0f} {r / base - 1:>+8.1%} {steps:>11.1f} {r * steps:>12,.0f} "
              f"{r * steps / base_steps - 1:>+8.1%}", flush=True)
    print(f"zs_free_exec_per_s={rates['zs_free']:.1f}")


if __name__ == "__main__":
    main()
