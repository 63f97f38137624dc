"""4.14's z3fold_reclaim_page locks up on its own pool->lock (Guenter Roeck, May 2018;
"z3fold: fix reclaim lock-ups", 4.17).

Report: "z3fold: fix reclaim lock-ups" (Vitaly Wool, 4.17, also in 4.16.y; Reported-by and
Tested-by Guenter Roeck; linux-mm archive ids 29031717776 and 30589114373): "Do not try to
optimize in-page object layout while the page is under reclaim. This fixes lock-ups on
reclaim and improves reclaim performance at the same time." Its id is not in the stored
archive: the model names it `z3fold-fix-reclaim-lock-ups`.

4.14.0's reclaim, after its evictions, takes `pool->lock` and drops its reference to the
page with `kref_put(&zhdr->refcount, release_z3fold_page)`. When the evictions freed
every object of the page, that put is the last, and `__release_z3fold_page` takes
`pool->lock` to unlink the page from the LRU: the lock reclaim holds. (Its walk also goes
on past the page it took, locking and referencing every page it can; only the last is
unlocked again.) The fix marks the page UNDER_RECLAIM, takes one page per retry, leaves a
page under reclaim out of `z3fold_free`'s compaction, and drops the reference under the
page lock only.

P holds one object; zswap's shrinker reclaims the pool (retries 1), and the write-back's
last put frees the object (z3fold_free).

- `v4.14`: `deadlock` (reclaim spins on pool->lock, which it holds, in
  `__release_z3fold_page`).
- `v4.19` (the fix): clean. dpor at preemption bound 2 with a second page and zswap's
  invalidation of its object at once: 335 executions, clean. On `v4.14`, 387: 189
  `deadlock`, and 198 `bug:spin_unlock` ("wrong owner"): the walk failed to lock the second
  page, which zswap's free held, and ended with zhdr on it (4.14 sets zhdr before the
  trylock), and reclaim unlocks that page's lock.
"""

import pagesim as ps


@ps.scenario(kernel="v4.14", cpus=1, pages=512)
def z3fold_reclaim_lockup(k):
    pool = k.z3fold()
    pool.alloc(1000)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")


@ps.scenario(kernel="v4.14", cpus=2, pages=512)
def z3fold_reclaim_and_invalidate(k):
    """The pool has two pages; reclaim while zswap invalidates the newer page's object."""
    pool = k.z3fold()
    pool.alloc(3000)
    b = pool.alloc(3000)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    k.cpu(1).run("zswap_invalidate", pool.id, b, name="zswap")


def test_reclaim_spins_on_the_pool_lock_it_holds():
    run = z3fold_reclaim_lockup.run()
    assert [o.key for o in run.outcomes] == ["deadlock"], run.report()
    report = run.report()
    assert ("reclaim (cpu0) spins on spinlock pool->lock (z3fold pool 0) held by reclaim in "
            "__release_z3fold_page") in report
    # The racy step: the release came from reclaim's own put, after the write-back.
    funcs = [e["func"] for e in run.trace() if e["kind"] == "enter"]
    assert funcs.index("zswap_writeback_entry") < funcs.index("release_z3fold_page")


def test_with_the_fix():
    assert z3fold_reclaim_lockup.run(kernel="v4.19").ok
    ex = z3fold_reclaim_and_invalidate.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"deadlock": 189, "bug:spin_unlock": 198}, ex
    assert "wrong owner: zhdr->page_lock (pfn 1)" in ex.replay("bug:spin_unlock").report()
    ex = z3fold_reclaim_and_invalidate.explore(kernel="v4.19", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 335}, ex
