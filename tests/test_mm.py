"""Tests of the memory-management model through the Python API (``pagesim._core.Kernel``).

Presets and fixes, set-up calls (allocation with gfp strings, processes, entry points),
page views, misuse, compaction as a task, determinism across processes, and runs that
start from a copy of the set-up state.

Expected numbers come from the model's 4.8 allocator: a 2048-page zone boots as two
free order-10 blocks and serves order-0 requests from pfn 1024 upwards first; its
watermarks are min 90, low 112, high 134 pages (min_free_kbytes = int_sqrt(8 MiB in KiB
* 16) = 362 KiB).
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pagesim as ps
import pytest
from pagesim import _core as core
from pagesim._core import Kernel, UsageError

# The 4.8 merge window's migration commits, in the order they landed.
MIGRATION = ["c6c919eb90e0", "bda807d44454", "b1123ea6d3b3"]
# What 4.4 already had of the v4 series' rework (the v4.4 root).
V44 = [
    "vm-owns-pg-isolated",
    "movable-mapping-bit",
    "race-without-page-lock",
    "zs-free-atomic",
    "zs-compact-under-class-lock",
    "zs-movable-after-setup",
]
# 4.5 to 4.7.4 (v4.7 over v4.4), in Fix order: compaction, zsmalloc, the balloon, zram.
COMPACTION_4_7 = ["698b1b30642f", "fdd048e12c9a", "abort-free-scanner-if-split-fails",
                  "479f854a207c"]
V47 = ["c102f07ca0b0", "zs-malloc-gfp", "balloon-dequeue-under-lock", "f68b992bbb47",
       "37cf99e08c6f", "da9556a2367c"]
# v4.8: 4.8's migration commits, the v4 series' bit_spin_lock pin and zram's movable gfp.
V48 = [*MIGRATION, *COMPACTION_4_7, *V44, "1b8320b620d6", *V47, "zram-gfp-movable"]


def fragmented(pages: int = 4096, **kw: object) -> tuple[Kernel, int, int]:
    """A kernel whose process faulted in as much as the watermarks allow, then unmapped
    every other page. Returns (kernel, pid, pages faulted in)."""
    k = Kernel(pages=pages, **kw)
    pid = k.process("frag")
    n = k.fault_in(pid, pages)
    for v in range(1, n, 2):
        k.call("unmap", pid, v)
    return k, pid, n


# ---- presets and fixes ----


def test_presets_list_their_fixes() -> None:
    presets = {p["name"]: p for p in core.presets() if not p["user"]}  # built in
    assert list(presets) == [
        "v4.4", "v4.7", "v4.8", "v4.9", "v4.14", "v4.19", "v5.4", "v5.10", "v5.15", "v6.1",
        "v6.6", "movable-v3"]
    assert presets["v4.4"]["fixes"] == V44
    # 4.7's handle pins were test_and_set_bit_lock loops (bit_spin_lock came with v4 05/12),
    # and its balloon had hooks of its own.
    assert presets["v4.7"]["fixes"] == [*COMPACTION_4_7, *V44, *V47]
    assert presets["v4.8"]["fixes"] == V48
    # 4.9 changed compaction only (of the modelled code).
    assert set(presets["v4.9"]["fixes"]) - set(presets["v4.8"]["fixes"]) == {
        "correct-watermark-for-compaction-success", "8348faf91f56", "dont-recheck-watermarks-after-compact-success",
        "restrict-fragindex-to-costly-orders"}
    assert set(presets["v4.14"]["fixes"]) - set(presets["v4.9"]["fixes"]) == {
        "6afcf8ef0ca0", "73e64c51afc5", "no-watermark-check-in-compact-finished", "3bc48f96cf11",
        "02aa0cdd7248", "7a8f58f39188", "282722b0d258", "baf6a9a1db5a",
        "fix-zone-balance-check-in-prepare-kswapd-sleep", "e716f2eb24de", "c73322d098e4", "77ff465799c6",
        "195a8c43e93d", "62906027091f", "db8ffbd4e763", "f201ebd87652", "z3fold-fix-header-size-related-issues", "1b096e5ae9f7",
        "z3fold-use-per-page-spinlock", "5a27aa822029", "z3fold-fix-spinlock-unlocking-in-page-reclaim",
        "z3fold-fix-page-locking-in-z3fold-alloc", "d30561c56f41", "z3fold-fix-potential-race-in-z3fold-reclaim-page", "z3fold-fix-stale-list-handling"}
    # v3 was on 4.6-rc: kcompactd and the 4.5 fixes, and (as the series was tested) zram's
    # per-cpu streams and movable gfp.
    assert presets["movable-v3"]["fixes"] == [
        *MIGRATION, "698b1b30642f", "c102f07ca0b0", "zs-malloc-gfp", "balloon-dequeue-under-lock",
        "f68b992bbb47", "da9556a2367c", "zram-gfp-movable"]
    assert set(presets["v4.19"]["fixes"]) - set(presets["v4.14"]["fixes"]) == {
        "c7cdff0e8647", "71994620bb25", "drop-max-zpage-size", "5d03a6613957",
        "z3fold-limit-use-of-stale-list-for-allocation", "z3fold-use-gfpflags-allow-blocking",
        "z3fold-fix-reclaim-lock-ups", "9092c71bb724", "e496612c5130",
        "wakeup-kcompactd-even-if-kswapd-cannot-free-more-memory", "172b06c32b94"}
    assert set(presets["v5.4"]["fixes"]) - set(presets["v4.19"]["fixes"]) == {
        "a9a238e83fbb", "1a87aa03597e", "701d678599d0", "418a3ab1e778", "avoid-duplicate-page-removal",
        "fix-shrinker-scan-number-of-pages", "3c9959e02547", "e82592c4fd7e", "a939888ec38b",
        "23eddf39b2c2", "bb416d18b850", "1d69a3f8ae77", "6bb154504f8b", "0a79cdad5eb2", "fix-never-set-alloc-nofragment", "5e1f0f098b46",
        "1c30844d2dfe", "73444bc4d8f9", "fix-division-by-zero-when-boosting-watermarks",
        "ignore-the-boost-for-isolation-and-compaction", "dffcac2cb88e",
        "do-not-special-case-slab-reclaim-when-boosted",
        "always-use-a-captured-page", "efe771c7603b", "cb2dcaf023c2", "ca0246bb97c2", "z3fold-introduce-helper-functions", "z3fold-extend-search", "7c2b8baa61fe",
        "1f862989b04a", "z3fold-lock-page-before-setpagemovable", "f1549cb5ab2b", "be03074c9af2",
        "bb9a374dfa3a", "c92d2f38563d", "6051d3bd3b91", "b997052bc3ac",
        "z3fold-fix-retry-mechanism-in-page-reclaim", "63398413c00c", "5b6807de1144",
        "zswap-do-not-map-same-object-twice"}
    assert set(presets["v5.10"]["fixes"]) - set(presets["v5.4"]["fixes"]) == {
        "handle-freed-page-at-the-first-place", "d20bdd571ee5", "14f69140ff9c", "f80b08fc4453", "b9e20f0da1f5", "4a3ac9311dac",
        "d8f117abb380", "da10329cb057"}
    assert set(presets["v5.15"]["fixes"]) - set(presets["v5.10"]["fixes"]) == {
        "dd4ae78a21fc", "9df41314390b", "239592815805", "fc5488651c7d", "dcf5aedb24f8",
        "6d679578fe9c", "597c892038e0"}
    assert set(presets["v6.1"]["fixes"]) - set(presets["v5.15"]["fixes"]) == {
        "a41ec880aa7b", "c4549b871102", "b475d42d2c43", "2505a981114d", "356ea3865687",
        "68f2736a8583", "160088b3b6d7", "d818fca1cac3", "b485c6f1f9f5", "e914d8f00391",
        "943fb61dd66f", "4a1c3839108a", "6cf9a34967ed", "df6f0f1d0cf0", "04094226d6ce",
        "f4bad643c1d6", "z3fold-free-no-buddy-del", "only-search-higher-order-when-fallback",
        "89f6c88a6ab4", "829ae0f81ce0"}
    assert set(presets["v6.6"]["fixes"]) - set(presets["v6.1"]["fixes"]) == {
        "c0547d0b6a4b", "d2658f2052c7", "4b5d1e47b694", "6260ae358345", "b46402fa894f",
        "a40a71e8343e", "4c7ac97285d8", "5a845e9f2d66", "f7ddb6125683", "2ef7dbb26990",
        "4bb6dc79d987", "4fbbb3fde3c6", "e774a7bc7f0a",
        "dont-wake-kswapd-from-rmqueue-without-kswapd-reclaim"}
    assert all(p["debug_vm"] for p in presets.values())
    assert all(p["title"] and p["follows"] for p in presets.values())
    # A release is its predecessor plus its own commits.
    assert {n: p["base"] for n, p in presets.items()} == {
        "v4.4": "", "v4.7": "v4.4", "v4.8": "v4.7", "v4.9": "v4.8", "v4.14": "v4.9", "v4.19": "v4.14",
        "v5.4": "v4.19", "v5.10": "v5.4", "v5.15": "v5.10", "v6.1": "v5.15", "v6.6": "v6.1",
        "movable-v3": ""}
    for p in presets.values():
        if p["base"]:
            assert set(presets[p["base"]]["fixes"]) <= set(p["fixes"])


def test_a_user_composed_preset_is_its_base_with_fixes_flipped() -> None:
    name = ps.preset("test-v4.8-lru-only", base="v4.8", fixes={"6afcf8ef0ca0": True})
    assert name == "test-v4.8-lru-only"
    presets = {p["name"]: p for p in core.presets()}
    assert presets[name]["base"] == "v4.8" and presets[name]["user"]
    assert presets[name]["follows"] == presets["v4.8"]["follows"]
    assert set(presets[name]["fixes"]) == set(presets["v4.8"]["fixes"]) | {"6afcf8ef0ca0"}
    assert presets[name]["title"] == "v4.8 +6afcf8ef0ca0"
    # v4.14's functions but zram writeback's (db8ffbd4e763).
    writeback = {"backing_dev_store", "get_entry_bdev", "put_entry_bdev", "read_from_bdev",
                 "write_to_bdev", "zram_wb_clear"}
    assert set(core.model_functions("v4.14")) - set(core.model_functions(name)) == writeback
    assert core.model_functions(name) == [f for f in core.model_functions("v4.14") if f not in writeback]
    k = core.Kernel(preset=name, pages=1024)  # usable wherever a preset name is
    assert k.state.preset == name
    # A module imported twice defines it again: the same definition is the same preset.
    assert ps.preset(name, base="v4.8", fixes={"6afcf8ef0ca0": True}) == name
    with pytest.raises(ps.UsageError, match=r"^preset 'test-v4.8-lru-only' is already defined: "
                                            r"v4.8 \+6afcf8ef0ca0$"):
        ps.preset(name, base="v4.8")
    with pytest.raises(ps.UsageError, match="^'v4.9' is a built-in preset; choose another name$"):
        ps.preset("v4.9", base="v4.8")
    with pytest.raises(ps.UsageError, match=r"^unknown kernel preset 'v4\.88' \(did you mean"):
        ps.preset("test-other", base="v4.88")
    with pytest.raises(ps.UsageError, match="^fix '6afcf8ef0ca0' needs fix 'b1123ea6d3b3'"):
        ps.preset("test-other", base="v4.14", fixes={"b1123ea6d3b3": False})
    with pytest.raises(ps.UsageError, match="non-empty word"):
        ps.preset("test other", base="v4.8")
    assert "test-other" not in {p["name"] for p in core.presets()}


def test_fixes_are_named_and_titled() -> None:
    fixes = core.fixes()
    # In Fix order.
    assert [f["name"] for f in fixes] == [
        *MIGRATION, "6afcf8ef0ca0", *COMPACTION_4_7, "correct-watermark-for-compaction-success", "8348faf91f56",
        "dont-recheck-watermarks-after-compact-success", "restrict-fragindex-to-costly-orders",
        "73e64c51afc5", "no-watermark-check-in-compact-finished", "3bc48f96cf11", "02aa0cdd7248",
        "7a8f58f39188", "282722b0d258", "baf6a9a1db5a", "fix-zone-balance-check-in-prepare-kswapd-sleep",
        "e716f2eb24de", "c73322d098e4", "9092c71bb724", "e496612c5130",
        "wakeup-kcompactd-even-if-kswapd-cannot-free-more-memory", "172b06c32b94", "a9a238e83fbb",
        "6bb154504f8b", "0a79cdad5eb2", "1c30844d2dfe", "73444bc4d8f9",
        "fix-division-by-zero-when-boosting-watermarks",
        "fix-never-set-alloc-nofragment", "ignore-the-boost-for-isolation-and-compaction",
        "dffcac2cb88e", "do-not-special-case-slab-reclaim-when-boosted", "14f69140ff9c",
        "f80b08fc4453", "597c892038e0", "dont-wake-kswapd-from-rmqueue-without-kswapd-reclaim",
        "only-search-higher-order-when-fallback", "5e1f0f098b46",
        "always-use-a-captured-page", "b9e20f0da1f5", "efe771c7603b", "cb2dcaf023c2", "9df41314390b", "89f6c88a6ab4", "829ae0f81ce0", "d20bdd571ee5", "handle-freed-page-at-the-first-place", "62906027091f",
        "356ea3865687", "160088b3b6d7", "dd4ae78a21fc", "2ef7dbb26990", "4bb6dc79d987",
        "4fbbb3fde3c6", "d818fca1cac3", "b485c6f1f9f5",
        *V44, "1b8320b620d6", "c102f07ca0b0", "zs-malloc-gfp", "77ff465799c6", "1a87aa03597e",
        "701d678599d0", "239592815805",
        "a41ec880aa7b", "c4549b871102", "b475d42d2c43", "2505a981114d", "68f2736a8583", "c0547d0b6a4b",
        "d2658f2052c7", "4b5d1e47b694", "6260ae358345", "b46402fa894f", "a40a71e8343e",
        "4c7ac97285d8", "5a845e9f2d66", "f7ddb6125683", "balloon-dequeue-under-lock",
        "f68b992bbb47", "37cf99e08c6f",
        "195a8c43e93d", "c7cdff0e8647", "418a3ab1e778", "avoid-duplicate-page-removal",
        "71994620bb25", "fix-shrinker-scan-number-of-pages", "da10329cb057", "da9556a2367c", "zram-gfp-movable",
        "db8ffbd4e763", "drop-max-zpage-size", "3c9959e02547", "e82592c4fd7e", "a939888ec38b",
        "23eddf39b2c2", "bb416d18b850", "1d69a3f8ae77", "e914d8f00391", "f201ebd87652", "z3fold-fix-header-size-related-issues", "1b096e5ae9f7",
        "z3fold-use-per-page-spinlock", "5a27aa822029", "z3fold-fix-spinlock-unlocking-in-page-reclaim",
        "z3fold-fix-page-locking-in-z3fold-alloc", "d30561c56f41", "z3fold-fix-potential-race-in-z3fold-reclaim-page", "z3fold-fix-stale-list-handling",
        "5d03a6613957", "z3fold-limit-use-of-stale-list-for-allocation",
        "z3fold-use-gfpflags-allow-blocking", "z3fold-fix-reclaim-lock-ups", "ca0246bb97c2", "z3fold-introduce-helper-functions", "z3fold-extend-search", "7c2b8baa61fe",
        "1f862989b04a", "z3fold-lock-page-before-setpagemovable", "f1549cb5ab2b", "be03074c9af2",
        "bb9a374dfa3a", "c92d2f38563d", "6051d3bd3b91", "b997052bc3ac",
        "z3fold-fix-retry-mechanism-in-page-reclaim", "63398413c00c", "5b6807de1144",
        "zswap-do-not-map-same-object-twice",
        "4a3ac9311dac", "d8f117abb380", "fc5488651c7d", "dcf5aedb24f8", "6d679578fe9c", "943fb61dd66f", "4a1c3839108a", "6cf9a34967ed", "df6f0f1d0cf0",
        "04094226d6ce", "f4bad643c1d6", "z3fold-free-no-buddy-del", "e774a7bc7f0a"]
    assert all(f["title"] for f in fixes)
    # Each fix's needs are its own: the table is indexed by the fix (a misordered entry
    # once gave d20bdd571ee5 the needs of the freed-page fix).
    needs = {f["name"]: f["needs"] for f in fixes}
    assert needs["d20bdd571ee5"] == []
    assert needs["handle-freed-page-at-the-first-place"] == ["c6c919eb90e0"]
    assert needs["829ae0f81ce0"] == ["89f6c88a6ab4"]
    assert needs["89f6c88a6ab4"] == ["9df41314390b"]
    assert needs["9df41314390b"] == ["cb2dcaf023c2"]
    assert {f["name"]: f["removed_by"] for f in fixes if f["removed_by"]} == {
        "172b06c32b94": "a9a238e83fbb", "1b8320b620d6": "b475d42d2c43", "c102f07ca0b0": "b475d42d2c43",
        "77ff465799c6": "c4549b871102", "1a87aa03597e": "c4549b871102",
        "701d678599d0": "c4549b871102", "04094226d6ce": "e774a7bc7f0a",
        "6d679578fe9c": "e774a7bc7f0a", "d8f117abb380": "fc5488651c7d",
        "71994620bb25": "da10329cb057", "fix-shrinker-scan-number-of-pages": "da10329cb057",
        "baf6a9a1db5a": "efe771c7603b", "0a79cdad5eb2": "fix-never-set-alloc-nofragment",
        "f1549cb5ab2b": "f4bad643c1d6",
        "z3fold-introduce-helper-functions": "z3fold-fix-retry-mechanism-in-page-reclaim",
        "z3fold-fix-retry-mechanism-in-page-reclaim": "dcf5aedb24f8", "b997052bc3ac": "68f2736a8583",
        "zswap-do-not-map-same-object-twice": "e774a7bc7f0a",
        "z3fold-limit-use-of-stale-list-for-allocation": "df6f0f1d0cf0",
        "z3fold-fix-reclaim-lock-ups": "e774a7bc7f0a",
        **{f: "d30561c56f41" for f in ("f201ebd87652", "z3fold-fix-header-size-related-issues", "1b096e5ae9f7", "z3fold-use-per-page-spinlock", "5a27aa822029", "z3fold-fix-spinlock-unlocking-in-page-reclaim", "z3fold-fix-page-locking-in-z3fold-alloc")},
        "z3fold-fix-potential-race-in-z3fold-reclaim-page": "z3fold-fix-reclaim-lock-ups",
        "bb416d18b850": "1d69a3f8ae77"}


def test_kernel_state_reports_preset_and_fix_overrides() -> None:
    k = Kernel()
    assert k.state.preset == "v4.8"
    assert k.state.debug_vm is True
    assert k.state.nr_pages == 4096
    assert [n for n, on in k.state.fixes.items() if on] == V48
    k = Kernel(preset="v4.8", fixes={"6afcf8ef0ca0": True, "c102f07ca0b0": False}, debug_vm=False)
    on = k.state.fixes
    assert on["6afcf8ef0ca0"] is True
    assert on["c102f07ca0b0"] is False
    assert k.state.debug_vm is False
    assert Kernel(preset="movable-v3").state.fixes["vm-owns-pg-isolated"] is False


# ---- set-up calls and page views ----


def test_fresh_zone_views() -> None:
    k = Kernel(pages=2048)
    s = k.state
    assert s.zones() == [
        {
            "name": "Normal",
            "start_pfn": 0,
            "pages": 2048,
            "free_pages": 2048,
            "watermark": (90, 112, 134),
            "watermark_boost": 0,
            "compact_considered": 0,
            "compact_defer_shift": 0,
            "compact_order_failed": 0,
        }
    ]
    assert s.free_blocks() == [0] * 10 + [2]
    assert s.unusable_free_index(9) == 0
    assert s.fragmentation_index(9) == -1000
    assert s.stats["nr_free_pages"] == 2048
    assert s.stats["nr_isolated_anon"] == 0
    assert s.check_invariants() == []
    p = s.page(1024)
    assert p == {
        "pfn": 1024,
        "refcount": 0,
        "mapcount": -127,
        "buddy": True,
        "flags": [],
        "mapping": None,
        "movable": False,
        "anon": False,
        "private": 10,
        "index": 0,
        "list": "free_area[10][Movable] Normal",
        "owner": "none",
        "content": 0,
        "migratetype": "Movable",
    }
    assert s.dump_page(1024).startswith("page:pfn 0x400 count:0")


def test_alloc_pages_with_gfp_strings_and_free() -> None:
    k = Kernel(pages=2048)
    p = k.alloc_pages(0, "GFP_KERNEL|__GFP_MOVABLE")
    assert p == 1024
    v = k.state.page(p)
    # Off the free list with list_del: page->lru is poisoned.
    assert (v["refcount"], v["buddy"], v["owner"], v["list"]) == (1, False, "kernel", "LIST_POISON")
    # expand() left one free block of each order 0..9 above it.
    assert k.state.free_blocks() == [1] * 10 + [1]
    # An int gfp works too; GFP_KERNEL is unmovable: it steals the whole order-10 block
    # at 0 (the movable one at 1024 is split already) and converts its pageblocks.
    q = k.alloc_pages(3, core.GFP["GFP_KERNEL"])
    assert q == 0
    assert k.state.page(q)["migratetype"] == "Unmovable"
    assert k.alloc_pages(order=0, gfp=" GFP_HIGHUSER_MOVABLE | __GFP_ZERO ") == 1025
    k.free_pages(q, 3)
    k.free_pages(p)
    k.free_pages(1025, 0)
    assert k.state.free_blocks() == [0] * 10 + [2]
    assert k.state.stats["nr_free_pages"] == 2048
    assert k.state.check_invariants() == []


def test_process_pages_and_entry_points() -> None:
    k = Kernel(pages=2048)
    pid = k.process("p")
    assert pid == 0
    assert k.fault_in(pid, 4) == 4
    assert k.state.process_pages(pid) == [1024, 1025, 1026, 1027]
    v = k.state.page(1025)
    assert v["anon"] is True
    assert v["movable"] is False
    assert v["mapping"] == "anon_vma:p"
    assert v["owner"] == "process"
    assert (v["refcount"], v["mapcount"], v["index"]) == (1, 1, 1)
    assert v["flags"] == ["uptodate", "lru", "swapbacked"]
    assert v["list"] == "lru:inactive_anon Normal"
    assert v["content"] != 0
    assert k.call("unmap", pid, 1) == 0
    assert k.state.process_pages(pid) == [1024, None, 1026, 1027]
    assert k.state.page(1025)["buddy"] is True
    assert k.state.corrupt_pages(pid) == 0
    # Unmovable: falls back to the largest free block, the order-10 block at 0.
    assert k.call("alloc_pages", 0, core.GFP["GFP_KERNEL"]) == 0
    assert k.call("free_pages", 0, 0) == 0
    assert k.call("exit", pid) == 0
    assert k.state.process_pages(pid) == [None] * 4
    assert k.state.free_blocks() == [0] * 10 + [2]
    names = {e["name"]: e for e in core.entry_points()}
    assert names["compact_range"]["args"] == "start, end, mode"
    assert names["compact_memory"]["args"] == ""


def test_python_task_calls_entry_points() -> None:
    k = Kernel(pages=2048)
    pid = k.process("p")
    got: list[int] = []

    def task() -> Iterator[object]:
        n = yield core.call("fault_in", pid, 3)
        got.append(n)
        pfn = yield core.call("alloc_pages", 0, core.GFP["GFP_KERNEL"])
        got.append(pfn)
        yield core.call("free_pages", pfn, 0)

    k.spawn(0, task)
    r = k.run(strategy="timed", seed=1)
    assert r.ok, [o.report for o in r.outcomes]
    assert got == [3, 0]
    assert r.kernel.process_pages(pid) == [1024, 1025, 1026]
    assert k.state.process_pages(pid) == []


# ---- misuse ----


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Kernel(preset="v9.9"),
            # then the presets users composed, if any
            "unknown kernel preset 'v9.9' (did you mean 'v4.9'?) (known: v4.4, v4.7, v4.8, v4.9, v4.14, v4.19, v5.4, v5.10, v5.15, v6.1, v6.6, movable-v3",
        ),
        (lambda: Kernel(fixes={"no-such-fix": True}), "unknown fix 'no-such-fix'"),
        (lambda: Kernel(pages=1000), "pages must be a positive multiple of 512"),
        (lambda: Kernel(pages=0), "pages must be a positive multiple of 512"),
        (lambda: Kernel(pages=512 * 3 + 1), "pages must be a positive multiple of 512"),
        (lambda: Kernel(check="sometimes"), "check must be"),
    ],
    ids=["preset", "fix", "pages-1000", "pages-0", "pages-1537", "check"],
)
def test_bad_kernel_configuration_raises(make: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        make()


def test_misuse_raises_usage_error_and_leaves_the_state_alone() -> None:
    k = Kernel(pages=2048)
    pid = k.process("p")
    k.fault_in(pid, 2)
    before = (k.state.free_blocks(), k.state.process_pages(pid), k.state.stats)
    cases = [
        (lambda: k.state.page(2048), "pfn 2048 out of range (the machine has 2048 pages)"),
        (lambda: k.state.page(-1), "pfn -1 out of range"),
        (lambda: k.state.dump_page(10**6), "out of range"),
        (lambda: k.free_pages(5000), "pfn 5000 out of range"),
        (lambda: k.call("get_page", 99999), "pfn 99999 out of range"),
        (lambda: k.call("no_such_entry"), "unknown kernel entry point 'no_such_entry'"),
        (lambda: k.spawn(0, "no_such_entry"), "unknown kernel entry point 'no_such_entry'"),
        (lambda: k.call("fault_in", pid), "fault_in takes 2 argument(s) (pid, npages), got 1"),
        (lambda: k.call("compact_memory", 1), "compact_memory takes 0 argument(s)"),
        (lambda: k.call("fault_in", pid, "3"), "arguments must be integers"),
        (lambda: k.call("fault_in", 7, 1), "no process 7"),
        (lambda: k.alloc_pages(0, "GFP_KERNEL|GFP_BOGUS"), "unknown gfp flag 'GFP_BOGUS'"),
        (lambda: k.alloc_pages(0, "GFP_KERNEL|"), "unknown gfp flag ''"),
        (lambda: k.alloc_pages(0, 1.5), "gfp must be an int or a string"),
        (lambda: k.alloc_pages(11), "order 11 is not below MAX_ORDER"),
        (lambda: k.free_pages(0), "double free"),
        (lambda: k.spawn(2, "compact_memory"), "cpu 2 out of range"),
        (lambda: k.state.free_blocks(1), "no zone 1"),
        (lambda: k.state.corrupt_pages(3), "no process 3"),
    ]
    for bad, message in cases:
        with pytest.raises(UsageError, match=re.escape(message)):
            bad()
    assert (k.state.free_blocks(), k.state.process_pages(pid), k.state.stats) == before
    assert k.state.check_invariants() == []


def test_usage_error_is_a_value_error() -> None:
    assert issubclass(UsageError, ValueError)
    import pagesim

    assert pagesim.UsageError is UsageError


def test_wrong_argument_count_of_a_spawned_entry_point_raises() -> None:
    k = Kernel(pages=2048)
    with pytest.raises(UsageError, match=r"compact_range takes 3 argument\(s\)"):
        k.spawn(0, "compact_range", 1)
        k.run()


# ---- compaction as a task ----


def test_compaction_task_forms_an_order9_block_and_keeps_data() -> None:
    k, pid, n = fragmented(4096)
    before = k.state.free_blocks()
    assert before == [1984, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert k.state.fragmentation_index(9) > 900
    k.spawn(0, "compact_memory")
    r = k.run(strategy="timed", seed=1)
    assert r.ok, [o.report for o in r.outcomes]
    after = r.kernel.free_blocks()
    assert after == [64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert sum(after[9:]) >= 1
    assert r.kernel.fragmentation_index(9) == -1000
    assert r.kernel.corrupt_pages(pid) == 0
    assert r.kernel.check_invariants() == []
    assert r.kernel.stats["nr_free_pages"] == k.state.stats["nr_free_pages"]
    moved = [a != b for a, b in zip(k.state.process_pages(pid), r.kernel.process_pages(pid))]
    assert sum(moved) == r.kernel.stats["pgmigrate_success"] > 0
    assert r.kernel.stats["pgmigrate_fail"] == 0
    # Everything below pfn 2048 is free; the process now lives in [2048, 4096).
    assert all(p is None or p >= 2048 for p in r.kernel.process_pages(pid))
    assert n // 2 == sum(p is not None for p in r.kernel.process_pages(pid))


def test_direct_compaction_entry_point() -> None:
    k, pid, _ = fragmented(4096)
    # Without __GFP_DIRECT_RECLAIM the allocator may not compact, so the request fails.
    assert k.call("alloc_pages", 9, core.GFP["GFP_NOWAIT"] | core.GFP["__GFP_MOVABLE"]) == -1
    k.spawn(0, "try_to_compact_pages", 9)
    r = k.run(strategy="timed", seed=1)
    assert r.ok, [o.report for o in r.outcomes]
    # Compaction stalls are counted by the allocator around it (__alloc_pages_direct_compact).
    assert r.kernel.stats["compact_stall"] == 0
    assert r.kernel.stats["pgmigrate_success"] > 0
    assert sum(r.kernel.free_blocks()[9:]) >= 1
    assert r.kernel.corrupt_pages(pid) == 0


def test_kcompactd_is_a_daemon_that_sleeps_without_a_wakeup() -> None:
    k, pid, _ = fragmented(2048, kcompactd=True)
    k.spawn(1, "fault_in", pid, 0)
    r = k.run(strategy="timed", seed=1)
    assert r.ok, [o.report for o in r.outcomes]
    assert "kcompactd0" in r.tasks
    assert r.kernel.stats["pgmigrate_success"] == 0
    assert r.kernel.free_blocks() == k.state.free_blocks()


def test_kswapd_is_a_daemon_the_slow_path_wakes() -> None:
    """kswapd=True starts kswapd0 and kcompactd0; an allocation below the low watermark
    wakes kswapd, which on 4.14 gives the unreclaimable node up after 16 runs."""
    k = Kernel(preset="v4.14", pages=512, kswapd=True)
    pid = k.process("p")
    k.fault_in(pid, 440)
    k.spawn(1, "fault_in", pid, 20)  # from 72 free pages, below the low watermark (56)
    r = k.run(strategy="timed", seed=1)
    assert r.ok, [o.report for o in r.outcomes]
    assert {"kswapd0", "kcompactd0"} <= set(r.tasks)
    assert r.kernel.stats["pageoutrun"] == 16
    # Without kswapd=True nothing runs balance_pgdat.
    k = Kernel(preset="v4.14", pages=512)
    pid = k.process("p")
    k.fault_in(pid, 440)
    k.spawn(1, "fault_in", pid, 20)
    r = k.run(strategy="timed", seed=1)
    assert r.ok and r.kernel.stats["pageoutrun"] == 0 and "kswapd0" not in r.tasks


@pytest.mark.parametrize(("preset", "message"), [
    ("v4.4", "kswapd reclaims by node), and v4.4 is not built on v4.8"),
    ("v4.7", ("kswapd=True: the model's kswapd is 4.8's and later (1d82de618ddd, kswapd "
              "reclaims by node), and v4.7 is not built on v4.8")),
    ("movable-v3", "and movable-v3 is not built on v4.8"),
    ("v5.10", ("kswapd=True: the model's kswapd is 4.8's to 5.4's, and v5.10 has "
               "b9e20f0da1f5, from a later release")),
])
def test_kswapd_is_refused_where_the_model_does_not_have_it(preset: str, message: str) -> None:
    with pytest.raises(ps.UsageError, match=re.escape(message)):
        Kernel(preset=preset, kswapd=True)


@pytest.mark.parametrize("fix", ["14f69140ff9c", "f80b08fc4453", "597c892038e0",
                                 "dont-wake-kswapd-from-rmqueue-without-kswapd-reclaim"])
def test_kswapd_takes_the_boosts_later_fixes_on_v5_4(fix: str) -> None:
    """The fixes of the boost after 5.4 are the model's (5.4.41 has 14f69140ff9c); other
    later fixes mark a later kernel, whose kswapd is not modelled."""
    assert Kernel(preset="v5.4", fixes={fix: True}, kswapd=True).state.preset == "v5.4"
    with pytest.raises(ps.UsageError, match="^kswapd=True: the model's kswapd is 4.8's to 5.4's, and "
                                            "v5.4 has b9e20f0da1f5, from a later release"):
        Kernel(preset="v5.4", fixes={fix: True, "b9e20f0da1f5": True}, kswapd=True)


def test_a_held_high_order_block_is_not_a_leak() -> None:
    """alloc_pages(order > 0) without __GFP_COMP refcounts the head page only; the block's
    tail pages (refcount 0) belong to its owner until it is freed."""
    k = Kernel(pages=2048)
    assert k.alloc_pages(1, "GFP_KERNEL") == 1024
    r = k.run()
    assert r.ok, [o.report for o in r.outcomes]


def test_step_checks_stay_silent_on_a_correct_run() -> None:
    """check='step' checks the invariants after every step: a plain compaction never
    breaks them (the free lists and nr_free, or PG_lru and the LRU lists, change together
    under zone->lock and the lru lock)."""
    k, pid, _ = fragmented(1024, check="step")
    k.spawn(0, "compact_memory")
    r = k.run(strategy="timed", seed=1)
    assert r.ok, [o.message for o in r.outcomes]
    assert r.kernel.corrupt_pages(pid) == 0


# ---- determinism and copies ----

_DETERMINISM = """
from pagesim._core import Kernel
k = Kernel(pages=2048, cpus=3)
pid = k.process("frag")
n = k.fault_in(pid, 2048)
for v in range(1, n, 2):
    k.call("unmap", pid, v)
other = k.process("other")
k.spawn(0, "compact_memory")
k.spawn(1, "fault_in", other, 64)
k.spawn(2, "compact_range", 0, 512, 0)
r = k.run(strategy="random", seed=11)
print(r.trace_hash, r.steps, r.ok, r.kernel.free_blocks())
"""


def _run_determinism_script() -> str:
    out = subprocess.run(
        [sys.executable, "-c", _DETERMINISM],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    return out.stdout.strip()


def test_same_seed_same_trace_hash_in_two_processes() -> None:
    first, second = _run_determinism_script(), _run_determinism_script()
    assert first == second
    trace_hash, steps, ok, _blocks = first.split(" ", 3)
    assert int(steps) > 1000
    assert ok == "True"
    # And in this process, with interned strings in another order.
    core.entry_points()
    ns: dict[str, object] = {}
    code = _DETERMINISM.replace("print(", "result = (")
    exec(compile(code, "<determinism>", "exec"), ns)  # noqa: S102
    assert str(ns["result"][0]) == trace_hash  # type: ignore[index]


def test_runs_start_from_a_copy_of_the_initial_state() -> None:
    k, pid, _ = fragmented(2048)
    initial = (k.state.free_blocks(), k.state.process_pages(pid), k.state.stats)
    k.spawn(0, "compact_memory")
    r1 = k.run(strategy="timed", seed=1)
    assert r1.ok
    assert (k.state.free_blocks(), k.state.process_pages(pid), k.state.stats) == initial
    assert r1.kernel.free_blocks() != initial[0]
    assert r1.kernel.process_pages(pid) != initial[1]
    r2 = k.run(strategy="timed", seed=1)
    assert r2.trace_hash == r1.trace_hash
    assert r2.kernel.free_blocks() == r1.kernel.free_blocks()
    # The first run's final state is its own: the second run did not touch it.
    assert r1.kernel.process_pages(pid) == r2.kernel.process_pages(pid)
    assert r1.kernel.stats["pgmigrate_success"] == r2.kernel.stats["pgmigrate_success"] > 0
    # Set-up calls after a run change the initial state only.
    k.call("unmap", pid, 0)
    assert k.state.process_pages(pid)[0] is None
    assert r1.kernel.process_pages(pid)[0] is not None


def test_failed_high_order_allocation_compacts_directly() -> None:
    k, pid, _ = fragmented(4096)
    pfn = k.call("alloc_pages", 9, core.GFP["GFP_KERNEL"] | core.GFP["__GFP_MOVABLE"])
    assert pfn >= 0
    # Async first (a costly order), which gives up each fragmented pageblock after one
    # batch (skip_on_failure), then sync-light, which compacts.
    assert k.state.stats["compact_stall"] == 2
    assert k.state.stats["compact_fail"] == 1
    assert k.state.stats["compact_success"] == 1
    assert k.state.stats["pgmigrate_success"] > 0
    assert k.state.corrupt_pages(pid) == 0


def test_alloc_contig_range_migrates_its_range_and_gives_up_on_a_pinned_page() -> None:
    def machine() -> tuple[Kernel, list[int]]:
        k = Kernel(pages=2048)
        pid = k.process("app")
        assert k.fault_in(pid, 40) == 40
        pages = [p for p in range(2048) if k.state.page(p)["owner"] == "process"]
        return k, pages

    k, pages = machine()
    start, end = pages[0], pages[0] + 40
    # 40 pages: a batch of 32 (COMPACT_CLUSTER_MAX), then the other 8. (The model does not
    # isolate the range's pageblocks first, so a later batch's new pages may come from
    # pages an earlier batch freed in the range.)
    assert k.call("alloc_contig_range", start, end) == 0
    assert k.state.stats["pgmigrate_success"] == 40
    assert k.state.stats["nr_isolated_anon"] == 0
    # A page whose driver answers -EAGAIN every time: migrate_pages tries it for 10
    # passes, __alloc_contig_migrate_range calls that 5 times, then gives up with -EBUSY
    # and puts the page back.
    k = Kernel(pages=2048)
    p = k.call("test_driver_alloc", 1)
    k.call("test_driver_set", core.TEST_DRIVER_OPTIONS["busy"], 1)
    assert k.call("alloc_contig_range", p, p + 1) == -errno.EBUSY
    st = core.test_driver_state(k.state)
    assert st["calls"] == {"isolate_page": 1, "migratepage": 50, "putback_page": 1}
    assert k.state.stats["nr_isolated_anon"] == 0
    with pytest.raises(UsageError, match="bad end pfn"):
        k.call("alloc_contig_range", start, start)
