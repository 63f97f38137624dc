"""A z3fold reclaim whose write-back fails puts the page back on no unbuddied list (Miaohe
Lin, Apr 2022; the reclaim half of 6cf9a34967ed).

Report: 6cf9a34967ed "mm/z3fold: put z3fold page back into unbuddied list when reclaim or
migration fails" (5.19, patch 6/9 of "A few fixup patches for z3fold", linux-mm archive id
36718443570): "When doing z3fold page reclaim or migration, the page is removed from
unbuddied list. If reclaim or migration succeeds, it's fine as page is released. But in
case it fails, the page is not put back into unbuddied list now. The page will be leaked
until next compaction work, reclaim or migration is done."
(scenarios/z3fold_failed_migration.py is the migration half.)

P holds a and b. zswap's shrinker reclaims P (z3fold_reclaim_page, retries 1). Its
write-back of a finds a's entry; then zswap invalidates a (the swap slot was freed), so
`zswap_get_swap_cache_page` finds the swap entry gone (ZSWAP_SWAPCACHE_FAIL) and the
write-back fails with -ENOMEM. Reclaim puts P back on pool->lru, with b still in it.

- `v5.15`: P, with room for another object, is on no unbuddied list: `leak` (the model's
  teardown check). The same on `v5.10`.
- With 6cf9a34967ed (`v6.1`) reclaim's failure path calls `add_to_unbuddied`: clean.
- Exploration cannot show the fixed side clean. On `v6.1`, dpor at bound 2 finds `leak`
  of another kind (42 of 331): zswap frees a before reclaim takes P, so a's free queues
  P's compaction, which holds a reference; the write-back of b succeeds, and its
  `z3fold_free` finds P claimed by reclaim and leaves b's handle to it; reclaim's put is
  then not the last, so reclaim does not free P's slots, and the compaction's release
  leaves them alone (fc5488651c7d): "z3fold_buddy_slots 1: every handle in it was freed,
  but the slots were never freed". The same executions report `corruption`: reclaim's
  put-back (6cf9a34967ed's `add_to_unbuddied`) lists the page, which holds no object, on
  `unbuddied[NCHUNKS]`, one past the end of the per-CPU array. Read from 6.1.20's code,
  not confirmed on a kernel.
"""

import pagesim as ps


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def z3fold_failed_reclaim(k):
    """Reclaim of P while zswap invalidates a, between the write-back's lookup of a's entry
    and its swap cache page."""
    pool = k.z3fold()
    a = pool.alloc(1000)
    pool.alloc(1000)  # b
    r = k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    z = k.cpu(1).run("zswap_invalidate", pool.id, a, name="zswap")
    return ps.script(r.before("zswap_get_swap_cache_page"), z, r)


def keys(run):
    return [o.key for o in run.outcomes]


def failed_write_back(run) -> bool:
    """The racy step: the write-back found the entry gone and freed a itself."""
    funcs = [e["func"] for e in run.trace() if e["kind"] == "enter" and e["task"] == "reclaim"]
    at = funcs.index("zswap_get_swap_cache_page")
    return "z3fold_free" in funcs[at:]


def test_the_page_is_put_back_on_no_unbuddied_list():
    for kernel in ("v5.10", "v5.15"):
        run = z3fold_failed_reclaim.run(kernel=kernel)
        assert keys(run) == ["leak"], (kernel, run.report())
        assert "is on no unbuddied list" in run.report()
        assert failed_write_back(run)


def test_with_the_fix_the_page_is_listed_again():
    run = z3fold_failed_reclaim.run(kernel="v6.1")
    assert run.ok, run.report()
    assert failed_write_back(run)
    # 6cf9a34967ed's add_to_unbuddied, in reclaim's failure path: P on an unbuddied list.
    trace = [e for e in run.trace() if e["task"] == "reclaim"]
    at = next(i for i, e in enumerate(trace) if e.get("func") == "zswap_get_swap_cache_page")
    assert any(e.get("op") == "list_add" and e.get("obj") == "pool lists (z3fold pool 0)"
               for e in trace[at:]), trace[at:]


def test_exploration_finds_it_and_the_other_leak_of_the_fixed_side():
    ex = z3fold_failed_reclaim.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 332, "leak": 78}, ex
    ex = z3fold_failed_reclaim.explore(kernel="v6.1", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 289, "leak": 42, "corruption": 42}, ex
    run = ex.replay("leak")
    assert [o.message for o in run.outcomes] == [
        ("list_add(&zhdr->buddy, &unbuddied[NCHUNKS]) for pfn 0, which holds no object: the list "
         "head is past the end of the pool's per-CPU array"),
        "z3fold_buddy_slots 1: every handle in it was freed, but the slots were never freed"]
    assert run.outcomes[0].backtrace == ["z3fold_reclaim_page"]
