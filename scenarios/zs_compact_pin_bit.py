"""zs_compact loses the handle pin bit (upstream c102f07ca0b0).

"zsmalloc: fix migrate_zspage-zs_free race condition": migrate_zspage recorded an object's
new location with record_obj(handle, free_obj), which cleared HANDLE_PIN_BIT while
zs_compact still held the pin. A concurrent zs_free could then pin the handle and read the
new location, compaction's unpin_tag released zs_free's pin, a page migration moved the
destination page, and zs_free went on with a stale location into a page that zsmalloc no
longer owns. The fix records `free_obj | BIT(HANDLE_PIN_BIT)`.

Buggy: v4.8 with c102f07ca0b0 off. Fixed: v4.8.
"""

import pagesim as ps

BUGGY = {"c102f07ca0b0": False}


@ps.scenario(kernel="v4.8", cpus=4, pages=1024)
def zs_compact_pin_bit(k):
    """zs_compact moves h; zs_free(h) runs in the window without the pin; P migrates."""
    pool = k.zsmalloc()
    # Class 1024 (four objects a zspage, one page each): Z1 = {h, x}, Z2 = {y}, so
    # zs_compact moves h from Z1 into Z2's page P first.
    h, x = pool.malloc(1000), pool.malloc(1000)
    f1, f2 = pool.malloc(1000), pool.malloc(1000)
    y = pool.malloc(1000)
    f3, f4, f5 = pool.malloc(1000), pool.malloc(1000), pool.malloc(1000)
    for f in (f3, f4, f5, f1, f2):
        pool.free(f)
    for handle, token in ((h, 1), (x, 2), (y, 3)):
        pool.write(handle, token)
    P = pool.pages_of(y)[0]
    hobj = pool.handle_obj(h)
    compact = k.cpu(1).run(pool.compact, name="zs_compact")
    free = k.cpu(2).run(pool.free, h, name="zs_free")
    migrate = k.cpu(3).run(k.compaction.isolate, P, name="migrate")
    return ps.script(compact.until("record_obj", obj=hobj), free.until("handle_to_obj", obj=hobj),
                     compact, migrate, free)


def test_without_the_fix_zs_free_uses_a_page_it_no_longer_owns():
    run = zs_compact_pin_bit.run(fixes=BUGGY)
    assert run.oops is not None, run.report()
    assert run.oops.function == "zs_free"
    assert "NULL pointer dereference" in run.oops.message


def test_with_the_fix_the_same_script_is_clean():
    run = zs_compact_pin_bit.run()
    assert run.ok, run.report()


def test_with_the_fix_compaction_and_free_are_clean_in_every_schedule():
    ex = zs_compact_pin_bit.explore(strategy="dfs", executions=200_000, preemption_bound=1)
    assert ex.exhausted, ex
    assert ex.never("oops") and ex.never("bug") and ex.never("invariant"), ex


def test_without_the_fix_exploration_finds_it():
    # dpor: zs_compact takes every class's lock on its way down to class 1024, and each is
    # a place dfs would try a preemption at; dpor knows no other CPU touches those locks.
    ex = zs_compact_pin_bit.explore(fixes=BUGGY, strategy="dpor", executions=200_000,
                                    preemption_bound=2)
    assert ex.exhausted and ex.sometimes("oops"), ex
