"""z3fold_destroy_pool frees the pool under a migration of one of its pages (a finding of
the model, read from 5.15.100, 6.1.20 and 6.6.9; no upstream report or fix is known).

zsmalloc had this race until 701d678599d0 (5.3, "mm/zsmalloc.c: fix race condition in
zs_destroy_pool", scenarios/zs_destroy_pool_race.py): the pool's user destroys the pool
while compaction holds one of its pages isolated, and the migration then follows
page->mapping (the pool's inode) or zhdr->pool into freed memory. zsmalloc waits for its
isolated pages since; z3fold_destroy_pool ("The pool should be emptied before this
function is called") drains its workqueues and frees the inode (until 68f2736a8583) and
the pool, but nothing waits for a page the VM has isolated.

The page can be empty and still isolated: a z3fold_free of its last object while it is
isolated finds it PAGE_CLAIMED (z3fold_page_isolate claimed it), drops its reference and
leaves it to the migration, which holds one of its own. zswap then sees an empty pool and
destroys it (zswap_pool_destroy, after a compressor or allocator switch).

- `v5.15`: the migration's `move_to_new_page` reads the freed inode's mapping:
  `uaf:PageMovable`, "Read of struct address_space".
- `v6.1` and `v6.6` (68f2736a8583: `z3fold_mops`, no inode): `z3fold_page_migrate` reads
  the freed pool: `uaf:z3fold_page_migrate`, "Read of struct z3fold_pool".
- It is as old as z3fold's migration. On `v5.4` and `v5.10` isolation claims nothing, and
  the script's free, between `z3fold_page_isolate` and the VM's `__SetPageIsolated`, queues
  the page's compaction instead; dpor at bound 1 finds the freed inode read anyway
  (`uaf:PageMovable` in 45 of 120 executions on `v5.4`), with the 5.4 unlocked slot read's
  own `uaf:z3fold_free` (z3fold_free locks the old page the migration freed) among the rest,
  and the migration's queue_work of the new page's compaction on the destroyed compact_wq
  (`uaf:z3fold_page_migrate`, "Write of struct workqueue_struct", 12 of 120: what
  d776aaa9895e, 5.3-rc6, meant to fix by waiting for isolated pages; it was reverted in
  6e73fd25e2c7 because the wait could hang, so no preset has it).
  (The migration's first target page falls back: its ALLOC_NOFRAGMENT pass finds no free
  pageblock to take whole and the zonelist is walked again, 6bb154504f8b; 43 of 118
  without it.)
"""

import pagesim as ps


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def z3fold_destroy_pool_race(k):
    """Compaction isolates P, whose one object zswap then frees before destroying the pool."""
    pool = k.z3fold()
    a = pool.alloc(1000)
    P = pool.page_of(a)

    def zswap():
        yield ps.call("z3fold_free", pool.id, a)
        yield ps.call("z3fold_destroy_pool", pool.id)

    m = k.cpu(0).run(k.compaction.isolate, P, name="migrate")
    u = k.cpu(1).run(zswap, name="zswap")
    return ps.script(m.after("z3fold_page_isolate"), u, m)


def lines(run):
    return [line.strip() for line in run.diagram(depth=6).splitlines()]


def test_the_migration_reads_the_freed_inode():
    run = z3fold_destroy_pool_race.run()
    assert [o.key for o in run.outcomes] == ["uaf:PageMovable"], run.report()
    report = run.report()
    assert "Read of struct address_space z3fold:z3fold by task migrate" in report
    assert "Freed by task zswap:\n z3fold_destroy_pool" in report
    # The racy step: the pool went while P was isolated, before its migration.
    got = lines(run)
    assert got.index("z3fold_page_isolate") < got.index("z3fold_destroy_pool") < got.index("move_to_new_page")


def test_without_the_inode_the_migration_reads_the_freed_pool():
    for kernel in ("v6.1", "v6.6"):
        run = z3fold_destroy_pool_race.run(kernel=kernel)
        assert [o.key for o in run.outcomes] == ["uaf:z3fold_page_migrate"], (kernel, run.report())
        assert "Read of struct z3fold_pool z3fold 0 by task migrate" in run.report()


def test_exploration_finds_it_too():
    ex = z3fold_destroy_pool_race.explore(kernel="v6.1", strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.sometimes("uaf:z3fold_page_migrate"), ex


def test_it_is_as_old_as_z3folds_migration():
    ex = z3fold_destroy_pool_race.explore(kernel="v5.4", strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.outcomes == {"ok": 55, "uaf:PageMovable": 45, "uaf:z3fold_free": 8,
                                            "uaf:z3fold_page_migrate": 12}, ex
    report = ex.replay("uaf:PageMovable").report()
    assert "Read of struct address_space z3fold:z3fold by task migrate" in report
    assert "Freed by task zswap:\n z3fold_destroy_pool" in report
