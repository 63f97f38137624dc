"""5.3's z3fold_reclaim_page evicts through a handle z3fold_free is zeroing (Markus
Linnala, Aug 2019; the retry fix of 5.4, "z3fold: fix retry mechanism in page reclaim").

Report: "zswap with z3fold makes swap stuck" (Markus Linnala, 5.3-rc4, linux-mm archive
id 8292615840), bisected to 7c2b8baa61fe ("mm/z3fold.c: add structure for buddy
handles"): "BUG: unable to handle page fault for address: ffffd2df8a000028 ... RIP:
0010:z3fold_zpool_map+0x52/0x110", "RIP: 0010:handle_to_buddy+0x20/0x30", "kernel BUG at
lib/list_debug.c:54!". The fix, Vitaly Wool's "z3fold: fix retry mechanism in page
reclaim" (5.4-rc1; Reported-by Markus Linnala, Chris Murphy and Agustin Dall'Alba; -mm
archive id 9133595756): "... protect against using already freed handles by using own
local slots structure in z3fold_page_reclaim()." 63398413c00c and 5b6807de1144 (5.4)
followed it from the same reports.

Since 7c2b8baa61fe a handle is the address of a slot that holds the object's address.
5.3's reclaim encodes the handles of the page it takes into the page's own slots (the
users' handles) and evicts through them; zswap's z3fold_free of one of them zeroes its
slot (free_handle) meanwhile. The eviction's z3fold_map reads the slot twice: in
handle_to_z3fold_header, then in handle_to_buddy, which finds it 0 and dereferences a NULL
header.

P holds a and b. zswap's shrinker reclaims P (retries 1) while zswap invalidates a.

- 5.3 (`v5.4` with the 5.4 fixes of the report off, `FIVE_THREE`): reclaim's z3fold_map of
  a reads the slot, zswap frees a, and handle_to_buddy reads it again: `oops:handle_to_buddy`.
  dpor at preemption bound 2 finds it and `oops:handle_to_z3fold_header` (the slot read
  as 0 the first time) in 75 of 427 executions.
- `v5.4`: reclaim evicts through slots on its own stack, which no z3fold_free touches: the
  eviction finds a's entry invalidated and goes on. dpor at bound 2: 351 executions, no
  oops; 5 `leak` (reclaim puts P back on no unbuddied list: 6cf9a34967ed, 5.19,
  `scenarios/z3fold_failed_reclaim.py`).
"""

import pagesim as ps

FIVE_THREE = {"z3fold-fix-retry-mechanism-in-page-reclaim": False, "63398413c00c": False,
              "5b6807de1144": False, "zswap-do-not-map-same-object-twice": False}


@ps.scenario(kernel="v5.4", cpus=2, pages=512)
def z3fold_reclaim_stale_handle(k):
    """Reclaim of P while zswap invalidates a, between the eviction's two reads of a's slot."""
    pool = k.z3fold()
    a = pool.alloc(1000)
    pool.alloc(1000)  # b
    r = k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")
    z = k.cpu(1).run("zswap_invalidate", pool.id, a, name="zswap")
    return ps.script(r.after("handle_to_z3fold_header"), z, r)


def test_the_eviction_dereferences_the_zeroed_slot():
    run = z3fold_reclaim_stale_handle.run(fixes=FIVE_THREE)
    assert [o.key for o in run.outcomes] == ["oops:handle_to_buddy"], run.report()
    assert "Call Trace:\n handle_to_buddy\n z3fold_map\n zswap_writeback_entry\n z3fold_reclaim_page" in run.report()
    # The racy step: zswap's free_handle zeroed a's slot inside the eviction's z3fold_map.
    funcs = [(e["task"], e["func"]) for e in run.trace() if e["kind"] == "enter"]
    at = funcs.index(("reclaim", "z3fold_map"))
    assert funcs.index(("zswap", "free_handle")) > at


def test_with_the_fix_reclaims_own_slots_keep_the_eviction_safe():
    run = z3fold_reclaim_stale_handle.run()
    assert run.ok, run.report()


def test_exploration():
    ex = z3fold_reclaim_stale_handle.explore(fixes=FIVE_THREE, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {
        "ok": 347, "leak": 5, "oops:handle_to_buddy": 33, "oops:handle_to_z3fold_header": 42}, ex
    ex = z3fold_reclaim_stale_handle.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 346, "leak": 5}, ex
