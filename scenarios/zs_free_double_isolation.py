"""zs_free double isolation (Chulmin Kim, 12 Apr 2016).

Report: <570CAB12.2090408@samsung.com>, on "[PATCH v3 02/16] mm/compaction: support non-lru
movable page migration", quoted in Minchan Kim's reply <20160412142522.GA3265@blaptop>
(linux-mm archive id 45618734626). Minchan: "That's exactly a bug we discussed. I will fix
it in next revision."

T is a sub-page of a zspage. Migrate context A isolates T and unlocks it (T stays on A's
private list, A holds a reference). The process owning the last object of the zspage is
killed: zs_free empties the zspage and free_zspage resets T. In the v3 series reset_page
keeps T "movable" but clears PG_isolated, and clears page->private, so migrate context B
sees T as movable and not isolated, isolates it again, and zs_page_isolate dereferences the
zspage that T no longer points to: a NULL pointer dereference.

Buggy preset: movable-v3. Fixed preset: v4.8, where PG_isolated belongs to the VM,
__ClearPageMovable keeps the movable bit, and zs_free leaves an isolated zspage to
zs_page_putback, which defers the free to the pool's worker.

The machine has 64 anonymous pages on its LRU, as any machine has: with an empty LRU, 4.8
and v3 count the isolated T in NR_ISOLATED against no LRU pages at all, and
too_many_isolated() makes each compaction context sleep in congestion_wait until the
other's putback (scenarios/nr_isolated_stall.py is that stall on purpose).

Every outcome of movable-v3 under `pagesim explore ... --strategy dpor --preemption-bound 2`
(exhausted, 52,835 executions), with the v3 lines behind it (docs/kernel/v3/):
- ok: A migrates T, or the driver's release is seen by the VM in time (move_to_new_page:
  `if (!PageIsolated(page)) { rc = MIGRATEPAGE_SUCCESS; __ClearPageMovable(page); }`).
- oops:zs_page_isolate (1,582): Chulmin Kim's report. v3 13/16 reset_page
  `if (!PageIsolated(page)) __ClearPageMovable(page); ClearPageIsolated(page);` leaves T
  looking idle and movable, isolate_movable_page passes `!PageMovable(page) ||
  PageIsolated(page)`, and zs_page_isolate's `first_page = get_first_page(page)` is NULL.
  Closed by zs-free-atomic (v4's zs_free leaves an isolated zspage alone; it needs
  zs-compact-under-class-lock) or by vm-owns-pg-isolated (a released page keeps
  PG_isolated).
- bug:__list_add (10): A migrated T to a new page N and unlocked both; C's free_zspage
  (zs_free dropped class->lock, 12/16) locks N and resets it: `__ClearPageMovable(page)`
  clears PG_movable with a non-atomic `__clear_bit` and sets page->mapping to NULL. A's
  __unmap_and_move then tests N unlocked (v3 04/16: `if (unlikely(PageMovable(newpage)))
  put_page(newpage); else putback_lru_page(newpage);`), finds it not movable and puts the
  zsmalloc page on the LRU; C's `__clear_bit` read the flags before A's SetPageLRU and
  writes them back after it, so PG_lru is lost and C frees a page that is still on the LRU
  list. Closed by movable-mapping-bit (v4's __ClearPageMovable keeps PAGE_MAPPING_MOVABLE,
  so N stays __PageMovable and A only drops its reference).
The model's earlier movable-v3 (4.8's zsmalloc and VM with the flags of v3) also reported
deadlock, bug:bad_page and bug:zs_page_migrate; v3 had none of them (docs/kernel/movable-v3.md).
"""

import json
import subprocess
import sys

import pagesim as ps
import pytest


@ps.scenario(kernel="movable-v3", cpus=3, pages=1024)
def zs_free_double_isolation(k):
    """A isolates T, C's zs_free frees T's zspage, B isolates T again (seed 002)."""
    pool = k.zsmalloc()
    h = pool.malloc(3000)  # a 3000-byte class: zspages of several pages
    T = pool.pages_of(h)[1]
    k.process("init").fault_in(64)  # an LRU, so that T alone is not "too many isolated"
    a = k.cpu(0).run(k.compaction.isolate, T, name="migrate_ctx_A")
    b = k.cpu(1).run(k.compaction.isolate, T, name="migrate_ctx_B")
    c = k.cpu(2).run(pool.free, h, name="zs_free_C")
    return ps.script(a.until("unlock_page", T), c, b)


@ps.scenario(kernel="v4.8", cpus=3, pages=1024)
def isolate_once(k):
    """The same race as a property: two contexts isolate T with isolate_movable_page while
    zs_free frees its zspage; at most one may hold T isolated at a time."""
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    T = pool.pages_of(h)[1]
    holders = k.counter("holders of T")

    def isolator():
        if (yield ps.call("isolate_movable_page", T)):
            n = yield holders.add(1)
            yield ps.check(n == 1, "one_isolation_wins", f"{n} contexts hold page {T} isolated")
            yield holders.add(-1)
            yield ps.call("putback_isolated", T)

    k.cpu(0).run(isolator, name="A")
    k.cpu(1).run(isolator, name="B")
    k.cpu(2).run(pool.free, h, name="C")


def test_v3_oopses_in_zs_page_isolate():
    run = zs_free_double_isolation.run()  # strict: raises ScriptError if a step never matched
    assert run.result.script_status[0]["last_function"] == "unlock_page"  # A unlocked T
    assert run.oops is not None, run.report()
    assert run.oops.function == "zs_page_isolate"
    assert run.oops.task == "migrate_ctx_B"
    assert "NULL pointer dereference" in run.oops.message
    assert run.oops.backtrace[:2] == ["zs_page_isolate", "isolate_movable_page"]


def test_v48_same_schedule_is_clean_and_frees_T_once():
    run = zs_free_double_isolation.run(kernel="v4.8")
    assert run.ok, run.report()
    # T went back to the buddy allocator exactly once: free, no reference, no bad_page.
    k0 = zs_free_double_isolation.build(kernel="v4.8")[0].state
    pool_pages = [p for p in range(k0.nr_pages) if k0.page(p)["owner"] == "zsmalloc"]
    for pfn in pool_pages:
        page = run.kernel.page(pfn)
        assert page["refcount"] == 0 and page["owner"] == "none", page


def test_which_v4_change_closes_it():
    # v4's zsmalloc (zs_free leaves an isolated zspage to zs_page_putback, 11/12, with the
    # compaction it needs) closes it alone.
    v4_zsmalloc = {"zs-free-atomic": True, "zs-compact-under-class-lock": True}
    run = zs_free_double_isolation.run(fixes=v4_zsmalloc)
    assert run.ok, run.report()
    # So does the VM owning PG_isolated (v4 02/12), which needs v4's zsmalloc with it.
    run = zs_free_double_isolation.run(fixes={**v4_zsmalloc, "vm-owns-pg-isolated": True})
    assert run.ok, run.report()
    with pytest.raises(ps.UsageError, match="'vm-owns-pg-isolated' needs fix 'zs-free-atomic'"):
        zs_free_double_isolation.run(fixes={"vm-owns-pg-isolated": True})


def test_v3_outcome_set_is_the_reported_oops_and_the_lru_putback_of_a_freed_zspage_page():
    ex = zs_free_double_isolation.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert set(ex.outcomes) == {"ok", "oops:zs_page_isolate", "bug:__list_add"}, ex
    oops = ex.replay("oops:zs_page_isolate").oops
    assert oops.task in ("migrate_ctx_A", "migrate_ctx_B")
    assert oops.backtrace[:2] == ["zs_page_isolate", "isolate_movable_page"]
    lru = ex.replay("bug:__list_add")
    assert lru.bug.task == "zs_free_C"
    assert lru.bug.backtrace[-2:] == ["free_zspage", "zs_free"]
    assert "is already on lru" in lru.bug.message
    # A put the page zs_free is freeing on the LRU after its migration succeeded.
    assert "putback_lru_page" in lru.diagram(depth=6)


def test_v3_lru_putback_closed_by_the_movable_mapping_bit():
    v4_zsmalloc = {"zs-free-atomic": True, "zs-compact-under-class-lock": True,
                   "vm-owns-pg-isolated": True}
    ex = zs_free_double_isolation.explore(strategy="dpor", preemption_bound=2, fixes=v4_zsmalloc)
    assert ex.exhausted and set(ex.outcomes) == {"ok", "bug:__list_add"}, ex
    ex = zs_free_double_isolation.explore(strategy="dpor", preemption_bound=2,
                                          fixes={**v4_zsmalloc, "movable-mapping-bit": True})
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex


def test_cli_explore_of_v3_writes_the_outcome_set(tmp_path):
    out = tmp_path / "v3.json"
    done = subprocess.run(
        [sys.executable, "-m", "pagesim.cli", "explore",
         f"{__file__}::zs_free_double_isolation", "--kernel", "movable-v3", "--strategy", "dpor",
         "--preemption-bound", "2", "--json", str(out)],
        capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    j = json.loads(out.read_text())
    assert j["exhausted"] is True
    assert set(j["outcomes"]) == {"ok", "oops:zs_page_isolate", "bug:__list_add"}, j["outcomes"]


def test_v48_is_clean_in_every_schedule_with_one_preemption():
    ex = zs_free_double_isolation.explore(kernel="v4.8", strategy="dfs", executions=100_000,
                                          preemption_bound=1)
    assert ex.exhausted, ex
    assert ex.outcomes == {"ok": ex.executions}, ex


def test_v48_never_oopses_under_random_exploration():
    ex = zs_free_double_isolation.explore(kernel="v4.8", strategy="random", executions=500)
    assert ex.outcomes == {"ok": 500}, ex


def test_v3_oops_found_without_the_script():
    # The race needs one preemption: right after A unlocks T, C must run before A migrates.
    # dpor with iterative bounding finds it once bound 0 is covered.
    ex = zs_free_double_isolation.explore(strategy="dpor", executions=2_000)
    assert ex.sometimes("oops:zs_page_isolate"), ex
    assert ex.first_failure.preemptions == 1
    again = ex.replay("oops:zs_page_isolate")
    assert again.oops.function == "zs_page_isolate"
    assert again.oops.task == "migrate_ctx_B"


def test_one_isolation_wins_on_v48_for_every_schedule_with_two_preemptions():
    ex = isolate_once.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
    assert ex.found.checks == {"one_isolation_wins"}  # the property was evaluated
    assert ex.proves_never("check:one_isolation_wins")


def test_on_v3_the_second_isolation_oopses_before_it_can_win():
    # v3's reset_page clears PG_isolated under A: B passes isolate_movable_page's checks
    # and zs_page_isolate follows the freed zspage's NULL pointer.
    ex = isolate_once.explore(kernel="movable-v3", strategy="dpor")
    assert ex.sometimes("oops:zs_page_isolate"), ex
    assert ex.replay("oops:zs_page_isolate").oops.task in ("A", "B")


if __name__ == "__main__":
    print(__doc__)
    for preset in ("movable-v3", "v4.8"):
        run = zs_free_double_isolation.run(kernel=preset)
        print(f"==== kernel {preset}: the reported schedule ends with {run.outcome_counts}")
        print(run.report())
        print()
        print(run.diagram(depth=4))
        print()
