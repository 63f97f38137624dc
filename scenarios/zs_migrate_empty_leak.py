"""A migrated empty zspage stays on ZS_EMPTY for good (Henry Burns, Aug 2019; 1a87aa03597e).

Report: "[PATCH 1/2] mm/zsmalloc.c: Migration can leave pages in ZS_EMPTY indefinitely"
(Henry Burns, 1 Aug 2019, linux-mm archive id 8264401609; merged as 1a87aa03597e in 5.3):
"In zs_page_migrate() we call putback_zspage() after we have finished migrating all pages
in this zspage. However, the return value is ignored. If a zs_free() races in between
zs_page_isolate() and zs_page_migrate(), freeing the last object in the zspage,
putback_zspage() will leave the page in ZS_EMPTY for potentially an unbounded amount of
time."

The window opened in 4.14 with 77ff465799c6 ("zsmalloc: zs_page_migrate: skip unnecessary
loops but not return -EBUSY if zspage is not inuse"). Before it, zs_page_migrate refused an
empty zspage with -EBUSY, migration put the page back, and zs_page_putback queued the
zspage's free (pool->free_work) as the fix does.

A migration isolates T, a page of a zspage with one object; the pool's user frees that
object meanwhile. zs_free sees the zspage isolated and leaves its free to the put-back
("If zspage is isolated, zs_page_putback will free the zspage"). The migration goes on.

- v4.9: zs_page_migrate returns -EBUSY; zs_page_putback queues the free. Clean.
- v4.14: the empty zspage is migrated and put back on ZS_EMPTY, and nothing queues its free:
  outcome `leak` ("zspage 1: empty zspage left unfreed"), the zspage's three pages held
  until some later zs_free of the pool happens to queue the work.
- v4.14 with 1a87aa03597e (5.3's putback_zspage_deferred), and v5.4, which has it: the
  migration queues the free. Clean in every schedule. (v4.19 still leaks.)

Under bounded dpor (preemption bound 2, exhausted, 1,222 executions each): v4.14 ok 1,070,
leak 152 (the free falls between the isolation and zs_page_migrate's inuse check); with
the fix, and on v4.9, ok in all 1,222 (dfs: 6,210 and 6,398); v5.4 ok in all 1,233 (its
701d678599d0 adds the pool's isolation count).
"""

import pagesim as ps

FIX = {"1a87aa03597e": True}


@ps.scenario(kernel="v4.14", cpus=2, pages=512)
def zs_migrate_empty_leak(k):
    """A migration isolates T; the pool's user frees the zspage's last object meanwhile."""
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    T = pool.pages_of(h)[1]

    def pool_user():
        yield ps.call("zs_free", pool.id, h)

    m = k.cpu(0).run(k.compaction.isolate, T, name="migrate")
    u = k.cpu(1).run(pool_user, name="pool_user")
    # T is isolated when the user frees the last object.
    return ps.script(m.until("zs_page_isolate", T), u, m)


def diagram_lines(run):
    return [line.strip() for line in run.diagram(depth=6).splitlines()]


def test_v414_migrates_the_empty_zspage_and_leaks_it():
    run = zs_migrate_empty_leak.run()
    assert [o.key for o in run.outcomes] == ["leak"], run.report()
    (leak,) = run.outcomes
    assert leak.function == "zsmalloc_check"
    assert leak.message == "zspage 1: empty zspage left unfreed"
    # The racy step: zs_free ran while T was isolated, then the migration moved the empty
    # zspage (no put-back, no free work).
    lines = diagram_lines(run)
    assert lines.index("zs_page_isolate") < lines.index("zs_free") < lines.index("move_to_new_page")
    assert "zs_page_putback" not in lines and "async_free_zspage" not in lines


def test_v49_fails_the_migration_and_the_putback_frees_the_zspage():
    run = zs_migrate_empty_leak.run(kernel="v4.9")
    assert run.ok, run.report()
    lines = diagram_lines(run)
    assert lines.index("zs_free") < lines.index("zs_page_putback") < lines.index("async_free_zspage")


def test_with_the_fix_the_migration_queues_the_free():
    run = zs_migrate_empty_leak.run(fixes=FIX)
    assert run.ok, run.report()
    lines = diagram_lines(run)
    assert "zs_page_putback" not in lines  # migrated, as on v4.14
    assert lines.index("move_to_new_page") < lines.index("async_free_zspage")


def test_v414_outcome_set_under_bounded_dpor():
    ex = zs_migrate_empty_leak.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert set(ex.outcomes) == {"ok", "leak"}, ex


def test_with_the_fix_and_before_77ff465799c6_no_schedule_leaks():
    for kw in ({"fixes": FIX}, {"kernel": "v5.4"}, {"kernel": "v4.9"}):
        ex = zs_migrate_empty_leak.explore(strategy="dpor", preemption_bound=2, **kw)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, (kw, ex)
        assert ex.proves_never("leak")
