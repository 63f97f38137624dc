"""z3fold_reclaim_page and z3fold_free both free a headless page (Thomas Hebb, Mar 2021;
6d679578fe9c).

Report: 6d679578fe9c "z3fold: prevent reclaim/free race for headless pages" (5.12, linux-mm
archive id 38285860432): "commit dcf5aedb24f8 ("z3fold: stricter locking and more careful
reclaim") appears to have unintentionally broken this behavior by moving the PAGE_CLAIMED
check in z3fold_reclaim_page() to after the page lock gets taken, which only happens for
non-headless pages. For headless pages, the check is now skipped entirely and races can
occur again." Seen on 5.10.7 as "page dumped because: VM_BUG_ON_PAGE(page_ref_count(page)
== 0) ... kernel BUG at include/linux/mm.h:707! ... Workqueue: zswap-shrink shrink_worker
RIP: __free_pages ... z3fold_zpool_shrink".

An object too big to share a page (4000 bytes) gets a headless page. zswap's shrinker
reclaims it (z3fold_reclaim_page) while zswap invalidates the object (z3fold_free). The
reclaim walk takes the headless page without claiming it; z3fold_free, finding it
unclaimed, unlinks it from pool->lru (a list_del of the node reclaim's list_del_init left
linked to itself, which the kernel does silently) and frees it. Reclaim's eviction then
maps the freed page, and its free_z3fold_page frees it a second time.

The pool has a second, newer page (a small object's), so that the walk, which goes from
the oldest page, has another page to go to once it finds the headless one claimed.

- Buggy: `v5.15` without `6d679578fe9c` (5.10.4 to 5.11, which have dcf5aedb24f8): the
  scripted schedule reads the freed page (`uaf:zswap_writeback_entry`, KASAN), and dpor
  finds the report's `bug:__free_pages` (VM_BUG_ON_PAGE(page_ref_count(page) == 0)).
- Fixed: `v5.15`, exhausted clean. `v5.10` (5.10.0) never had the race: its reclaim claims
  every page first.

**The fix leaves a window** (found by dpor on the pool's one page,
`z3fold_headless_reclaim_free_last`): when the claimed headless page is the last page the
walk visits (the newest), `list_for_each_prev` ends with `page` and `zhdr` still pointing
to it, `if (!zhdr) break;` does not stop reclaim, and it takes the page z3fold_free claimed
and frees it: the same double free. 6.1.20 has the same loop; reclaim went with
e774a7bc7f0a (6.5).
"""

import pagesim as ps

BUGGY = {"6d679578fe9c": False}


def set_up(k):
    pool = k.z3fold()
    a = pool.alloc(4000)  # headless, the oldest page of pool->lru
    return pool, a


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def z3fold_headless_reclaim_free(k):
    """Reclaim while zswap invalidates the headless page's object; a newer page follows it."""
    pool, a = set_up(k)
    pool.alloc(1000)
    r = k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    z = k.cpu(1).run("zswap_invalidate", pool.id, a, name="zswap")
    # Reclaim takes the page and drops pool->lock; z3fold_free frees it; reclaim goes on.
    return ps.script(r.before("zswap_writeback_entry"), z, r)


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def z3fold_headless_reclaim_free_last(k):
    """The same with the headless page the pool's only page, the last the walk visits."""
    pool, a = set_up(k)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    k.cpu(1).run("zswap_invalidate", pool.id, a, name="zswap")


def test_without_the_fix_reclaim_reads_and_frees_the_freed_page():
    run = z3fold_headless_reclaim_free.run(fixes=BUGGY)
    assert [o.key for o in run.outcomes] == ["uaf:zswap_writeback_entry"], run.report()
    report = run.report()
    # The racy step: z3fold_free found the page unclaimed and freed it under reclaim.
    assert "Freed by task zswap:" in report and " free_z3fold_page\n z3fold_free\n" in report
    assert "Call Trace:\n zswap_writeback_entry\n z3fold_reclaim_page" in report


def test_without_the_fix_exploration_finds_the_reported_double_free():
    ex = z3fold_headless_reclaim_free.explore(fixes=BUGGY, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.sometimes("bug:__free_pages"), ex
    report = ex.replay("bug:__free_pages").report()
    assert "page dumped because: VM_BUG_ON_PAGE(page_ref_count(page) == 0)" in report
    assert "Call Trace:\n __free_pages\n free_z3fold_page\n z3fold_reclaim_page" in report


def test_with_the_fix_every_schedule_with_two_preemptions_is_clean():
    ex = z3fold_headless_reclaim_free.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and set(ex.outcomes) == {"ok"}, ex


def test_5_10_0_claims_every_page_first():
    ex = z3fold_headless_reclaim_free.explore(kernel="v5.10", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and set(ex.outcomes) == {"ok"}, ex


def test_the_fix_leaves_a_window_on_the_last_page_of_the_walk():
    for kernel in ("v5.15", "v6.1"):
        ex = z3fold_headless_reclaim_free_last.explore(kernel=kernel, strategy="dpor", preemption_bound=2)
        assert ex.exhausted and ex.sometimes("bug:__free_pages"), ex
        run = ex.replay("bug:__free_pages")
        # zswap's z3fold_free claimed the page first (get_z3fold_header, then its
        # test_and_set_bit), and reclaim freed it all the same.
        order = [e["task"] for e in run.trace() if e["kind"] == "enter" and e["func"] in ("z3fold_free", "free_z3fold_page")]
        assert order[:2] == ["zswap", "zswap"] and order[-1] == "reclaim", order
