"""4.14-rc's z3fold_reclaim_page puts a released page back on the pool's LRU (Vitaly Wool,
September 2017; "z3fold: fix potential race in z3fold_reclaim_page", 4.14).

Report: "z3fold: fix potential race in z3fold_reclaim_page" (Vitaly Wool, 13 Sep 2017,
linux-mm archive id 11347408733): "It is possible that on a (partially) unsuccessful page
reclaim, kref_put() called in z3fold_reclaim_page() does not yield page release, but the
page is released shortly afterwards by another thread. Then z3fold_reclaim_page() would try
to list_add() that (released) page again which is obviously a bug. To avoid that,
spin_lock() has to be taken earlier, before the kref_put() call mentioned earlier." Its id
is not in the stored archive: the model names it
`z3fold-fix-potential-race-in-z3fold-reclaim-page`.

d30561c56f41 (4.14-rc1) ends reclaim's retry with `kref_put(&zhdr->refcount,
release_z3fold_page)` and then `spin_lock(&pool->lock); list_add(&page->lru, &pool->lru)`.
Between the two, the page's last object can go: its release puts the page on the stale
list for release_wq, and reclaim lists it on pool->lru again, where the next reclaim finds
it after release_wq freed it. (The fix's own put under pool->lock is 4.14.0's self-deadlock
when that put is the last: scenarios/z3fold_reclaim_lockups_4_14.py.)

P holds a and b; reclaim evicts both (one CPU, CONFIG_PREEMPT: reclaim and zswap preempt
each other). Its first write-back frees a, and z3fold_free compacts P at once (reclaim took
P off its CPU's lists) and lists it again; zswap stores c in P, so reclaim's put is not the
last, and then invalidates c, whose put releases P.

- Without the fix, scripted: reclaim lists the released P on pool->lru, and release_wq's
  worker frees P while it is there: `bug:__list_add` in `__free_one_page` ("already on
  z3fold pool->lru"). dpor at preemption bound 2 (13,741 executions) finds what follows a
  released page on the LRU: KASAN `uaf:__release_z3fold_page` and `uaf:free_pages_work`
  (a put and the release work on the freed page), `oops:__release_z3fold_page` (its
  poisoned lru), besides 4.14-rc's other outcomes.
- With it (4.14.0): dpor (2,566 executions) finds none of them. It finds 4.14.0's own: the
  self-deadlock of reclaim's put under pool->lock (scenarios/z3fold_reclaim_lockups_4_14.py),
  c's store moving P to the LRU's head while reclaim holds it, so that reclaim's `list_add`
  adds it twice (`bug:__list_add` in `z3fold_reclaim_page`; 4.17's lock-ups fix, which
  leaves a page under reclaim out of z3fold_free's compaction, ends it: `v4.19` has
  neither), and a LAST object mapped past its page (`corruption`, until ca0246bb97c2).
"""

import pagesim as ps

BUGGY = {"z3fold-fix-potential-race-in-z3fold-reclaim-page": False}


@ps.scenario(kernel="v4.14", fixes=BUGGY, cpus=1, pages=512, preempt=True)
def z3fold_reclaim_while_store(k):
    pool = k.z3fold()
    pool.alloc(1000)
    pool.alloc(1000)

    def zswap():
        c = yield ps.call("z3fold_alloc", pool.id, 1000)
        yield ps.call("zswap_invalidate", pool.id, c)

    r = k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    z = k.cpu(0).run(zswap, name="zswap")
    # Reclaim's first write-back, up to its free's compaction; the store; the second
    # write-back and the put; the invalidation; the rest.
    return ps.script(r.until("do_compact_page"), z.until("z3fold_alloc"),
                     r.until("zswap_writeback_entry"), r.steps(2), z, r)


def test_reclaim_lists_the_released_page():
    run = z3fold_reclaim_while_store.run()
    assert [o.key for o in run.outcomes] == ["bug:__list_add"], run.report()
    assert "list_add corruption: page pfn 0 is already on z3fold pool->lru" in run.report()
    assert run.outcomes[0].backtrace[:2] == ["__free_one_page", "free_one_page"], run.report()
    # The racy step: c's invalidation released P between reclaim's put and its list_add.
    order = [(e["task"], e["func"]) for e in run.trace() if e["kind"] == "enter"
             and e["func"] in ("__release_z3fold_page", "free_pages_work")]
    assert order == [("zswap", "__release_z3fold_page"), ("kworker/0:z3fold release", "free_pages_work")]
    trace = run.trace()
    put = max(e["step"] for e in trace if e["task"] == "reclaim" and e.get("op") == "atomic_rmw")
    release = next(e["step"] for e in trace if e["func"] == "__release_z3fold_page")
    relist = next(e["step"] for e in trace if e["task"] == "reclaim" and e.get("op") == "list_add"
                  and e["step"] > put)
    assert put < release < relist  # reclaim's put, c's release, reclaim's list_add


def test_with_the_fix():
    ex = z3fold_reclaim_while_store.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {
        "ok": 5281, "bug:__list_add": 5690, "warn:__release_z3fold_page": 8447, "corruption": 2,
        "uaf:__release_z3fold_page": 238, "uaf:free_pages_work": 34, "oops:__release_z3fold_page": 165}, ex
    fixed = z3fold_reclaim_while_store.explore(
        fixes={"z3fold-fix-potential-race-in-z3fold-reclaim-page": True}, strategy="dpor", preemption_bound=2)
    assert fixed.exhausted and fixed.outcomes == {
        "ok": 1, "deadlock": 2552, "warn:__release_z3fold_page": 2552, "bug:__list_add": 13, "corruption": 2}, fixed
    assert "z3fold_reclaim_page" in fixed.replay("bug:__list_add").report()
