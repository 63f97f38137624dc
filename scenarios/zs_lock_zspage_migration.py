"""The zspage free worker locks a page migration took off the zspage (Sultan Alsawaf, May
2022; 2505a981114d).

Report: "[PATCH] zsmalloc: Fix races between asynchronous zspage free and page migration"
(Sultan Alsawaf, 8 May 2022, linux-mm archive id 36014394227; merged as 2505a981114d in
5.18): "The asynchronous zspage free worker tries to lock a zspage's entire page list
without defending against page migration. Since pages which haven't yet been locked can
concurrently migrate off the zspage page list while lock_zspage() churns away,
lock_zspage() can suffer from a few different lethal races. It can lock a page which no
longer belongs to the zspage and unsafely dereference page_private(), ..."

The window is 5.17's: since c4549b871102 a page of a zspage can be isolated whatever the
zspage holds, and zs_free frees an emptied zspage whether or not a page of it is isolated.
A migration has isolated T, the second page of a one-object zspage, and holds T's page lock
in __unmap_and_move. The pool's user frees the object: free_zspage cannot try-lock T and
leaves the zspage to the free worker (kick_deferred_free). The worker's lock_zspage locks
the first page, reads T from the chain and sleeps in lock_page(T). The migration moves T
to a new page, rebuilds the chain, releases T and frees it. The worker wakes holding the
lock of a free page that is no zspage's and asks it for the next page: since a41ec880aa7b
(5.17) get_next_page() reads the huge flag from the page's zspage, through
page->private, which the migration cleared.

The scenario runs with 6.1.47's locking (its stable backports c0547d0b6a4b and
4b5d1e47b694), where nothing else races: on plain `v6.1` the same schedules also find
4b5d1e47b694's lost updates of the zspage's word (see zs_isolated_fullness_race.py; dpor
bound 2: ok 3,054, bug:dec_zspage_isolation 46, bug:async_free_zspage 68,
bug:__free_zspage 3 of 3,171).

- Without 2505a981114d: `oops:lock_zspage`, a NULL pointer dereference ("zspage->magic:
  page->private of pfn 1 is NULL"), in the worker: the report's "unsafely dereference
  page_private()". Where the worker gets T's lock before the migration drops its last
  reference, the migration frees a locked page: `bug:bad_page` ("Bad page state ...
  flags: 0x1(locked)").
- With it: lock_zspage try-locks each page under migrate_read_lock, which
  zs_page_migrate's migrate_write_lock excludes; it finds T locked, takes a reference,
  waits for T's unlock outside the lock and looks at the chain again, where it now finds
  the new page. Clean.

Under bounded dpor (preemption bound 2, exhausted): without the fix ok 3,639,
oops:lock_zspage 1,522, bug:bad_page 114 (5,161 executions); with it ok in all 5,122.

The fix's Fixes: tag names 77ff465799c6 (4.14), and it went to every stable tree from
4.14. The model finds the window only from 5.17: before c4549b871102 a zspage with an
isolated page is on no list, so the free worker cannot reach it, and zs_page_isolate
refuses an empty zspage, so nothing isolates a page of one the worker holds. v5.15, the
same schedule space: ok in all 1,486.
"""

import pagesim as ps

# 6.1.47's zsmalloc locking (stable backports of 6.2's and 6.5's commits).
BACKPORTS = {"c0547d0b6a4b": True, "4b5d1e47b694": True}
FIX = {**BACKPORTS, "2505a981114d": False}


@ps.scenario(kernel="v6.1", cpus=2, pages=512)
def zs_lock_zspage_migration(k):
    """A migration holds T locked; the pool's user frees the zspage's object meanwhile, and
    the free worker runs on the user's CPU."""
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    T = pool.pages_of(h)[1]

    def pool_user():
        yield ps.call("zs_free", pool.id, h)

    m = k.cpu(1).run(k.compaction.isolate, T, name="migrate")
    u = k.cpu(0).run(pool_user, name="pool_user")
    # T is isolated and locked for the move; CPU 0 runs the user, then the free worker it
    # kicked, until the worker sleeps on T's lock.
    return ps.script(m.before("zs_page_migrate", T), u, m)


def lines(run):
    return [line.strip() for line in run.diagram(depth=6).splitlines()]


def test_without_the_fix_the_worker_follows_a_page_no_zspage_owns():
    run = zs_lock_zspage_migration.run(fixes=FIX)
    assert [o.key for o in run.outcomes] == ["oops:lock_zspage"], run.report()
    (oops,) = run.outcomes
    assert oops.task == "kworker/0:events"
    assert oops.details == ["(zspage->magic: page->private of pfn 1 is NULL)"], run.report()
    # The racy step: the worker slept on T's lock (the second lock_page) before the
    # migration moved T off the zspage.
    got = lines(run)
    assert got.index("lock_zspage") < got.index("lock_page (x2)") < got.index("zs_page_migrate")
    assert "wait_on_page_locked" not in got


def test_the_fix_waits_for_the_page_outside_migrate_read_lock_and_looks_again():
    run = zs_lock_zspage_migration.run(fixes=BACKPORTS)
    assert run.ok, run.report()
    got = lines(run)
    assert got.index("lock_zspage") < got.index("wait_on_page_locked") < got.index("zs_page_migrate")


def test_without_the_fix_the_outcome_set_under_bounded_dpor():
    ex = zs_lock_zspage_migration.explore(strategy="dpor", preemption_bound=2, fixes=FIX)
    assert ex.exhausted, ex
    assert set(ex.outcomes) == {"ok", "oops:lock_zspage", "bug:bad_page"}, ex


def test_with_the_fix_and_before_5_17_no_schedule_fails():
    for kw in ({"fixes": BACKPORTS}, {"kernel": "v5.15"}):
        ex = zs_lock_zspage_migration.explore(strategy="dpor", preemption_bound=2, **kw)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, (kw, ex)
        assert ex.proves_never("oops:lock_zspage") and ex.proves_never("bug:bad_page")
