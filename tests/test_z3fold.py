"""z3fold (mm/z3fold.c, modelled from 4.8): what the model finds beyond the reported races.

Each finding is read from the stored trees' code (4.8.15, 4.11, 4.14.0 to 5.4.0, 5.15.100, 6.1.20, 6.6.9) and the model's
run of it; docs/kernel/history.md ("z3fold") discusses them.
"""

from __future__ import annotations

import os
import sys

import pagesim as ps
import pagesim._core as core
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scenarios"))

from z3fold_failed_migration import z3fold_putback_unlisted as failed_migration
from z3fold_kref_rework_4_11 import Z3FOLD_4_11
from z3fold_reclaim_stale_handle import z3fold_reclaim_stale_handle as reclaim_and_free


def keys(run) -> list[str]:
    return [o.key for o in run.outcomes]


def test_batch_migration_retries_a_page_z3fold_unclaimed():
    # 6.1: the failed page is put back (z3fold_page_putback).
    assert failed_migration.run(kernel="v6.1").ok
    # 6.3's migrate_pages_sync retries every page the asynchronous batch failed, in the
    # real mode: z3fold_page_migrate meets its own page again, PAGE_CLAIMED now clear.
    run = failed_migration.run(kernel="v6.6")
    assert keys(run) == ["bug:z3fold_page_migrate"], run.report()
    assert "VM_BUG_ON_PAGE(!test_bit(PAGE_CLAIMED, &page->private))" in run.report()


@ps.scenario(kernel="v6.1", cpus=2, pages=512)
def free_after_migration(k):
    """P is migrated; then the user frees both its objects."""
    pool = k.z3fold()
    a, b = pool.alloc(1000), pool.alloc(1000)
    P = pool.page_of(a)

    def user():
        yield ps.call("z3fold_free", pool.id, a)
        yield ps.call("z3fold_free", pool.id, b)

    m = k.cpu(0).run(k.compaction.isolate, P, name="migrate")
    u = k.cpu(1).run(user, name="user")
    return ps.script(m, u)


@pytest.mark.parametrize("kernel", ["v5.15", "v6.1", "v6.6"])
def test_a_migrated_page_stays_claimed_and_its_slots_leak(kernel):
    # newpage->private = page->private copies the PAGE_CLAIMED z3fold_page_isolate set;
    # nothing clears it on the new page (do_compact_page finds it claimed and returns), so
    # every z3fold_free of it skips free_handle.
    run = free_after_migration.run(kernel=kernel)
    assert keys(run) == ["leak"], run.report()
    assert "z3fold_buddy_slots 1: every handle in it was freed" in run.report()


def test_z3fold_came_with_4_8():
    with pytest.raises(core.UsageError, match=r"^z3fold came with Linux 4.8 \(9a001fc19ccc, preset v4.8\); v4.7 is older$"):
        core.Kernel(preset="v4.7").call("z3fold_create_pool")
    # 4.8's z3fold: a header of one chunk (the first object at 64 bytes), handles of the
    # page's address plus the buddy index, three objects of 1000 bytes in one page.
    for preset in ("v4.8", "v4.9", "v4.14"):
        k = core.Kernel(preset=preset, pages=512)
        pool = k.call("z3fold_create_pool")
        hs = [k.call("z3fold_alloc", pool, 1000) for _ in range(3)]
        assert [h % 4096 for h in hs] == [1, 3, 2]  # FIRST, LAST, MIDDLE
        assert len({k.call("z3fold_page_of", pool, h) for h in hs}) == 1
        for i, h in enumerate(hs):
            k.call("z3fold_write", pool, h, 100 + i)
        k.call("z3fold_free", pool, hs[0])
        assert [k.call("z3fold_read", pool, h) for h in hs[1:]] == [101, 102]
        if preset != "v4.14":  # (4.14's reclaim deadlocks on its own pool->lock)
            assert k.call("z3fold_reclaim", pool, 8) == 0
            with pytest.raises(core.UsageError, match="is freed"):  # written back and freed
                k.call("z3fold_read", pool, hs[1])
    # A user's preset built on v4.9 has it too.
    ps.preset("z3fold-user", base="v4.9", fixes={"f201ebd87652": True})
    k = core.Kernel(preset="z3fold-user", pages=512)
    pool = k.call("z3fold_create_pool")
    h = k.call("z3fold_alloc", pool, 100)
    k.call("z3fold_write", pool, h, 7)
    assert k.call("z3fold_read", pool, h) == 7



@ps.scenario(kernel="v4.9", cpus=2, pages=512)
def headless_reclaim_and_invalidate(k):
    """P is headless; reclaim evicts its object while zswap invalidates it."""
    pool = k.z3fold()
    a = pool.alloc(4000)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    k.cpu(1).run("zswap_invalidate", pool.id, a, name="zswap")


def test_from_5a27aa822029_free_and_reclaim_both_free_a_headless_page():
    # 4.8's UNDER_RECLAIM: z3fold_free leaves the page to reclaim.
    ex = headless_reclaim_and_invalidate.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 167}, ex
    # 4.11's: the free frees it at once; reclaim frees it again, or lists the free page.
    ex = headless_reclaim_and_invalidate.explore(fixes=Z3FOLD_4_11, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"bug:__free_pages": 100, "bug:__list_add": 5,
                                            "uaf:zswap_writeback_entry": 17, "ok": 16}, ex
    assert "list_add corruption: page pfn 0 is already on free_area" in ex.replay("bug:__list_add").report()


@ps.scenario(kernel="v4.9", cpus=2, pages=512)
def reclaim_and_invalidate_last(k):
    """P holds a (first) and b (last); reclaim evicts both while zswap invalidates b."""
    pool = k.z3fold()
    pool.alloc(1000)
    b = pool.alloc(1000)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    k.cpu(1).run("zswap_invalidate", pool.id, b, name="zswap")


@ps.scenario(kernel="v4.9", cpus=2, pages=512)
def reclaim_and_invalidate_middle(k):
    """P holds a, b and c (the middle object); reclaim evicts them while zswap invalidates c."""
    pool = k.z3fold()
    pool.alloc(1000)
    pool.alloc(1000)
    c = pool.alloc(100)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    k.cpu(1).run("zswap_invalidate", pool.id, c, name="zswap")


def test_4_11s_reclaim_lists_a_page_its_evictions_free_listed():
    # 4.11's z3fold_free lists a page that still holds objects by its free chunks, a page
    # under reclaim too (reclaim took it off its list). When an eviction fails (c's entry
    # invalidated after the write-back's lookup, whose put then frees c), reclaim's own
    # list_add after the evictions adds the page again. 4.8's UNDER_RECLAIM kept z3fold_free
    # off the lists; d30561c56f41's reclaim no longer lists the page on an unbuddied list.
    ex = reclaim_and_invalidate_middle.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 435, "corruption": 16}, ex
    ex = reclaim_and_invalidate_middle.explore(fixes=Z3FOLD_4_11, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 541, "corruption": 11, "bug:__list_add": 5}, ex
    run = ex.replay("bug:__list_add")
    assert "list_add double add: z3fold header pfn 0 is already listed" in run.report()
    assert run.outcomes[0].task == "reclaim"
    adds = [e["func"] for e in run.trace() if e["kind"] == "step" and e["op"] == "list_add"
            and e["obj"] == "pool lists (z3fold pool 0)"]
    assert adds == ["z3fold_free"], adds  # the free's; reclaim's own is the BUG


@pytest.mark.parametrize("fixes", [{}, Z3FOLD_4_11], ids=["4.8", "4.11"])
def test_a_last_object_freed_under_reclaim_is_mapped_past_its_page(fixes):
    # Reclaim encoded b's LAST handle; the free zeroes last_chunks, and the write-back's
    # z3fold_map returns PAGE_SIZE - 0 past the header: the next page (until ca0246bb97c2).
    ex = reclaim_and_invalidate_last.explore(fixes=fixes, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and set(ex.outcomes) == {"ok", "corruption"}, ex
    report = ex.replay("corruption").report()
    assert "read of a z3fold object at pfn 1, where no object starts" in report
    assert "zswap_writeback_entry" in report


@pytest.mark.parametrize(("kernel", "fixes", "same_page"), [
    ("v5.4", {}, False), ("v5.4", {"4a3ac9311dac": True}, True), ("v5.10", {}, True)])
def test_before_4a3ac9311dac_a_free_from_a_full_page_leaves_it_unlisted(kernel, fixes, same_page):
    # 5.4.0's z3fold_free claims the page (5b6807de1144) and, for a page on no unbuddied
    # list (cpu -1: it was full), runs do_compact_page before it clears its PAGE_CLAIMED:
    # do_compact_page finds the page claimed and returns without add_to_unbuddied, so the
    # freed chunks stay out of z3fold_alloc's reach. 4a3ac9311dac clears the claim first.
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    pool = k.call("z3fold_create_pool")
    hs = [k.call("z3fold_alloc", pool, 1000) for _ in range(3)]
    P = k.call("z3fold_page_of", pool, hs[0])
    assert {k.call("z3fold_page_of", pool, h) for h in hs} == {P}
    k.call("z3fold_free", pool, hs[0])
    h = k.call("z3fold_alloc", pool, 1000)
    assert (k.call("z3fold_page_of", pool, h) == P) == same_page


def test_three_objects_share_a_page_and_compaction_work_moves_the_middle():
    k = core.Kernel(preset="v6.1", pages=512)
    pool = k.call("z3fold_create_pool")
    hs = [k.call("z3fold_alloc", pool, 1000) for _ in range(3)]
    pages = {k.call("z3fold_page_of", pool, h) for h in hs}
    assert len(pages) == 1
    for i, h in enumerate(hs):
        k.call("z3fold_write", pool, h, 100 + i)
    k.call("z3fold_free", pool, hs[0])
    assert [k.call("z3fold_read", pool, h) for h in hs[1:]] == [101, 102]
    # Bad input is a one-line UsageError, not a kernel error code.
    with pytest.raises(core.UsageError, match="size must be 1..4096"):
        k.call("z3fold_alloc", pool, 5000)
    with pytest.raises(core.UsageError, match="is freed"):
        k.call("z3fold_free", pool, hs[0])


def test_a_replay_keeps_the_kernel_options_of_its_exploration():
    # Without CONFIG_DEBUG_VM the retried page migrates or fails again, and the replay
    # runs the same kernel (before, it ran the scenario's, and the schedule was stale).
    ex = failed_migration.explore(kernel="v6.6", debug_vm=False, strategy="dpor", preemption_bound=0)
    assert ex.exhausted and set(ex.outcomes) == {"ok"}, ex
    run = ex.replay("ok")
    assert run.ok and not run.kernel.debug_vm, run.report()


def test_5_2s_compaction_lists_an_emptied_page_past_the_per_cpu_array():
    # "mm/z3fold.c: introduce helper functions" (5.2) dropped do_compact_page's test that
    # the page still holds an object. Before the retry fix of 5.4 the compaction does not
    # leave a page reclaim claimed alone: zswap's free of a queued it, reclaim's eviction
    # freed b, and the compaction finds P empty but held by reclaim.
    retry_off = {"z3fold-fix-retry-mechanism-in-page-reclaim": False}
    ex = reclaim_and_free.explore(fixes=retry_off, strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.outcomes["corruption"] == 4, ex
    run = ex.replay("corruption")
    assert "list_add(&zhdr->buddy, &unbuddied[NCHUNKS]) for pfn 0, which holds no object" in run.report()
    assert [o.backtrace for o in run.outcomes if o.key == "corruption"] == [
        ["do_compact_page", "compact_page_work", "worker_thread"]]
    ex = reclaim_and_free.explore(fixes={**retry_off, "z3fold-introduce-helper-functions": False},
                                  strategy="dpor", preemption_bound=1)
    assert ex.exhausted and "corruption" not in ex.outcomes, ex
    # The retry fix makes the test unreachable: the fix cannot be flipped with it on.
    with pytest.raises(core.UsageError, match="has no effect with fix 'z3fold-fix-retry-mechanism-in-page-reclaim'"):
        core.Kernel(preset="v5.4", fixes={"z3fold-introduce-helper-functions": False})


def test_4_19s_z3fold_has_no_slots_and_no_movable_pages():
    k = core.Kernel(preset="v4.19", pages=512)
    pool = k.call("z3fold_create_pool")
    first = k.call("z3fold_alloc", pool, 1000)
    last = k.call("z3fold_alloc", pool, 1000)  # the second object of a page is its LAST
    middle = k.call("z3fold_alloc", pool, 1000)
    headless = k.call("z3fold_alloc", pool, 4000)
    # A handle is the header's address (PAGE_OFFSET + pfn << 12) plus the buddy's index;
    # a headless one is its page's address.
    base = 2**40 + (k.call("z3fold_page_of", pool, first) << 12)
    assert (first - base, last - base, middle - base) == (1, 3, 2)
    assert headless == 2**40 + (k.call("z3fold_page_of", pool, headless) << 12)
    assert not k.state.page(k.call("z3fold_page_of", pool, first))["movable"]
    for i, h in enumerate((first, middle, last, headless)):
        k.call("z3fold_write", pool, h, 10 + i)
    assert [k.call("z3fold_read", pool, h) for h in (first, middle, last, headless)] == [10, 11, 12, 13]
