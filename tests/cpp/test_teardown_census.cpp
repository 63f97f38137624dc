// The teardown checks' shared pass over mem_map (mm::PageCensus): the census lists every
// page that is not a clean free page and no more than the heads of free blocks besides;
// the drivers' checks that look at its pages only report exactly what the checks over
// every page report, on random worlds with random damage; and a teardown of a clean world
// allocates nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "drivers/drivers.h"
#include "kernel/kernel.h"
#include "kernel_support.h"
#include "mm/invariants.h"
#include "mm/list.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"

// Counts the heap allocations of the calling thread while `counting` is set.
namespace {
thread_local bool counting = false;
thread_local size_t allocations = 0;
}  // namespace

// Not inlined: GCC would pair the free() with the new-expression (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace pagesim;
using namespace pagesim::mm;
using namespace pagesim::drivers;
using namespace pagesim::testing;
using kernel::Kernel;

namespace {

// balloon_check as it was, over every page: the reference for the census version.
std::vector<std::string> reference_balloon_check(const Drivers& d) {
  std::vector<std::string> out;
  auto bad = [&](Pfn pfn, const std::string& what) {
    out.push_back("balloon: pfn " + std::to_string(pfn) + ": " + what);
  };
  int64_t pg_balloon = 0;
  for (const Page& pg : d.pages) pg_balloon += int64_t((pg.flags >> PG_balloon) & 1);
  if (pg_balloon != d.stats[size_t(Stat::NR_BALLOON_PAGES)])
    out.push_back("balloon: nr_balloon_pages is " + std::to_string(d.stats[size_t(Stat::NR_BALLOON_PAGES)]) +
                  " but " + std::to_string(pg_balloon) + " pages are PageBalloon");
  const Balloon& bl = d.balloon;
  if (!bl.present) return out;
  const balloon_dev_info& b = bl.vb_dev_info;
  const uint64_t movable_mapping =
      mapping_value(b.mapping) | (d.cfg.has(Fix::MovableMappingBit) ? PAGE_MAPPING_MOVABLE : 0);
  std::set<Pfn> on_list;
  for (const Pfn p : balloon_pages(d)) {
    on_list.insert(p);
    const Page& pg = d.page(p);
    if (pg.list != b.pages)
      bad(p, "on the balloon list but its lru says " + (pg.list < d.lists.size() ? d.lists[pg.list].name() : "none"));
    if (!(pg.flags & (1ull << PG_balloon))) bad(p, "on the balloon list but not PageBalloon");
    if (pg.mapping != movable_mapping) bad(p, "on the balloon list but not movable in balloon-kvm");
    if (pg.private_ != kBalloonDevId) bad(p, "on the balloon list but page->private is not the device");
    if (pg.flags & (1ull << PG_isolated)) bad(p, "on the balloon list but PageIsolated");
    if (pg.refcount < 1) bad(p, "on the balloon list with refcount " + std::to_string(pg.refcount));
  }
  if (on_list.size() != d.lists[b.pages].count)
    out.push_back("balloon: the list count " + std::to_string(d.lists[b.pages].count) + " differs from its " +
                  std::to_string(on_list.size()) + " linked pages");
  std::set<Pfn> balloon_set = on_list;
  uint64_t isolated = 0;
  for (Pfn p = 0; p < d.pages.size(); ++p) {
    const Page& pg = d.page(p);
    if (!(pg.flags & (1ull << PG_balloon)) && pg.owner == Owner::Balloon && pg.refcount > 0 &&
        !on_list.count(p))
      out.push_back("leak: balloon: pfn " + std::to_string(p) + " left the balloon but was never freed");
    if (!(pg.flags & (1ull << PG_balloon)) || on_list.count(p)) continue;
    if (pg.mapping != movable_mapping) {
      bad(p, "PageBalloon but not a page of the balloon device");
      continue;
    }
    balloon_set.insert(p);
    ++isolated;
    if (!(pg.flags & (1ull << PG_isolated))) bad(p, "a balloon page off the balloon list but not PageIsolated");
  }
  if (isolated != b.isolated_pages)
    out.push_back("balloon: isolated_pages is " + std::to_string(b.isolated_pages) + " but " +
                  std::to_string(isolated) + " balloon pages are off the list");
  if (bl.vb.num_pages != balloon_set.size())
    out.push_back("balloon: num_pages is " + std::to_string(bl.vb.num_pages) + " but the balloon holds " +
                  std::to_string(balloon_set.size()) + " pages");
  for (const Pfn p : bl.host.inflated) {
    if (balloon_set.count(p)) continue;
    if (p >= d.pages.size()) {
      bad(p, "the host thinks it is inflated but it is not a page of the machine");
      continue;
    }
    const bool free = d.page(p).refcount == 0;
    bad(p, std::string("the host thinks it is inflated but the guest ") +
               (free ? "has it free (the host may discard memory the guest will reuse)"
                     : "uses it (data corruption: the host may discard it)"));
  }
  for (const Pfn p : balloon_set)
    if (!bl.host.inflated.count(p)) bad(p, "in the balloon but the host was never told");
  for (const auto& e : bl.host.errors) out.push_back("balloon host: " + e);
  return out;
}

// The teardown outcomes as Kernel::teardown_outcomes gave them before the census: every
// check over every page, each in the order of the kernel's list. Run on a thread of its
// own, so that no buffer a check keeps per thread carries anything over.
std::string reference_teardown(const Kernel& k) {
  std::string s;
  std::thread([&] {
    for (const auto& v : check_teardown(k)) s += kernel::violation_outcome(v).report() + "\n" + v.dump + "\n";
    const std::pair<const char*, std::vector<std::string>> checks[] = {
        {"zsmalloc_check", zsmalloc_check(k)},
        {"zram_check", zram_check(k)},
        {"balloon_check", reference_balloon_check(k)},
        {"test_driver_check", test_driver_check(k)},
    };
    for (const auto& [fn, problems] : checks)
      for (const auto& msg : problems) {
        const Outcome o = kernel::driver_check_outcome(fn, msg);
        s += o.key() + ": " + o.message + "\n";
      }
  }).join();
  return s;
}

std::string teardown(const Kernel& k) {
  std::string s;
  for (const Outcome& o : k.teardown_outcomes()) {
    if ((o.kind == OutcomeKind::Invariant || o.kind == OutcomeKind::Leak) && !o.function.empty() &&
        o.function != "check_invariants")
      s += o.key() + ": " + o.message + "\n";
    else
      s += o.report() + "\n" + (o.details.empty() ? "" : o.details[0]) + "\n";
  }
  return s;
}

uint64_t seed = 0x9e3779b97f4a7c15ULL;
uint64_t rnd(uint64_t n) {  // splitmix64
  uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) % n;
}

// A world with kernel and process pages and, at random, a zsmalloc pool, a zram device,
// a balloon and the test driver.
Kernel random_world(int round) {
  Kernel k = make_kernel(round % 3 ? "v4.8" : "movable-v3", {}, 512u << rnd(3));
  for (int n = int(rnd(6)); n-- > 0;) alloc_pages(k, GFP_KERNEL, unsigned(rnd(4)), Owner::Kernel);
  if (rnd(2)) process_fault_in(k, process_create(k, "p"), uint32_t(rnd(30)));
  if (rnd(4)) {
    const int64_t pool = call(k, "zs_create_pool");
    std::vector<int64_t> handles;
    for (int n = int(rnd(12)); n-- > 0;) handles.push_back(call(k, "zs_malloc", {pool, int64_t(32 + rnd(4000))}));
    for (int64_t h : handles)
      if (h && rnd(3) == 0) call(k, "zs_free", {pool, h});
  }
  if (rnd(3) == 0) {
    call(k, "zram_create", {16});
    for (int n = int(rnd(6)); n-- > 0;)
      call(k, "zram_write", {int64_t(rnd(16)), int64_t(1 + rnd(4000)), int64_t(1 + rnd(9))});
  }
  if (rnd(2)) {
    call(k, "balloon_init");
    call(k, "balloon_fill", {int64_t(rnd(40))});
  }
  if (rnd(3) == 0) call(k, "test_driver_alloc", {int64_t(1 + rnd(4))});
  return k;
}

// Random damage to pages (most of them pages in use) and to a few driver counters.
void damage(Kernel& k) {
  std::vector<Pfn> used;
  for (Pfn p = 0; p < k.pages.size(); ++p)  // reads that mark no page written
    if (k.pages[p].refcount || k.pages[p].list != kNoList || k.pages[p].owner != Owner::None) used.push_back(p);
  const uint64_t balloon_mapping =
      mapping_value(k.balloon.vb_dev_info.mapping) | (k.cfg.has(Fix::MovableMappingBit) ? PAGE_MAPPING_MOVABLE : 0);
  for (int n = int(rnd(5)); n-- > 0;) {
    const Pfn p = used.empty() || rnd(3) == 0 ? Pfn(rnd(k.pages.size())) : used[rnd(used.size())];
    Page& pg = k.page(p);
    switch (rnd(13)) {
      case 0: pg.flags ^= uint64_t(1) << PG_balloon; break;
      case 1: pg.flags ^= uint64_t(1) << PG_isolated; break;
      case 2: pg.flags ^= uint64_t(1) << PG_lru; break;
      case 3: pg.refcount = int32_t(rnd(4)) - 1; break;
      case 4: pg.owner = Owner(rnd(uint64_t(Owner::Kernel) + 1)); break;
      case 5: pg.list = rnd(2) ? uint32_t(rnd(k.lists.size())) : kNoList; break;
      case 6: pg.mapping = rnd(2) ? balloon_mapping : pg.mapping ^ PAGE_MAPPING_MOVABLE; break;
      case 7:  // a page that looks like an isolated balloon page
        pg.flags |= (uint64_t(1) << PG_balloon) | (uint64_t(rnd(2)) << PG_isolated);
        pg.mapping = balloon_mapping;
        break;
      case 8: pg.index = used.empty() ? 0 : used[rnd(used.size())] + 1; break;  // a zspage chain
      case 9: pg.private_ = rnd(4); break;
      case 10: k.balloon.host.inflated.insert(rnd(3) ? p : Pfn(k.pages.size() + 3)); break;
      case 11: k.stat(Stat::NR_BALLOON_PAGES) += int64_t(rnd(3)) - 1; break;
      case 12: pg.owner = Owner::Balloon; break;  // a page that left the balloon, still held
    }
  }
  if (rnd(6) == 0) k.balloon.vb_dev_info.isolated_pages += 1;
}

}  // namespace

// An undamaged world: the census is the pages in use and the heads of the free blocks,
// in pfn order; every other page is a clean free page.
TEST(TeardownCensus, ListsThePagesThatAreNotCleanFreePages) {
  for (uint32_t pages : {512u, 1024u, 4096u}) {
    Kernel k = make_kernel("v4.8", {}, pages);
    for (unsigned order : {0u, 3u, 1u, 0u, 2u}) alloc_pages(k, GFP_KERNEL, order, Owner::Kernel);
    process_fault_in(k, process_create(k, "p"), 7);
    PageCensus census;
    ASSERT_TRUE(check_teardown(k, &census).empty());
    std::vector<Pfn> expected;
    std::vector<uint8_t> free_tail(pages, 0);
    for (const Zone& z : k.zones)
      for (const auto& area : z.free_area)
        for (uint32_t l : area.free_list)
          for (Pfn p = k.lists[l].first; p != kNoPfn; p = k.page(p).lru_next)
            std::fill(free_tail.begin() + p + 1, free_tail.begin() + p + (1u << k.page(p).private_), 1);
    for (Pfn p = 0; p < pages; ++p)
      if (!free_tail[p]) expected.push_back(p);
    EXPECT_EQ(census.pages, expected);
    EXPECT_LT(census.pages.size(), 64u);  // 5 blocks, 7 process pages, the free blocks' heads
  }
}

// Random worlds, damaged at random: the teardown outcomes with the census are exactly the
// outcomes of the checks over every page, and each message of the checks that use the
// census shows up.
TEST(TeardownCensus, SameOutcomesAsTheChecksOverEveryPage) {
  const std::vector<std::string> messages = {
      "is owned by zsmalloc but belongs to no live zspage",
      ": in two zspages",
      "pages are PageBalloon",
      "PageBalloon but not a page of the balloon device",
      "a balloon page off the balloon list but not PageIsolated",
      "balloon pages are off the list",
      "but the balloon holds",
      "the host thinks it is inflated but it is not a page of the machine",
      "the host thinks it is inflated but the guest has it free",
      "the host thinks it is inflated but the guest uses it",
      "in the balloon but the host was never told",
      "left the balloon but was never freed",
      "page is neither free nor referenced",
      "page is referenced but has no owner",
      "page is still isolated when every task is done",
  };
  std::map<std::string, int> seen;
  for (int round = 0; round < 400; ++round) {
    Kernel k = random_world(round);
    if (round % 8) damage(k);
    const std::string expected = reference_teardown(k);
    EXPECT_EQ(teardown(k), expected) << "round " << round;
    for (const auto& m : messages) seen[m] += expected.find(m) != std::string::npos;
  }
  for (const auto& m : messages) EXPECT_GT(seen[m], 0) << m;
}

// The teardown of a clean world, as after each execution of the zs_free scenario (a pool
// whose zspage was freed, or one still holding objects), allocates nothing once its
// buffers have grown.
TEST(TeardownCensus, CleanTeardownAllocatesNothing) {
  for (bool keep : {false, true}) {
    Kernel k = make_kernel("v4.8", {}, 1024);
    const int64_t pool = call(k, "zs_create_pool");
    const int64_t h = call(k, "zs_malloc", {pool, 3000});
    if (keep)
      call(k, "zs_malloc", {pool, 100});
    call(k, "zs_free", {pool, h});
    EXPECT_TRUE(k.teardown_outcomes().empty());
    allocations = 0;
    counting = true;
    const bool clean = k.teardown_outcomes().empty();
    counting = false;
    EXPECT_TRUE(clean);
    EXPECT_EQ(allocations, 0u) << "keep " << keep;
  }
}

// Worlds restored from a snapshot, as exploration does before each execution, then damaged
// (free pages too): the buddy check, which then looks only at the pages of free blocks
// that were unclean in the snapshot or written since, reports exactly what the checks over
// every page report. The snapshot is itself damaged at times, and changed between rounds.
TEST(TeardownCensus, RestoredWorldsReportWhatTheChecksOverEveryPageReport) {
  int damaged_free = 0;
  for (int round = 0; round < 60; ++round) {
    Kernel snapshot = random_world(round);
    if (round % 3 == 0) damage(snapshot);
    Kernel w = snapshot;
    for (int run = 0; run < 8; ++run) {
      if (run == 5) damage(snapshot);  // a written snapshot: the next restore copies it all
      w = snapshot;
      damage(w);
      for (int n = int(rnd(3)); n-- > 0;) {  // a free page, which the snapshot has clean
        const Pfn p = Pfn(rnd(w.pages.size()));
        if (w.pages[p].refcount || w.pages[p].list != kNoList) continue;
        ++damaged_free;
        switch (rnd(3)) {
          case 0: w.page(p).refcount = 1; break;
          case 1: w.page(p).flags |= uint64_t(1) << PG_locked; break;
          case 2: w.page(p).list = uint32_t(rnd(w.lists.size())); break;
        }
      }
      EXPECT_LT(w.pages.dirty_count(), 16u);  // the check skips the other clean free pages
      EXPECT_EQ(teardown(w), reference_teardown(w)) << "round " << round << " run " << run;
    }
  }
  EXPECT_GT(damaged_free, 100);
}
