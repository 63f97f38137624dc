"""z3fold_map returns the header of a page z3fold_page_migrate is freeing (Miaohe Lin, Apr
2022; 943fb61dd66f).

Report: 943fb61dd66f "mm/z3fold: fix z3fold_page_migrate races with z3fold_map" (5.19,
patch 9/9 of "A few fixup patches for z3fold", linux-mm archive id 36454995249):

    CPU1                            CPU2
     z3fold_page_migrate            z3fold_map
      z3fold_page_trylock
      ...
      z3fold_page_unlock
      /* slots still points to old zhdr*/
                                     get_z3fold_header
                                      get slots from handle
                                      get old zhdr from slots
                                      z3fold_page_trylock
                                      return *old* zhdr
      encode_handle(new_zhdr, FIRST|LAST|MIDDLE)
      put_page(page) /* zhdr is freed! */
                                     but zhdr is still used by caller!

    "z3fold_map can map freed z3fold page and lead to use-after-free bug."
    Fixes: 1f862989b04a ("mm/z3fold.c: support page migration")

z3fold keeps its header in the page itself, so KASAN sees the header die with the page:
the migration core frees the old page once z3fold_page_migrate returns.

Two objects share a z3fold page P; compaction migrates P while a user reads one of them
(`z3fold_read`: map, read, unmap, as zswap's load does).

- `v5.15`: the scripted scene ends in `uaf:z3fold_map` (the map's `mapped_count++` on the
  freed header). Dpor at preemption bound 2 exhausts 507 executions: ok 385,
  `uaf:z3fold_map` 62, `uaf:z3fold_unmap` 10, and `leak` 50 where the read mapped P first
  and the failed migration put it back on no unbuddied list (6cf9a34967ed,
  z3fold_failed_migration.py).
- With the fix (`v6.1`), `get_z3fold_header()` finds the old page PAGE_MIGRATED, unlocks it
  and looks at the slot again: the scripted scene is clean.
- **The fix leaves a window.** z3fold_page_migrate ends with `page->private = 0` ("PAGE_CLAIMED
  and PAGE_MIGRATED are cleared now") before the core frees the old page. A
  `get_z3fold_header()` that locked the old header before `encode_handle()` (it holds the
  slots' read lock, so the migration waits) and tests PAGE_MIGRATED only after that store
  returns the old header, as before the fix. The CPU running it only has to be delayed
  (an interrupt) between `read_unlock(&slots->lock)` and `test_bit(PAGE_MIGRATED)`. Dpor
  at bound 2 on `v6.1` exhausts 543 executions: ok 539, `uaf:z3fold_map` 4, all through
  that window (`test_the_fix_leaves_a_window`). 6.6.9's z3fold.c is the same there.
- **Before 4a3ac9311dac** (`v5.4`) the window is the whole migration. 5.4's z3fold_map reads
  the slot unlocked (`handle_to_z3fold_header`) and then waits for that page's lock
  (`z3fold_page_lock`): a migration that runs from start to end between the two frees the
  page whose lock the user then takes (`z3fold_migrate_map_unlocked_slot`). From 4a3ac9311dac
  on, `get_z3fold_header` reads the slot and try-locks the page under the slots' read lock,
  and the same interleaving is clean: the user holds P's lock, and the isolation waits for
  it. Dpor at bound 2 on `v5.4` exhausts 427 executions: ok 320, `uaf:z3fold_map` 68,
  `uaf:z3fold_unmap` 4, and the putback's `leak` 35.
"""

import pagesim as ps
import pytest


def migrate_and_read(k):
    """P holds a and b; compaction migrates P on CPU 0 while the user reads a on CPU 1."""
    pool = k.z3fold()
    a, b = pool.alloc(1000), pool.alloc(1000)
    pool.write(a, 11)
    pool.write(b, 22)
    P = pool.page_of(a)
    return P, k.cpu(0).run(k.compaction.isolate, P, name="migrate"), k.cpu(1).run(pool.read, a, name="user")


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def z3fold_migrate_map_uaf(k):
    """Compaction migrates the z3fold page P while the user reads an object of P."""
    P, m, u = migrate_and_read(k)
    # The migration has copied P and unlocked the old header (it is about to clear P's
    # movable mapping); the user gets the old header; then the migration runs to its end.
    return ps.script(m.before("__ClearPageMovable", P), u.until("get_z3fold_header"), m, u)


def keys(run):
    return [o.key for o in run.outcomes]


def test_the_reported_scene_maps_the_freed_header():
    run = z3fold_migrate_map_uaf.run()
    assert keys(run) == ["uaf:z3fold_map"], run.report()
    report = run.report()
    assert "Write of struct z3fold_header pfn" in report
    assert "Freed by task migrate:\n __free_pages_ok\n free_pages_zero_ref\n put_page\n unmap_and_move" in report


def test_with_the_fix_the_scene_looks_at_the_slot_again():
    run = z3fold_migrate_map_uaf.run(fixes={"943fb61dd66f": True})
    assert run.ok, run.report()
    # The racy step was reached: the user locked the old header, found it PAGE_MIGRATED,
    # and went back to the slot (two rounds of the slots' read lock).
    ops = [e for e in run.trace() if e.get("task") == "user" and e.get("func") == "get_z3fold_header"]
    assert sum(e.get("op") == "read_lock" for e in ops) >= 2, ops


@ps.scenario(kernel="v6.1", cpus=2, pages=512)
def z3fold_migrate_map_window(k):
    """The user locks the old header before encode_handle and tests PAGE_MIGRATED after
    z3fold_page_migrate's last store to page->private."""
    P, m, u = migrate_and_read(k)
    return ps.script(m.before("__ClearPageMovable", P), u.before("get_z3fold_header", P), m, u)


def test_the_fix_leaves_a_window():
    run = z3fold_migrate_map_window.run()
    assert keys(run) == ["uaf:z3fold_map"], run.report()
    # Not on 5.15: there get_z3fold_header never looks at the page (no PAGE_MIGRATED), so
    # the breakpoint is never hit and the script is refused as vacuous.
    with pytest.raises(ps.UsageError, match="never"):
        z3fold_migrate_map_window.run(kernel="v5.15")


def test_exploration_before_and_after_the_fix():
    ex = z3fold_migrate_map_uaf.explore(strategy="dpor", preemption_bound=2)
    # The leaks: the read mapped P after its isolation, the migration failed, and the page
    # was put back on no unbuddied list (6cf9a34967ed, z3fold_failed_migration.py).
    assert ex.exhausted and ex.outcomes == {"ok": 385, "leak": 50, "uaf:z3fold_map": 62,
                                            "uaf:z3fold_unmap": 10}, ex
    ex = z3fold_migrate_map_uaf.explore(kernel="v6.1", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 539, "uaf:z3fold_map": 4}, ex
    assert ex.proves_never("uaf:z3fold_unmap")
    # Every uaf left goes through the window: the user tested PAGE_MIGRATED after the
    # migration's page->private = 0.
    run = ex.replay("uaf:z3fold_map")
    trace = run.trace()
    cleared = max(i for i, e in enumerate(trace)
                  if e.get("task") == "migrate" and e.get("func") == "z3fold_page_migrate"
                  and e.get("op") == "write" and str(e.get("obj", "")).startswith("page"))
    tested = [i for i, e in enumerate(trace)
              if e.get("task") == "user" and e.get("op") == "bit_test" and e.get("func") == "get_z3fold_header"]
    assert tested and tested[-1] > cleared, (cleared, tested)


@ps.scenario(kernel="v5.4", cpus=2, pages=512)
def z3fold_migrate_map_unlocked_slot(k):
    """Before 4a3ac9311dac: the user has read P from the slot; the whole migration runs;
    the user takes P's lock."""
    _, m, u = migrate_and_read(k)
    return ps.script(u.until("handle_to_z3fold_header"), m, u)


@ps.scenario(kernel="v5.10", cpus=2, pages=512)
def z3fold_migrate_map_locked_header(k):
    """Since 4a3ac9311dac: the user has P's header, locked; the migration runs."""
    _, m, u = migrate_and_read(k)
    return ps.script(u.until("get_z3fold_header"), m, u)


def test_before_4a3ac9311dac_the_whole_migration_fits_in_the_window():
    run = z3fold_migrate_map_unlocked_slot.run()
    assert keys(run) == ["uaf:z3fold_map"], run.report()
    report = run.report()
    assert "Write of struct z3fold_header pfn" in report  # the page lock in the freed page
    assert "Freed by task migrate:" in report
    # The migration ran to its end while the user held nothing: it migrated P.
    assert any(e.get("task") == "migrate" and e.get("func") == "z3fold_page_migrate"
               for e in run.trace())
    # Since 4a3ac9311dac the user has P locked when it has its header: the isolation waits.
    run = z3fold_migrate_map_locked_header.run()
    assert run.ok, run.report()
    trace = run.trace()
    tried = [e["step"] for e in trace if e.get("task") == "migrate" and e.get("func") == "z3fold_page_isolate"
             and e.get("op") == "spin_lock"]
    released = next(e["step"] for e in trace if e.get("task") == "user" and e.get("op") == "spin_unlock")
    assert tried[0] < released < tried[-1], (tried, released)  # it spun until the map unlocked
    ex = z3fold_migrate_map_unlocked_slot.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 320, "leak": 35, "uaf:z3fold_map": 68,
                                            "uaf:z3fold_unmap": 4}, ex
