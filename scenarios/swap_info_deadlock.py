"""The swap_info deadlock (Chulmin Kim, 4 Apr 2016, on v3 12/16).

Review of "[PATCH v3 12/16] zsmalloc: zs_compact refactoring" (linux-mm archive id
45644651404), at the `spin_unlock(&class->lock)` before `migrate_zspage`: "Is it safe to
unlock? ... If a zs compact context scheduled out after this "spin_unlock" line,

    CPU A (Swap In)                CPU B (zs_free by process killed)
                                   spin_lock(&si->lock)
                                   # assume it is pinned by zs_compact context.
                                   pin_tag(handle) --> block
    spin_lock(&si->lock) --> block

I think CPU A and CPU B may not be released forever." v4's cover letter lists it as "fix
swap_info deadlock - Chulmin".

zram is the swap device; two zspages of class 1024 each hold one object. Compaction C
(cpu0, zram's compact attribute) isolates both zspages under class->lock, pins every
object (v3 `freeze_zspage`), drops class->lock and is preempted (CONFIG_PREEMPT) before
`migrate_zspage`: v3's pins are `test_and_set_bit_lock` loops that leave preemption on.
A process exiting on cpu0 frees its swap entry: `swap_entry_free` holds si->lock and the
zram slot lock, and `zs_free`'s `pin_tag` spins on the handle C pinned, with preemption
off, so C never gets cpu0 back. A swap-in on cpu1 spins on si->lock in
`swapcache_prepare`. Every task waits: outcome `deadlock`.

Every outcome of movable-v3 under bounded dpor (preemption bound 2, exhausted, 6,288
executions; dfs at the same bound: 60,432 executions, the same two outcomes):
- ok (6,227): the compaction is not preempted while it holds the pins, or the exiting
  process frees slot 0 before the compaction pins it (its zspage empties and is freed,
  leaving nothing to compact) or after the compaction has unpinned it.
- deadlock (61): the report. The compaction is preempted anywhere between
  `spin_unlock(&class->lock)` and the next `spin_lock(&class->lock)` with both zspages
  frozen (migrate_zspage, or __zs_compact itself around it).

Either v4 change closes it, each a fix of its own:
- zs-compact-under-class-lock: v4's __zs_compact migrates under class->lock, one pin at a
  time, so no pin is held where the compaction can be preempted;
- 1b8320b620d6 ("zsmalloc: use bit_spin_lock", v4 05/12): a pinned handle keeps
  preemption off ("Even, it has a bug which doesn't disable preemption. The reason we
  don't have any problem is that we have used it during preemption disable section by
  class->lock spinlock"), so the compaction cannot be scheduled out holding pins.
v4.7 has 4.7's preemptible pins but compacts under class->lock: clean, as the changelog
says. v4.8 has both changes. Each side is exhausted clean under bounded dpor (bound 2):
zs-compact-under-class-lock 1,350 executions, 1b8320b620d6 1,018, v4.7 and v4.8 1,656.

pagesim's only load balancing is an idle CPU pulling a preempted task. The swap-in keeps
cpu1 busy as in the report, so the preempted compaction has nowhere to go; the test
checks that the deadlock found is the report's, every CPU spinning.
"""

import pagesim as ps
import pytest

SLOT_A = 0  # the first zspage's object
HANDLE_A = 1  # zs_malloc's first handle: slot 0's
SLOT_S = 8  # the swap-in reads a page of another class, which compaction leaves alone


@ps.scenario(kernel="movable-v3", cpus=2, pages=512, preempt=True)
def swap_info_deadlock(k):
    """zs_compact preempted holding pins on cpu0; swap frees a pinned slot there; cpu1
    swaps in."""
    k.call("zram_create", 9)
    for slot in range(8):  # class 1024: four objects a zspage, one page each
        k.call("zram_write", slot, 1000, 100 + slot)
    for slot in (1, 2, 3, 5, 6, 7):
        k.call("zram_discard", slot)
    k.call("zram_write", SLOT_S, 3000, 108)
    compact = k.cpu(0).run("zram_compact", name="zs_compact")
    exiting = k.cpu(0).run("zram_slot_free_notify", SLOT_A, name="exit_free_swap")
    swapin = k.cpu(1).run("swap_in", SLOT_S, name="swap_in")
    return ps.script(compact.before("migrate_zspage"), exiting, swapin)


def assert_the_reported_deadlock(run, where):
    """Chulmin Kim's picture: the compaction preempted (in `where`) holding the pin of the
    handle the exiting process frees under si->lock; the swap-in spins on si->lock."""
    dl = [o for o in run.outcomes if o.kind == "deadlock"]
    assert len(dl) == 1, run.report()
    assert dl[0].details[:3] == [
        f"zs_compact (cpu0) preempted by exit_free_swap in {where}",
        (f"exit_free_swap (cpu0) spins on bit lock handle {HANDLE_A} (pool 0) held by "
         "zs_compact in pin_tag"),
        ("swap_in (cpu1) spins on spinlock swap_info lock 0 held by exit_free_swap in "
         "swapcache_prepare")], run.report()


def test_v3_deadlocks_when_compaction_is_preempted_holding_pins():
    run = swap_info_deadlock.run()
    assert run.result.script_status[0]["matched"]  # C stopped before migrate_zspage
    assert_the_reported_deadlock(run, "migrate_zspage")


def test_v3_exploration_finds_the_deadlock():
    ex = swap_info_deadlock.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.sometimes("deadlock"), ex
    # Its example may preempt the compaction elsewhere between the unlock and the relock
    # of class->lock, where it also holds the pins.
    run = ex.replay("deadlock")
    where = run.outcomes[0].details[0].rsplit(" in ", 1)[1]
    assert where in ("migrate_zspage", "__zs_compact", "handle_from_obj", "obj_malloc",
                     "zs_object_copy", "record_obj", "obj_free"), run.report()
    assert_the_reported_deadlock(run, where)


@pytest.mark.parametrize("fixes", [{"zs-compact-under-class-lock": True},
                                   {"1b8320b620d6": True}],
                         ids=["zs-compact-under-class-lock", "1b8320b620d6"])
def test_each_v4_change_alone_closes_it(fixes):
    ex = swap_info_deadlock.explore(strategy="dpor", preemption_bound=2, fixes=fixes)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex


@pytest.mark.parametrize("kernel", ["v4.7", "v4.8"])
def test_released_kernels_are_clean(kernel):
    ex = swap_info_deadlock.explore(kernel=kernel, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex


def test_dpor_finds_what_dfs_finds_with_preemption():
    # With CONFIG_PREEMPT, a lane is disabled where its CPU's owner holds a spinlock; dpor
    # must still try it where the owner could be preempted. dfs tries every schedule.
    dfs = swap_info_deadlock.explore(strategy="dfs", preemption_bound=1)
    dpor = swap_info_deadlock.explore(strategy="dpor", preemption_bound=1)
    assert dfs.exhausted and dpor.exhausted
    assert set(dpor.outcomes) == set(dfs.outcomes) == {"ok", "deadlock"}, (dfs, dpor)
    assert dpor.executions < dfs.executions
