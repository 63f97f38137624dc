"""zsmalloc and zram through pagesim._core.Kernel: set-up calls, tasks on CPUs (entry points
and generator tasks yielding ``call(...)``), scripted interleavings, and the views of the
final state (``run.kernel``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pagesim as ps
import pytest
from pagesim import _core


def kernel(preset: str = "v4.8", cpus: int = 4, **kw: Any) -> _core.Kernel:
    return _core.Kernel(preset=preset, pages=1024, cpus=cpus, **kw)


def keys(run: _core.RunResult) -> set[str]:
    return {o.key for o in run.outcomes}


def reports(run: _core.RunResult) -> str:
    return "\n".join(o.report for o in run.outcomes)


# ---- zram ----


def test_zram_write_read_round_trip_at_set_up() -> None:
    k = kernel()
    assert k.call("zram_create", 8) == 0
    assert k.call("zram_write", 0, 1200, 41) == 0
    assert k.call("zram_write", 1, 3900, 42) == 0  # stored uncompressed: a huge object
    assert k.call("zram_write", 2, 10, 0) == 0  # a zero-filled page
    assert [k.call("zram_read", i) for i in range(4)] == [41, 42, 0, 0]
    stats = _core.zram_stats(k.state)
    assert stats["pages_stored"] == 2
    assert stats["zero_pages"] == 1
    assert stats["compr_data_size"] == 1200 + 4096
    assert stats["handles"][2] == 0 and stats["handles"][3] == 0
    assert _core.zram_check(k.state) == []
    assert _core.zs_check(k.state) == []
    k.call("zram_slot_free_notify", 0)
    assert k.call("zram_read", 0) == 0
    assert _core.zram_stats(k.state)["notify_free"] == 1


def test_zram_generator_tasks_round_trip_in_a_run() -> None:
    k = kernel(cpus=2, debug_atomic_sleep=True)
    k.call("zram_create", 16)
    got: list[int] = []

    def writer() -> Iterator[Any]:
        for i in range(8):
            rc = yield _core.call("zram_write", i, 500 + 300 * i, 100 + i)
            assert rc == 0
        for i in range(8):
            got.append((yield _core.call("zram_read", i)))

    def swapper() -> Iterator[Any]:
        for i in range(8, 16):
            yield _core.call("zram_write", i, 2000, 7)
            yield _core.call("zram_slot_free_notify", i)

    k.spawn(0, writer)
    k.spawn(1, swapper)
    for seed in range(5):
        got.clear()
        run = k.run(strategy="random", seed=seed)
        assert run.ok, reports(run)
        assert got == [100 + i for i in range(8)]
        stats = _core.zram_stats(run.kernel)
        assert stats["pages_stored"] == 8
        assert stats["notify_free"] == 8
        assert _core.zram_check(run.kernel) == []
        assert _core.zs_check(run.kernel) == []


def test_zram_misuse_raises_usage_errors() -> None:
    k = kernel()
    with pytest.raises(_core.UsageError, match="no device"):
        k.call("zram_write", 0, 100, 1)
    k.call("zram_create", 2)
    with pytest.raises(_core.UsageError, match="out of range"):
        k.call("zram_read", 2)
    with pytest.raises(_core.UsageError, match="compressed size"):
        k.call("zram_write", 0, 0, 1)


# ---- zsmalloc ----


def test_movable_and_flag_names_follow_the_presets_definition() -> None:
    # v4.8: PG_movable is PAGE_MAPPING_MOVABLE in page->mapping, no flag bit; PG_isolated is
    # PG_reclaim. v3: PG_movable is the PG_reclaim bit (with _mapcount -255) and PG_isolated
    # is PG_owner_priv_1. page()["movable"] is __PageMovable by the preset's definition.
    for preset, movable_flag, isolated_flag in (("v4.8", None, "reclaim"),
                                                ("movable-v3", "reclaim", "owner_priv_1")):
        k = kernel(preset)
        pool = k.call("zs_create_pool")
        page, other = _core.zs_pages_of(k.state, pool, k.call("zs_malloc", pool, 3000))[:2]
        assert k.call("isolate_movable_page", page) == 1
        for pfn, isolated in ((page, True), (other, False)):
            view = k.state.page(pfn)
            assert view["movable"] is True, (preset, view)
            expected = {f for f in (movable_flag, isolated_flag if isolated else None) if f}
            assert set(view["flags"]) & {"reclaim", "owner_priv_1", "movable"} == expected, (preset, view)


def test_zsmalloc_views_and_misuse() -> None:
    k = kernel()
    pool = k.call("zs_create_pool")
    h = k.call("zs_malloc", pool, 3000)
    pages = _core.zs_pages_of(k.state, pool, h)
    assert len(pages) == 3
    assert [k.call("zs_page_of", pool, h, i) for i in range(4)] == pages + [-1]
    info = _core.zs_handle(k.state, pool, h)
    assert info["pfn"] == pages[0] and info["obj_idx"] == 0 and not info["pinned"]
    stats = _core.zs_stats(k.state, pool)
    assert stats["pages_used"] == 3 and stats["objects"] == 1
    (cls,) = stats["classes"]
    assert (cls["size"], cls["pages_per_zspage"], cls["objs_per_zspage"]) == (3072, 3, 4)
    assert cls["zspages"]["almost_empty"] == 1
    for p in pages:
        page = k.state.page(p)
        assert page["owner"] == "zsmalloc" and page["movable"]
    with pytest.raises(_core.UsageError, match="never returned"):
        k.call("zs_free", pool, h + 1)
    with pytest.raises(_core.UsageError, match="size"):
        k.call("zs_malloc", pool, 5000)
    with pytest.raises(_core.UsageError, match="no zsmalloc pool"):
        k.call("zs_malloc", pool + 1, 10)
    k.call("zs_free", pool, h)
    with pytest.raises(_core.UsageError, match="freed"):
        k.call("zs_read", pool, h)
    with pytest.raises(_core.UsageError, match="not allocated"):
        _core.zs_pages_of(k.state, pool, h)
    assert _core.zs_check(k.state) == []


def test_migration_keeps_object_contents() -> None:
    k = kernel(cpus=2)
    pool = k.call("zs_create_pool")
    handles = [k.call("zs_malloc", pool, 200) for _ in range(12)]
    for i, h in enumerate(handles):
        k.call("zs_write", pool, h, 500 + i)
    page = _core.zs_pages_of(k.state, pool, handles[0])[0]
    got: list[int] = []

    def migrate_then_read() -> Iterator[Any]:
        rc = yield _core.call("compact_page", page)
        assert rc == 0
        for h in handles:
            got.append((yield _core.call("zs_read", pool, h)))

    k.spawn(1, migrate_then_read)
    run = k.run(strategy="random", seed=3)
    assert run.ok, reports(run)
    assert got == [500 + i for i in range(12)]
    after = run.kernel
    assert _core.zs_pages_of(after, pool, handles[0])[0] != page
    assert after.page(page)["refcount"] == 0
    assert after.stats["pgmigrate_success"] == 1
    for i, h in enumerate(handles):
        assert _core.zs_handle(after, pool, h)["content"] == 500 + i
    assert _core.zs_check(after) == []
    # The set-up state is untouched by the run.
    assert _core.zs_pages_of(k.state, pool, handles[0])[0] == page


def test_zs_compact_keeps_contents() -> None:
    k = kernel(cpus=2)
    pool = k.call("zs_create_pool")
    handles = [k.call("zs_malloc", pool, 1000) for _ in range(16)]
    for i, h in enumerate(handles):
        k.call("zs_write", pool, h, 1 + i)
    kept = handles[::4]
    for h in handles:
        if h not in kept:
            k.call("zs_free", pool, h)
    assert _core.zs_stats(k.state, pool)["pages_used"] == 4
    assert k.call("zs_compact", pool) == 3
    assert _core.zs_stats(k.state, pool)["pages_used"] == 1
    assert [k.call("zs_read", pool, h) for h in kept] == [1, 5, 9, 13]
    assert _core.zs_check(k.state) == []


# ---- seed 002: the zs_free double isolation ----


def seed002(preset: str) -> tuple[_core.Kernel, int, int, int]:
    """A (cpu 1) isolates T, the 2nd page of a 3000-byte object's zspage; C (cpu 3) frees the
    object; B (cpu 2) isolates T again; on v4.8 A then puts T back."""
    k = kernel(preset)
    pool = k.call("zs_create_pool")
    h = k.call("zs_malloc", pool, 3000)
    t = k.call("zs_page_of", pool, h, 1)
    k.spawn(1, "isolate_movable_page", t, name="migrate_ctx_A")
    k.spawn(3, "zs_free", pool, h, name="C")
    k.spawn(2, "isolate_movable_page", t, name="migrate_ctx_B")
    return k, pool, h, t


def script(t: int, *rest: tuple[int, str]) -> list[tuple[int, str, str | None, int | None, int]]:
    steps: list[tuple[int, str, str | None, int | None, int]] = [
        (1, "after", "isolate_movable_page", _core.page_obj(t), 0)
    ]
    steps += [(cpu, until, None, None, 0) for cpu, until in rest]
    return steps


def test_seed002_oopses_in_zs_page_isolate_on_movable_v3() -> None:
    k, _pool, _h, t = seed002("movable-v3")
    run = k.run(seed=1, script=script(t, (3, "done"), (2, "done")))
    assert "oops:zs_page_isolate" in keys(run), reports(run)
    oops = next(o for o in run.outcomes if o.key == "oops:zs_page_isolate")
    assert oops.task == "migrate_ctx_B"
    assert "NULL pointer dereference" in oops.message
    assert oops.backtrace[:2] == ["zs_page_isolate", "isolate_movable_page"]
    # C freed the zspage while A held T: T's zspage pointer is gone, A's reference (and
    # B's, taken before it died) keep the page.
    page = run.kernel.page(t)
    assert page["private"] == 0 and page["refcount"] == 2


def test_seed002_is_clean_on_v48_and_t_is_freed_once() -> None:
    k, pool, _h, t = seed002("v4.8")
    k.spawn(1, "putback_isolated", t, name="migrate_ctx_A putback")
    free_before = k.state.stats["nr_free_pages"]
    run = k.run(seed=1, script=script(t, (3, "done"), (2, "done"), (1, "done")))
    assert run.ok, reports(run)
    after = run.kernel
    assert after.page(t)["refcount"] == 0
    assert after.stats["nr_free_pages"] == free_before + 3
    assert after.stats["nr_zspages"] == 0
    assert _core.zs_stats(after, pool)["pages_used"] == 0
    assert _core.zs_check(after) == []
    trace = run.trace()
    entered = [r["func"] for r in trace if r.get("kind") == "enter"]
    assert entered.count("zs_page_isolate") == 1  # B was refused before the driver
    assert entered.count("async_free_zspage") == 1  # the worker freed the zspage


# ---- c102f07ca0b0: the pin bit in zs_compact ----


@pytest.mark.parametrize("fixed", [False, True])
def test_compaction_pin_bit_race(fixed: bool) -> None:
    k = kernel(fixes={"c102f07ca0b0": fixed})
    pool = k.call("zs_create_pool")
    h, x, f1, f2, y, f3, f4, f5 = (k.call("zs_malloc", pool, 1000) for _ in range(8))
    for f in (f3, f4, f5, f1, f2):
        k.call("zs_free", pool, f)
    for handle, token in ((h, 1), (x, 2), (y, 3)):
        k.call("zs_write", pool, handle, token)
    p = _core.zs_pages_of(k.state, pool, y)[0]
    k.spawn(1, "zs_compact", pool)
    k.spawn(2, "zs_free", pool, h)
    k.spawn(3, "compact_page", p)
    ho = _core.zs_handle_obj(pool, h)
    run = k.run(
        seed=1,
        script=[
            (1, "after", "record_obj", ho, 0),
            (2, "after", "handle_to_obj", ho, 0),
            (1, "done", None, None, 0),
            (3, "done", None, None, 0),
            (2, "done", None, None, 0),
        ],
    )
    if fixed:
        assert run.ok, reports(run)
        assert _core.zs_handle(run.kernel, pool, x)["content"] == 2
        assert _core.zs_handle(run.kernel, pool, y)["content"] == 3
    else:
        assert "oops:zs_free" in keys(run), reports(run)


# ---- v3's zs_compact (12/16, 15/16): zs-compact-under-class-lock off ----


@ps.scenario(kernel="movable-v3", cpus=3, pages=1024)
def v3_compact(k):
    """Class 1024 (four objects a zspage, one page each): Z1 = {a}, Z2 = {b}, so zs_compact
    moves one object into the other zspage and frees the emptied one; zs_free(a) and a
    migration of b's page run beside it."""
    pool = k.zsmalloc()
    h = [pool.malloc(1000) for _ in range(8)]
    for x in h[1:4] + h[5:8]:
        pool.free(x)
    a, b = h[0], h[4]
    pool.write(a, 1)
    pool.write(b, 2)
    c = k.cpu(0).run(pool.compact, name="zs_compact")
    k.cpu(1).run(pool.free, a, name="zs_free")
    k.cpu(2).run(k.compaction.isolate, pool.pages_of(b)[0], name="migrate")
    return ps.script(stop=c.before("migrate_zspage"))


def test_v3_compaction_moves_objects_with_both_zspages_frozen_and_no_class_lock() -> None:
    # Where v3 migrates objects, every object of both zspages is pinned and every page of
    # both is locked, and class->lock is free; 4.8 has taken no pin and no page lock there
    # (it pins one object at a time under class->lock).
    for kernel, frozen in (("movable-v3", True), ("v4.8", False)):
        run = v3_compact.run(kernel=kernel)
        assert run.stopped and run.ok, run.report()
        state = run.kernel
        pool, handles = 0, (1, 5)  # a and b: the 1st and 5th handles zs_malloc returned
        assert [_core.zs_handle(state, pool, h)["pinned"] for h in handles] == [frozen] * 2
        pages = [p for h in handles for p in _core.zs_pages_of(state, pool, h)]
        assert ["locked" in state.page(p)["flags"] for p in pages] == [frozen] * 2


def test_v3_compaction_unlocks_the_emptied_source_before_freeing_it() -> None:
    # v3 __zs_compact: `unlock_zspage(src_page, NULL); free_zspage(pool, src_page);` leaves
    # the empty source zspage off every list with its pages unlocked and its fullness
    # stale. A migration that trylocks its page then goes into zs_page_isolate, whose
    # remove_zspage finds the zspage on no list: VM_BUG_ON (without DEBUG_VM, a corrupted
    # fullness list). v4's zs_page_isolate refuses a zspage with inuse == 0.
    v3 = v3_compact.explore(strategy="dpor", preemption_bound=1)
    assert v3.exhausted and set(v3.outcomes) == {"ok", "bug:remove_zspage"}, v3
    run = v3.replay("bug:remove_zspage")
    assert run.bug.task == "migrate" and run.bug.backtrace[0] == "zs_page_isolate"
    fixed = v3_compact.explore(kernel="v4.8", strategy="dpor", preemption_bound=1)
    assert fixed.exhausted and fixed.outcomes == {"ok": fixed.executions}, fixed


def test_v4_zsmalloc_needs_v4_compaction() -> None:
    with pytest.raises(_core.UsageError, match="'zs-free-atomic' needs fix 'zs-compact-under-class-lock'"):
        kernel("movable-v3", fixes={"zs-free-atomic": True})
    kernel("movable-v3", fixes={"zs-free-atomic": True, "zs-compact-under-class-lock": True})


# ---- 6.3 and 6.4 (v6.6): chain size, ratio fullness groups, one-destination compaction ----

def geometry(fixes: dict[str, bool], size: int) -> tuple[int, int, int]:
    """(class size, pages per zspage, objects per zspage) of the class `size` bytes use."""
    k = kernel("v6.1", fixes=fixes)
    pool = k.call("zs_create_pool")
    k.call("zs_malloc", pool, size)
    (cls,) = _core.zs_stats(k.state, pool)["classes"]
    return cls["size"], cls["pages_per_zspage"], cls["objs_per_zspage"]


def test_chain_size_selection_per_fix() -> None:
    chain4 = {"6260ae358345": True}
    chain8 = {"6260ae358345": True, "b46402fa894f": True}
    # The 208-byte class (200 + the handle): the highest used percentage is 2 pages (99%,
    # waste 80 bytes), the least waste 3 pages (waste 16 bytes): 6260ae358345 differs there.
    assert geometry({}, 200) == (208, 2, 39)
    assert geometry(chain4, 200) == (208, 3, 59)
    # 3592 + 8 bytes: no chain of up to 4 pages holds two, so the huge class of one page and
    # one object; up to 8 pages, the 3632-byte class of 8 pages and 9 objects.
    assert geometry(chain4, 3592) == (4096, 1, 1)
    assert geometry(chain8, 3592) == (3632, 8, 9)
    # A power-of-2 class stays one page (e1d1f3546913 skips the search; it finds 1 anyway).
    assert geometry(chain8, 1024 - 8) == (1024, 1, 4)


def test_inuse_ratio_groups() -> None:
    k = kernel("v6.6")
    pool = k.call("zs_create_pool")
    hs = [k.call("zs_malloc", pool, 1000) for _ in range(12)]  # three zspages of four
    for h in (hs[1], hs[4], hs[5], hs[8], hs[9], hs[10]):
        k.call("zs_free", pool, h)
    (cls,) = _core.zs_stats(k.state, pool)["classes"]
    # 3 of 4 in use is 75%: group 8 (inuse_ratio_80); 2 of 4, group 6; 1 of 4, group 3.
    assert {g: n for g, n in cls["zspages"].items() if n} == {
        "inuse_ratio_80": 1, "inuse_ratio_60": 1, "inuse_ratio_30": 1}
    assert len(cls["zspages"]) == 12
    # The next allocation goes to the fullest zspage short of full (the 75% one).
    first = _core.zs_pages_of(k.state, pool, hs[0])
    assert _core.zs_pages_of(k.state, pool, k.call("zs_malloc", pool, 1000)) == first
    # Without 4c7ac97285d8: the four 4.8 groups.
    k = kernel("v6.6", fixes={"4c7ac97285d8": False, "5a845e9f2d66": False,
                              "f7ddb6125683": False})
    pool = k.call("zs_create_pool")
    k.call("zs_malloc", pool, 1000)
    (cls,) = _core.zs_stats(k.state, pool)["classes"]
    assert list(cls["zspages"]) == ["empty", "almost_empty", "almost_full", "full"]


@pytest.mark.parametrize("one_dst", [False, True])
def test_ratio_group_compaction_keeps_contents(one_dst: bool) -> None:
    # Class 1000, five zspages of four: the first keeps three objects, the others one.
    k = kernel("v6.6", fixes={} if one_dst else {"5a845e9f2d66": False, "f7ddb6125683": False})
    pool = k.call("zs_create_pool")
    hs = [k.call("zs_malloc", pool, 1000) for _ in range(20)]
    kept = [h for i, h in enumerate(hs) if i in (0, 1, 2) or (i >= 4 and i % 4 == 0)]
    for h in set(hs) - set(kept):
        k.call("zs_free", pool, h)
    for i, h in enumerate(kept):
        k.call("zs_write", pool, h, 100 + i)
    # 7 objects in 5 zspages: 3 pages' worth wasted; compaction frees 3 zspages.
    assert k.call("zs_compact", pool) == 3
    assert _core.zs_stats(k.state, pool)["pages_used"] == 2
    assert [k.call("zs_read", pool, h) for h in kept] == [100 + i for i in range(len(kept))]


@ps.scenario(kernel="v4.8", cpus=2, pages=512)
def pool_user_frees_twice(k):
    pool = k.zsmalloc()
    h = pool.malloc(1000)
    k.cpu(0).run(pool.free, h, name="user_a")
    k.cpu(1).run(pool.free, h, name="user_b")


def test_a_freed_handle_is_a_kasan_use_after_free() -> None:
    # Both frees pass the entry point's check before either frees (the handle is live).
    # The second pins the freed handle; or it spun on the first's pin, got it between
    # unpin_tag and cache_free_handle, and reads the handle freed under it; or it read the
    # obj before the free and follows it to a page freed with its zspage. Handles are
    # never reused (KASAN's quarantine), so a report names the first free.
    ex = pool_user_frees_twice.explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {
        "uaf:pin_tag": 6, "uaf:handle_to_obj": 6, "oops:zs_free": 6}, ex
    report = ex.replay("uaf:pin_tag").outcomes[0]
    assert report.message == "KASAN: use-after-free in pin_tag", report
    assert report.details[0].startswith("Write of zs_handle 1 (pool 0) by task user_"), report
    assert any(line.startswith("Freed by task user_") for line in report.details), report


@pytest.mark.parametrize(("kernel", "stored"), [("v4.14", [4096, 4096, 4096]),
                                                ("v4.19", [3073, 3256, 4096])])
def test_zram_stores_uncompressed_from_max_zpage_size_or_the_huge_class_size(kernel, stored):
    # 4.14: above 3/4 of a page; 4.17 on: from zsmalloc's first huge class (class 3264,
    # less ZS_HANDLE_SIZE - 1).
    k = ps.Kernel(preset=kernel, pages=512)
    k.call("zram_create", 3)
    for slot, size in enumerate((3073, 3256, 3257)):
        k.call("zram_write", slot, size, 7)
    sizes = [ps.zram_stats(k.state)["compr_data_size"]]
    for slot in (0, 1):
        k.call("zram_discard", slot)
        sizes.append(ps.zram_stats(k.state)["compr_data_size"])
    assert [sizes[0] - sizes[1], sizes[1] - sizes[2], sizes[2]] == stored


def test_zram_idle_writeback_takes_the_slots_not_accessed_since_marked() -> None:
    k = ps.Kernel(preset="v5.4", pages=512)
    k.call("zram_backing_dev", 8)
    k.call("zram_create", 4)
    for slot in range(3):
        k.call("zram_write", slot, 1000, 7 + slot)
    k.call("zram_idle")            # slots 0..2 idle; slot 3 is not allocated
    k.call("zram_read", 0)         # zram_accessed: slot 0 is no longer idle
    k.call("zram_write", 1, 1000, 9)  # freed and written again: not idle either
    assert k.call("zram_writeback", 1) == 1
    assert ps.zram_stats(k.state)["wb_blocks"] == [0, 0, 1, 0]
    assert k.call("zram_read", 2) == 9  # read back from the backing device
    assert ps.zram_check(k.state) == []
    with pytest.raises(ps.UsageError, match="idle must be 0"):
        k.call("zram_writeback", 2)
    with pytest.raises(ps.UsageError, match="no idle attribute before 5.0's e82592c4fd7e"):
        four = ps.Kernel(preset="v4.19", pages=512)
        four.call("zram_create", 1)
        four.call("zram_idle")
