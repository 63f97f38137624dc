// Compaction contract (mm/compaction.c of Linux 4.8): the migrate scanner
// (isolate_migratepages_block), the free scanner and its choice of target pageblocks,
// the scanners meeting, compact_memory / compact_range / direct compaction / kcompactd,
// all on zones fragmented by a process's anonymous LRU pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "engine/sim.h"
#include "kernel/kernel.h"
#include "kernel_support.h"
#include "mm/compaction.h"
#include "mm/current.h"
#include "mm/lru.h"
#include "mm/migrate.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"
#include "mm/vmstat.h"

using namespace pagesim;
using namespace pagesim::mm;
using kernel::Kernel;

using pagesim::testing::join;
using pagesim::testing::outcomes_str;
using pagesim::testing::run_task;
using pagesim::testing::sim_cfg;
using pagesim::testing::with_teardown;

namespace {

kernel::KernelConfig kcfg(const std::string& preset, uint32_t pages) {
  kernel::KernelConfig c;
  c.preset = preset;
  c.zones = {{"Normal", pages, MIGRATE_MOVABLE}};
  return c;
}

std::vector<uint64_t> blocks(const Kernel& k) { return free_blocks_per_order(k, k.zones[0]); }

std::string str(const std::vector<uint64_t>& v) {
  std::string s;
  for (uint64_t x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
}

uint64_t high_order_blocks(const Kernel& k, unsigned order) {
  uint64_t n = 0;
  for (unsigned o = order; o < unsigned(MAX_ORDER); ++o) n += k.zones[0].free_area[o].nr_free;
  return n;
}

// Whether pfn is free in the buddy allocator (the head of a free block, or inside one).
bool is_free(const Mm& mm, Pfn pfn) {
  for (unsigned o = 0; o < unsigned(MAX_ORDER); ++o) {
    const Pfn head = pfn & ~((1u << o) - 1);
    const Page& h = mm.page(head);
    if (h.mapcount == PAGE_BUDDY_MAPCOUNT_VALUE && h.private_ == o) return true;
  }
  return false;
}

// A process faults in as much memory as the watermarks allow, then unmaps every other
// page (the odd virtual pages): every pageblock is half used, in order-0 holes.
uint32_t fragment(Kernel& k) {
  const uint32_t pid = process_create(k, "frag");
  const uint32_t n = process_fault_in(k, pid, uint32_t(k.pages.size()));
  EXPECT_GT(n, k.pages.size() * 9 / 10);
  for (uint32_t v = 1; v < n; v += 2) process_unmap(k, pid, v);
  return pid;
}

// Direct async compaction in the slow path for a movable page of `order` (zone 0).
compact_control direct_async_cc(int order) {
  compact_control cc;
  cc.zone = 0;
  cc.order = order;
  cc.mode = MigrateMode::Async;
  cc.direct_compaction = true;
  cc.gfp_mask = GFP_HIGHUSER_MOVABLE;
  cc.alloc_flags = ALLOC_WMARK_MIN;
  return cc;
}

// What a fix's test compares: `with`, `before` (a preset without the fix) and `with` with
// `fix` flipped off (and the fixes of `with` that need it), labelled "<with> without <fix>".
std::vector<std::pair<std::string, kernel::KernelConfig>> fix_flipped(
    const std::string& with, const std::string& before, const std::string& fix, uint32_t pages,
    const std::vector<std::string>& dependents = {}) {
  kernel::KernelConfig off = kcfg(with, pages);
  off.fixes = {{fix, false}};
  for (const std::string& d : dependents) off.fixes[d] = false;
  return {{with, kcfg(with, pages)}, {before, kcfg(before, pages)}, {with + " without " + fix, off}};
}

// Direct async compaction for an order-9 page with the page `locked` held locked (it
// isolates, and its migration fails, -EAGAIN): the pages isolated, and those that failed.
std::pair<int64_t, int64_t> compact_past_locked_page(Kernel& k, Pfn locked) {
  k.page(locked).flags |= uint64_t(1) << PG_locked;
  compact_control cc = direct_async_cc(pageblock_order);
  const RunResult r = run_task(k, [&] { compact_zone(k, cc); });
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  k.page(locked).flags &= ~(uint64_t(1) << PG_locked);
  return {k.stat(Stat::COMPACTISOLATED), k.stat(Stat::PGMIGRATE_FAIL)};
}

// A compaction context of the migrate scanner's unit tests.
compact_control scanner_cc(Kernel& k) {
  compact_control cc;
  cc.zone = 0;
  cc.mode = MigrateMode::Sync;
  cc.migratepages = k.get_private_list("cc->migratepages");
  return cc;
}

}  // namespace

// ---- compact_memory ----

// A zone fragmented by a process (every pageblock half used, in order-0 holes) has no
// free order-9 block; compact_memory moves the pages to the zone's end and frees whole
// pageblocks at its start. The process's data is intact and nothing leaks.
TEST(CompactionMemory, FormsAnOrder9BlockInAFragmentedZone) {
  Kernel k(kcfg("v4.8", 4096));
  const uint32_t pid = fragment(k);
  const std::vector<uint64_t> before = blocks(k);
  const int64_t free0 = k.stat(Stat::NR_FREE_PAGES);
  // 1984 order-0 holes, and the 128 pages the watermark kept free at the top of [0, 1024).
  EXPECT_EQ(before, (std::vector<uint64_t>{1984, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})) << str(before);
  // Without __GFP_DIRECT_RECLAIM the allocator may not compact: the request fails.
  EXPECT_EQ(alloc_pages(k, GFP_NOWAIT | __GFP_MOVABLE, 9, Owner::Kernel), kNoPfn);
  const RunResult r = run_task(k, [&] { compact_memory(k, MigrateMode::Sync); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  const std::vector<uint64_t> after = blocks(k);
  // [0, 2048) emptied into the holes of [2048, 4096); 64 holes left where the scanners met.
  EXPECT_EQ(after, (std::vector<uint64_t>{64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})) << str(after);
  EXPECT_TRUE(is_free(k, 0));
  EXPECT_TRUE(is_free(k, 1024));
  EXPECT_EQ(k.stat(Stat::NR_FREE_PAGES), free0);
  EXPECT_EQ(process_verify(k, pid), 0u);
  EXPECT_GT(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_FAIL), 0);
  EXPECT_EQ(k.stat(Stat::NR_ISOLATED_ANON), 0);
  EXPECT_TRUE(k.invariant_outcomes().empty());
  EXPECT_TRUE(k.teardown_outcomes().empty());
  const Pfn p = alloc_pages(k, GFP_HIGHUSER_MOVABLE, 9, Owner::Kernel);
  ASSERT_NE(p, kNoPfn);
  __free_pages(k, p, 9);
}

// compact_zone over the whole zone: the migrate scanner walks up from the zone start, the
// free scanner down from the last pageblock, and compaction completes when they meet;
// meeting resets the cached positions so that the next compaction starts anew
// (reset_cached_positions in __compact_finished).
TEST(CompactionZone, ScannersMeetAndTheCachedPositionsAreReset) {
  Kernel k(kcfg("v4.8", 4096));
  fragment(k);
  compact_control cc;
  cc.zone = 0;
  cc.order = -1;
  cc.mode = MigrateMode::Sync;
  cc.whole_zone = true;
  CompactResult res = CompactResult::Skipped;
  const RunResult r = run_task(k, [&] { res = compact_zone(k, cc); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(res, CompactResult::Complete) << compact_result_name(res);
  EXPECT_LE(cc.free_pfn >> pageblock_order, cc.migrate_pfn >> pageblock_order)
      << "free_pfn " << cc.free_pfn << " migrate_pfn " << cc.migrate_pfn;
  EXPECT_GT(cc.migrate_pfn, 0u);
  EXPECT_LT(cc.free_pfn, 4096u - pageblock_nr_pages);
  EXPECT_EQ(k.zones[0].compact_cached_migrate_pfn, 0u);
  EXPECT_EQ(k.zones[0].compact_cached_free_pfn, 4096u - pageblock_nr_pages);
}

// Direct async compaction for an order-9 page of a fragmented zone with one locked page
// (it fails migration, -EAGAIN): since fdd048e12c9a its scanner gives up an order-aligned
// block at a page it cannot isolate, and isolates half the pages 4.4's does; 4.8 with the
// fix flipped off isolates as many as 4.4.
TEST(CompactionZone, DirectAsyncIsolatesLessSinceFdd048e12c9a) {
  std::map<std::string, int64_t> isolated;
  for (const auto& [label, c] : fix_flipped("v4.8", "v4.4", "fdd048e12c9a", 4096)) {
    Kernel k(c);
    const uint32_t pid = fragment(k);
    Pfn locked = kNoPfn;  // the process's lowest page: the first the migrate scanner sees
    for (const Pfn p : k.processes[pid].pte)
      if (p != kNoPfn) locked = std::min(locked, p);
    ASSERT_LT(locked, Pfn(pageblock_nr_pages));
    isolated[label] = compact_past_locked_page(k, locked).first;
  }
  EXPECT_EQ(isolated, (std::map<std::string, int64_t>{
                          {"v4.4", 448}, {"v4.8", 224}, {"v4.8 without fdd048e12c9a", 448}}));
}

// Direct async compaction for an order-9 page of a zone whose lower pageblocks are full of
// process pages, with the first of them locked (isolated, then -EAGAIN in the migration):
// since fdd048e12c9a compact_zone skips the rest of that pageblock after the failed
// migration (there the migrate scanner's own skip never fires: every page isolates).
TEST(CompactionZone, DirectAsyncSkipsTheBlockOfAFailedMigrationSinceFdd048e12c9a) {
  std::map<std::string, std::pair<int64_t, int64_t>> isolated_failed;
  for (const auto& [label, c] : fix_flipped("v4.8", "v4.4", "fdd048e12c9a", 4096)) {
    Kernel k(c);
    const uint32_t pid = process_create(k, "full");
    const uint32_t n = process_fault_in(k, pid, uint32_t(k.pages.size()));
    for (uint32_t v = 1; v < n; v += 2)  // free targets in the upper pageblocks only
      if (k.processes[pid].pte[v] >= 3 * pageblock_nr_pages) process_unmap(k, pid, v);
    const Pfn locked = *std::min_element(k.processes[pid].pte.begin(), k.processes[pid].pte.end());
    isolated_failed[label] = compact_past_locked_page(k, locked);
  }
  EXPECT_EQ(isolated_failed,
            (std::map<std::string, std::pair<int64_t, int64_t>>{
                {"v4.4", {896, 1}}, {"v4.8", {416, 1}}, {"v4.8 without fdd048e12c9a", {896, 1}}}));
}

// ---- compact_range ----

// compact_range (a migrate context like alloc_contig_range's: isolate in the range,
// targets from the page allocator) on one page moves exactly that page.
TEST(CompactionRange, OnePageMigratesExactlyIt) {
  Kernel k(kcfg("v4.8", 2048));
  const uint32_t pid = process_create(k, "proc");
  ASSERT_EQ(process_fault_in(k, pid, 64), 64u);
  for (uint32_t v = 1; v < 64; v += 2) process_unmap(k, pid, v);
  const std::vector<Pfn> before = k.processes[pid].pte;
  const Pfn victim = before[10];
  ASSERT_EQ(victim, 1034u);
  int rc = -1;
  const RunResult r =
      run_task(k, [&] { rc = compact_range(k, victim, victim + 1, MigrateMode::Sync); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, 0);
  const std::vector<Pfn>& after = k.processes[pid].pte;
  for (uint32_t v = 0; v < after.size(); ++v) {
    if (v != 10) {
      EXPECT_EQ(after[v], before[v]) << "vpage " << v;
    }
  }
  EXPECT_NE(after[10], victim);
  EXPECT_EQ(k.page(after[10]).content, k.processes[pid].content[10]);
  EXPECT_TRUE(is_free(k, victim));
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 1);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_FAIL), 0);
  EXPECT_EQ(k.stat(Stat::COMPACTISOLATED), 1);
  EXPECT_EQ(process_verify(k, pid), 0u);
}

// ---- the migrate scanner ----

// isolate_migratepages_block skips a free block by its order (one pfn scanned for the
// whole block), and never returns a pfn beyond end_pfn.
TEST(CompactionScanner, SkipsBuddyBlocksByOrder) {
  Kernel k(kcfg("v4.14", 2048));
  const uint32_t pid = process_create(k, "proc");
  ASSERT_EQ(process_fault_in(k, pid, 1), 1u);
  ASSERT_EQ(k.processes[pid].pte[0], 1024u);
  // expand() left free blocks of orders 0..9 at 1025, 1026, 1028, ..., 1536.
  compact_control cc = scanner_cc(k);
  const Pfn end = isolate_migratepages_block(k, cc, 1024, 1536, 0);
  EXPECT_EQ(end, 1536u);
  EXPECT_EQ(cc.nr_migratepages, 1u);
  EXPECT_EQ(k.lists[cc.migratepages].first, 1024u);
  // 1024, then the free blocks of orders 0..8 at 1025, 1026, 1028, ... 1280.
  EXPECT_EQ(cc.total_migrate_scanned, 10u);
  EXPECT_EQ(k.stat(Stat::COMPACTMIGRATE_SCANNED), 10);
  EXPECT_EQ(k.stat(Stat::COMPACTISOLATED), 1);
  EXPECT_EQ(k.stat(Stat::NR_ISOLATED_ANON), 1);
  putback_movable_pages(k, cc.migratepages);
  EXPECT_EQ(k.stat(Stat::NR_ISOLATED_ANON), 0);
  EXPECT_EQ(k.page(1024).refcount, 1);
  EXPECT_TRUE((k.page(1024).flags >> PG_lru) & 1);
  EXPECT_TRUE(k.teardown_outcomes().empty());
}

// The PageBuddy skip can jump past end_pfn (a free block larger than the range); the
// scanner clamps its return value to end_pfn ("The PageBuddy() check could have
// potentially brought us outside the range to be scanned").
TEST(CompactionScanner, ReturnValueNeverExceedsEndPfn) {
  Kernel k(kcfg("v4.14", 2048));  // [0, 1024) is one free order-10 block
  compact_control cc = scanner_cc(k);
  const Pfn end = isolate_migratepages_block(k, cc, 0, 512, 0);
  EXPECT_EQ(end, 512u);
  EXPECT_EQ(cc.total_migrate_scanned, 1u);
  EXPECT_EQ(cc.nr_migratepages, 0u);
}

// At most COMPACT_CLUSTER_MAX (32) pages are isolated per call; the scanner stops right
// after the 32nd.
TEST(CompactionScanner, IsolatesAtMostClusterMaxPages) {
  Kernel k(kcfg("v4.14", 2048));
  const uint32_t pid = process_create(k, "proc");
  ASSERT_EQ(process_fault_in(k, pid, 512), 512u);  // [1024, 1536): a full pageblock
  compact_control cc = scanner_cc(k);
  const Pfn end = isolate_migratepages_block(k, cc, 1024, 1536, 0);
  EXPECT_EQ(end, 1024u + COMPACT_CLUSTER_MAX);
  EXPECT_EQ(cc.nr_migratepages, COMPACT_CLUSTER_MAX);
  EXPECT_EQ(k.lists[cc.migratepages].count, COMPACT_CLUSTER_MAX);
  EXPECT_EQ(cc.total_migrate_scanned, COMPACT_CLUSTER_MAX);
  EXPECT_EQ(k.stat(Stat::NR_ISOLATED_ANON), int64_t(COMPACT_CLUSTER_MAX));
  for (Pfn p = 1024; p < 1024 + COMPACT_CLUSTER_MAX; ++p) {
    EXPECT_EQ(k.page(p).refcount, 2) << p;  // mapped + isolation reference
    EXPECT_FALSE((k.page(p).flags >> PG_lru) & 1) << p;
    EXPECT_EQ(k.page(p).list, cc.migratepages) << p;
  }
  EXPECT_TRUE((k.page(1024 + COMPACT_CLUSTER_MAX).flags >> PG_lru) & 1);
  EXPECT_EQ(k.page(1024 + COMPACT_CLUSTER_MAX).refcount, 1);
  putback_movable_pages(k, cc.migratepages);
  EXPECT_EQ(k.stat(Stat::NR_ISOLATED_ANON), 0);
  EXPECT_TRUE(k.teardown_outcomes().empty());
}

// Direct async compaction (skip_on_failure) gives up an order-aligned block at its first
// page that cannot be isolated: it puts back what it isolated in that block and goes on at
// the next one. Other compaction passes the page by and keeps the rest.
TEST(CompactionScanner, DirectAsyncGivesUpAnOrderBlockAtItsFirstFailure) {
  for (const bool direct_async : {true, false}) {
    SCOPED_TRACE(direct_async ? "direct async" : "sync");
    Kernel k(kcfg("v4.8", 2048));
    const uint32_t pid = process_create(k, "proc");
    ASSERT_EQ(process_fault_in(k, pid, 8), 8u);
    ASSERT_EQ(k.processes[pid].pte[0], 1024u);
    ASSERT_EQ(k.processes[pid].pte[7], 1031u);
    get_page(k, 1026);  // pinned beyond its mapping: the scanner will not isolate it
    compact_control cc = scanner_cc(k);
    cc.order = 2;
    if (direct_async) {
      cc.direct_compaction = true;
      cc.mode = MigrateMode::Async;
    }
    EXPECT_EQ(isolate_migratepages_block(k, cc, 1024, 1032, 0), 1032u);
    std::vector<Pfn> isolated;
    for (Pfn p = k.lists[cc.migratepages].first; p != kNoPfn; p = k.page(p).lru_next)
      isolated.push_back(p);
    std::sort(isolated.begin(), isolated.end());
    if (direct_async) {
      // 1024 and 1025 were isolated, then put back when 1026 failed; 1027 was skipped.
      EXPECT_EQ(isolated, (std::vector<Pfn>{1028, 1029, 1030, 1031}));
      EXPECT_EQ(k.stat(Stat::COMPACTISOLATED), 6);
      EXPECT_EQ(cc.total_migrate_scanned, 7u);  // 1027 is not looked at
    } else {
      EXPECT_EQ(isolated, (std::vector<Pfn>{1024, 1025, 1027, 1028, 1029, 1030, 1031}));
      EXPECT_EQ(cc.total_migrate_scanned, 8u);
    }
    EXPECT_EQ(cc.nr_migratepages, isolated.size());
    for (Pfn p : {1024u, 1025u}) {
      EXPECT_EQ(bool((k.page(p).flags >> PG_lru) & 1), direct_async) << p;  // back on the LRU
      EXPECT_EQ(k.page(p).refcount, direct_async ? 1 : 2) << p;
    }
    EXPECT_EQ(k.stat(Stat::NR_ISOLATED_ANON), 0);  // acct_isolated, then the putback
    // The caller (isolate_migratepages) accounts the rest before 6afcf8ef0ca0.
    mod_node_page_state(k, Stat::NR_ISOLATED_ANON, int64_t(isolated.size()));
    putback_movable_pages(k, cc.migratepages);
    put_page(k, 1026);
    EXPECT_TRUE(k.teardown_outcomes().empty()) << k.teardown_outcomes().size();
  }
}

// Before fdd048e12c9a (4.7; v4.4) direct async compaction went on page by page past a
// page it could not isolate, as every other compaction does.
TEST(CompactionScanner, WithoutFdd048e12c9aDirectAsyncGoesOnPastAFailure) {
  for (const char* preset : {"v4.4", "v4.8"}) {
    SCOPED_TRACE(preset);
    kernel::KernelConfig c = kcfg(preset, 2048);
    if (std::string(preset) == "v4.8") c.fixes = {{"fdd048e12c9a", false}};
    Kernel k(c);
    const uint32_t pid = process_create(k, "proc");
    ASSERT_EQ(process_fault_in(k, pid, 8), 8u);
    get_page(k, 1026);
    compact_control cc = scanner_cc(k);
    cc.order = 2;
    cc.direct_compaction = true;
    cc.mode = MigrateMode::Async;
    EXPECT_EQ(isolate_migratepages_block(k, cc, 1024, 1032, 0), 1032u);
    EXPECT_EQ(cc.nr_migratepages, 7u);  // all but 1026, none put back
    EXPECT_EQ(cc.total_migrate_scanned, 8u);
    mod_node_page_state(k, Stat::NR_ISOLATED_ANON, int64_t(cc.nr_migratepages));
    putback_movable_pages(k, cc.migratepages);
    put_page(k, 1026);
    EXPECT_TRUE(k.teardown_outcomes().empty());
  }
}

// Where the migrate scanner of an async compaction takes pages from, in a zone whose four
// pageblocks all hold a process's LRU pages, pageblock 0 marked unmovable: before
// 282722b0d258 every async compaction skips pageblock 0 (movable and CMA ones only); since,
// async direct compaction keeps to the allocation's migratetype, and a non-direct async
// compaction scans every pageblock. Where the scanner stopped tells which pageblock it
// isolated from: a direct compaction (for order 2) migrates each order-2 block's pages as
// soon as it has them (fdd048e12c9a), at 4 in pageblock 0 or 516 in pageblock 1; the other
// stops with COMPACT_CLUSTER_MAX (32) pages from every other page, at 63 or 575.
TEST(CompactionScanner, AsyncDirectCompactionKeepsToTheAllocationsMigratetypeSince282722b0d258) {
  struct Case {
    bool direct;
    int migratetype;
  };
  const Case cases[] = {{true, MIGRATE_UNMOVABLE}, {true, MIGRATE_MOVABLE}, {false, MIGRATE_UNMOVABLE}};
  std::map<std::string, std::vector<Pfn>> reached;
  for (const auto& [label, c] : fix_flipped("v4.14", "v4.9", "282722b0d258", 2048)) {
    for (const Case& cs : cases) {
      Kernel k(c);
      fragment(k);
      set_pageblock_migratetype(k, 0, MIGRATE_UNMOVABLE);
      compact_control cc = scanner_cc(k);
      cc.order = 2;  // a direct compaction is for an order
      cc.mode = MigrateMode::Async;
      cc.direct_compaction = cs.direct;
      cc.migratetype = cs.migratetype;
      cc.free_pfn = 3 * pageblock_nr_pages;
      const RunResult r = run_task(k, [&] {
        ASSERT_EQ(isolate_migratepages(k, cc), IsolateResult::Success);
        putback_movable_pages(k, cc.migratepages);
      });
      ASSERT_TRUE(r.ok()) << outcomes_str(r);
      reached[label].push_back(cc.migrate_pfn);
    }
  }
  EXPECT_EQ(reached, (std::map<std::string, std::vector<Pfn>>{
                         {"v4.14", {4, 516, 63}},
                         {"v4.9", {516, 516, 575}},
                         {"v4.14 without 282722b0d258", {516, 516, 575}}}));
}

// __compact_finished with a suitable free page in a zone below the allocation's watermark
// for the order (the free pages a compaction holds isolated can bring that about): 4.9
// goes on, since 4.12 ("remove redundant watermark check in compact_finished()") it stops.
TEST(CompactionFinished, StopsAtASuitablePageBelowTheWatermarkSince4_12) {
  std::map<std::string, CompactResult> result;
  const std::string fix = "no-watermark-check-in-compact-finished";
  for (const auto& [label, c] : fix_flipped("v4.14", "v4.9", fix, 2048)) {
    Kernel k(c);
    // Every page taken (an atomic movable request may go below min), then one aligned
    // order-3 block given back: the only free page of the order, on the movable list.
    std::vector<Pfn> held;
    for (Pfn p; (p = alloc_pages(k, GFP_ATOMIC | __GFP_MOVABLE, 0, Owner::Kernel)) != kNoPfn;)
      held.push_back(p);
    std::sort(held.begin(), held.end());
    Pfn block = kNoPfn;
    for (size_t i = 0; i + 8 <= held.size() && block == kNoPfn; ++i)
      if (held[i] % 8 == 0 && held[i + 7] == held[i] + 7) block = held[i];
    ASSERT_NE(block, kNoPfn);
    for (Pfn p = block; p < block + 8; ++p) __free_pages(k, p, 0);
    const Zone& z = k.zones[0];
    ASSERT_LT(z.free_pages, z.watermark[size_t(Watermark::Min)] + 8) << label;
    compact_control cc = direct_async_cc(3);
    cc.migrate_pfn = 0;
    cc.free_pfn = 2048 - pageblock_nr_pages;
    result[label] = compact_finished(k, cc);
  }
  EXPECT_EQ(result, (std::map<std::string, CompactResult>{
                        {"v4.9", CompactResult::Continue}, {"v4.14", CompactResult::Success},
                        {"v4.14 without " + fix, CompactResult::Continue}}));
}

// ---- the free scanner ----

// suitable_migration_target: a pageblock that is already one free block of at least
// pageblock_order is not a migration target ("If the page is a large free page, then
// disallow migration"): compaction must not break up the free pageblocks it is there to
// create. The targets come from the partially used pageblock below it.
TEST(CompactionScanner, FreeScannerLeavesFreePageblocksAlone) {
  Kernel k(kcfg("v4.8", 2048));
  const uint32_t pid = process_create(k, "proc");
  const uint32_t n = process_fault_in(k, pid, 2048);
  ASSERT_GT(n, 1536u);
  const Process& pr = k.processes[pid];
  for (uint32_t v = 512; v < 1024; ++v) {
    ASSERT_EQ(pr.pte[v], 1024 + v);
    process_unmap(k, pid, v);  // [1536, 2048): one free order-9 block
  }
  for (uint32_t v = 1; v < 512; v += 2) process_unmap(k, pid, v);  // holes in [1024, 1536)
  ASSERT_TRUE(is_free(k, 1536));
  ASSERT_EQ(k.page(1536).private_, 9u);
  const RunResult r = run_task(k, [&] { compact_memory(k, MigrateMode::Sync); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_GT(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
  uint32_t used = 0;
  for (Pfn p = 1536; p < 2048; ++p) used += !is_free(k, p);
  EXPECT_EQ(used, 0u) << "the free pageblock [1536, 2048) was used as migration targets";
  uint32_t in_free_block = 0;
  for (Pfn p : k.processes[pid].pte) in_free_block += p != kNoPfn && p >= 1536 && p < 2048;
  EXPECT_EQ(in_free_block, 0u);
  EXPECT_EQ(process_verify(k, pid), 0u);
}

// ---- direct compaction ----

TEST(CompactionDirect, TryToCompactPagesMakesTheAllocationPossible) {
  Kernel k(kcfg("v4.8", 4096));
  const uint32_t pid = fragment(k);
  const gfp_t gfp = GFP_KERNEL | __GFP_MOVABLE;
  ASSERT_EQ(alloc_pages(k, GFP_NOWAIT | __GFP_MOVABLE, 9, Owner::Kernel), kNoPfn);
  CompactResult res = CompactResult::Skipped;
  Pfn got = kNoPfn;
  const RunResult r = run_task(k, [&] {
    MemallocScope memalloc;  // as __alloc_pages_direct_compact runs it
    res = try_to_compact_pages(k, gfp, 9, gfp_to_alloc_flags(k, gfp), DEF_COMPACT_PRIORITY);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(res, CompactResult::Success) << compact_result_name(res);
  // The slow path does it all: direct compaction, then the allocation.
  Kernel k2(kcfg("v4.8", 4096));
  fragment(k2);
  const RunResult r2 = run_task(k2, [&] {
    got = alloc_pages(k2, gfp, 9, Owner::Kernel);
    if (got != kNoPfn) __free_pages(k2, got, 9);
  });
  ASSERT_TRUE(r2.ok()) << outcomes_str(r2);
  EXPECT_NE(got, kNoPfn);
  // Order 9 is costly: async compaction first, which fails. It migrates a batch of 32
  // pages per pageblock, the freed pages merge at once with the free holes (a zone this
  // small has no per-cpu caching in 4.8), the scanner resumes on a tail page of that
  // buddy block, a failure, and skip_on_failure gives the pageblock up. Sync-light then
  // compacts.
  EXPECT_EQ(k2.stat(Stat::COMPACTSTALL), 2);
  EXPECT_EQ(k2.stat(Stat::COMPACTSUCCESS), 1);
  EXPECT_EQ(k2.stat(Stat::COMPACTFAIL), 1);
  EXPECT_GT(k2.stat(Stat::PGMIGRATE_SUCCESS), 0);
  EXPECT_EQ(process_verify(k2, pid), 0u);
}

// 4.8's slow path: a costly order (above 3) first tries async compaction, which leaves a
// zone to sync compaction without deferring it; a failed sync compaction defers the zone
// for the next 1 << compact_defer_shift attempts at that order or above.
// A GFP_NOFS request (a filesystem allocating under its own locks) skips compaction
// before 73e64c51afc5 (4.10); with it, compaction runs and migrates the anon pages (those
// without a mapping), and the allocation succeeds.
TEST(CompactionDirect, GfpNofsCompactsSince73e64c51afc5) {
  for (const char* preset : {"v4.9", "v4.14"}) {
    SCOPED_TRACE(preset);
    Kernel k(kcfg(preset, 4096));
    fragment(k);
    const bool fixed = k.cfg.has(Fix::CompactionGfpNofs);
    Pfn got = kNoPfn;
    const RunResult r = run_task(k, [&] {
      got = alloc_pages(k, GFP_NOFS | __GFP_MOVABLE, 9, Owner::Kernel);
      if (got != kNoPfn) __free_pages(k, got, 9);
    });
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    EXPECT_EQ(got != kNoPfn, fixed);
    EXPECT_EQ(k.stat(Stat::COMPACTSTALL), fixed ? 2 : 0);
    EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS) > 0, fixed);
  }
}

TEST(CompactionDirect, CostlyOrdersTryAsyncFirstAndFailedSyncCompactionDefers) {
  Zone z;
  EXPECT_FALSE(compaction_deferred(z, 4));  // never failed
  defer_compaction(z, 4);                   // shift 1: the next attempt is skipped
  EXPECT_TRUE(compaction_deferred(z, 4));
  EXPECT_FALSE(compaction_deferred(z, 4));  // considered 2 >= 1 << 1
  EXPECT_FALSE(compaction_deferred(z, 3));  // below the order that failed
  defer_compaction(z, 4);
  EXPECT_TRUE(compaction_deferred(z, 5));   // shift 2: three attempts skipped
  EXPECT_TRUE(compaction_deferred(z, 5));
  EXPECT_TRUE(compaction_deferred(z, 5));
  EXPECT_FALSE(compaction_deferred(z, 5));
  compaction_defer_reset(z, 4, true);
  EXPECT_EQ(z.compact_defer_shift, 0u);
  EXPECT_EQ(z.compact_order_failed, 5);

  // Nothing to compact (every page pinned by the kernel, none movable): an order-4
  // request runs async compaction, then sync-light, which fails and defers the zone
  // (shift 1). The next request's async attempt is deferred (considered 1 of 2: no stall
  // is counted); its sync-light attempt runs, fails and defers further (shift 2).
  Kernel k(kcfg("v4.8", 2048));
  std::vector<Pfn> held;
  for (;;) {
    const Pfn p = alloc_pages(k, GFP_KERNEL | __GFP_MEMALLOC, 0, Owner::Kernel);
    if (p == kNoPfn) break;
    held.push_back(p);
  }
  for (size_t i = 0; i < held.size(); i += 2) __free_pages(k, held[i], 0);
  ASSERT_EQ(high_order_blocks(k, 1), 0u);
  const RunResult r = run_task(k, [&] {
    EXPECT_EQ(alloc_pages(k, GFP_KERNEL, 4, Owner::Kernel), kNoPfn);
    EXPECT_EQ(k.zones[0].compact_defer_shift, 1u);
    EXPECT_EQ(alloc_pages(k, GFP_KERNEL, 4, Owner::Kernel), kNoPfn);
    EXPECT_EQ(k.zones[0].compact_defer_shift, 2u);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(k.stat(Stat::COMPACTSTALL), 3);
  EXPECT_EQ(k.stat(Stat::COMPACTFAIL), 3);
  for (size_t i = 1; i < held.size(); i += 2) __free_pages(k, held[i], 0);
}

namespace {

// Direct compaction for an order-9 page of a fragmented 4096-page zone while another CPU
// holds the LRU lock for 100 us: what try_to_compact_pages returns.
CompactResult compact_under_a_held_lru_lock(Kernel& k, CompactPriority prio) {
  fragment(k);
  CompactResult res = CompactResult::Skipped;
  SimConfig c = sim_cfg(2);
  c.window = 0;  // strict DES: the lock holder takes it first and keeps it 100 us
  Sim sim(c, &k, std::make_unique<TimedStrategy>(1));
  with_teardown(sim, k);
  SpinLock& lru_lock = k.zones[0].lru_lock;
  sim.spawn(0, "lru_user", [&] {
    spin_lock(lru_lock);
    delay(100'000);
    spin_unlock(lru_lock);
  });
  sim.spawn(1, "compact", [&] {
    delay(1'000);
    MemallocScope memalloc;
    const gfp_t gfp = GFP_KERNEL | __GFP_MOVABLE;
    res = try_to_compact_pages(k, gfp, 9, gfp_to_alloc_flags(k, gfp), prio);
  });
  const RunResult r = sim.run();
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  return res;
}

}  // namespace

// compact_trylock_irqsave: async compaction does not spin on a contended coarse lock; it
// stops (cc->contended: COMPACT_CONTENDED). Sync-light compaction waits for the lock.
TEST(CompactionDirect, AsyncCompactionBacksOffAContendedLruLock) {
  for (CompactPriority prio : {CompactPriority::Async, CompactPriority::SyncLight}) {
    Kernel k(kcfg("v4.8", 4096));
    const CompactResult res = compact_under_a_held_lru_lock(k, prio);
    if (prio == CompactPriority::Async) {
      EXPECT_EQ(res, CompactResult::Contended) << compact_result_name(res);
      EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
    } else {
      EXPECT_EQ(res, CompactResult::Success) << compact_result_name(res);
    }
  }
}

// Since cb2dcaf023c2 async compaction that finds the LRU lock contended waits for it,
// isolates the rest of its pageblock in one batch, migrates it, and reports the contention
// at the pageblock's end, unless the pageblock gave the page: the set-up above
// (compact_under_a_held_lru_lock), where emptying the first pageblock (256 pages) forms
// the order-9 page.
TEST(CompactionDirect, AsyncCompactionFinishesItsPageblockOnAContendedLockSincecb2dcaf023c2) {
  std::map<std::string, std::pair<CompactResult, int64_t>> got;
  std::vector<std::pair<std::string, kernel::KernelConfig>> configs =
      fix_flipped("v5.4", "v4.19", "cb2dcaf023c2", 4096);
  // The fixes that need cb2dcaf023c2: 9df41314390b (v5.15) and those written on it (v6.1).
  const std::vector<std::string> lru_first{"9df41314390b", "89f6c88a6ab4", "829ae0f81ce0"};
  std::map<std::string, std::vector<std::string>> needing{
      {"v5.10", {}}, {"v5.15", {lru_first[0]}}, {"v6.1", lru_first}, {"v6.6", lru_first}};
  for (const auto& [later, needs] : needing) {  // every preset with it
    const auto flipped = fix_flipped(later, "v4.19", "cb2dcaf023c2", 4096, needs);
    configs.push_back(flipped[0]);
    configs.push_back(flipped[2]);
  }
  for (const auto& [label, kc] : configs) {
    Kernel k(kc);
    const CompactResult res = compact_under_a_held_lru_lock(k, CompactPriority::Async);
    got[label] = {res, k.stat(Stat::PGMIGRATE_SUCCESS)};
  }
  using R = std::pair<CompactResult, int64_t>;
  std::map<std::string, R> want{{"v4.19", R{CompactResult::Contended, 0}}};
  for (const char* p : {"v5.4", "v5.10", "v5.15", "v6.1", "v6.6"}) {
    want[p] = R{CompactResult::Success, 256};
    want[std::string(p) + " without cb2dcaf023c2"] = R{CompactResult::Contended, 0};
  }
  EXPECT_EQ(got, want);
}

// Too little free memory for the migration targets (below the low watermark plus
// 2 << order): compaction_suitable skips the zone and nothing moves.
TEST(CompactionDirect, SkippedWithoutRoomForTheTargets) {
  Kernel k(kcfg("v4.8", 2048));
  const uint32_t pid = process_create(k, "proc");
  const uint32_t n = process_fault_in(k, pid, 2048);
  for (uint32_t v = 1; v < 600 && v < n; v += 2) process_unmap(k, pid, v);
  ASSERT_LT(k.zones[0].free_pages, k.zones[0].watermark[size_t(Watermark::Low)] + (2u << 9));
  CompactResult res = CompactResult::Success;
  const gfp_t gfp = GFP_KERNEL | __GFP_MOVABLE;
  const RunResult r = run_task(k, [&] {
    res = try_to_compact_pages(k, gfp, 9, gfp_to_alloc_flags(k, gfp), DEF_COMPACT_PRIORITY);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(res, CompactResult::Skipped) << compact_result_name(res);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
  EXPECT_EQ(k.stat(Stat::COMPACTMIGRATE_SCANNED), 0);
}

// compaction_suitable's order-0 check is a watermark check: __zone_watermark_ok fails when
// the free pages are at or below the mark (low + 2 << order), so a zone with exactly that
// many free pages is skipped.
TEST(CompactionDirect, SkippedAtExactlyTheWatermarkPlusTheTargets) {
  Kernel k(kcfg("v4.8", 4096));
  const Zone& z = k.zones[0];
  const uint64_t mark = z.watermark[size_t(Watermark::Low)] + (2u << 9);
  const uint32_t pid = process_create(k, "proc");
  const uint32_t n = process_fault_in(k, pid, 4096);
  for (uint32_t v = 1; v < n && z.free_pages < mark; v += 2) process_unmap(k, pid, v);
  ASSERT_EQ(z.free_pages, mark);
  ASSERT_EQ(high_order_blocks(k, 9), 0u);
  CompactResult res = CompactResult::Success;
  const RunResult r = run_task(k, [&] {
    res = try_to_compact_pages(k, GFP_KERNEL | __GFP_MOVABLE, 9,
                               gfp_to_alloc_flags(k, GFP_KERNEL | __GFP_MOVABLE), DEF_COMPACT_PRIORITY);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(res, CompactResult::Skipped) << compact_result_name(res);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
}

// An unmovable request is satisfied by any free block it may steal: __compact_finished
// asks find_suitable_fallback(only_stealable), and an unmovable allocation can always
// steal (can_steal_fallback). Compaction stops with COMPACT_SUCCESS as soon as a free
// order-4 block appears on the MOVABLE lists.
TEST(CompactionDirect, UnmovableRequestSucceedsOnABlockItCanSteal) {
  Kernel k(kcfg("v4.8", 4096));
  const uint32_t pid = process_create(k, "proc");
  const uint32_t n = process_fault_in(k, pid, 4096);
  // The pages the watermarks kept free go to the kernel, one by one: no free block of
  // order 4 or more is left once the process unmaps every other page.
  std::vector<Pfn> held;
  for (;;) {
    const Pfn p = alloc_pages(k, GFP_HIGHUSER_MOVABLE | __GFP_MEMALLOC, 0, Owner::Kernel);
    if (p == kNoPfn) break;
    held.push_back(p);
  }
  for (uint32_t v = 1; v < n; v += 2) process_unmap(k, pid, v);
  ASSERT_EQ(high_order_blocks(k, 1), 0u) << str(blocks(k));
  CompactResult res = CompactResult::Skipped;
  Pfn got = kNoPfn;
  const RunResult r = run_task(k, [&] {
    res = try_to_compact_pages(k, GFP_KERNEL, 4, gfp_to_alloc_flags(k, GFP_KERNEL),
                               DEF_COMPACT_PRIORITY);
    got = alloc_pages(k, GFP_KERNEL, 4, Owner::Kernel);
    if (got != kNoPfn) __free_pages(k, got, 4);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(res, CompactResult::Success) << compact_result_name(res);
  EXPECT_NE(got, kNoPfn);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), int64_t(COMPACT_CLUSTER_MAX))
      << "one round frees an order-6 block";
  EXPECT_EQ(process_verify(k, pid), 0u);
  for (Pfn p : held) __free_pages(k, p, 0);
}

// ---- kcompactd ----

// kcompactd sleeps until wakeup_kcompactd, then compacts for the requested order.
TEST(CompactionKcompactd, WakesOnWakeupAndCompacts) {
  Kernel k(kcfg("v4.8", 4096));
  const uint32_t pid = fragment(k);
  int64_t migrated_before_wakeup = -1;
  Sim sim(sim_cfg(2), &k, std::make_unique<RandomStrategy>(3));
  with_teardown(sim, k);
  sim.spawn(0, "kcompactd0", [&] { kcompactd(k); }, /*daemon=*/true);
  sim.spawn(1, "waker", [&] {
    delay(10'000);
    migrated_before_wakeup = k.stat(Stat::PGMIGRATE_SUCCESS);
    wakeup_kcompactd(k, 9, 0);
  });
  const RunResult r = sim.run();
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(migrated_before_wakeup, 0);
  EXPECT_GT(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
  EXPECT_EQ(k.kcompactd_max_order, 0);
  EXPECT_EQ(k.stat(Stat::KCOMPACTD_WAKE), 1);
  EXPECT_GE(high_order_blocks(k, 9), 1u) << str(blocks(k));
  EXPECT_EQ(process_verify(k, pid), 0u);
  // Success resets the zone's deferral for that order (compaction_defer_reset).
  EXPECT_EQ(k.zones[0].compact_defer_shift, 0u);
  EXPECT_EQ(k.zones[0].compact_order_failed, 10);
}

// 4.8's kcompactd_do_work defers a zone it compacted to the end without meeting the
// watermark, skips a deferred zone when woken again, and resets the deferral on success.
TEST(CompactionKcompactd, DefersAZoneItCannotCompactAndSkipsItNextTime) {
  Kernel k(kcfg("v4.8", 2048));
  std::vector<Pfn> held;  // every page pinned by the kernel, every other one freed
  for (;;) {
    const Pfn p = alloc_pages(k, GFP_KERNEL | __GFP_MEMALLOC, 0, Owner::Kernel);
    if (p == kNoPfn) break;
    held.push_back(p);
  }
  for (size_t i = 0; i < held.size(); i += 2) __free_pages(k, held[i], 0);
  // One wake-up of kcompactd for order 4: the pages it scanned.
  const auto wake = [&k] {
    const int64_t before = k.stat(Stat::COMPACTMIGRATE_SCANNED);
    Sim sim(sim_cfg(2), &k, std::make_unique<RandomStrategy>(3));
    with_teardown(sim, k);
    sim.spawn(0, "kcompactd0", [&] { kcompactd(k); }, /*daemon=*/true);
    sim.spawn(1, "waker", [&] { wakeup_kcompactd(k, 4, 0); });
    const RunResult r = sim.run();
    EXPECT_TRUE(r.ok()) << outcomes_str(r);
    return k.stat(Stat::COMPACTMIGRATE_SCANNED) - before;
  };
  const Zone& zone = k.zones[0];
  EXPECT_GT(wake(), 0);  // compacted the zone to the end, in vain: deferred
  EXPECT_EQ(zone.compact_defer_shift, 1u);
  EXPECT_EQ(wake(), 0);  // deferred: considered 1 of 2, not scanned
  EXPECT_GT(wake(), 0);  // considered 2 of 2: compacted again, deferred further
  EXPECT_EQ(zone.compact_defer_shift, 2u);
}

// wakeup_kcompactd(pgdat, 0, ...) returns at once: kswapd asks for order 0 whenever it
// goes to sleep for an order-0 request.
TEST(CompactionKcompactd, AnOrderZeroWakeupDoesNothing) {
  Kernel k(kcfg("v4.8", 4096));
  fragment(k);
  Sim sim(sim_cfg(2), &k, std::make_unique<RandomStrategy>(3));
  with_teardown(sim, k);
  sim.spawn(0, "kcompactd0", [&] { kcompactd(k); }, /*daemon=*/true);
  sim.spawn(1, "waker", [&] {
    delay(10'000);
    wakeup_kcompactd(k, 0, 0);
  });
  const RunResult r = sim.run();
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(k.stat(Stat::KCOMPACTD_WAKE), 0);
  EXPECT_EQ(k.stat(Stat::COMPACTMIGRATE_SCANNED), 0);
}

TEST(CompactionKcompactd, SleepsWithoutAWakeup) {
  Kernel k(kcfg("v4.8", 4096));
  fragment(k);
  const std::vector<uint64_t> before = blocks(k);
  Sim sim(sim_cfg(2), &k, std::make_unique<RandomStrategy>(3));
  with_teardown(sim, k);
  sim.spawn(0, "kcompactd0", [&] { kcompactd(k); }, /*daemon=*/true);
  sim.spawn(1, "idle", [&] { delay(10'000); });
  const RunResult r = sim.run();
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
  EXPECT_EQ(k.stat(Stat::COMPACTMIGRATE_SCANNED), 0);
  EXPECT_EQ(blocks(k), before);
}

TEST(CompactionDirect, AFailedHighOrderAllocationCompactsAndRetries) {
  Kernel k(kcfg("v4.8", 4096));
  fragment(k);
  const int64_t stalls = k.stat(Stat::COMPACTSTALL);
  Pfn got = kNoPfn;
  const RunResult r = run_task(k, [&] { got = alloc_pages(k, GFP_KERNEL | __GFP_MOVABLE, 9, Owner::Kernel); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_NE(got, kNoPfn);
  EXPECT_EQ(k.stat(Stat::COMPACTSTALL), stalls + 2);  // async fails, then sync-light
  EXPECT_GT(k.stat(Stat::PGMIGRATE_SUCCESS), 0);
}

// 4.8 runs direct compaction with PF_MEMALLOC, and __unmap_and_move then gives up on a
// page it cannot trylock rather than sleep in lock_page: the allocating task may hold that
// lock itself ("the process can end up locking the same page twice and deadlocking").
// Without it the forced passes of migrate_pages slept on the task's own page lock.
TEST(CompactionDirect, PfMemallocKeepsATaskFromSleepingOnAPageLockItHolds) {
  Kernel k(kcfg("v4.8", 4096));
  const uint32_t pid = fragment(k);
  const std::vector<Pfn>& pte = k.processes[pid].pte;
  const size_t nv = std::min<size_t>(pte.size(), 8 * 512);
  std::vector<Pfn> held;  // the task's first 8 pageblocks' worth of pages (even vpages)
  for (size_t v = 0; v < nv; v += 2)
    if (pte[v] != kNoPfn) held.push_back(pte[v]);
  ASSERT_GT(held.size(), 1000u);
  Pfn got = kNoPfn;
  const RunResult r = run_task(k, [&] {
    for (Pfn p : held) lock_page(k, p);
    got = alloc_pages(k, GFP_KERNEL | __GFP_MOVABLE, 9, Owner::Kernel);
    for (Pfn p : held) unlock_page(k, p);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  // A costly order: async compaction first, then sync-light; neither forms the block.
  EXPECT_EQ(k.stat(Stat::COMPACTSTALL), 2);
  EXPECT_GT(k.stat(Stat::PGMIGRATE_FAIL), 0);  // the held pages were tried, and left
  for (size_t v = 0, i = 0; v < nv; v += 2)
    if (pte[v] != kNoPfn) {
      EXPECT_EQ(pte[v], held[i++]);
    }
  EXPECT_EQ(current_flags(), 0u);  // set-up's own word was never set
  (void)got;  // whether an order-9 block formed elsewhere does not matter here
}

// ---- too_many_isolated ----

namespace {

constexpr Nanos kMs = 1'000'000;

struct ThrottleRun {
  RunResult r;
  Nanos b_done = 0;  // B's clock when its compaction returned
  int64_t b_failed = -1;
  int64_t migrated = 0;
};

enum class AEnds { PutsBack, KeepsThem, Dies, FlushesWorkOfCpu1 };

struct Throttle {
  std::string preset = "v4.8";
  std::map<std::string, bool> fixes;
  MigrateMode b_mode = MigrateMode::Sync;
  AEnds a_ends = AEnds::PutsBack;
  bool b_kthread = false;  // B is a kernel thread, as kcompactd is
  bool preempt = false;    // CONFIG_PREEMPT
  // A counts its pages in NR_ISOLATED_FILE as if they were LRU pages (since 6afcf8ef0ca0
  // compaction does not count non-LRU ones).
  bool a_counts_them = false;
};

// Migrate context A holds two test-driver pages isolated for 1 ms of its CPU's time,
// accounted as compaction accounts them (acct_isolated; after 6afcf8ef0ca0, non-LRU pages
// are not counted, unless a_counts_them). Compaction context
// B starts meanwhile on CPU 1 to compact one of the machine's two LRU pages: with two
// isolated pages against two on the LRU, too_many_isolated().
ThrottleRun throttle_run(const Throttle& c) {
  kernel::KernelConfig kc = kcfg(c.preset, 1024);
  kc.fixes = c.fixes;
  Kernel k(kc);
  const uint32_t pid = process_create(k, "p");
  EXPECT_EQ(process_fault_in(k, pid, 2), 2u);
  const Pfn lru_page = k.processes[pid].pte[0];
  const Pfn P = Pfn(pagesim::testing::call(k, "test_driver_alloc", {2}));
  // __drain_all_pages' work on CPU 1 (the model has no per-cpu page lists to drain).
  const uint32_t wq = alloc_workqueue(k, "mm_percpu_wq", 1);
  const uint32_t drain = init_work(k, [](World&, uint64_t) {}, 0, "drain_local_pages_wq");
  ThrottleRun t;
  SimConfig sc = sim_cfg(2);
  sc.window = 0;  // strict DES: A isolates first
  sc.preempt = c.preempt;
  // B first sleeps until A is done waiting, so that CPU 1's kworker runs and goes idle,
  // as it has long before on a real machine.
  const uint32_t started = k.add_lock("kworkers_idle", LockKind::Mutex);
  Mutex& idle = k.locks[started].mutex;
  const bool b_sleeps_first = c.a_ends == AEnds::FlushesWorkOfCpu1;
  Sim sim(sc, &k, std::make_unique<TimedStrategy>(1));
  with_teardown(sim, k);
  sim.spawn(0, "migrate_ctx_A", [&] {
    if (b_sleeps_first) mutex_lock(idle);
    const uint32_t list = k.get_private_list("cc->migratepages");
    for (Pfn p : {P, P + 1}) {
      EXPECT_TRUE(isolate_movable_page(k, p, 0));
      list_add(k, p, list);
    }
    const bool lru_only = k.cfg.has(Fix::NrIsolatedLruOnly);
    if (!lru_only || c.a_counts_them) mod_node_page_state(k, Stat::NR_ISOLATED_FILE, 2);
    delay(kMs);
    if (b_sleeps_first) mutex_unlock(idle);
    if (c.a_ends == AEnds::FlushesWorkOfCpu1) {
      queue_work(k, wq, drain);
      flush_work(k, drain);
    }
    if (c.a_ends == AEnds::Dies) BUG("migrate_ctx_A", "dies with its pages isolated");
    if (c.a_ends == AEnds::KeepsThem) return;
    if (lru_only && c.a_counts_them) mod_node_page_state(k, Stat::NR_ISOLATED_FILE, -2);
    putback_movable_pages(k, list);
  });
  sim.spawn(1, "compact_B", [&] {
    delay(1'000);
    if (b_sleeps_first) {
      mutex_lock(idle);
      mutex_unlock(idle);
    }
    t.b_failed = compact_range(k, lru_page, lru_page + 1, c.b_mode);
    t.b_done = Sim::current()->now();
  }, c.b_kthread);
  t.r = sim.run();
  t.migrated = k.stat(Stat::PGMIGRATE_SUCCESS);
  return t;
}

ThrottleRun throttle_run(const std::string& preset, MigrateMode b_mode, AEnds a_ends) {
  return throttle_run({preset, {}, b_mode, a_ends});
}

bool calls(const RunResult& r, const char* func) {
  return std::any_of(r.trace.begin(), r.trace.end(),
                     [&](const TraceRecord& s) { return interned(s.func) == std::string(func); });
}

}  // namespace

// 4.8 counts the isolated non-LRU pages: B's sync compaction sleeps in congestion_wait
// until A puts them back, and looks again when its HZ/10 sleep ends, then migrates.
TEST(CompactionThrottle, SyncCompactionWaitsForThePutbackOfNonLruPagesOn48) {
  const ThrottleRun t = throttle_run("v4.8", MigrateMode::Sync, AEnds::PutsBack);
  ASSERT_TRUE(t.r.ok()) << outcomes_str(t.r);
  EXPECT_EQ(t.b_failed, 0);
  EXPECT_EQ(t.migrated, 1);
  EXPECT_GE(t.b_done, 100 * kMs);
  EXPECT_LT(t.b_done, 101 * kMs);
  EXPECT_TRUE(calls(t.r, "congestion_wait"));
}

// B does not wait: with 6afcf8ef0ca0 (LRU pages only are counted) it migrates its page;
// in async mode ("async migration should just abort") isolate_migratepages_block returns 0
// and B gives up without migrating.
TEST(CompactionThrottle, NoWaitWithNrIsolatedLruOnlyOrInAsyncMode) {
  struct Case {
    const char* preset;
    MigrateMode mode;
    int64_t migrated;
  };
  for (const Case& c : {Case{"v4.14", MigrateMode::Sync, 1}, Case{"v4.8", MigrateMode::Async, 0}}) {
    SCOPED_TRACE(c.preset);
    const ThrottleRun t = throttle_run(c.preset, c.mode, AEnds::PutsBack);
    ASSERT_TRUE(t.r.ok()) << outcomes_str(t.r);
    EXPECT_EQ(t.b_failed, 0);
    EXPECT_EQ(t.migrated, c.migrated);
    EXPECT_LT(t.b_done, kMs);
  }
}

// Pages that stay isolated keep B in its loop for ever: with no task left that could
// change NR_ISOLATED, the run ends in a hang (not a deadlock: B waits for no lock).
TEST(CompactionThrottle, PagesThatStayIsolatedHangTheThrottledCompaction) {
  const ThrottleRun t = throttle_run("v4.8", MigrateMode::Sync, AEnds::KeepsThem);
  ASSERT_FALSE(t.r.outcomes.empty());
  const Outcome& o = t.r.outcomes[0];
  EXPECT_EQ(o.key(), "hang") << outcomes_str(t.r);
  EXPECT_EQ(o.message, "no task can run while 1 wait for what no task can change");
  ASSERT_EQ(o.details.size(), 1u);
  EXPECT_EQ(o.details[0],
            "compact_B (cpu1) sleeps on congestion_wait (too_many_isolated) node 0 vmstat in "
            "congestion_wait");
}

// A task that died holding isolated pages leaves the throttled compaction waiting: that is
// the failure's aftermath, listed in its report, not an outcome of its own.
TEST(CompactionThrottle, AWaitForPagesADeadTaskIsolatedIsItsAftermath) {
  const ThrottleRun t = throttle_run("v4.8", MigrateMode::Sync, AEnds::Dies);
  ASSERT_EQ(t.r.outcomes.size(), 1u) << outcomes_str(t.r);
  const Outcome& o = t.r.outcomes[0];
  EXPECT_EQ(o.key(), "bug:migrate_ctx_A");
  const auto after = std::find(o.details.begin(), o.details.end(), "after it:");
  ASSERT_NE(after, o.details.end()) << outcomes_str(t.r);
  ASSERT_NE(after + 1, o.details.end());
  EXPECT_NE((after + 1)->find("compact_B (cpu1) sleeps on congestion_wait"), std::string::npos);
}

// ---- reclaim_throttle (d818fca1cac3, 5.16) and its kthread branch (b485c6f1f9f5) ----

// Since 5.16 B sleeps in reclaim_throttle instead: it looks again when its HZ/50 period
// in which A put the pages back ends. With d818fca1cac3 flipped off, 6.1 waits HZ/10 as
// 4.8 did.
TEST(CompactionThrottle, ReclaimThrottleWaitsHz50) {
  struct Case {
    std::map<std::string, bool> fixes;
    const char* waits_in;
    Nanos period;
  };
  for (const Case& c : {Case{{}, "reclaim_throttle", 20 * kMs},
                        Case{{{"d818fca1cac3", false}, {"b485c6f1f9f5", false}},
                             "congestion_wait", 100 * kMs}}) {
    SCOPED_TRACE(c.waits_in);
    Throttle th;
    th.preset = "v6.1";
    th.fixes = c.fixes;
    th.a_counts_them = true;
    const ThrottleRun t = throttle_run(th);
    ASSERT_TRUE(t.r.ok()) << outcomes_str(t.r);
    EXPECT_EQ(t.b_failed, 0);
    EXPECT_EQ(t.migrated, 1);
    EXPECT_GE(t.b_done, c.period);
    EXPECT_LT(t.b_done, c.period + kMs);
    EXPECT_TRUE(calls(t.r, c.waits_in));
    EXPECT_FALSE(calls(t.r, c.waits_in == std::string("congestion_wait") ? "reclaim_throttle"
                                                                          : "congestion_wait"));
  }
}

// "Do not throttle IO workers, kthreads other than kswapd or workqueues": kcompactd loops
// on too_many_isolated() and migrates as soon as A has put the pages back.
TEST(CompactionThrottle, AKthreadIsNotThrottled) {
  for (const bool resched : {true, false}) {
    SCOPED_TRACE(resched ? "b485c6f1f9f5" : "without b485c6f1f9f5");
    Throttle th;
    th.preset = "v6.1";
    th.fixes = {{"b485c6f1f9f5", resched}};
    th.a_counts_them = true;
    th.b_kthread = true;
    const ThrottleRun t = throttle_run(th);
    ASSERT_TRUE(t.r.ok()) << outcomes_str(t.r);
    EXPECT_EQ(t.migrated, 1);
    EXPECT_GE(t.b_done, kMs);
    EXPECT_LT(t.b_done, 2 * kMs);
  }
}

// b485c6f1f9f5's report (a soft lockup of kcompactd0, CONFIG_PREEMPT=n only): the task
// that holds the isolated pages waits for a work item of kcompactd's CPU (there,
// __drain_all_pages), and kcompactd, looping on too_many_isolated() without
// cond_resched(), never lets that CPU's kworker run. With cond_resched(), or with
// CONFIG_PREEMPT, the kworker runs and both finish.
TEST(CompactionThrottle, KcompactdLoopStarvesItsCpuWithoutCondResched) {
  struct Case {
    bool resched, preempt;
  };
  for (const Case& c : {Case{false, false}, Case{true, false}, Case{false, true}}) {
    SCOPED_TRACE(std::string(c.resched ? "b485c6f1f9f5" : "without b485c6f1f9f5") +
                 (c.preempt ? ", CONFIG_PREEMPT" : ""));
    Throttle th;
    th.preset = "v6.1";
    th.fixes = {{"b485c6f1f9f5", c.resched}};
    th.a_counts_them = true;
    th.b_kthread = true;
    th.preempt = c.preempt;
    th.a_ends = AEnds::FlushesWorkOfCpu1;
    const ThrottleRun t = throttle_run(th);
    if (c.resched || c.preempt) {
      ASSERT_TRUE(t.r.ok()) << outcomes_str(t.r);
      EXPECT_EQ(t.migrated, 1);
      continue;
    }
    ASSERT_EQ(t.r.outcomes.size(), 1u) << outcomes_str(t.r);
    const Outcome& o = t.r.outcomes[0];
    EXPECT_EQ(o.key(), "hang");
    EXPECT_EQ(o.message, "no task can run while 3 wait for what no task can change");
    EXPECT_EQ(join(o.details),
              "migrate_ctx_A (cpu0) sleeps on flush_work work drain_local_pages_wq\n"
              "compact_B (cpu1) spins on too_many_isolated node 0 vmstat in reclaim_throttle\n"
              "kworker/1:mm_percpu_wq (cpu1) waits for its CPU, held by compact_B in "
              "worker_thread\n");
  }
}
