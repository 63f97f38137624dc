"""A z3fold migration that fails because an object of the page is mapped (Miaohe Lin, Apr
2022; 6cf9a34967ed and 4a1c3839108a).

Reports: patches 6/9 and 7/9 of "A few fixup patches for z3fold" (5.19; linux-mm archive
ids 36718443570 and 36513506556).

6cf9a34967ed "mm/z3fold: put z3fold page back into unbuddied list when reclaim or
migration fails": "When doing z3fold page reclaim or migration, the page is removed from
unbuddied list. If reclaim or migration succeeds, it's fine as page is released. But in
case it fails, the page is not put back into unbuddied list now. The page will be leaked
until next compaction work, reclaim or migration is done."

4a1c3839108a "mm/z3fold: always clear PAGE_CLAIMED under z3fold page lock" draws the
race with reclaim (not modelled); its patch moves the same clear in the migration's
failure path, where the model has it: z3fold_page_migrate finds the page mapped, unlocks
it, and only then clears PAGE_CLAIMED. A z3fold_free between the two takes the page for
claimed and skips free_handle: "So z3fold_buddy_slots will leak."

P holds objects a and b. Compaction isolates P (PAGE_CLAIMED); the user then maps b, so
z3fold_page_migrate returns -EBUSY and the VM puts P back.

- `z3fold_putback_unlisted`, `v5.15`: P is back, with room for another object, on no
  unbuddied list: `leak` (the model's teardown check says so). With 6cf9a34967ed (`v6.1`)
  z3fold_page_putback lists it again: clean; dpor at bound 2 never ends in `leak` (its
  other outcomes are 943fb61dd66f's window, `uaf:z3fold_map`: see
  z3fold_migrate_map_uaf.py).
- `z3fold_free_in_failed_migration` (CONFIG_DEBUG_VM off, as production kernels build:
  its breakpoint is the migration's first access to P after the trylock), `v5.15`: the
  user frees a between the unlock and the clear of PAGE_CLAIMED, then unmaps and frees b:
  the slots leak. With 4a1c3839108a (`v6.1`) the clear comes before the unlock: clean.
  Exploration cannot show the fixed side clean: a z3fold_free while P is isolated takes
  it for claimed just the same, and the migration's own claim is copied to the new page
  (docs/kernel/history.md, "z3fold"; tests/test_z3fold.py).
"""

import pagesim as ps


def objects(k):
    pool = k.z3fold()
    a, b = pool.alloc(1000), pool.alloc(1000)
    return pool, a, b, pool.page_of(a)


@ps.scenario(kernel="v5.15", cpus=2, pages=512)
def z3fold_putback_unlisted(k):
    """The user maps b after P's isolation: the migration fails and P is put back."""
    pool, _, b, P = objects(k)
    m = k.cpu(0).run(k.compaction.isolate, P, name="migrate")
    u = k.cpu(1).run(pool.map, b, name="user")
    return ps.script(m.after("z3fold_page_isolate"), u, m)


@ps.scenario(kernel="v5.15", cpus=2, pages=512, debug_vm=False)
def z3fold_free_in_failed_migration(k):
    """The user maps b after P's isolation; the migration finds it mapped; the user frees a
    at the migration's next access to P, then unmaps and frees b."""
    pool, a, b, P = objects(k)

    def user():
        yield ps.call("z3fold_map", pool.id, b)
        yield ps.call("z3fold_free", pool.id, a)
        yield ps.call("z3fold_unmap", pool.id, b)
        yield ps.call("z3fold_free", pool.id, b)

    m = k.cpu(0).run(k.compaction.isolate, P, name="migrate")
    u = k.cpu(1).run(user, name="user")
    return ps.script(m.after("z3fold_page_isolate"), u.after("z3fold_map"),
                     m.before("z3fold_page_migrate", P), u, m)


def keys(run):
    return [o.key for o in run.outcomes]


def test_a_failed_migration_leaves_the_page_off_the_unbuddied_lists():
    run = z3fold_putback_unlisted.run()
    assert keys(run) == ["leak"], run.report()
    assert "free chunks but is on no unbuddied list" in run.report()
    # The racy step: the migration failed for the mapping and put P back.
    got = [line.strip() for line in run.diagram(depth=6).splitlines()]
    assert "z3fold_page_putback" in got and got.index("z3fold_map") < got.index("z3fold_page_putback")


def test_with_the_fix_the_page_is_listed_again():
    run = z3fold_putback_unlisted.run(kernel="v6.1")
    assert run.ok, run.report()
    ex = z3fold_putback_unlisted.explore(kernel="v6.1", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.proves_never("leak"), ex
    assert set(ex.outcomes) <= {"ok", "uaf:z3fold_map"}, ex


def test_a_free_in_the_window_leaks_the_slots():
    run = z3fold_free_in_failed_migration.run()
    assert keys(run) == ["leak"], run.report()
    assert "z3fold_buddy_slots 1: every handle in it was freed" in run.report()
    run = z3fold_free_in_failed_migration.run(fixes={"4a1c3839108a": True})
    assert run.ok, run.report()
