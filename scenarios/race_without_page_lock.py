"""The race without page_lock (Vlastimil Babka, 1 Apr 2016, on v3 02/16).

Review of "[PATCH v3 02/16] mm/compaction: support non-lru movable page migration"
(linux-mm archive id 45914935030), at putback_movable_pages' `__ClearPageMovable(page)`:
"We don't do lock_page() here, so what prevents parallel compaction isolating the same
page?", and again at unmap_and_move's failure path. Minchan Kim (id 45823660551): "Need
PG_lock." v4's cover letter lists it as "race without page_lock - Vlastimil".

P is a page of the movable test driver. Migrate context A isolates P. The driver releases
P while it is isolated, by v3's rule 5: "it should clear PG_isolated but not PG_movable.
Instead, VM will do it." A gives P back (putback_movable_pages): P is PageMovable and not
PageIsolated, so v3 takes it for released and clears PG_movable without the page lock
(`__ClearPageMovable(page); put_page(page);`). Compaction context B meanwhile finds P
movable and not isolated, trylocks it, and calls the driver's isolate_page.

Every outcome of movable-v3 under bounded dpor (preemption bound 2, exhausted, 17,109
executions), with the v3 lines behind it (docs/kernel/v3/vm.md, section 4):
- oops:test_driver_isolate_page (297): B isolates a page the driver already released. v3's
  release leaves P looking idle and movable, and isolate_movable_page passes
  `!PageMovable(page) || PageIsolated(page)`. This is Chulmin Kim's zs_free report in
  general form; the page lock alone does not close it.
- oops:isolate_movable_page (4): A's unlocked `page->mapping = NULL` (v3
  `__ClearPageMovable`) lands between B's recheck and B's
  `page->mapping->a_ops->isolate_page(page, mode)`.
- bug:test_driver_isolate_page (4): A's unlocked `__ClearPageMovable` lands between B's
  recheck and the driver's own `VM_BUG_ON_PAGE(!PageMovable(page))`.
- invariant:check_invariants (9): B migrated P to N, then the driver released N
  (`__ClearPageMovable`, a non-atomic `__clear_bit`); B's unlocked
  `PageMovable(newpage)` test (v3 04/16) puts the driver's page on the LRU, and the
  driver's `__clear_bit` loses B's PG_lru, so N is freed while on the LRU. The zs_free
  scenario's bug:__list_add is the same race.
With race-without-page-lock (v4: lock_page around the release test and the clear) the two
unlocked-clear failures are gone; the driver callback on a released page and the LRU
put-back remain. They are closed by vm-owns-pg-isolated (a released page keeps
PG_isolated) and movable-mapping-bit (v4's __ClearPageMovable keeps PAGE_MAPPING_MOVABLE),
and v4.8 is clean in every schedule.
"""

import pagesim as ps
import pytest


@ps.scenario(kernel="movable-v3", cpus=3, pages=512)
def race_without_page_lock(k):
    """A isolates P and puts it back; the driver releases P meanwhile; B compacts P."""
    drv = k.test_driver()
    P = drv.alloc(1)

    def migrate_ctx_A():
        if (yield ps.call("isolate_movable_page", P)):
            yield ps.call("putback_isolated", P)

    k.cpu(0).run(migrate_ctx_A, name="migrate_ctx_A")
    k.cpu(1).run(k.compaction.isolate, P, name="migrate_ctx_B")
    k.cpu(2).run(drv.release, P, name="driver_release")


V3_OUTCOMES = {"ok", "oops:test_driver_isolate_page", "oops:isolate_movable_page",
               "bug:test_driver_isolate_page", "invariant:check_invariants"}


@pytest.fixture(scope="module")
def v3():
    return race_without_page_lock.explore(strategy="dpor", preemption_bound=2)


def test_v3_outcome_set(v3):
    assert v3.exhausted, v3
    assert set(v3.outcomes) == V3_OUTCOMES, v3


def test_v3_clears_pg_movable_without_the_page_lock_under_an_isolating_cpu(v3):
    run = v3.replay("oops:isolate_movable_page")
    assert run.oops.task == "migrate_ctx_B"
    assert "NULL pointer dereference" in run.oops.message
    assert run.oops.backtrace[:2] == ["isolate_movable_page", "isolate_migratepages_block"]
    # A reached the unlocked clear: what putback_movable_pages called, in A's column (the
    # leftmost), is __ClearPageMovable and put_page, with no lock_page.
    lines = run.diagram(depth=8).splitlines()
    a_calls = [line.strip() for line in lines if line.strip() and len(line) - len(line.lstrip()) < 32]
    after = a_calls[a_calls.index("putback_movable_pages") + 1:]
    assert after[:2] == ["__ClearPageMovable", "put_page"], after
    bug = v3.replay("bug:test_driver_isolate_page").bug
    assert bug.task == "migrate_ctx_B" and "PageMovable" in bug.message


def test_the_page_lock_closes_the_unlocked_clears_and_only_them():
    ex = race_without_page_lock.explore(strategy="dpor", preemption_bound=2,
                                        fixes={"race-without-page-lock": True})
    assert ex.exhausted, ex
    assert set(ex.outcomes) == V3_OUTCOMES - {"oops:isolate_movable_page",
                                              "bug:test_driver_isolate_page"}, ex


def test_v48_is_clean_in_every_schedule_with_two_preemptions():
    ex = race_without_page_lock.explore(kernel="v4.8", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
    assert ex.proves_never("oops") and ex.proves_never("bug")
