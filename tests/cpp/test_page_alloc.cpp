// Page allocator contract (mm/page_alloc.c of 4.8): buddy merging and splitting,
// fallback and stealing, CMA, watermarks, bad_page, fragmentation metrics, misuse.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/rng.h"
#include "engine/sim.h"
#include "engine/world.h"
#include "mm/page_alloc.h"

using namespace pagesim;
using namespace pagesim::mm;

namespace {

constexpr uint32_t kBlocks4 = 4 * pageblock_nr_pages;  // 2048 pages, 8 MiB

// Every allocation below ignores the watermarks unless a test is about them.
constexpr gfp_t kMovableNoWmark = GFP_HIGHUSER_MOVABLE | __GFP_MEMALLOC;
constexpr gfp_t kKernelNoWmark = GFP_KERNEL | __GFP_MEMALLOC;

std::vector<uint64_t> nr_free(const Mm& mm, const Zone& z) { return free_blocks_per_order(mm, z); }

uint32_t list_count(const Mm& mm, const Zone& z, unsigned order, int mt) {
  return mm.lists[z.free_area[order].free_list[mt]].count;
}

// Buddy invariants: every page on a free list is a PageBuddy head of that list's order,
// aligned, inside its zone, with refcount 0; the pages of its block are plain free
// pages; nr_free and the counters match the lists; no other page is PageBuddy.
void expect_buddy_invariants(const Mm& mm) {
  std::vector<uint8_t> in_free_block(mm.pages.size(), 0);
  int64_t free_total = 0;
  for (const Zone& z : mm.zones) {
    uint64_t zone_free = 0;
    for (unsigned order = 0; order < unsigned(MAX_ORDER); ++order) {
      uint64_t on_lists = 0;
      for (int mt = 0; mt < MIGRATE_TYPES; ++mt) {
        const PageList& l = mm.lists[z.free_area[order].free_list[mt]];
        uint32_t n = 0;
        Pfn prev = kNoPfn;
        for (Pfn pfn = l.first; pfn != kNoPfn; pfn = mm.page(pfn).lru_next) {
          ++n;
          const Page& p = mm.page(pfn);
          ASSERT_EQ(p.lru_prev, prev);
          prev = pfn;
          ASSERT_EQ(p.list, z.free_area[order].free_list[mt]);
          ASSERT_EQ(p.mapcount, PAGE_BUDDY_MAPCOUNT_VALUE) << "pfn " << pfn;
          ASSERT_EQ(p.private_, order) << "pfn " << pfn;
          ASSERT_EQ(p.refcount, 0);
          ASSERT_EQ(pfn & ((1u << order) - 1), 0u);
          ASSERT_TRUE(z.contains(pfn) && z.contains(pfn + (1u << order) - 1));
          for (uint32_t i = 0; i < (1u << order); ++i) {
            ASSERT_EQ(in_free_block[pfn + i], 0) << "pfn " << pfn + i << " in two free blocks";
            in_free_block[pfn + i] = 1;
            const Page& t = mm.page(pfn + i);
            ASSERT_EQ(t.refcount, 0);
            ASSERT_EQ(t.owner, Owner::None);
            ASSERT_EQ(t.flags, 0u);
            if (i) {
              ASSERT_EQ(t.mapcount, -1) << "tail pfn " << pfn + i;
            }
          }
        }
        ASSERT_EQ(n, l.count);
        on_lists += n;
        if (mt != MIGRATE_ISOLATE) zone_free += uint64_t(n) << order;
      }
      ASSERT_EQ(on_lists, z.free_area[order].nr_free) << "order " << order;
    }
    ASSERT_EQ(zone_free, z.free_pages) << z.name;
    free_total += int64_t(zone_free);
  }
  ASSERT_EQ(free_total, mm.stats[size_t(Stat::NR_FREE_PAGES)]);
  for (Pfn pfn = 0; pfn < mm.pages.size(); ++pfn)
    if (!in_free_block[pfn]) {
      ASSERT_NE(mm.page(pfn).mapcount, PAGE_BUDDY_MAPCOUNT_VALUE) << pfn;
    }
}

void expect_fresh_two_block_zone(const Mm& mm) {
  const Zone& z = mm.zones[0];
  std::vector<uint64_t> want(MAX_ORDER, 0);
  want[10] = 2;
  EXPECT_EQ(nr_free(mm, z), want);
  EXPECT_EQ(list_count(mm, z, 10, MIGRATE_MOVABLE), 2u);
  EXPECT_TRUE(PageBuddy(mm, 0));
  EXPECT_TRUE(PageBuddy(mm, 1024));
  EXPECT_EQ(page_order(mm, 0), 10u);
  EXPECT_EQ(page_order(mm, 1024), 10u);
  EXPECT_EQ(z.free_pages, 2048u);
  EXPECT_EQ(mm.stats[size_t(Stat::NR_FREE_PAGES)], 2048);
  expect_buddy_invariants(mm);
}

struct PageAllocZone : ::testing::Test {
  Mm mm;
  void SetUp() override { init_memory(mm, {{"Normal", kBlocks4}}); }
  Zone& z() { return mm.zones[0]; }
};

std::vector<Pfn> alloc_all_order0(Mm& mm, gfp_t gfp) {
  std::vector<Pfn> pfns;
  for (;;) {
    const Pfn p = alloc_pages(mm, gfp, 0, Owner::Kernel);
    if (p == kNoPfn) break;
    pfns.push_back(p);
  }
  return pfns;
}

SimConfig sim_cfg(uint32_t cpus) {
  SimConfig c;
  c.cpus = cpus;
  return c;
}

bool has_outcome(const RunResult& r, const std::string& key) {
  for (const auto& o : r.outcomes)
    if (o.key() == key) return true;
  return false;
}

std::vector<uint8_t> page_bytes(const Mm& mm) {
  std::vector<uint8_t> b(mm.pages.size() * sizeof(Page));
  std::memcpy(b.data(), mm.pages.data(), b.size());
  return b;
}

}  // namespace

// ---- init_memory ----

TEST_F(PageAllocZone, InitGivesMaxOrderBlocks) {
  expect_fresh_two_block_zone(mm);
  EXPECT_EQ(mm.pages.size(), 2048u);
  EXPECT_EQ(z().zone_start_pfn, 0u);
  EXPECT_EQ(z().spanned_pages, 2048u);
  EXPECT_EQ(z().managed_pages, 2048u);
  EXPECT_EQ(z().pageblock_mt, std::vector<uint8_t>(4, MIGRATE_MOVABLE));
  EXPECT_EQ(z().compact_cached_migrate_pfn, 0u);
  EXPECT_EQ(z().compact_cached_free_pfn, 1536u);
  EXPECT_EQ(z().lock.id, make_obj(objclass::kZone, 0));
  EXPECT_EQ(z().lru_lock.id, make_obj(objclass::kLruLock, 0));
  EXPECT_EQ(mm.lists[z().free_area[3].free_list[MIGRATE_MOVABLE]].name(),
            "free_area[3][Movable] Normal");
  EXPECT_EQ(mm.lists[z().lru[LRU_ACTIVE_FILE]].name(), "lru:active_file Normal");
  EXPECT_TRUE(list_empty(mm, z().lru[LRU_INACTIVE_ANON]));
  // Boot frees in ascending pfn order with list_add: the higher block comes first.
  EXPECT_EQ(mm.lists[z().free_area[10].free_list[MIGRATE_MOVABLE]].first, 1024u);
  // min_free_kbytes = int_sqrt(8192 * 16) = 362 -> 90 pages; low/high add max(90/4, 2).
  EXPECT_EQ(z().watermark[size_t(Watermark::Min)], 90u);
  EXPECT_EQ(z().watermark[size_t(Watermark::Low)], 112u);
  EXPECT_EQ(z().watermark[size_t(Watermark::High)], 134u);
  for (Pfn pfn = 0; pfn < 2048; ++pfn) {
    EXPECT_EQ(mm.page(pfn).refcount, 0);
    EXPECT_EQ(mm.page(pfn).owner, Owner::None);
  }
}

TEST(PageAlloc, InitOneGiBZone) {
  Mm mm;
  init_memory(mm, {{"Normal", 262144}});
  std::vector<uint64_t> want(MAX_ORDER, 0);
  want[10] = 256;
  EXPECT_EQ(free_blocks_per_order(mm, mm.zones[0]), want);
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 262144);
  // min_free_kbytes = int_sqrt(1 GiB in KiB * 16) = 4096 -> 1024 pages; the scale
  // factor (0.1% = 262 pages) exceeds min/4 = 256.
  EXPECT_EQ(mm.zones[0].watermark[size_t(Watermark::Min)], 1024u);
  EXPECT_EQ(mm.zones[0].watermark[size_t(Watermark::Low)], 1286u);
  EXPECT_EQ(mm.zones[0].watermark[size_t(Watermark::High)], 1548u);
  EXPECT_EQ(mm.zones[0].compact_cached_free_pfn, 262144u - 512u);
}

TEST(PageAlloc, InitSeveralZonesNeverMergesAcrossZones) {
  Mm mm;
  init_memory(mm, {{"DMA32", 512}, {"Normal", 1536}});
  ASSERT_EQ(mm.zones.size(), 2u);
  const Zone& dma32 = mm.zones[0];
  const Zone& normal = mm.zones[1];
  EXPECT_EQ(normal.zone_start_pfn, 512u);
  EXPECT_EQ(normal.id, 1u);
  EXPECT_EQ(normal.lock.id, make_obj(objclass::kZone, 1));
  EXPECT_EQ(normal.compact_cached_migrate_pfn, 512u);
  // [0,512) and [512,1024) are order-9 buddies but in different zones.
  std::vector<uint64_t> d(MAX_ORDER, 0), n(MAX_ORDER, 0);
  d[9] = 1;
  n[9] = 1;
  n[10] = 1;
  EXPECT_EQ(free_blocks_per_order(mm, dma32), d);
  EXPECT_EQ(free_blocks_per_order(mm, normal), n);
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 2048);
  expect_buddy_invariants(mm);

  // The Normal zone serves first (highest zone of the zonelist); its order-9 block.
  const Pfn p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 9, Owner::Process);
  EXPECT_EQ(p, 512u);
  __free_pages(mm, p, 9);
  EXPECT_EQ(free_blocks_per_order(mm, dma32), d);
  EXPECT_EQ(free_blocks_per_order(mm, normal), n);
  // __GFP_DMA32 may only use DMA32.
  const Pfn q = alloc_pages(mm, GFP_KERNEL | __GFP_DMA32, 0, Owner::Kernel);
  EXPECT_LT(q, 512u);
  __free_pages(mm, q, 0);
  EXPECT_EQ(free_blocks_per_order(mm, dma32), d);
  expect_buddy_invariants(mm);
}

TEST(PageAlloc, InitRejectsBadZones) {
  {
    Mm mm;
    EXPECT_THROW(init_memory(mm, {{"Normal", 1000}}), UsageError);
    EXPECT_TRUE(mm.pages.empty());
    EXPECT_TRUE(mm.zones.empty());
  }
  {
    Mm mm;
    EXPECT_THROW(init_memory(mm, {}), UsageError);
    EXPECT_THROW(init_memory(mm, {{"Normal", 0}}), UsageError);
    EXPECT_THROW(init_memory(mm, {{"Normal", 512, MIGRATE_ISOLATE}}), UsageError);
  }
  {
    Mm mm;
    init_memory(mm, {{"Normal", 512}});
    EXPECT_THROW(init_memory(mm, {{"Normal", 512}}), UsageError);
    EXPECT_EQ(mm.pages.size(), 512u);
  }
  try {
    Mm mm;
    init_memory(mm, {{"DMA32", 512}, {"Normal", 700}});
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'Normal' has 700 pages"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pageblock_nr_pages (512"), std::string::npos) << e.what();
  }
}

TEST(PageAlloc, ZonelistRespectsZoneModifiers) {
  Mm mm;
  init_memory(mm, {{"DMA32", 512}, {"Normal", 512}, {"Movable", 1024}});
  // lowmem excludes Movable: int_sqrt(1024 * 4 * 16) = 256 KiB = 64 pages, shared by
  // managed pages over all zones.
  EXPECT_EQ(mm.zones[0].watermark[size_t(Watermark::Min)], 16u);
  EXPECT_EQ(mm.zones[1].watermark[size_t(Watermark::Min)], 16u);
  EXPECT_EQ(mm.zones[2].watermark[size_t(Watermark::Min)], 32u);
  // GFP_HIGHUSER_MOVABLE may use ZONE_MOVABLE, the highest zone.
  EXPECT_GE(alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process), 1024u);
  // __GFP_MOVABLE alone does not (gfp_zone is ZONE_NORMAL), nor does GFP_KERNEL.
  const Pfn a = alloc_pages(mm, GFP_KERNEL | __GFP_MOVABLE, 0, Owner::Process);
  EXPECT_TRUE(a >= 512u && a < 1024u) << a;
  for (int i = 0; i < 600; ++i) {
    const Pfn p = alloc_pages(mm, GFP_KERNEL, 0, Owner::Kernel);
    ASSERT_NE(p, kNoPfn);
    EXPECT_LT(p, 1024u);
  }
  const Pfn d = alloc_pages(mm, GFP_KERNEL | __GFP_DMA32, 0, Owner::Kernel);
  EXPECT_LT(d, 512u);
  // No zone named DMA: a __GFP_DMA request fails.
  EXPECT_EQ(alloc_pages(mm, GFP_KERNEL | __GFP_DMA, 0, Owner::Kernel), kNoPfn);
  expect_buddy_invariants(mm);
}

// ---- allocation, free, merging ----

TEST_F(PageAllocZone, Order0AllocAndFreeRestoresMaxOrderBlocks) {
  const Pfn p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
  ASSERT_EQ(p, 1024u);  // first block of the list, split down: its lowest page
  const Page& pg = mm.page(p);
  EXPECT_EQ(pg.refcount, 1);
  EXPECT_EQ(pg.mapcount, -1);
  EXPECT_EQ(pg.flags, 0u);
  EXPECT_EQ(pg.mapping, 0u);
  EXPECT_EQ(pg.private_, 0u);
  EXPECT_EQ(pg.owner, Owner::Process);
  EXPECT_FALSE(PageBuddy(mm, p));
  // expand() left one free block of each order 0..9 at 1025, 1026, 1028, ... 1536.
  std::vector<uint64_t> want(MAX_ORDER, 1);
  EXPECT_EQ(nr_free(mm, z()), want);
  for (unsigned o = 0; o < 10; ++o) {
    EXPECT_TRUE(PageBuddy(mm, 1024 + (1u << o)));
    EXPECT_EQ(page_order(mm, 1024 + (1u << o)), o);
  }
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 2047);
  EXPECT_EQ(z().free_pages, 2047u);
  expect_buddy_invariants(mm);

  __free_pages(mm, p, 0);
  expect_fresh_two_block_zone(mm);
  EXPECT_EQ(mm.page(p).owner, Owner::None);
}

TEST_F(PageAllocZone, HighOrderAllocSetsOwnerOnEveryPage) {
  const Pfn p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 3, Owner::TestDriver);
  ASSERT_EQ(p, 1024u);
  for (Pfn i = 0; i < 8; ++i) EXPECT_EQ(mm.page(p + i).owner, Owner::TestDriver);
  EXPECT_EQ(mm.page(p).refcount, 1);
  for (Pfn i = 1; i < 8; ++i) EXPECT_EQ(mm.page(p + i).refcount, 0);
  std::vector<uint64_t> want(MAX_ORDER, 1);
  want[0] = want[1] = want[2] = 0;
  EXPECT_EQ(nr_free(mm, z()), want);
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 2040);
  __free_pages(mm, p, 3);
  expect_fresh_two_block_zone(mm);
}

TEST_F(PageAllocZone, RefcountedPageIsFreedAtLastPut) {
  const Pfn p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
  mm.page(p).refcount = 2;  // get_page
  __free_pages(mm, p, 0);
  EXPECT_EQ(mm.page(p).refcount, 1);
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 2047);
  __free_pages(mm, p, 0);
  expect_fresh_two_block_zone(mm);
}

TEST_F(PageAllocZone, AllocAllThenFreeInRandomOrderRestores) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::vector<Pfn> pfns = alloc_all_order0(mm, kMovableNoWmark);
    ASSERT_EQ(pfns.size(), 2048u);
    EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 0);
    EXPECT_EQ(nr_free(mm, z()), std::vector<uint64_t>(MAX_ORDER, 0));
    std::vector<uint8_t> seen(2048, 0);
    for (Pfn p : pfns) {
      ASSERT_LT(p, 2048u);
      ASSERT_EQ(seen[p], 0) << "pfn " << p << " allocated twice";
      seen[p] = 1;
      ASSERT_EQ(mm.page(p).refcount, 1);
    }
    expect_buddy_invariants(mm);
    Rng rng(seed);
    for (size_t i = pfns.size(); i > 1; --i) std::swap(pfns[i - 1], pfns[rng.below(i)]);
    for (size_t i = 0; i < pfns.size(); ++i) {
      __free_pages(mm, pfns[i], 0);
      if (i % 256 == 255) expect_buddy_invariants(mm);
    }
    expect_fresh_two_block_zone(mm);
  }
}

TEST_F(PageAllocZone, MixedOrdersInRandomOrderRestore) {
  Rng rng(42);
  std::vector<std::pair<Pfn, unsigned>> held;
  for (int step = 0; step < 3000; ++step) {
    if (held.empty() || rng.below(3) != 0) {
      const unsigned order = unsigned(rng.below(6));
      const Pfn p = alloc_pages(mm, kMovableNoWmark, order, Owner::Process);
      if (p != kNoPfn) held.push_back({p, order});
    } else {
      const size_t i = rng.below(held.size());
      __free_pages(mm, held[i].first, held[i].second);
      held[i] = held.back();
      held.pop_back();
    }
    if (step % 500 == 0) expect_buddy_invariants(mm);
  }
  for (auto [p, o] : held) __free_pages(mm, p, o);
  expect_fresh_two_block_zone(mm);
}

// ---- fallback and stealing ----

TEST_F(PageAllocZone, UnmovableStealsAndConvertsMaxOrderBlock) {
  const Pfn p = alloc_pages(mm, GFP_KERNEL, 0, Owner::Kernel);
  ASSERT_EQ(p, 1024u);
  // An order-10 block is two pageblocks: change_pageblock_range converts both.
  EXPECT_EQ(get_pageblock_migratetype(mm, 0), MIGRATE_MOVABLE);
  EXPECT_EQ(get_pageblock_migratetype(mm, 512), MIGRATE_MOVABLE);
  EXPECT_EQ(get_pageblock_migratetype(mm, 1024), MIGRATE_UNMOVABLE);
  EXPECT_EQ(get_pageblock_migratetype(mm, 2047), MIGRATE_UNMOVABLE);
  EXPECT_EQ(list_count(mm, z(), 10, MIGRATE_MOVABLE), 1u);
  for (unsigned o = 0; o < 10; ++o) {
    EXPECT_EQ(list_count(mm, z(), o, MIGRATE_UNMOVABLE), 1u) << o;
    EXPECT_EQ(list_count(mm, z(), o, MIGRATE_MOVABLE), 0u) << o;
  }
  expect_buddy_invariants(mm);
  // Freed into its pageblock's (now unmovable) lists; the pageblocks stay unmovable.
  __free_pages(mm, p, 0);
  EXPECT_EQ(list_count(mm, z(), 10, MIGRATE_UNMOVABLE), 1u);
  EXPECT_EQ(list_count(mm, z(), 10, MIGRATE_MOVABLE), 1u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 1024), MIGRATE_UNMOVABLE);
  expect_buddy_invariants(mm);
  // The next unmovable request is served from the unmovable lists: no more stealing.
  EXPECT_EQ(alloc_pages(mm, GFP_KERNEL, 0, Owner::Kernel), 1024u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 0), MIGRATE_MOVABLE);
}

TEST_F(PageAllocZone, UnmovableClaimsPageblockWhenHalfOfItIsFree) {
  std::vector<Pfn> pfns = alloc_all_order0(mm, kMovableNoWmark);
  ASSERT_EQ(pfns.size(), 2048u);
  for (Pfn p = 1; p < 512; ++p) __free_pages(mm, p, 0);  // pageblock 0 but pfn 0
  std::vector<uint64_t> want(MAX_ORDER, 0);
  for (unsigned o = 0; o <= 8; ++o) want[o] = 1;  // 1, 2, 4, ... 256
  EXPECT_EQ(nr_free(mm, z()), want);
  const Pfn p = alloc_pages(mm, kKernelNoWmark, 0, Owner::Kernel);
  // The largest fallback block (order 8 at 256) is taken; move_freepages_block moved
  // 511 >= 256 pages, so the pageblock is claimed.
  EXPECT_EQ(p, 256u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 0), MIGRATE_UNMOVABLE);
  EXPECT_EQ(get_pageblock_migratetype(mm, 512), MIGRATE_MOVABLE);
  for (unsigned o = 0; o < unsigned(MAX_ORDER); ++o)
    EXPECT_EQ(list_count(mm, z(), o, MIGRATE_MOVABLE), 0u) << o;
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 510);
  expect_buddy_invariants(mm);
}

TEST_F(PageAllocZone, ClaimingNeedsAtLeastHalfThePageblockFree) {
  for (Pfn first_free : {256u, 257u}) {  // 256 free pages: claimed; 255: not
    Mm m;
    init_memory(m, {{"Normal", kBlocks4}});
    ASSERT_EQ(alloc_all_order0(m, kMovableNoWmark).size(), 2048u);
    for (Pfn p = first_free; p < 512; ++p) __free_pages(m, p, 0);
    const Pfn p = alloc_pages(m, kKernelNoWmark, 0, Owner::Kernel);
    EXPECT_EQ(p, first_free == 256u ? 256u : 384u);  // the largest block: order 8, or 7
    EXPECT_EQ(get_pageblock_migratetype(m, 0),
              first_free == 256u ? MIGRATE_UNMOVABLE : MIGRATE_MOVABLE);
    expect_buddy_invariants(m);
  }
}

TEST_F(PageAllocZone, FreedPageGoesToTailWhenItsHigherBuddyIsFree) {
  ASSERT_EQ(alloc_all_order0(mm, kMovableNoWmark).size(), 2048u);
  __free_pages(mm, 8, 0);  // pfn 10-11 not free: head of the order-0 list
  __free_pages(mm, 2, 0);
  __free_pages(mm, 3, 0);  // merged: order 1 at 2
  __free_pages(mm, 0, 0);  // its order-1 buddy (2) is free: added at the tail
  const PageList& l = mm.lists[z().free_area[0].free_list[MIGRATE_MOVABLE]];
  EXPECT_EQ(l.first, 8u);
  EXPECT_EQ(l.last, 0u);
  EXPECT_EQ(alloc_pages(mm, kMovableNoWmark, 0, Owner::Process), 8u);
  expect_buddy_invariants(mm);
}

TEST_F(PageAllocZone, UnmovableTakesFewFreePagesWithoutClaimingPageblock) {
  std::vector<Pfn> pfns = alloc_all_order0(mm, kMovableNoWmark);
  ASSERT_EQ(pfns.size(), 2048u);
  for (Pfn p : {0u, 2u, 4u}) __free_pages(mm, p, 0);
  EXPECT_EQ(mm.lists[z().free_area[0].free_list[MIGRATE_MOVABLE]].first, 4u);
  const Pfn p = alloc_pages(mm, kKernelNoWmark, 0, Owner::Kernel);
  EXPECT_EQ(p, 4u);
  // The free pages of the pageblock moved to the unmovable list (3 < 256): the
  // pageblock keeps its type.
  EXPECT_EQ(get_pageblock_migratetype(mm, 0), MIGRATE_MOVABLE);
  EXPECT_EQ(list_count(mm, z(), 0, MIGRATE_UNMOVABLE), 2u);
  EXPECT_EQ(list_count(mm, z(), 0, MIGRATE_MOVABLE), 0u);
  expect_buddy_invariants(mm);
}

TEST_F(PageAllocZone, MovableFallbackFromSmallUnmovableBlockDoesNotSteal) {
  for (Pfn pb = 0; pb < 2048; pb += pageblock_nr_pages) {
    set_pageblock_migratetype(mm, pb, MIGRATE_UNMOVABLE);
    EXPECT_EQ(move_freepages_block(mm, z(), pb, MIGRATE_UNMOVABLE), pb % 1024 ? 0 : 1024);
  }
  EXPECT_EQ(list_count(mm, z(), 10, MIGRATE_UNMOVABLE), 2u);
  std::vector<Pfn> pfns = alloc_all_order0(mm, kKernelNoWmark);
  ASSERT_EQ(pfns.size(), 2048u);
  for (Pfn p : {0u, 2u, 4u}) __free_pages(mm, p, 0);
  EXPECT_EQ(list_count(mm, z(), 0, MIGRATE_UNMOVABLE), 3u);
  bool can_steal = true;
  EXPECT_EQ(find_suitable_fallback(mm, z().free_area[0], 0, MIGRATE_MOVABLE, false, &can_steal),
            MIGRATE_UNMOVABLE);
  EXPECT_FALSE(can_steal);
  EXPECT_EQ(find_suitable_fallback(mm, z().free_area[0], 0, MIGRATE_MOVABLE, true, &can_steal), -1);
  const Pfn p = alloc_pages(mm, kMovableNoWmark, 0, Owner::Process);
  EXPECT_EQ(p, 4u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 0), MIGRATE_UNMOVABLE);
  EXPECT_EQ(list_count(mm, z(), 0, MIGRATE_UNMOVABLE), 2u);
  EXPECT_EQ(list_count(mm, z(), 0, MIGRATE_MOVABLE), 0u);
  expect_buddy_invariants(mm);
}

TEST(PageAlloc, CmaPageblocksServeMovableRequestsOnly) {
  Mm mm;
  init_memory(mm, {{"DMA32", 1024}, {"Normal", 1024, MIGRATE_CMA}});
  const Zone& normal = mm.zones[1];
  EXPECT_EQ(normal.pageblock_mt, std::vector<uint8_t>(2, MIGRATE_CMA));
  EXPECT_EQ(mm.lists[normal.free_area[10].free_list[MIGRATE_CMA]].count, 1u);
  // Free CMA pages do not count for an unmovable request: Normal fails its watermark,
  // DMA32 serves.
  EXPECT_FALSE(zone_watermark_ok(mm, normal, 0, Watermark::Min));
  EXPECT_TRUE(zone_watermark_ok(mm, normal, 0, normal.watermark[0], ALLOC_CMA));
  const Pfn u = alloc_pages(mm, GFP_KERNEL, 0, Owner::Kernel);
  EXPECT_LT(u, 1024u);
  // A movable request may use them (__rmqueue_cma_fallback); the pageblocks stay CMA.
  const Pfn m = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
  EXPECT_EQ(m, 1024u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 1024), MIGRATE_CMA);
  for (unsigned o = 0; o < 10; ++o)
    EXPECT_EQ(mm.lists[normal.free_area[o].free_list[MIGRATE_CMA]].count, 1u);
  expect_buddy_invariants(mm);
  __free_pages(mm, m, 0);
  EXPECT_EQ(mm.lists[normal.free_area[10].free_list[MIGRATE_CMA]].count, 1u);
  expect_buddy_invariants(mm);
}

TEST(PageAlloc, CmaOnlyMemoryRefusesUnmovableEvenWithoutWatermarks) {
  Mm mm;
  init_memory(mm, {{"Normal", 2048, MIGRATE_CMA}});
  EXPECT_EQ(alloc_pages(mm, kKernelNoWmark, 0, Owner::Kernel), kNoPfn);
  EXPECT_EQ(alloc_pages(mm, GFP_KERNEL | __GFP_RECLAIMABLE | __GFP_MEMALLOC, 0, Owner::Kernel),
            kNoPfn);
  const Pfn m = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
  EXPECT_NE(m, kNoPfn);
  EXPECT_EQ(get_pageblock_migratetype(mm, m), MIGRATE_CMA);
  __free_pages(mm, m, 0);
  EXPECT_EQ(mm.lists[mm.zones[0].free_area[10].free_list[MIGRATE_CMA]].count, 2u);
  expect_buddy_invariants(mm);
}

// ---- watermarks ----

TEST_F(PageAllocZone, WatermarkMinStopsAllocationsWithoutHighPriority) {
  // min 90: normal requests stop with 90 pages free (free_pages <= min fails).
  std::vector<Pfn> normal = alloc_all_order0(mm, GFP_KERNEL);
  EXPECT_EQ(normal.size(), 2048u - 90u);
  EXPECT_EQ(z().free_pages, 90u);
  EXPECT_FALSE(zone_watermark_ok(mm, z(), 0, Watermark::Min));
  // __GFP_HIGH halves the min (45).
  EXPECT_EQ(alloc_all_order0(mm, __GFP_HIGH).size(), 45u);
  EXPECT_EQ(z().free_pages, 45u);
  // GFP_ATOMIC: __GFP_HIGH and ALLOC_HARDER: 90 - 45 - 45/4 = 34.
  EXPECT_EQ(alloc_all_order0(mm, GFP_ATOMIC).size(), 11u);
  EXPECT_EQ(z().free_pages, 34u);
  // __GFP_MEMALLOC ignores the watermarks.
  EXPECT_EQ(alloc_all_order0(mm, kKernelNoWmark).size(), 34u);
  EXPECT_EQ(z().free_pages, 0u);
  expect_buddy_invariants(mm);
}

TEST_F(PageAllocZone, HighOrderWatermarkNeedsASuitableBlock) {
  std::vector<Pfn> pfns = alloc_all_order0(mm, kMovableNoWmark);
  for (Pfn p = 0; p < 2048; p += 2) __free_pages(mm, p, 0);
  EXPECT_EQ(z().free_pages, 1024u);
  EXPECT_TRUE(zone_watermark_ok(mm, z(), 0, Watermark::High));
  EXPECT_FALSE(zone_watermark_ok(mm, z(), 1, Watermark::Min));
  EXPECT_EQ(alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 1, Owner::Process), kNoPfn);
  EXPECT_EQ(alloc_pages(mm, kMovableNoWmark, 1, Owner::Process), kNoPfn);
  EXPECT_NE(alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process), kNoPfn);
}

TEST_F(PageAllocZone, OrderAtLeastMaxOrderAndBadArgumentsThrow) {
  EXPECT_THROW(alloc_pages(mm, GFP_KERNEL, MAX_ORDER, Owner::Kernel), UsageError);
  EXPECT_THROW(alloc_pages(mm, GFP_KERNEL, 64, Owner::Kernel), UsageError);
  EXPECT_THROW(alloc_pages(mm, __GFP_MOVABLE | __GFP_RECLAIMABLE, 0, Owner::Kernel), UsageError);
  const Pfn p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 1, Owner::Process);
  const std::vector<uint8_t> before = page_bytes(mm);
  EXPECT_THROW(__free_pages(mm, p, MAX_ORDER), UsageError);
  EXPECT_THROW(__free_pages(mm, 2048, 0), UsageError);
  EXPECT_THROW(__free_pages(mm, kNoPfn, 0), UsageError);
  EXPECT_THROW(__free_pages(mm, p + 1, 1), UsageError);  // not aligned
  EXPECT_THROW(free_pages_zero_ref(mm, 4096, 0), UsageError);
  EXPECT_THROW(PageBuddy(mm, 2048), UsageError);
  EXPECT_THROW(set_pageblock_migratetype(mm, 0, MIGRATE_TYPES), UsageError);
  EXPECT_THROW(zone_watermark_ok(mm, z(), MAX_ORDER, Watermark::Min), UsageError);
  EXPECT_EQ(page_bytes(mm), before);
  Mm empty;
  EXPECT_THROW(alloc_pages(empty, GFP_KERNEL, 0, Owner::Kernel), UsageError);
}

// ---- misuse and bad pages ----

TEST_F(PageAllocZone, DoubleFreeInSetupThrowsAndLeavesStateUnchanged) {
  const Pfn p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
  const Pfn q = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 2, Owner::Process);
  __free_pages(mm, p, 0);
  const std::vector<uint8_t> before = page_bytes(mm);
  const std::vector<uint64_t> free_before = nr_free(mm, z());
  try {
    __free_pages(mm, p, 0);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("double free"), std::string::npos) << e.what();
  }
  EXPECT_THROW(free_pages_zero_ref(mm, p, 0), UsageError);
  EXPECT_THROW(__free_pages(mm, q + 1, 0), UsageError);  // a tail: refcount 0
  EXPECT_THROW(__free_pages(mm, q & ~Pfn(1023), 10), UsageError);  // overlaps free blocks
  EXPECT_EQ(page_bytes(mm), before);
  EXPECT_EQ(nr_free(mm, z()), free_before);
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 2044);
  expect_buddy_invariants(mm);
  __free_pages(mm, q, 2);
  expect_fresh_two_block_zone(mm);
}

TEST_F(PageAllocZone, BadPageInTaskIsReportedAndLeaked) {
  Pfn p = kNoPfn;
  Sim sim(sim_cfg(1), &mm, std::make_unique<RandomStrategy>(1));
  sim.spawn(0, "freer", [&] {
    MODEL_FUNC("test_free_locked");
    p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
    mm.page(p).flags |= uint64_t(1) << PG_locked;
    __free_pages(mm, p, 0);
  });
  const RunResult r = sim.run();
  ASSERT_EQ(r.outcomes.size(), 1u);
  const Outcome& o = r.outcomes[0];
  EXPECT_EQ(o.key(), "bug:bad_page");
  EXPECT_EQ(o.message, "Bad page state in process freer: PAGE_FLAGS_CHECK_AT_FREE flag(s) set");
  ASSERT_GE(o.details.size(), 1u);
  EXPECT_NE(o.details[0].find("flags: 0x1(locked)"), std::string::npos) << o.details[0];
  // Leaked: not free, its flags left for debugging, the free counters unchanged.
  ASSERT_NE(p, kNoPfn);
  EXPECT_FALSE(PageBuddy(mm, p));
  EXPECT_EQ(mm.page(p).refcount, 0);
  EXPECT_EQ(mm.page(p).flags, uint64_t(1) << PG_locked);
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 2047);
  expect_buddy_invariants(mm);
}

TEST_F(PageAllocZone, BadPageReasonsFollowFreePagesCheck) {
  struct Case {
    const char* reason;
    void (*spoil)(Page&);
  } cases[] = {
      {"nonzero mapcount", [](Page& pg) { pg.mapcount = 0; }},
      {"non-NULL mapping", [](Page& pg) { pg.mapping = mapping_value(3); }},
      {"PAGE_FLAGS_CHECK_AT_FREE flag(s) set", [](Page& pg) { pg.flags |= uint64_t(1) << PG_lru; }},
  };
  for (const Case& c : cases) {
    Mm m;
    init_memory(m, {{"Normal", kBlocks4}});
    Sim sim(sim_cfg(1), &m, std::make_unique<RandomStrategy>(1));
    sim.spawn(0, "t", [&] {
      const Pfn p = alloc_pages(m, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
      c.spoil(m.page(p));
      __free_pages(m, p, 0);
    });
    const RunResult r = sim.run();
    ASSERT_EQ(r.outcomes.size(), 1u) << c.reason;
    EXPECT_EQ(r.outcomes[0].message, std::string("Bad page state in process t: ") + c.reason);
    EXPECT_EQ(m.stat(Stat::NR_FREE_PAGES), 2047);
  }
  // An anon mapping (PAGE_MAPPING_ANON set) is cleared at free, not reported.
  const Pfn p = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
  mm.page(p).mapping = mapping_value(3) | PAGE_MAPPING_ANON;
  __free_pages(mm, p, 0);
  expect_fresh_two_block_zone(mm);
  EXPECT_EQ(mm.page(p).mapping, 0u);
}

// Without CONFIG_DEBUG_VM an order-0 page is not checked at allocation since 479f854a207c
// (4.7): a free page spoiled by a use after free is handed out. Before, prep_new_page
// checked every new page, reported a bad one (and leaked it) and took the next.
TEST_F(PageAllocZone, WithoutDebugVmOnlyA479f854a207cKernelHandsOutASpoiledOrder0Page) {
  for (const bool deferred : {true, false}) {
    SCOPED_TRACE(deferred ? "479f854a207c" : "before it");
    Mm m;
    m.cfg.debug_vm = false;
    m.cfg.fixes.set(size_t(Fix::DeferPcpChecks), deferred);
    init_memory(m, {{"Normal", kBlocks4}});
    const Pfn p = alloc_pages(m, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
    __free_pages(m, p, 0);
    m.page(p).flags |= uint64_t(1) << PG_lru;  // written after the free
    Pfn got = kNoPfn;
    Sim sim(sim_cfg(1), &m, std::make_unique<RandomStrategy>(1));
    sim.spawn(0, "t", [&] { got = alloc_pages(m, GFP_HIGHUSER_MOVABLE, 0, Owner::Process); });
    const RunResult r = sim.run();
    if (deferred) {
      EXPECT_EQ(got, p);
      EXPECT_TRUE(r.outcomes.empty());
    } else {
      EXPECT_NE(got, p);
      ASSERT_EQ(r.outcomes.size(), 1u);
      EXPECT_EQ(r.outcomes[0].message, "Bad page state in process t: PAGE_FLAGS_CHECK_AT_PREP flag set");
    }
  }
}

TEST_F(PageAllocZone, DoubleFreeInTaskIsVmBugOrBadPage) {
  for (bool debug_vm : {true, false}) {
    Mm m;
    m.cfg.debug_vm = debug_vm;
    init_memory(m, {{"Normal", kBlocks4}});
    bool after = false;
    Sim sim(sim_cfg(1), &m, std::make_unique<RandomStrategy>(1));
    sim.spawn(0, "t", [&] {
      const Pfn p = alloc_pages(m, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
      __free_pages(m, p, 0);
      __free_pages(m, p, 0);
      after = true;
    });
    const RunResult r = sim.run();
    EXPECT_TRUE(has_outcome(r, debug_vm ? "bug:__free_pages" : "bug:bad_page")) << debug_vm;
    EXPECT_EQ(after, !debug_vm);  // BUG ends the task; bad_page does not
    expect_fresh_two_block_zone(m);
  }
}

TEST_F(PageAllocZone, ConcurrentAllocAndFreeKeepTheBuddyConsistent) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Mm m;
    init_memory(m, {{"Normal", kBlocks4}});
    std::vector<std::pair<Pfn, unsigned>> got[3];
    Sim sim(sim_cfg(3), &m, std::make_unique<RandomStrategy>(seed));
    for (CpuId c = 0; c < 3; ++c)
      sim.spawn(c, "t" + std::to_string(c), [&m, &got, c] {
        for (unsigned order = 0; order < 4; ++order) {
          const Pfn p = alloc_pages(m, c == 1 ? GFP_KERNEL : GFP_HIGHUSER_MOVABLE, order,
                                    Owner::Process);
          ASSERT_NE(p, kNoPfn);
          got[c].push_back({p, order});
        }
      });
    RunResult r = sim.run();
    ASSERT_TRUE(r.ok()) << r.outcomes[0].report();
    std::vector<uint8_t> used(2048, 0);
    for (auto& v : got)
      for (auto [p, o] : v)
        for (Pfn i = 0; i < (1u << o); ++i) {
          ASSERT_EQ(used[p + i], 0) << "pfn " << p + i << " handed out twice";
          used[p + i] = 1;
        }
    expect_buddy_invariants(m);
    Sim sim2(sim_cfg(3), &m, std::make_unique<RandomStrategy>(seed + 100));
    for (CpuId c = 0; c < 3; ++c)
      sim2.spawn(c, "f" + std::to_string(c), [&m, &got, c] {
        for (auto [p, o] : got[c]) __free_pages(m, p, o);
      });
    r = sim2.run();
    ASSERT_TRUE(r.ok());
    expect_buddy_invariants(m);
    EXPECT_EQ(m.stat(Stat::NR_FREE_PAGES), 2048);
    EXPECT_EQ(free_blocks_per_order(m, m.zones[0])[10], 2u);
  }
}

// ---- compaction helpers ----

TEST_F(PageAllocZone, IsolateFreePageAndSplit) {
  // low 112 + 1024 < 2048 free: allowed.
  EXPECT_EQ(__isolate_free_page(mm, 0, 10), 1024u);
  EXPECT_FALSE(PageBuddy(mm, 0));
  EXPECT_EQ(z().free_pages, 1024u);
  EXPECT_EQ(z().free_area[10].nr_free, 1u);
  // Now 1024 free <= 112 + 1024: refused, nothing changes.
  EXPECT_EQ(__isolate_free_page(mm, 1024, 10), 0u);
  EXPECT_TRUE(PageBuddy(mm, 1024));
  split_free_block(mm, 0, 10, Owner::Migration);
  for (Pfn p = 0; p < 1024; ++p) {
    ASSERT_EQ(mm.page(p).refcount, 1);
    ASSERT_EQ(mm.page(p).owner, Owner::Migration);
    ASSERT_EQ(mm.page(p).private_, 0u);
  }
  expect_buddy_invariants(mm);
  EXPECT_THROW(__isolate_free_page(mm, 5, 0), UsageError);  // not PageBuddy: BUG in set-up
  for (Pfn p = 0; p < 1024; ++p) __free_pages(mm, p, 0);
  expect_fresh_two_block_zone(mm);
}

TEST_F(PageAllocZone, IsolatingAPageblockSizedBlockMakesItMovable) {
  ASSERT_EQ(alloc_pages(mm, GFP_KERNEL, 0, Owner::Kernel), 1024u);  // pageblocks 2, 3 unmovable
  ASSERT_TRUE(PageBuddy(mm, 1536));
  ASSERT_EQ(page_order(mm, 1536), 9u);
  EXPECT_EQ(__isolate_free_page(mm, 1536, 9), 512u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 1536), MIGRATE_MOVABLE);
  EXPECT_EQ(get_pageblock_migratetype(mm, 1024), MIGRATE_UNMOVABLE);
  // A smaller block leaves its pageblock alone.
  ASSERT_EQ(page_order(mm, 1152), 7u);
  EXPECT_EQ(__isolate_free_page(mm, 1152, 7), 128u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 1152), MIGRATE_UNMOVABLE);
  // Half a pageblock (order pageblock_order - 1) is enough.
  ASSERT_EQ(page_order(mm, 1280), 8u);
  EXPECT_EQ(__isolate_free_page(mm, 1280, 8), 256u);
  EXPECT_EQ(get_pageblock_migratetype(mm, 1024), MIGRATE_MOVABLE);
  expect_buddy_invariants(mm);
}

TEST_F(PageAllocZone, IsolatedPageblockNeverMergesWithItsNeighbour) {
  ASSERT_EQ(alloc_all_order0(mm, kMovableNoWmark).size(), 2048u);
  set_pageblock_migratetype(mm, 512, MIGRATE_ISOLATE);
  for (Pfn p = 0; p < 1024; ++p) __free_pages(mm, p, 0);
  // Two order-9 blocks, not one order-10 block; the isolated one is not counted free.
  std::vector<uint64_t> want(MAX_ORDER, 0);
  want[9] = 2;
  EXPECT_EQ(nr_free(mm, z()), want);
  EXPECT_EQ(list_count(mm, z(), 9, MIGRATE_ISOLATE), 1u);
  EXPECT_EQ(mm.lists[z().free_area[9].free_list[MIGRATE_ISOLATE]].first, 512u);
  EXPECT_EQ(list_count(mm, z(), 9, MIGRATE_MOVABLE), 1u);
  EXPECT_EQ(mm.stat(Stat::NR_FREE_PAGES), 512);
  EXPECT_EQ(z().free_pages, 512u);
  expect_buddy_invariants(mm);
  // Allocations never come from the isolated pageblock.
  for (int i = 0; i < 512; ++i)
    EXPECT_LT(alloc_pages(mm, kMovableNoWmark, 0, Owner::Process), 512u);
  EXPECT_EQ(alloc_pages(mm, kMovableNoWmark, 0, Owner::Process), kNoPfn);
}

// ---- fragmentation metrics ----

TEST_F(PageAllocZone, FragmentationMetrics) {
  EXPECT_EQ(unusable_free_index(mm, z(), 3), 0);
  EXPECT_EQ(fragmentation_index(mm, z(), 3), -1000);
  EXPECT_EQ(fragmentation_index(mm, z(), 10), -1000);

  std::vector<Pfn> pfns = alloc_all_order0(mm, kMovableNoWmark);
  ASSERT_EQ(pfns.size(), 2048u);
  // No free memory: all of it is "unusable"; fragmentation index 0 (lack of memory).
  EXPECT_EQ(unusable_free_index(mm, z(), 3), 1000);
  EXPECT_EQ(fragmentation_index(mm, z(), 3), 0);

  for (Pfn p = 0; p < 2048; p += 2) __free_pages(mm, p, 0);
  std::vector<uint64_t> want(MAX_ORDER, 0);
  want[0] = 1024;
  EXPECT_EQ(nr_free(mm, z()), want);
  EXPECT_EQ(unusable_free_index(mm, z(), 0), 0);
  EXPECT_EQ(fragmentation_index(mm, z(), 0), -1000);
  EXPECT_EQ(unusable_free_index(mm, z(), 3), 1000);
  // 1000 - (1000 + 1024 * 1000 / 8) / 1024 = 1000 - 125 = 875
  EXPECT_EQ(fragmentation_index(mm, z(), 3), 875);
  // 1000 - (1000 + 1024 * 1000 / 1024) / 1024 = 1000 - 1 = 999
  EXPECT_EQ(fragmentation_index(mm, z(), 10), 999);
  // Half the free memory in order >= 1 blocks: free pairs in pageblock 0.
  for (Pfn p = 1; p < 512; p += 2) __free_pages(mm, p, 0);
  // Pageblock 0 is one order-9 block now: 512 of 1280 free pages are usable for order 3.
  EXPECT_EQ(unusable_free_index(mm, z(), 3), (1280 - 512) * 1000 / 1280);
  EXPECT_EQ(fragmentation_index(mm, z(), 3), -1000);
}

// ---- names ----

TEST(PageAlloc, GfpNamesAndMigratetypes) {
  EXPECT_EQ(gfp_names(GFP_KERNEL), "GFP_KERNEL");
  EXPECT_EQ(gfp_names(GFP_KERNEL | __GFP_MOVABLE), "GFP_KERNEL|__GFP_MOVABLE");
  EXPECT_EQ(gfp_names(GFP_HIGHUSER_MOVABLE), "GFP_HIGHUSER_MOVABLE");
  EXPECT_EQ(gfp_names(GFP_ATOMIC), "GFP_ATOMIC");
  EXPECT_EQ(gfp_names(GFP_NOWAIT | __GFP_NOWARN), "GFP_NOWAIT|__GFP_NOWARN");
  EXPECT_EQ(gfp_names(0), "none");
  EXPECT_EQ(gfp_names(0x80000000u), "0x80000000");
  EXPECT_EQ(gfpflags_to_migratetype(GFP_KERNEL), MIGRATE_UNMOVABLE);
  EXPECT_EQ(gfpflags_to_migratetype(GFP_HIGHUSER_MOVABLE), MIGRATE_MOVABLE);
  EXPECT_EQ(gfpflags_to_migratetype(GFP_KERNEL | __GFP_RECLAIMABLE), MIGRATE_RECLAIMABLE);
  Mm k;  // no fix applied
  EXPECT_EQ(gfp_to_alloc_flags(k, GFP_ATOMIC), ALLOC_WMARK_MIN | ALLOC_HIGH | ALLOC_HARDER);
  EXPECT_EQ(gfp_to_alloc_flags(k, GFP_HIGHUSER_MOVABLE), ALLOC_WMARK_MIN | ALLOC_CPUSET | ALLOC_CMA);
  // 0a79cdad5eb2 (5.0) records in ALLOC_KSWAPD whether the allocation may wake kswapd.
  Mm k5;
  k5.cfg.fixes.set(size_t(Fix::AllocFlagsKswapd));
  EXPECT_EQ(gfp_to_alloc_flags(k5, GFP_HIGHUSER_MOVABLE),
            ALLOC_WMARK_MIN | ALLOC_CPUSET | ALLOC_CMA | ALLOC_KSWAPD);
  EXPECT_EQ(gfp_to_alloc_flags(k5, GFP_NOWAIT & ~__GFP_KSWAPD_RECLAIM), ALLOC_WMARK_MIN | ALLOC_CPUSET);
  EXPECT_STREQ(migratetype_name(MIGRATE_UNMOVABLE), "Unmovable");
  EXPECT_STREQ(migratetype_name(MIGRATE_MOVABLE), "Movable");
  EXPECT_STREQ(migratetype_name(MIGRATE_RECLAIMABLE), "Reclaimable");
  EXPECT_STREQ(migratetype_name(MIGRATE_CMA), "CMA");
  EXPECT_STREQ(migratetype_name(MIGRATE_ISOLATE), "Isolate");
}
