"""z3fold_reclaim_page drops the last reference of a page z3fold_free is freeing, with
pool->lock held (Miaohe Lin, Apr 2022; 04094226d6ce).

Report: 04094226d6ce "mm/z3fold: fix z3fold_reclaim_page races with z3fold_free" (5.19,
patch 8/9 of "A few fixup patches for z3fold", linux-mm archive id 36255907839):

    CPU1                            CPU2
    z3fold_reclaim_page             z3fold_free
     spin_lock(&pool->lock)          get_z3fold_header -- hold page_lock
     kref_get_unless_zero
                                     kref_put--zhdr->refcount can be 1 now
     !z3fold_page_trylock
      kref_put -- zhdr->refcount is 0 now
       release_z3fold_page
        WARN_ON(!list_empty(&zhdr->buddy)); -- we're on buddy now!
        spin_lock(&pool->lock); -- deadlock here!

    "z3fold_reclaim_page might race with z3fold_free and will lead to pool lock deadlock
    and zhdr buddy non-empty warning."
    Fixes: dcf5aedb24f8 ("z3fold: stricter locking and more careful reclaim")

zswap's shrinker reclaims the pool's one page (z3fold_reclaim_page, retries 1) while
zswap invalidates its one object (zswap_frontswap_invalidate_page: z3fold_free of the
handle). No script orders them: bounded dpor finds the schedule.

- `v5.15`: dpor at preemption bound 2 exhausts 342 executions: 336 clean, and 3 where
  reclaim's kref_put released the page: `warn:__release_z3fold_page` (the page is still on
  an unbuddied list) and then `deadlock` on pool->lock, which reclaim holds.
- With the fix (`v6.1`): reclaim takes its reference only once it holds the page lock;
  256 executions, all clean.
- Before dcf5aedb24f8 (`v5.10`, 5.10.0) the race is another one: reclaim claims the page
  (PAGE_CLAIMED) before its trylock, under pool->lock only; a z3fold_free that holds the
  page lock then takes the page for claimed, skips free_handle, and its put releases the
  page with the user's slot still set: __release_z3fold_page marks the slots
  HANDLES_ORPHANED, and no free_handle comes to free them. The z3fold_free that keeps the
  handle is zswap's, or, when the invalidation comes between the writeback's lookup and
  its swap cache page (ZSWAP_SWAPCACHE_FAIL: the writeback fails), the writeback's own
  last put, in reclaim's task. 450 executions, 38 `leak`.
- Before 4a3ac9311dac (`v5.4`) `z3fold_free` freed the handle whether or not another had
  claimed the page, and the page's release left the slots to `free_handle`: the same
  claims, 268 executions, all clean. 4a3ac9311dac (`if (!page_claimed) free_handle(handle)`
  and HANDLES_ORPHANED) brought the leak: `v5.4` with it alone finds the same 38 of 450.
"""

import pagesim as ps


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def z3fold_reclaim_free_race(k):
    """Reclaim of the pool's one page while zswap invalidates its one object."""
    pool = k.z3fold()
    a = pool.alloc(1000)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    k.cpu(1).run("zswap_invalidate", pool.id, a, name="zswap")


def test_the_race_warns_and_deadlocks_on_pool_lock():
    ex = z3fold_reclaim_free_race.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 336, "warn:__release_z3fold_page": 3, "deadlock": 3}, ex
    run = ex.replay("deadlock")
    report = run.report()
    # The racy step: reclaim's failed trylock dropped the last reference, so reclaim, not
    # z3fold_free, released the page, with pool->lock held.
    assert "WARN_ON(!list_empty(&zhdr->buddy))" in report
    assert "Call Trace:\n __release_z3fold_page\n release_z3fold_page\n z3fold_reclaim_page" in report
    assert "reclaim (cpu0) spins on spinlock pool->lock (z3fold pool 0) held by reclaim" in report


def test_with_the_fix_no_schedule_warns_or_deadlocks():
    ex = z3fold_reclaim_free_race.explore(kernel="v6.1", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 256}, ex
    assert ex.never("deadlock") and ex.never("warn")


def test_before_dcf5aedb24f8_the_transient_claim_leaks_the_slots():
    ex = z3fold_reclaim_free_race.explore(kernel="v5.10", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 412, "leak": 38}, ex
    run = ex.replay("leak")
    assert [o.message for o in run.outcomes] == [
        "z3fold_buddy_slots 1: every handle in it was freed, but the slots were never freed"]
    # The racy step: z3fold_free found the page claimed by reclaim and kept the handle (here
    # from the writeback that failed because the invalidation came in between), and the
    # page's release left the slots orphaned.
    funcs = [e["func"] for e in run.trace() if e["kind"] == "enter"]
    assert "z3fold_free" in funcs and "free_handle" not in funcs and "__release_z3fold_page" in funcs, funcs


def test_before_4a3ac9311dac_the_claim_leaked_nothing():
    ex = z3fold_reclaim_free_race.explore(kernel="v5.4", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 268}, ex
    ex = z3fold_reclaim_free_race.explore(kernel="v5.4", fixes={"4a3ac9311dac": True},
                                          strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 412, "leak": 38}, ex


def test_reclaim_is_gone_in_6_5():
    import pytest

    with pytest.raises(ps.UsageError, match="no reclaim since e774a7bc7f0a"):
        z3fold_reclaim_free_race.run(kernel="v6.6")
