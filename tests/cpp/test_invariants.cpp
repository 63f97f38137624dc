// Page-state invariants (mm/invariants.cpp): every check fires on a state built by hand
// to violate it, with its exact message and pfn, and stays silent on consistent states
// (fresh memory, allocated and LRU pages, an isolated page on a private list, and every
// step of a real compaction).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/sim.h"
#include "kernel/kernel.h"
#include "mm/compaction.h"
#include "mm/invariants.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"

using namespace pagesim;
using namespace pagesim::mm;
using kernel::Kernel;

namespace {

// One pageblock: a single free order-9 block at pfn 0.
Kernel small(const std::string& preset = "v4.8") {
  kernel::KernelConfig c;
  c.preset = preset;
  c.zones = {{"Normal", 512, MIGRATE_MOVABLE}};
  return Kernel(c);
}

std::string str(const std::vector<Violation>& v) {
  std::string s;
  for (const auto& x : v)
    s += std::string(x.kind == OutcomeKind::Leak ? "leak" : "invariant") + " pfn " +
         std::to_string(x.pfn) + ": " + x.what + "\n";
  return s;
}

// Exactly one violation, of this kind, message and pfn.
void expect_one(const std::vector<Violation>& v, OutcomeKind kind, const std::string& what,
                Pfn pfn) {
  ASSERT_EQ(v.size(), 1u) << str(v);
  EXPECT_EQ(v[0].kind, kind) << str(v);
  EXPECT_EQ(v[0].what, what);
  EXPECT_EQ(v[0].pfn, pfn);
  EXPECT_EQ(v[0].dump.rfind("page:pfn ", 0), 0u) << v[0].dump;
}

void expect_invariant(const Kernel& k, const std::string& what, Pfn pfn) {
  expect_one(check_invariants(k), OutcomeKind::Invariant, what, pfn);
}

// A non-LRU movable page as a driver holds it (refcount 1, mapping | MOVABLE).
Pfn movable_page(Kernel& k) {
  const uint32_t m = k.new_mapping("drv", nullptr, 0);
  const Pfn p = alloc_pages(k, GFP_KERNEL | __GFP_MOVABLE, 0, Owner::TestDriver);
  k.page(p).mapping = mapping_value(m) | PAGE_MAPPING_MOVABLE;
  return p;
}

// As isolated by the VM: an extra reference, PG_isolated, on a private list.
void isolate_by_hand(Kernel& k, Pfn p, uint32_t list) {
  k.page(p).refcount++;
  k.page(p).flags |= uint64_t(1) << PG_isolated;
  list_add(k, p, list);
}

}  // namespace

// ---- consistent states ----

TEST(InvariantsSilent, FreshMemory) {
  for (uint32_t pages : {512u, 2048u, 4096u}) {
    kernel::KernelConfig c;
    c.zones = {{"DMA32", 512, MIGRATE_MOVABLE}, {"Normal", pages, MIGRATE_MOVABLE}};
    const Kernel k(c);
    EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
    EXPECT_TRUE(check_teardown(k).empty()) << str(check_teardown(k));
  }
}

TEST(InvariantsSilent, AllocatedLruAndIsolatedPages) {
  Kernel k = small();
  const Pfn kp = alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel);
  ASSERT_NE(kp, kNoPfn);
  const uint32_t pid = process_create(k, "p");
  ASSERT_EQ(process_fault_in(k, pid, 100), 100u);
  process_unmap(k, pid, 7);
  const Pfn m = movable_page(k);
  EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
  EXPECT_TRUE(check_teardown(k).empty()) << str(check_teardown(k));
  // An isolated movable page on a private list is consistent between steps (but not
  // at teardown: see TeardownStillIsolated).
  const uint32_t l = new_list(k, "cc->migratepages");
  isolate_by_hand(k, m, l);
  EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
  // And an isolated LRU page (PG_lru cleared, off the LRU, on a private list).
  const Pfn lp = k.processes[pid].pte[3];
  {
    Zone& z = k.zones[0];
    spin_lock(z.lru_lock);
    ASSERT_EQ(__isolate_lru_page(k, lp, 0), 0);
    del_page_from_lru_list(k, lp);
    spin_unlock(z.lru_lock);
    list_add(k, lp, l);
  }
  EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
  putback_movable_pages(k, l);
  k.stat(Stat::NR_ISOLATED_FILE) = k.stat(Stat::NR_ISOLATED_ANON) = 0;  // not accounted above
  EXPECT_TRUE(check_teardown(k).empty()) << str(check_teardown(k));
  process_exit(k, pid);
  __free_pages(k, kp, 0);
  EXPECT_TRUE(check_teardown(k).empty()) << str(check_teardown(k));
}

// A block of order > 0 (not compound: alloc_pages without __GFP_COMP) holds its reference
// on the head page only; its tail pages have refcount 0 and belong to the block's owner.
// Held at teardown, it is not a leak.
TEST(InvariantsSilent, HighOrderBlockHeldAtTeardown) {
  Kernel k = small();
  const Pfn kp = alloc_pages(k, GFP_KERNEL, 2, Owner::Kernel);
  ASSERT_NE(kp, kNoPfn);
  ASSERT_EQ(k.page(kp).refcount, 1);
  ASSERT_EQ(k.page(kp + 1).refcount, 0);
  EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
  EXPECT_TRUE(check_teardown(k).empty()) << str(check_teardown(k));
  __free_pages(k, kp, 2);
  EXPECT_TRUE(check_teardown(k).empty()) << str(check_teardown(k));
}

// Checked after every step of one allocation and one free. zone->lock covers the free
// lists and nr_free together; no step leaves them disagreeing for anyone else to see.
TEST(InvariantsSilent, EveryStepOfAnAllocationAndAFree) {
  for (gfp_t gfp : {GFP_KERNEL, GFP_HIGHUSER_MOVABLE}) {
    Kernel k = small();
    std::vector<std::string> seen;
    Sim sim(SimConfig{}, &k, std::make_unique<RandomStrategy>(1));
    sim.set_step_check([&](Sim& s) {
      if (seen.empty())
        for (const auto& o : k.invariant_outcomes())
          seen.push_back(o.message + " after step " + std::to_string(s.steps()));
    });
    sim.spawn(0, "t", [&] { __free_pages(k, alloc_pages(k, gfp, 0, Owner::Kernel), 0); });
    const RunResult r = sim.run();
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(seen.empty()) << gfp_names(gfp) << ": " << seen[0];
  }
}

// Checked after every step of a compaction of a fragmented zone, and at its end.
TEST(InvariantsSilent, EveryStepOfACompaction) {
  kernel::KernelConfig c;
  c.zones = {{"Normal", 1024, MIGRATE_MOVABLE}};
  Kernel k(c);
  const uint32_t pid = process_create(k, "p");
  const uint32_t n = process_fault_in(k, pid, 1024);
  for (uint32_t v = 1; v < n; v += 2) process_unmap(k, pid, v);
  uint64_t checked = 0;
  std::vector<std::string> seen;
  Sim sim(SimConfig{}, &k, std::make_unique<RandomStrategy>(5));
  sim.set_step_check([&](Sim&) {
    ++checked;
    if (seen.empty())
      for (const auto& o : k.invariant_outcomes()) seen.push_back(o.message);
  });
  sim.set_teardown([&](Sim& s) {
    for (auto& o : k.teardown_outcomes()) s.add_outcome(std::move(o));
  });
  sim.spawn(0, "compact", [&] { compact_memory(k, MigrateMode::Sync); });
  const uint32_t other = process_create(k, "q");
  sim.spawn(1, "faulter", [&] { process_fault_in(k, other, 16); });
  const RunResult r = sim.run();
  EXPECT_TRUE(r.ok()) << (r.outcomes.empty() ? "" : r.outcomes[0].report());
  EXPECT_TRUE(seen.empty()) << seen[0];
  EXPECT_EQ(checked, r.steps);
  EXPECT_GT(checked, 1000u);
}

// ---- buddy structure ----

TEST(InvariantsBuddy, PageOnAFreeListIsNotPageBuddy) {
  Kernel k = small();
  k.page(0).mapcount = -1;
  expect_invariant(k, "page on a free list is not PageBuddy", 0);
}

TEST(InvariantsBuddy, FreeBlockOrderDiffersFromItsList) {
  Kernel k = small();
  k.page(0).private_ = 3;
  expect_invariant(k, "free block on the order-9 list has order 3", 0);
}

TEST(InvariantsBuddy, FreePageWithAReference) {
  Kernel k = small();
  k.page(5).refcount = 1;
  expect_invariant(k, "free page has a nonzero refcount", 5);
}

TEST(InvariantsBuddy, FreePageLocked) {
  Kernel k = small();
  k.page(7).flags |= uint64_t(1) << PG_locked;
  expect_invariant(k, "free page is locked", 7);
}

TEST(InvariantsBuddy, TailOfAFreeBlockOnAList) {
  Kernel k = small();
  const uint32_t l = new_list(k, "test:stray");
  list_add(k, 9, l);
  expect_invariant(k, "tail of a free block is on list test:stray", 9);
}

TEST(InvariantsBuddy, NrFreeDiffersFromTheLists) {
  Kernel k = small();
  k.zones[0].free_area[9].nr_free = 2;
  expect_invariant(k, "zone Normal order 9: nr_free 2 but 1 blocks on the free lists", 0);
}

// ---- pages ----

TEST(InvariantsPages, NegativeRefcount) {
  Kernel k = small();
  const Pfn p = alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel);
  k.page(p).refcount = -1;
  expect_invariant(k, "negative refcount", p);
}

TEST(InvariantsPages, BothLruAndNonLruMovable) {
  Kernel k = small();
  const uint32_t pid = process_create(k, "p");
  ASSERT_EQ(process_fault_in(k, pid, 1), 1u);
  const Pfn p = k.processes[pid].pte[0];
  k.page(p).mapping = (k.page(p).mapping & ~PAGE_MAPPING_FLAGS) | PAGE_MAPPING_MOVABLE;
  expect_invariant(k, "page is both on the LRU and non-LRU movable", p);
}

TEST(InvariantsPages, LruFlagWithoutTheList) {
  Kernel k = small();
  const Pfn p = alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel);
  k.page(p).flags |= uint64_t(1) << PG_lru;
  expect_invariant(k, "PG_lru page is not on an LRU list", p);
}

TEST(InvariantsPages, OnTheLruListWithoutTheFlag) {
  Kernel k = small();
  const Pfn p = alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel);
  list_add(k, p, k.zones[0].lru[LRU_ACTIVE_FILE]);
  expect_invariant(k, "page on an LRU list without PG_lru", p);
}

// PG_isolated on a non-LRU movable page means it sits on an isolation list. The check is
// made when the VM owns PG_isolated (v4.8); in the v3 series the driver used the flag
// for its own bookkeeping.
TEST(InvariantsPages, IsolatedPageNotOnAPrivateList) {
  const std::string what = "isolated page is not on a private (isolation) list";
  // Between isolate_movable_page and the scanner's list_add an isolated page is on no
  // list: allowed between steps, but not when every task is done.
  auto still_isolated_at_teardown = [](const Kernel& k, Pfn p) {
    EXPECT_TRUE(check_invariants(k).empty());
    bool found = false;
    for (const auto& v : check_teardown(k))
      found |= v.pfn == p && v.what == "page is still isolated when every task is done";
    EXPECT_TRUE(found);
  };
  {
    Kernel k = small();
    const Pfn p = movable_page(k);
    k.page(p).flags |= uint64_t(1) << PG_isolated;
    still_isolated_at_teardown(k, p);  // on no list
  }
  {
    Kernel k = small();
    const Pfn p = movable_page(k);
    const uint32_t l = new_list(k, "cc->migratepages");
    isolate_by_hand(k, p, l);
    list_del(k, p);  // poisoned lru
    still_isolated_at_teardown(k, p);
  }
  {
    Kernel k = small();
    // A page inside a free block (the order-9 block of a fresh zone).
    k.page(3).mapping = PAGE_MAPPING_MOVABLE;
    k.page(3).flags |= uint64_t(1) << PG_isolated;
    expect_invariant(k, what, 3);
  }
  {
    Kernel k = small("movable-v3");
    const Pfn p = alloc_pages(k, GFP_KERNEL, 0, Owner::TestDriver);
    k.page(p).mapping = PAGE_MAPPING_MOVABLE;
    k.page(p).flags |= uint64_t(1) << PG_isolated;
    EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
  }
}

// ---- teardown ----

TEST(InvariantsTeardown, PageStillIsolated) {
  Kernel k = small();
  const Pfn p = movable_page(k);
  isolate_by_hand(k, p, new_list(k, "cc->migratepages"));
  EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
  expect_one(check_teardown(k), OutcomeKind::Invariant,
             "page is still isolated when every task is done", p);
}

TEST(InvariantsTeardown, PageNeitherFreeNorReferencedIsLeaked) {
  Kernel k = small();
  const Pfn p = alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel);
  k.page(p).refcount = 0;  // dropped without freeing
  EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
  expect_one(check_teardown(k), OutcomeKind::Leak, "page is neither free nor referenced", p);
}

TEST(InvariantsTeardown, ReferencedPageWithoutOwnerIsLeaked) {
  for (Owner o : {Owner::None, Owner::Migration}) {
    Kernel k = small();
    const Pfn p = alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel);
    k.page(p).owner = o;
    EXPECT_TRUE(check_invariants(k).empty()) << str(check_invariants(k));
    expect_one(check_teardown(k), OutcomeKind::Leak, "page is referenced but has no owner", p);
  }
}

TEST(InvariantsTeardown, NrIsolatedNotBackToZero) {
  {
    Kernel k = small();
    k.stat(Stat::NR_ISOLATED_ANON) = 1;
    EXPECT_TRUE(check_invariants(k).empty());
    expect_one(check_teardown(k), OutcomeKind::Invariant,
               "nr_isolated_anon is 1 when nothing is isolated", 0);
  }
  {
    Kernel k = small();
    k.stat(Stat::NR_ISOLATED_FILE) = -1;
    expect_one(check_teardown(k), OutcomeKind::Invariant,
               "nr_isolated_file is -1 when nothing is isolated", 0);
  }
}

// update_lru_size: each LRU list's size counter follows the list; a page taken off its
// list without del_page_from_lru_list leaves the counter one high.
TEST(InvariantsTeardown, LruSizeCounterDiffersFromTheList) {
  Kernel k = small();
  const uint32_t pid = process_create(k, "p");
  ASSERT_EQ(process_fault_in(k, pid, 4), 4u);
  EXPECT_EQ(k.stat(Stat::NR_INACTIVE_ANON), 4);
  EXPECT_TRUE(check_teardown(k).empty()) << str(check_teardown(k));
  const Pfn lp = k.processes[pid].pte[1];
  ASSERT_EQ(__isolate_lru_page(k, lp, 0), 0);
  list_del(k, lp);
  list_add(k, lp, new_list(k, "cc->migratepages"));
  EXPECT_TRUE(check_invariants(k).empty());
  expect_one(check_teardown(k), OutcomeKind::Invariant,
             "nr_inactive_anon is 4 with 3 pages on those lists", 0);
}

// The Kernel turns violations into run outcomes: "check_invariants" for invariants, a
// run-level leak for leaks, the pfn in the message and dump_page in the details.
TEST(InvariantsTeardown, ViolationsBecomeOutcomes) {
  Kernel k = small();
  const Pfn p = alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel);
  k.page(p).owner = Owner::None;
  k.page(5 + p).refcount = 1;  // a free page with a reference
  const auto inv = k.invariant_outcomes();
  ASSERT_EQ(inv.size(), 1u);
  EXPECT_EQ(inv[0].key(), "invariant:check_invariants");
  EXPECT_EQ(inv[0].message, "free page has a nonzero refcount (pfn " + std::to_string(5 + p) + ")");
  ASSERT_EQ(inv[0].details.size(), 1u);
  EXPECT_EQ(inv[0].details[0], dump_page(k, 5 + p));
  const auto td = k.teardown_outcomes();
  ASSERT_EQ(td.size(), 2u);
  EXPECT_EQ(td[0].key(), "invariant:check_invariants");
  EXPECT_EQ(td[1].kind, OutcomeKind::Leak);
  EXPECT_EQ(td[1].function, "");
  EXPECT_EQ(td[1].message, "page is referenced but has no owner (pfn " + std::to_string(p) + ")");
}

// ---- the checks' fast paths ----

namespace {

// The checks written page by page, without fast paths: what check_invariants and
// check_teardown must report, violation for violation and in the same order.
struct ReferenceChecker {
  const Kernel& k;
  std::vector<Violation> out;
  std::vector<uint8_t> in_free_block = std::vector<uint8_t>(k.pages.size(), 0);

  bool has(const Page& p, int bit) const { return (p.flags >> bit) & 1; }
  void bad(OutcomeKind kind, Pfn pfn, std::string what) {
    out.push_back({kind, std::move(what), pfn, dump_page(k, pfn)});
  }
  bool is_lru_list(uint32_t l) const {
    for (const auto& z : k.zones)
      for (uint32_t x : z.lru)
        if (x == l) return true;
    return false;
  }
  void buddy() {
    for (const Zone& z : k.zones)
      for (int order = 0; order < MAX_ORDER; ++order) {
        if (spin_is_locked(z.lock)) break;
        uint64_t blocks = 0;
        for (int mt = 0; mt < MIGRATE_TYPES; ++mt)
          for (Pfn p = k.lists[z.free_area[order].free_list[mt]].first; p != kNoPfn;
               p = k.page(p).lru_next) {
            ++blocks;
            const Page& pg = k.page(p);
            if (pg.mapcount != PAGE_BUDDY_MAPCOUNT_VALUE)
              bad(OutcomeKind::Invariant, p, "page on a free list is not PageBuddy");
            if (pg.private_ != uint64_t(order))
              bad(OutcomeKind::Invariant, p, "free block on the order-" + std::to_string(order) +
                                                 " list has order " + std::to_string(pg.private_));
            for (Pfn q = p; q < p + (1u << order) && q < k.pages.size(); ++q) {
              in_free_block[q] = 1;
              const Page& t = k.page(q);
              if (t.refcount != 0) bad(OutcomeKind::Invariant, q, "free page has a nonzero refcount");
              if (has(t, PG_locked)) bad(OutcomeKind::Invariant, q, "free page is locked");
              if (q != p && t.list != kNoList && t.list != kPoisonList)
                bad(OutcomeKind::Invariant, q, "tail of a free block is on list " + k.lists[t.list].name());
            }
          }
        if (blocks != z.free_area[order].nr_free)
          bad(OutcomeKind::Invariant, z.zone_start_pfn,
              "zone " + z.name + " order " + std::to_string(order) + ": nr_free " +
                  std::to_string(z.free_area[order].nr_free) + " but " + std::to_string(blocks) +
                  " blocks on the free lists");
      }
  }
  void pages() {
    for (Pfn p = 0; p < k.pages.size(); ++p) {
      const Page& pg = k.page(p);
      if (pg.refcount < 0) bad(OutcomeKind::Invariant, p, "negative refcount");
      const bool movable = (pg.mapping & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE;
      if (has(pg, PG_lru) && movable)
        bad(OutcomeKind::Invariant, p, "page is both on the LRU and non-LRU movable");
      const bool on_lru_list = pg.list < k.lists.size() && is_lru_list(pg.list);
      if (!spin_is_locked(k.zone_of_const(p).lru_lock) && has(pg, PG_lru) != on_lru_list)
        bad(OutcomeKind::Invariant, p, has(pg, PG_lru) ? "PG_lru page is not on an LRU list"
                                                       : "page on an LRU list without PG_lru");
      if (k.cfg.has(Fix::VmOwnsPgIsolated) && has(pg, PG_isolated) && movable &&
          (on_lru_list || in_free_block[p]))
        bad(OutcomeKind::Invariant, p, "isolated page is not on a private (isolation) list");
    }
  }
  void teardown() {
    std::vector<uint8_t> in_held_block(k.pages.size(), 0);
    for (Pfn p = 0; p < k.pages.size(); ++p) {
      if (in_free_block[p] || in_held_block[p]) continue;
      const Page& pg = k.page(p);
      if (pg.refcount > 0)
        for (Pfn t = p + 1; t < p + (1u << pg.order) && t < k.pages.size(); ++t) in_held_block[t] = 1;
      if (has(pg, PG_isolated) && (pg.mapping & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE)
        bad(OutcomeKind::Invariant, p, "page is still isolated when every task is done");
      if (pg.refcount == 0)
        bad(OutcomeKind::Leak, p, "page is neither free nor referenced");
      else if (pg.owner == Owner::None || pg.owner == Owner::Migration)
        bad(OutcomeKind::Leak, p, "page is referenced but has no owner");
    }
    for (Stat s : {Stat::NR_ISOLATED_ANON, Stat::NR_ISOLATED_FILE})
      if (k.stats[size_t(s)] != 0)
        bad(OutcomeKind::Invariant, 0, std::string(stat_name(s)) + " is " +
                                           std::to_string(k.stats[size_t(s)]) + " when nothing is isolated");
  }
};

std::string all(const std::vector<Violation>& v) {
  std::string s = str(v);
  for (const auto& x : v) s += x.dump + "\n";
  return s;
}

}  // namespace

// Random damage to a world with free, allocated, LRU, movable and isolated pages in two
// zones, some locks held: the checks report exactly what the page-by-page checks report.
TEST(InvariantsFastPath, SameReportsAsThePageByPageChecks) {
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  auto rnd = [&seed](uint64_t n) {  // splitmix64
    uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (z ^ (z >> 31)) % n;
  };
  size_t reported = 0;
  for (int round = 0; round < 300; ++round) {
    kernel::KernelConfig c;
    c.preset = round % 3 ? "v4.8" : "movable-v3";
    c.zones = {{"DMA32", 512, MIGRATE_MOVABLE}, {"Normal", 1024, MIGRATE_MOVABLE}};
    Kernel k(c);
    for (unsigned order : {0u, 0u, 1u, 2u, 3u}) alloc_pages(k, GFP_KERNEL, order, Owner::Kernel);
    const uint32_t pid = process_create(k, "p");
    process_fault_in(k, pid, 20);
    const Pfn m = movable_page(k);
    if (round % 2) isolate_by_hand(k, m, new_list(k, "cc->migratepages"));
    std::vector<Pfn> used;  // allocated pages, the pages after them, the heads of free blocks
    for (Pfn p = 0; p < k.pages.size(); ++p)
      if (k.page(p).refcount || k.page(p).list != kNoList) used.insert(used.end(), {p, p + 1});
    for (int n = int(rnd(6)); n-- > 0;) {
      Page& pg = k.page(rnd(2) ? used[rnd(used.size())] : Pfn(rnd(k.pages.size())));
      switch (rnd(10)) {
        case 0: pg.flags ^= uint64_t(1) << PG_lru; break;
        case 1: pg.flags ^= uint64_t(1) << PG_isolated; break;
        case 2: pg.flags ^= uint64_t(1) << PG_locked; break;
        case 3: pg.refcount = int32_t(rnd(4)) - 1; break;
        case 4: pg.list = rnd(3) ? uint32_t(rnd(k.lists.size())) : rnd(2) ? kNoList : kPoisonList; break;
        case 5: pg.mapping ^= PAGE_MAPPING_MOVABLE; break;
        case 6: pg.owner = Owner(rnd(uint64_t(Owner::Kernel) + 1)); break;
        case 7: pg.order = uint8_t(rnd(4)); break;
        case 8: pg.mapcount = rnd(2) ? -1 : PAGE_BUDDY_MAPCOUNT_VALUE; break;
        case 9: pg.flags ^= uint64_t(1) << PG_balloon; break;  // not clean, nothing to report
      }
    }
    for (Zone& z : k.zones) {
      if (rnd(8) == 0) z.lock.owner = 0;
      if (rnd(4) == 0) z.lru_lock.owner = 0;
      if (rnd(8) == 0) z.free_area[rnd(MAX_ORDER)].nr_free += 1;
    }
    if (rnd(8) == 0) k.stat(Stat::NR_ISOLATED_ANON) = 1;

    ReferenceChecker ref{k, {}};
    ref.buddy();
    ref.pages();
    const std::string between = all(ref.out);
    EXPECT_EQ(all(check_invariants(k)), between) << "round " << round;
    ref.teardown();
    EXPECT_EQ(all(check_teardown(k)), all(ref.out)) << "round " << round;
    reported += ref.out.size();
  }
  EXPECT_GT(reported, 300u);  // the damage is seen
}
