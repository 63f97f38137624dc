"""5.2's page release finds the pool through slots z3fold_free has just freed (Henry
Burns, Jul 2019; bb9a374dfa3a, 5.3), and frees none for a headless page (Markus Linnala,
Sep 2019; 63398413c00c, 5.4).

Reports:

- bb9a374dfa3a "mm/z3fold: don't try to use buddy slots after free" (Vitaly Wool, 5.3;
  linux-mm archive id 16641968830): "As reported by Henry Burns: Running z3fold stress
  testing with address sanitization showed zhdr->slots was being used after it was freed.
  z3fold_free(z3fold_pool, handle) free_handle(handle) kmem_cache_free(pool->c_handle,
  zhdr->slots) release_z3fold_page_locked_list(kref) __release_z3fold_page(zhdr, true)
  zhdr_to_pool(zhdr) slots_to_pool(zhdr->slots) *BOOM*". zhdr->pool came back.
- 63398413c00c "z3fold: fix memory leak in kmem cache" (Vitaly Wool, 5.4; archive id
  38954185162): "it allocates handles from kmem cache even for headless pages, but then
  they are never used and never freed, so eventually kmem cache may get exhausted."

Both are single-task: the free of a page's last object.

- `z3fold_free_last_object`: `v5.4` without bb9a374dfa3a: free_handle frees the page's
  slots with its last handle, and release_z3fold_page_locked_list's zhdr_to_pool reads them:
  `uaf:slots_to_pool` (KASAN, "Read of struct z3fold_buddy_slots").
- `z3fold_free_headless`: `v5.4` without 63398413c00c: init_z3fold_page allocated slots
  for the headless page, and nothing frees them: `leak` ("z3fold_buddy_slots 1: every
  handle in it was freed, but the slots were never freed").
- `v5.4`: both exhausted clean under dpor at preemption bound 2.
"""

import pagesim as ps


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_free_last_object(k):
    pool = k.z3fold()
    k.cpu(0).run(pool.free, pool.alloc(1000), name="zswap")


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_free_headless(k):
    pool = k.z3fold()
    k.cpu(0).run(pool.free, pool.alloc(4000), name="zswap")


def test_the_release_reads_the_freed_slots():
    run = z3fold_free_last_object.run(fixes={"bb9a374dfa3a": False})
    assert [o.key for o in run.outcomes] == ["uaf:slots_to_pool"], run.report()
    report = run.report()
    assert "Read of struct z3fold_buddy_slots 1 by task zswap" in report
    assert "Freed by task zswap:\n free_handle\n z3fold_free" in report
    assert "Call Trace:\n slots_to_pool\n release_z3fold_page_locked_list\n z3fold_free" in report


def test_a_headless_pages_slots_leak():
    run = z3fold_free_headless.run(fixes={"63398413c00c": False})
    assert [o.key for o in run.outcomes] == ["leak"], run.report()
    assert [o.message for o in run.outcomes] == [
        "z3fold_buddy_slots 1: every handle in it was freed, but the slots were never freed"]


def test_fixed_under_exploration():
    for scene in (z3fold_free_last_object, z3fold_free_headless):
        ex = scene.explore(strategy="dpor", preemption_bound=2)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
