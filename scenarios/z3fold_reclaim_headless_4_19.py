"""4.19's z3fold_reclaim_page frees a headless page without evicting its object (Jongseok
Kim, Jul 2018; ca0246bb97c2).

Report: "[PATCH] z3fold: fix wrong handling of headless pages" (Jongseok Kim, linux-mm
archive ids 34792026859 and 28563089701): "During the processing of headless pages in
z3fold_reclaim_page(), there was a problem that the zhdr pointed to another page or a page
was already released in z3fold_free(). So, the wrong page is encoded in headless, or
test_bit does not work properly in z3fold_reclaim_page()." Vitaly Wool's ca0246bb97c2
"z3fold: fix possible reclaim races" (4.20, "Reported-by: Jongseok Kim") replaced it:
reclaim sets zhdr before the headless test, claims every page it looks at (PAGE_CLAIMED),
and z3fold_free leaves a headless page reclaim claimed.

4.19.0's walk breaks out at a headless page before `zhdr = page_address(page)`, so on the
first retry zhdr is still NULL: `encode_handle(NULL, HEADLESS)` is 0, nothing is evicted,
`ret` stays 0, and reclaim frees the page. zswap's entry still holds the handle (the
page's address); its invalidation then frees the page a second time (on a later retry
zhdr is the page before's, and reclaim evicts that page's object instead).

H is the pool's oldest page, headless (4000 bytes); P, a small object's, is newer.

- `v4.19`: reclaim, then zswap's invalidation of H's object: `bug:__free_pages`
  (VM_BUG_ON_PAGE(page_ref_count(page) == 0), the second free). The two at once: dpor at
  preemption bound 2 finds the double free in most orders.
- With ca0246bb97c2 (`v4.19` plus the fix, as 4.20 has it): reclaim writes H's object back
  and frees H once; dpor at bound 2 exhausts 154 executions clean.
"""

import pagesim as ps

FIXED = {"ca0246bb97c2": True}


@ps.scenario(kernel="v4.19", cpus=2, pages=512)
def z3fold_reclaim_headless(k):
    """Reclaim of the pool (retries 1) while zswap invalidates H's object."""
    pool = k.z3fold()
    h = pool.alloc(4000)  # H: headless, the oldest page of pool->lru
    pool.alloc(1000)  # P
    r = k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    z = k.cpu(1).run("zswap_invalidate", pool.id, h, name="zswap")
    return ps.script(r, z)


def reclaim_functions(run):
    return [e["func"] for e in run.trace() if e["kind"] == "enter" and e["task"] == "reclaim"]


def test_reclaim_frees_the_page_and_zswap_frees_it_again():
    run = z3fold_reclaim_headless.run()
    assert [o.key for o in run.outcomes] == ["bug:__free_pages"], run.report()
    report = run.report()
    assert "page dumped because: VM_BUG_ON_PAGE(page_ref_count(page) == 0)" in report
    assert "Call Trace:\n __free_pages\n free_z3fold_page\n z3fold_free\n zswap_frontswap_invalidate_page" in report
    # The racy step: reclaim freed H without an eviction (the handle it encoded was 0).
    funcs = reclaim_functions(run)
    assert "free_z3fold_page" in funcs and "zswap_writeback_entry" not in funcs


def test_with_the_fix_reclaim_writes_the_object_back_and_frees_the_page_once():
    run = z3fold_reclaim_headless.run(fixes=FIXED, strict=False)
    assert run.ok, run.report()
    funcs = reclaim_functions(run)
    assert funcs.index("zswap_writeback_entry") < funcs.index("free_z3fold_page")


def test_exploration():
    ex = z3fold_reclaim_headless.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.sometimes("bug:__free_pages"), ex
    ex = z3fold_reclaim_headless.explore(fixes=FIXED, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 154}, ex
