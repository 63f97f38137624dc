"""The two races 5a27aa822029 ("z3fold: add kref refcounting", 4.11-rc1) brought, and the two
4.11 fixes that closed them. The kernel is 4.11's z3fold on 4.9 (no preset is 4.11: `v4.9`
with the seven 4.11 z3fold fixes, Z3FOLD_4_11, one of them off).

1. 4.11-rc's z3fold_reclaim_page returns with pool->lock held (Alexey Khoroshilov, March
   2017; "z3fold: fix spinlock unlocking in page reclaim", 4.11).

   Report: "z3fold: fix spinlock unlocking in page reclaim" (Vitaly Wool, 11 Mar 2017, linux-mm
   archive id 24897316158; Reported-by Alexey Khoroshilov): "The patch "z3fold: add kref
   refcounting" introduced a bug in z3fold_reclaim_page() with function exit that may leave
   pool->lock spinlock held." Its id is not in the stored archive: the model names it
   `z3fold-fix-spinlock-unlocking-in-page-reclaim`.

   5a27aa822029 made reclaim drop its page
   reference after the evictions with `spin_lock(&pool->lock); if (kref_put(&zhdr->refcount,
   release_z3fold_page)) { atomic64_dec(&pool->pages_nr); return 0; }`: when the evictions
   freed every object, that put releases the page and reclaim returns holding the lock. The
   next z3fold operation that takes pool->lock spins forever.

   P holds one object; zswap's shrinker reclaims the pool (its write-back frees the object)
   while zswap stores another.

   - Without the fix: `bug:__schedule_bug` ("scheduling while atomic": reclaim returned with
     preempt_count 1, pool->lock held) and `deadlock`, the store spinning on that lock. dpor at
     preemption bound 2: every one of 1,941 executions has the bug, 856 the deadlock too (the
     others stored first).
   - With it (4.11.0): 1,982 executions, clean.

2. 4.11-rc's z3fold_alloc and z3fold_free both put a page on an unbuddied list (Vitaly
   Wool, April 2017; "z3fold: fix page locking in z3fold_alloc()", 4.11).

   Report: "z3fold: fix page locking in z3fold_alloc()" (Vitaly Wool, 10 Apr 2017, linux-mm
   archive id 24425856504): "Stress testing of the current z3fold implementation on a 8-core
   system revealed it was possible that a z3fold page deleted from its unbuddied list in
   z3fold_alloc() would be put on another unbuddied list by z3fold_free() while z3fold_alloc()
   is still processing it. This has been introduced with commit 5a27aa822 ("z3fold: add kref
   refcounting") due to the removal of special handling of a z3fold page not on any list in
   z3fold_free()." Its id is not in the stored archive: the model names it
   `z3fold-fix-page-locking-in-z3fold-alloc`.

   Before the fix z3fold_alloc takes the first page of an unbuddied list off it under
   pool->lock, drops pool->lock, and only then waits for the page lock. z3fold_free, holding
   the page lock, frees an object and lists the page by its free chunks: since 5a27aa822029
   it no longer leaves a page on no list to the allocation. z3fold_alloc then gets the lock,
   adds its object and lists the page again: `list_add` of a page that is on a list. The fix
   try-locks the page before it drops pool->lock, and passes over a page it cannot lock.

   P holds a and b; zswap stores an object while a's entry is invalidated (z3fold_free(a)).

   - Without the fix: `bug:__list_add` ("list_add double add", the model's CONFIG_DEBUG_LIST;
     the kernel's own check misses this one, which joins two lists). dpor at preemption bound
     2: 124 of 253 executions.
   - With it (4.11.0): 727 executions, clean.
"""

import pagesim as ps

# 4.11.0's mm/z3fold.c (the same in 4.12 and 4.13) is v4.9's plus these.
Z3FOLD_4_11 = {
    "f201ebd87652": True,
    "z3fold-fix-header-size-related-issues": True,
    "1b096e5ae9f7": True,
    "z3fold-use-per-page-spinlock": True,
    "5a27aa822029": True,
    "z3fold-fix-spinlock-unlocking-in-page-reclaim": True,
    "z3fold-fix-page-locking-in-z3fold-alloc": True,
}
UNLOCK_BUGGY = {**Z3FOLD_4_11, "z3fold-fix-spinlock-unlocking-in-page-reclaim": False}


@ps.scenario(kernel="v4.9", fixes=UNLOCK_BUGGY, cpus=2, pages=512)
def z3fold_reclaim_then_store(k):
    pool = k.z3fold()
    pool.alloc(1000)
    r = k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    s = k.cpu(1).run("z3fold_alloc", pool.id, 1000, name="zswap_store")
    return ps.script(r, s)


def test_reclaim_returns_holding_the_pool_lock():
    run = z3fold_reclaim_then_store.run()
    assert [o.key for o in run.outcomes] == ["bug:__schedule_bug", "deadlock"], run.report()
    assert "reclaim returned with preempt_count 1" in run.report()
    assert ("zswap_store (cpu1) spins on spinlock pool->lock (z3fold pool 0) held by reclaim"
            in run.report()), run.report()
    # The racy step: reclaim's own put released the page, and it returned.
    funcs = [e["func"] for e in run.trace() if e["kind"] == "enter" and e["task"] == "reclaim"]
    assert funcs.index("zswap_writeback_entry") < funcs.index("release_z3fold_page")
    assert run.result.script_status[0]["context_ended"], run.result.script_status


def test_with_the_unlock_fix():
    fixed = {"z3fold-fix-spinlock-unlocking-in-page-reclaim": True}
    assert z3fold_reclaim_then_store.run(fixes=fixed).ok
    ex = z3fold_reclaim_then_store.explore(fixes=fixed, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 1982}, ex
    ex = z3fold_reclaim_then_store.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"bug:__schedule_bug": 1941, "deadlock": 856}, ex


TRYLOCK_BUGGY = {**Z3FOLD_4_11, "z3fold-fix-page-locking-in-z3fold-alloc": False}


@ps.scenario(kernel="v4.9", fixes=TRYLOCK_BUGGY, cpus=2, pages=512)
def z3fold_alloc_while_free(k):
    """The free holds P's lock; the store takes P off its list and waits for that lock."""
    pool = k.z3fold()
    a = pool.alloc(1000)
    pool.alloc(1000)
    # 1984 bytes, 31 chunks: P's list (63 - 2 * 16 free chunks) is the first it looks at.
    s = k.cpu(0).run("z3fold_alloc", pool.id, 1984, name="zswap_store")
    f = k.cpu(1).run("zswap_invalidate", pool.id, a, name="invalidate")
    # The store's six operations up to P's lock: pool->lock, the list, kref_get, the
    # list_del_init (the header and the list), pool->lock's release.
    return ps.script(f.before("handle_to_buddy"), s.steps(6), f, s)


def test_the_page_is_listed_twice():
    run = z3fold_alloc_while_free.run()
    assert [o.key for o in run.outcomes] == ["bug:__list_add"], run.report()
    assert "list_add double add: z3fold header pfn 0 is already listed" in run.report()
    assert run.outcomes[0].task == "zswap_store", run.report()
    # The racy step: the store took P off its list before the free listed it again (the
    # store's own list_add is the BUG).
    steps = [(e["task"], e["op"]) for e in run.trace()
             if e["kind"] == "step" and e.get("obj") == "pool lists (z3fold pool 0)"]
    assert steps == [("zswap_store", "read"), ("zswap_store", "list_del"), ("invalidate", "list_add")], steps


def test_with_the_trylock_fix():
    fixed = {"z3fold-fix-page-locking-in-z3fold-alloc": True}
    ex = z3fold_alloc_while_free.explore(fixes=fixed, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 727}, ex
    ex = z3fold_alloc_while_free.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 129, "bug:__list_add": 124}, ex
