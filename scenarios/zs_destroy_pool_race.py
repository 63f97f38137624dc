"""zs_destroy_pool frees the pool under a migration (Henry Burns, Aug 2019; 701d678599d0).

Report: "[PATCH 2/2] mm/zsmalloc.c: Fix race condition in zs_destroy_pool" (Henry Burns,
2 Aug 2019, linux-mm archive id 5674069994; merged as 701d678599d0 in 5.3): "In
zs_destroy_pool() we call flush_work(&pool->free_work). However, we have no guarantee that
migration isn't happening in the background at that time. ... there's nothing preventing
an in-progress migrate from queuing the work *after* zs_unregister_migration() has called
flush_work(). Which would mean pages still pointing at the inode when we free it."

A migration isolates T, a page of the pool's last zspage. The pool's user (zswap changing
its backend) frees the last object and destroys the pool: zs_unregister_migration flushes
the free work and frees the inode (`iput`), then the pool is freed. The migration goes on
with a page whose mapping is the freed inode's.

Buggy: v4.8 (the fix is in 5.3). Every outcome under bounded dpor (preemption bound 2,
exhausted, 2,255 executions):
- ok (1,467): the migration is done with T before the destroy frees the inode;
- uaf:PageMovable (381): move_to_new_page's `PageMovable(page)` or zs_page_migrate's
  `VM_BUG_ON_PAGE(!PageMovable(page))` reads `mapping->a_ops` of the freed inode;
- uaf:zs_page_migrate (407): zs_page_migrate reads `mapping->private_data` (the pool).
Fixed: `701d678599d0` counts the pool's isolated zspages (`pool->isolated_pages`, raised
in zs_page_isolate, lowered when a zspage's last isolated page is put back or migrated)
and zs_unregister_migration sets `pool->destroying` and waits on `pool->migration_wait`
until it is 0. Clean in every schedule: dpor at bound 2 exhausts 1,516 executions, dfs
13,402; on v5.4, which has it, dpor exhausts 1,490. (v4.14 has the race too, and a third
outcome, `leak` (36 of 2,193): 77ff465799c6 migrates the emptied zspage and nothing frees
it before the pool goes; see zs_migrate_empty_leak.py.)

Not modelled: the follow-up afe8605ca454 ("close race window between
zs_pool_dec_isolated() and zs_unregister_migration()", 2021) orders zs_pool_dec_isolated's
load of `pool->destroying` after its `atomic_long_dec`; without it a CPU may read
`destroying` first and miss the wake-up. The model's memory is sequentially consistent,
so that reordering cannot happen in it.
"""

import pagesim as ps

FIX = {"701d678599d0": True}


@ps.scenario(kernel="v4.8", cpus=2, pages=512)
def zs_destroy_pool_race(k):
    """A migration isolates T; the pool's user frees the last object and destroys the pool."""
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    T = pool.pages_of(h)[1]

    def pool_user():
        yield ps.call("zs_free", pool.id, h)
        yield ps.call("zs_destroy_pool", pool.id)

    m = k.cpu(0).run(k.compaction.isolate, T, name="migrate")
    u = k.cpu(1).run(pool_user, name="pool_user")
    # T is isolated when the user frees the last object and destroys the pool.
    return ps.script(m.until("zs_page_isolate", T), u, m)


def test_v48_migration_uses_the_freed_inode():
    run = zs_destroy_pool_race.run()
    assert [o.key for o in run.outcomes] == ["uaf:PageMovable"], run.report()
    (uaf,) = run.outcomes
    assert uaf.task == "migrate" and uaf.message == "KASAN: use-after-free in PageMovable"
    assert uaf.backtrace[0] == "PageMovable"
    # KASAN's report: the access, then where the object was allocated and freed.
    assert uaf.details == [
        "Read of struct address_space zsmalloc:zs0 by task migrate",
        "Allocated by task set-up:",
        "Freed by task pool_user:", " zs_unregister_migration", " zs_destroy_pool",
        " pool_user"], uaf.details
    assert run.report().startswith("BUG: KASAN: use-after-free in PageMovable")


def test_with_the_fix_the_destroy_waits_for_the_isolated_zspage():
    run = zs_destroy_pool_race.run(fixes=FIX)
    assert run.ok, run.report()
    # The racy step was reached: the destroy slept in wait_for_isolated_drain while T was
    # isolated; the migration failed on the empty zspage and put it back, which queued its
    # free; the destroy's flush_work then ran that free before the inode went.
    lines = [line.strip() for line in run.diagram(depth=6).splitlines()]
    assert "wait_for_isolated_drain" in lines, run.diagram(depth=6)
    assert (lines.index("wait_for_isolated_drain") < lines.index("zs_page_putback")
            < lines.index("async_free_zspage")), run.diagram(depth=6)


def test_v48_outcome_set_under_bounded_dpor():
    ex = zs_destroy_pool_race.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert set(ex.outcomes) == {"ok", "uaf:PageMovable", "uaf:zs_page_migrate"}, ex
    # The free may touch anything: dpor orders it against every access, as dfs does.
    dfs = zs_destroy_pool_race.explore(strategy="dfs", preemption_bound=1)
    assert dfs.exhausted and set(dfs.outcomes) == set(ex.outcomes), dfs
    uaf = ex.replay("uaf:zs_page_migrate").outcomes[0]
    assert uaf.task == "migrate" and uaf.backtrace[0] == "zs_page_migrate"


def test_with_the_fix_no_schedule_uses_freed_memory():
    for strategy in ("dpor", "dfs"):
        ex = zs_destroy_pool_race.explore(strategy=strategy, preemption_bound=2, fixes=FIX)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
        assert ex.proves_never("uaf")
    v54 = zs_destroy_pool_race.explore(kernel="v5.4", strategy="dpor", preemption_bound=2)
    assert v54.exhausted and v54.outcomes == {"ok": v54.executions}, v54


def test_the_fix_needs_v4s_zsmalloc():
    import pytest

    with pytest.raises(ps.UsageError, match="^fix '701d678599d0' needs fix 'zs-free-atomic'"):
        zs_destroy_pool_race.run(kernel="movable-v3", fixes=FIX)
