"""A page lock waiter is never woken: __SetPageIsolated's store drops its PG_waiters bit
(Andrew Yang, 2022; 356ea3865687).

Commit: "mm/migrate: fix race between lock page and clear PG_Isolated" (356ea3865687, 5.18;
its mail is not in the stored archive, its title and id are in the 5.18 shortlog). Since
62906027091f (4.10) a task about to sleep on a page lock sets PG_waiters in page->flags,
and unlock_page() wakes the page's waiters only if that bit is set. The VM set and cleared
PG_isolated with the non-atomic __SetPageIsolated()/__ClearPageIsolated() under the page
lock, a load and a store of the same word: a waiter's PG_waiters set between them is
stored away, and the unlock wakes nobody. The fix makes them atomic bit operations.

A migration isolates T, a page of a one-object zspage, under T's page lock; the pool's user
frees the object, and since 5.17 zs_free cannot try-lock T and leaves the zspage to the
free worker, whose lock_zspage (2505a981114d) waits for T's unlock in
wait_on_page_locked(). No script: bounded dpor finds the schedule where the waiter sets
PG_waiters inside isolate_movable_page's __SetPageIsolated: `hang`, the worker asleep on a
page lock nobody holds.

It runs with 6.1.47's zsmalloc locking (c0547d0b6a4b, 4b5d1e47b694; see
zs_isolated_fullness_race.py), where nothing else races.
- v6.1 without 356ea3865687 (5.17's PG_isolated): dpor bound 2 exhausts 5,235
  executions: ok 5,207, hang 28.
- v6.1: clean in all 5,122.

On the LTS kernels from 4.14 to 5.15 the same lost wake-up needs another sleeper on the
page lock: `driver_release_lost_wakeup`, a migration isolating a page of the movable test
driver while the driver releases it (its release takes lock_page, as v4's "race without
page_lock" fix has it). dpor bound 2: v4.14 and v5.15 ok 932, hang 17 (949); v5.15 with
356ea3865687: clean (927); v4.9, before PG_waiters: clean (879).
"""

import pagesim as ps

BACKPORTS = {"c0547d0b6a4b": True, "4b5d1e47b694": True}
FIX = {**BACKPORTS, "356ea3865687": False}


@ps.scenario(kernel="v6.1", cpus=2, pages=512)
def isolated_lost_wakeup(k):
    """A migration isolates T; the pool's user frees the zspage's object, and the free
    worker waits for T's page lock."""
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    T = pool.pages_of(h)[1]
    m = k.cpu(1).run(k.compaction.isolate, T, name="migrate")
    u = k.cpu(0).run(pool.free, h, name="pool_user")
    return ps.script(m, u)


def test_without_the_fix_dpor_finds_the_lost_wakeup():
    ex = isolated_lost_wakeup.explore(strategy="dpor", preemption_bound=2, fixes=FIX)
    assert ex.exhausted and ex.outcomes == {"ok": 5207, "hang": 28}, ex
    run = ex.replay("hang")
    (hang,) = run.outcomes
    assert hang.details == [
        ("kworker/0:events (cpu0) sleeps on page lock page pfn 1, which nobody holds (a lost "
         "wake-up) in wait_on_page_locked")], run.report()
    # The racy step: the worker began to wait inside the isolation (T locked), and the
    # isolation's unlock_page came after it.
    lines = [line.strip() for line in run.diagram(depth=5).splitlines()]
    waits = lines.index("wait_on_page_locked")
    assert lines.index("zs_page_isolate") < waits < lines.index("unlock_page", waits)


def test_with_the_fix_every_waiter_is_woken():
    ex = isolated_lost_wakeup.explore(strategy="dpor", preemption_bound=2, fixes=BACKPORTS)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
    assert ex.proves_never("hang")


def test_the_scripted_run_is_clean():
    run = isolated_lost_wakeup.run(fixes=FIX)
    assert run.ok, run.report()


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def driver_release_lost_wakeup(k):
    """A migration isolates P, a test driver page; the driver releases P meanwhile."""
    drv = k.test_driver()
    P = drv.alloc(1)
    m = k.cpu(0).run(k.compaction.isolate, P, name="migrate")
    d = k.cpu(1).run(drv.release, P, name="driver_release")
    return ps.script(m, d)


def test_lts_kernels_from_4_14_lose_the_drivers_wakeup():
    for kernel in ("v4.14", "v5.15"):
        ex = driver_release_lost_wakeup.explore(kernel=kernel, strategy="dpor", preemption_bound=2)
        assert ex.exhausted and ex.outcomes == {"ok": 932, "hang": 17}, (kernel, ex)
    run = ex.replay("hang")
    assert run.outcomes[0].details == [
        ("driver_release (cpu1) sleeps on page lock page pfn 0, which nobody holds (a lost "
         "wake-up) in lock_page")], run.report()
    # The racy step: the driver's lock_page began inside the isolation (its
    # __SetPageIsolated's load and store), before isolate_movable_page's unlock_page.
    lines = [line.strip() for line in run.diagram(depth=4).splitlines()]
    assert lines.index("test_driver_isolate_page") < lines.index("lock_page") < lines.index("unlock_page")


def test_with_356ea3865687_and_before_pg_waiters_the_driver_is_woken():
    for kw in ({"fixes": {"356ea3865687": True}}, {"kernel": "v4.9"}):
        ex = driver_release_lost_wakeup.explore(strategy="dpor", preemption_bound=2, **kw)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, (kw, ex)
        assert ex.proves_never("hang")
