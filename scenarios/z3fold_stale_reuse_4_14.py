"""4.14-rc's z3fold_alloc clears a bit of a NULL page when it reuses a stale page (Vitaly
Wool, September 2017; "z3fold: fix stale list handling", 4.14).

Report: "z3fold: fix stale list handling" (Vitaly Wool, 14 Sep 2017, linux-mm archive ids
11657690245 and 11594849060): "Fix the situation when clear_bit() is called for
page->private before the page pointer is actually assigned." and, to Andrew Morton: "If page
is NULL, clear_bit for page->private will result in a kernel crash." Its id is not in the
stored archive: the model names it `z3fold-fix-stale-list-handling`.

d30561c56f41 ("z3fold: use per-cpu unbuddied lists", 4.14-rc1) queues a page whose last
object is freed on pool->stale for release_wq, and z3fold_alloc takes a stale page before it
allocates one: `list_del(&zhdr->buddy); clear_bit(NEEDS_COMPACTING, &page->private);` with
`page` still NULL when the unbuddied lists gave nothing (or the last page the lookup gave
up). The fix clears NEEDS_COMPACTING when the page is released.

P's one object is invalidated (its page goes stale, release_wq's free_pages_work will free
it) while zswap stores an object of another size: the store finds no unbuddied page and,
if the release work has not freed P yet, takes it.

- Without the fix: `oops:z3fold_alloc`, a NULL pointer dereference at 0x30
  (offsetof(struct page, private)). dpor at preemption bound 2: 273 of 562 executions.
- With it (4.14.0): 562 executions, clean.
"""

import pagesim as ps

BUGGY = {"z3fold-fix-stale-list-handling": False}


@ps.scenario(kernel="v4.14", fixes=BUGGY, cpus=2, pages=512)
def z3fold_store_after_invalidate(k):
    pool = k.z3fold()
    a = pool.alloc(1000)
    i = k.cpu(1).run("zswap_invalidate", pool.id, a, name="invalidate")
    s = k.cpu(0).run("z3fold_alloc", pool.id, 3000, name="zswap_store")
    return ps.script(i, s)


def test_the_stale_page_is_reused_through_a_null_page():
    run = z3fold_store_after_invalidate.run()
    assert [o.key for o in run.outcomes] == ["oops:z3fold_alloc"], run.report()
    assert "NULL pointer dereference at 0000000000000030" in run.report()
    assert run.oops.task == "zswap_store"
    # The racy step: P was released to the stale list, and the store took it before
    # release_wq's worker freed it.
    funcs = [e["func"] for e in run.trace() if e["kind"] == "enter"]
    assert "__release_z3fold_page" in funcs and "free_z3fold_page" not in funcs


def test_with_the_fix():
    run = z3fold_store_after_invalidate.run(fixes={"z3fold-fix-stale-list-handling": True})
    assert run.ok, run.report()
    assert run.kernel.page(0)["owner"] == "z3fold"  # P was reused
    ex = z3fold_store_after_invalidate.explore(fixes={"z3fold-fix-stale-list-handling": True},
                                               strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 562}, ex
    ex = z3fold_store_after_invalidate.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 289, "oops:z3fold_alloc": 273}, ex
