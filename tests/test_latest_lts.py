"""The shipped races on the latest LTS preset, v6.6: every scenario's fixed side stays clean.

Each scenario was written against the kernel its report names; a user on 6.6 wants to know
the same schedules are safe there, with 6.6's zsmalloc (one pool->lock, chains of up to 8
pages, ratio fullness groups) and 6.3's batch migration. Bounded dpor at preemption bound 2
exhausts each, with the exact number of executions, so a change in what 6.6 explores shows.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scenarios"))

# (module, scenario): executions to exhaust dpor bound 2 on v6.6, every one ok.
CLEAN = {
    ("alloc_zspage_isolate", "alloc_zspage_isolate"): 191,
    ("balloon_dequeue_poison", "balloon_dequeue_poison"): 468,
    ("balloon_fill_leak_race", "balloon_fill_leak_race"): 145,
    ("balloon_oom_deflate_bug", "balloon_oom_deflate"): 531,
    ("compaction_capture_irq", "compaction_capture_irq"): 8528,
    ("isolated_lost_wakeup", "driver_release_lost_wakeup"): 889,
    ("isolated_lost_wakeup", "isolated_lost_wakeup"): 7082,
    ("lru_isolation_race", "lru_isolation_race"): 3810,
    ("nr_isolated_stall", "nr_isolated_stall"): 509,
    ("race_without_page_lock", "race_without_page_lock"): 16760,
    ("swap_info_deadlock", "swap_info_deadlock"): 22730,
    ("zs_compact_lost_update", "zs_compact_lost_update"): 5924,
    ("zs_destroy_pool_race", "zs_destroy_pool_race"): 1294,
    ("zs_free_double_isolation", "zs_free_double_isolation"): 37144,
    ("zs_isolated_fullness_race", "zs_isolated_fullness_race"): 198,
    ("zs_lock_zspage_migration", "zs_lock_zspage_migration"): 7082,
    ("zs_migrate_empty_leak", "zs_migrate_empty_leak"): 1020,
}


@pytest.mark.parametrize(("module", "name"), sorted(CLEAN), ids=[n for _, n in sorted(CLEAN)])
def test_v66_is_clean_in_every_schedule_with_two_preemptions(module: str, name: str) -> None:
    scenario = getattr(importlib.import_module(module), name)
    ex = scenario.explore(kernel="v6.6", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": CLEAN[module, name]}, ex
