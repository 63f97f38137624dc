"""Determinism across processes: every library scenario over many seeds, in two processes
with different PYTHONHASHSEED, opposite orders and 1 vs 2 exploration workers, gives the
same trace hashes and outcome sets (tests/determinism.py; `make determinism` runs the
big sweep)."""

from __future__ import annotations

import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import determinism

SEEDS = 10
# The race library as the README lists it, and the engine demo: a sweep that did not
# find one of these compared nothing for it.
LIBRARY = {
    "zs_free_double_isolation.py", "alloc_zspage_isolate.py", "zs_compact_pin_bit.py",
    "balloon_dequeue_poison.py", "pte_mapped_driver_page.py", "fragmentation_zram.py",
    "engine_abba.py",
}


def test_two_processes_agree_on_every_scenario_and_seed() -> None:
    s = determinism.run_children(seeds=SEEDS, explore_seeds=1, profile="quick",
                                 executions=100, timeout=600)
    print(s.text())
    assert s.ok, s.text()
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(determinism.SCENARIOS,
                                                                       "*.py")))
    assert s.files == files and LIBRARY <= set(files), s.files
    # Every scenario of every file was run and explored in both processes.
    names = {subject.split("::")[1] for subject in s.subjects}
    assert len(names) >= len(LIBRARY) + 1  # zs_free_double_isolation.py has two
    assert set(s.per_subject) == names, s.per_subject
    for name, (runs, explorations) in s.per_subject.items():
        assert runs >= 2 * SEEDS and explorations >= 5, (name, runs, explorations)
    # Not vacuous: thousands of runs with varied hashes, explorations across worker counts.
    assert s.runs >= 25 * 3 * SEEDS, s.text()
    assert s.distinct_hashes >= 100, s.text()
    assert s.explorations >= 150 and s.across_workers >= 100, s.text()
    # Set-ups a preset cannot build (zram writeback before 4.14, z3fold before 5.15) are
    # compared as errors; most records are runs and explorations.
    assert s.errors * 10 < s.runs + s.explorations, s.text()


# A scenario whose script depends on Python's str hash: the sweep must report it.
HASH_DEPENDENT = '''
import pagesim as ps

@ps.scenario(kernel="v4.8", cpus=2, pages=1024)
def hash_dependent(k):
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    a = k.cpu(0).run(k.compaction.isolate, pool.pages_of(h)[1])
    b = k.cpu(1).run(pool.free, h)
    return ps.script(a.steps(1 + hash("pagesim") % 40), b, a)
'''


def test_a_scenario_that_depends_on_the_hash_seed_is_a_mismatch(tmp_path) -> None:
    (tmp_path / "hash_dependent.py").write_text(HASH_DEPENDENT)
    s = determinism.run_children(seeds=2, explore_seeds=1, profile="quick", executions=20,
                                 scenarios=str(tmp_path), timeout=300)
    assert not s.ok and not s.problems, s.text()
    assert s.runs > 0 and s.mismatches, s.text()
    # Only the scripted runs differ; the diff names the record and the field.
    assert all(" scripted seed=" in m for m in s.mismatches), s.text()
    assert "trace_hash: '" in s.text() and "hash_dependent [v4.8] scripted seed=0" in s.text()
