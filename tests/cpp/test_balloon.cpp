// The virtio balloon of 4.8 (mm/balloon_compaction.c, drivers/virtio/virtio_balloon.c):
// contract of each function, migration of balloon pages by compaction, scenario 4 (the
// dequeue walk without pages_lock following a poisoned lru) and exhaustive interleavings
// of migration against inflation and deflation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "drivers/balloon.h"
#include "engine/intern.h"
#include "explore/dfs.h"
#include "explore/script.h"
#include "kernel/entry.h"
#include "kernel/kernel.h"
#include "kernel_support.h"
#include "mm/migrate.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"

using namespace pagesim;
using namespace pagesim::mm;
using namespace pagesim::drivers;
using namespace pagesim::testing;
using pagesim::kernel::Kernel;
using pagesim::kernel::KernelConfig;

namespace {

constexpr uint32_t kPages = 1024;  // two pageblocks: compaction finds targets quickly

// Pages are conserved: free + balloon == all (nothing else allocates in these tests).
void expect_conserved(const Kernel& k) {
  EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)] + int64_t(k.balloon.vb.num_pages), int64_t(kPages));
}

// Runs tasks (cpu, entry, args) over k with a strategy; the teardown checks of the Kernel
// are added to the outcomes as a KernelMachine does.
RunResult run_tasks(Kernel& k, const std::vector<std::tuple<CpuId, const char*, std::vector<int64_t>>>& tasks,
                    std::unique_ptr<Strategy> st, uint32_t cpus = 2) {
  Sim sim(sim_cfg(cpus), &k, std::move(st));
  sim.set_teardown([&k](Sim& s) {
    for (auto& o : k.teardown_outcomes()) s.add_outcome(std::move(o));
  });
  for (const auto& [cpu, name, args] : tasks)
    sim.spawn(cpu, name, [&k, name = name, args = args] { call(k, name, args); });
  return sim.run();
}

ScriptStep before(CpuId cpu, const char* func, ObjId obj = kNoObj) {
  ScriptStep s;
  s.cpu = cpu;
  s.until = ScriptStep::Until::Before;
  s.func = intern(func);
  s.obj = obj;
  return s;
}

ScriptStep done(CpuId cpu) {
  ScriptStep s;
  s.cpu = cpu;
  return s;
}

std::unique_ptr<Strategy> script(std::vector<ScriptStep> steps) {
  return std::make_unique<ScriptStrategy>(std::move(steps), std::make_unique<RandomStrategy>(1));
}

const ObjId kBalloonDev = make_obj(kBalloonDevClass, 0);

// A world small enough for exhaustive exploration: the balloon's pages at the start of the
// zone, every other page allocated (movable, so both pageblocks stay MIGRATE_MOVABLE)
// except one free order-8 block (above the watermarks) and three single free pages at the
// zone's end: migration targets are order-0 pages found at once, never a split large block.
struct SmallWorld {
  Kernel k;
  int64_t kernel_pages = 0;
};

SmallWorld small_world(int balloon_pages, bool fix = true, const char* preset = "v4.8") {
  SmallWorld w{make_kernel(preset, {{"balloon-dequeue-under-lock", fix}})};
  Kernel& k = w.k;
  call(k, "balloon_init");
  EXPECT_EQ(call(k, "balloon_fill", {balloon_pages}), balloon_pages);
  std::vector<Pfn> got;
  for (Pfn p; (p = alloc_pages(k, GFP_HIGHUSER_MOVABLE | __GFP_MEMALLOC, 0, Owner::Kernel)) != kNoPfn;)
    got.push_back(p);
  w.kernel_pages = int64_t(got.size());
  for (Pfn p : got)
    if ((p >= 256 && p < 512) || p == kPages - 1 || p == kPages - 3 || p == kPages - 5) {
      __free_pages(k, p, 0);
      --w.kernel_pages;
    }
  EXPECT_GT(k.zones[0].free_pages, k.zones[0].watermark[size_t(Watermark::High)] + 8);
  return w;
}


}  // namespace

// ---- contract ----

TEST(BalloonContract, InitCreatesTheDeviceOnce) {
  Kernel k = make_kernel();
  EXPECT_THROW(call(k, "balloon_fill", {1}), UsageError);
  EXPECT_THROW(call(k, "balloon_pages"), UsageError);
  EXPECT_EQ(call(k, "balloon_init"), 0);
  try {
    call(k, "balloon_init");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("exists already"), std::string::npos) << e.what();
  }
  const balloon_dev_info& b = k.balloon.vb_dev_info;
  ASSERT_NE(b.mapping, 0u);
  EXPECT_EQ(k.mappings[b.mapping].name, "balloon-kvm");
  EXPECT_EQ(k.mappings[b.mapping].a_ops, &balloon_aops);
  EXPECT_EQ(b.migratepage, &virtballoon_migratepage);
  EXPECT_EQ(b.isolated_pages, 0u);
  EXPECT_TRUE(list_empty(k, b.pages));
  EXPECT_EQ(call(k, "balloon_pages"), 0);
  EXPECT_THROW(call(k, "balloon_fill", {-1}), UsageError);
  EXPECT_THROW(call(k, "balloon_leak", {-3}), UsageError);
  EXPECT_THROW(call(k, "balloon_fill", {}), UsageError);  // argument count
}

TEST(BalloonContract, FillInflatesMovablePagesAndTellsTheHost) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  EXPECT_EQ(call(k, "balloon_fill", {3}), 3);
  const balloon_dev_info& b = k.balloon.vb_dev_info;
  const std::vector<Pfn> pages = balloon_pages(k);
  ASSERT_EQ(pages.size(), 3u);
  // balloon_page_insert does list_add: the newest page is first.
  EXPECT_EQ(pages[0], k.balloon.vb.pfns[2]);
  EXPECT_EQ(pages[2], k.balloon.vb.pfns[0]);
  for (Pfn p : pages) {
    const Page& pg = k.page(p);
    EXPECT_TRUE(pg.flags & (1ull << PG_balloon));
    EXPECT_FALSE(pg.flags & (1ull << PG_locked));
    EXPECT_EQ(pg.mapping, mapping_value(b.mapping) | PAGE_MAPPING_MOVABLE);
    EXPECT_EQ(pg.private_, kBalloonDevId);
    EXPECT_EQ(pg.refcount, 1);
    EXPECT_EQ(pg.owner, Owner::Balloon);
    EXPECT_EQ(pg.list, b.pages);
  }
  EXPECT_EQ(k.balloon.vb.num_pages, 3u);
  EXPECT_EQ(call(k, "balloon_pages"), 3);
  EXPECT_EQ(k.balloon.host.inflated, std::set<Pfn>(pages.begin(), pages.end()));
  EXPECT_EQ(k.balloon.host.inflate_msgs, 1u);
  EXPECT_EQ(k.balloon.events[BALLOON_INFLATE], 3u);
  EXPECT_EQ(k.stat(Stat::NR_BALLOON_PAGES), 3);
  expect_conserved(k);
  EXPECT_EQ(join(balloon_check(k)), "");
  EXPECT_EQ(k.teardown_outcomes().size(), 0u);
}

TEST(BalloonContract, FillIsOneArrayPerCallAndStopsWhenOutOfPuff) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  EXPECT_EQ(fill_balloon(k, 1000), VIRTIO_BALLOON_ARRAY_PFNS_MAX);  // one array worth
  // The entry point repeats it (update_balloon_size_func) until the allocator fails at the
  // low watermark: the balloon takes every page above it, and no more.
  const int64_t more = call(k, "balloon_fill", {100000});
  EXPECT_GT(more, 0);
  EXPECT_LT(more, int64_t(kPages));
  const uint64_t low = k.zones[0].watermark[size_t(Watermark::Low)];
  EXPECT_LE(k.zones[0].free_pages, low + 1);
  EXPECT_EQ(k.balloon.vb.num_pages, VIRTIO_BALLOON_ARRAY_PFNS_MAX + more);
  expect_conserved(k);
  EXPECT_EQ(join(balloon_check(k)), "");
  EXPECT_EQ(call(k, "balloon_leak", {100000}), int64_t(k.balloon.events[BALLOON_INFLATE]));
  EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)], int64_t(kPages));
  EXPECT_TRUE(k.balloon.host.inflated.empty());
  EXPECT_EQ(join(balloon_check(k)), "");
}

TEST(BalloonContract, LeakDeflatesNewestFirstAndFreesThePages) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  call(k, "balloon_fill", {3});
  const std::vector<Pfn> pages = balloon_pages(k);
  EXPECT_EQ(call(k, "balloon_leak", {2}), 2);
  EXPECT_TRUE(is_free(k, pages[0]));
  EXPECT_TRUE(is_free(k, pages[1]));
  EXPECT_TRUE(PageBuddy(k, pages[0]) || !PageBuddy(k, pages[2]));
  EXPECT_EQ(k.page(pages[0]).mapping, 0u);  // free_pages_prepare cleared the movable bit
  EXPECT_FALSE(k.page(pages[0]).flags & (1ull << PG_balloon));
  EXPECT_EQ(balloon_pages(k), std::vector<Pfn>{pages[2]});
  EXPECT_EQ(k.balloon.host.inflated, std::set<Pfn>{pages[2]});
  EXPECT_EQ(k.balloon.host.deflate_msgs, 1u);
  EXPECT_EQ(k.balloon.events[BALLOON_DEFLATE], 2u);
  EXPECT_EQ(k.stat(Stat::NR_BALLOON_PAGES), 1);
  // We can't release more pages than taken.
  EXPECT_EQ(call(k, "balloon_leak", {5}), 1);
  EXPECT_EQ(call(k, "balloon_leak", {5}), 0);
  EXPECT_EQ(call(k, "balloon_dequeue"), -1);
  EXPECT_EQ(k.balloon.host.deflate_msgs, 2u);  // nothing to tell when nothing left
  EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)], int64_t(kPages));
  EXPECT_EQ(join(balloon_check(k)), "");
  EXPECT_TRUE(k.teardown_outcomes().empty());
}

TEST(BalloonContract, DequeueReturnsThePfnThatLeft) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const std::vector<Pfn> pages = balloon_pages(k);
  EXPECT_EQ(call(k, "balloon_dequeue"), int64_t(pages[0]));
  EXPECT_EQ(call(k, "balloon_dequeue"), int64_t(pages[1]));
  EXPECT_EQ(call(k, "balloon_dequeue"), -1);
}

TEST(BalloonContract, DequeueSkipsAPageItCannotLock) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const std::vector<Pfn> pages = balloon_pages(k);
  lock_page(k, pages[0]);  // someone holds the first page: only trylock is possible
  EXPECT_EQ(balloon_page_dequeue(k, k.balloon.vb_dev_info), pages[1]);
  unlock_page(k, pages[0]);
  EXPECT_EQ(balloon_pages(k), std::vector<Pfn>{pages[0]});
  // The caller owns the dequeued page with the balloon reference.
  EXPECT_EQ(k.page(pages[1]).refcount, 1);
  EXPECT_EQ(k.page(pages[1]).private_, 0u);
  EXPECT_EQ(k.page(pages[1]).mapping, PAGE_MAPPING_MOVABLE);  // __ClearPageMovable keeps the bit
  EXPECT_EQ(k.page(pages[1]).list, kPoisonList);
}

TEST(BalloonContract, DequeueOfALostBalloonBugs) {
  // Nothing on the list and nothing isolated: "some balloon pages are lost": BUG().
  Kernel k = make_kernel();
  call(k, "balloon_init");
  EXPECT_THROW(balloon_page_dequeue(k, k.balloon.vb_dev_info), SetupFault);
  Kernel k2 = make_kernel();
  call(k2, "balloon_init");
  Sim sim(sim_cfg(1), &k2, std::make_unique<RandomStrategy>(1));
  bool after = false;
  sim.spawn(0, "deq", [&] {
    balloon_page_dequeue(k2, k2.balloon.vb_dev_info);
    after = true;
  });
  const RunResult r = sim.run();
  ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
  EXPECT_EQ(r.outcomes[0].key(), "bug:balloon_page_dequeue");
  EXPECT_FALSE(after);
  // With the only page isolated by the VM, the dequeue returns NULL and does not BUG.
  Kernel k3 = make_kernel();
  call(k3, "balloon_init");
  call(k3, "balloon_fill", {1});
  const Pfn p = balloon_pages(k3)[0];
  ASSERT_TRUE(isolate_movable_page(k3, p, 0));
  EXPECT_EQ(balloon_page_dequeue(k3, k3.balloon.vb_dev_info), kNoPfn);
}

TEST(BalloonContract, IsolateAndPutbackThroughTheVm) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const std::vector<Pfn> pages = balloon_pages(k);
  const Pfn p = pages[1];
  ASSERT_TRUE(isolate_movable_page(k, p, 0));
  const balloon_dev_info& b = k.balloon.vb_dev_info;
  EXPECT_EQ(b.isolated_pages, 1u);
  EXPECT_EQ(balloon_pages(k), std::vector<Pfn>{pages[0]});
  EXPECT_TRUE(k.page(p).flags & (1ull << PG_isolated));  // the VM set it
  EXPECT_EQ(k.page(p).refcount, 2);                      // plus the isolation reference
  EXPECT_EQ(k.page(p).list, kPoisonList);                // balloon_page_isolate's list_del
  EXPECT_EQ(join(balloon_check(k)), "");                 // an isolated page is accounted
  // A second isolation is refused (PG_isolated), without calling the driver.
  EXPECT_FALSE(isolate_movable_page(k, p, 0));
  // The dequeue cannot take it either.
  EXPECT_EQ(balloon_page_dequeue(k, k.balloon.vb_dev_info), pages[0]);
  lock_page(k, p);
  putback_movable_page(k, p);
  unlock_page(k, p);
  put_page(k, p);
  EXPECT_EQ(b.isolated_pages, 0u);
  EXPECT_EQ(balloon_pages(k), std::vector<Pfn>{p});
  EXPECT_FALSE(k.page(p).flags & (1ull << PG_isolated));
  EXPECT_EQ(k.page(p).refcount, 1);
}

TEST(BalloonContract, MigrateRefusesUnlockedPages) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  call(k, "balloon_fill", {1});
  const Pfn p = balloon_pages(k)[0];
  const Pfn n = alloc_pages(k, GFP_HIGHUSER_MOVABLE, 0, Owner::Migration);
  ASSERT_TRUE(isolate_movable_page(k, p, 0));
  try {
    balloon_page_migrate(k, k.balloon.vb_dev_info.mapping, n, p, MigrateMode::Sync);
    FAIL() << "expected the VM_BUG_ON_PAGE";
  } catch (const SetupFault& e) {
    EXPECT_NE(std::string(e.what()).find("VM_BUG_ON_PAGE(!PageLocked(page))"), std::string::npos)
        << e.what();
  }
}

// ---- migration by compaction ----

TEST(BalloonMigration, CompactPageMovesABalloonPage) {
  // v4.7: through 4.7's own balloon hooks (before, this preset's compaction skipped
  // balloon pages as unmovable); the old page is freed off the LRU (no c6c919eb90e0).
  for (const std::string preset : {"v4.8", "v4.7"}) {
    SCOPED_TRACE(preset);
    const bool v47 = preset == "v4.7";
    Kernel k = make_kernel(preset);
    call(k, "balloon_init");
    call(k, "balloon_fill", {2});
    const std::vector<Pfn> before = balloon_pages(k);
    const Pfn p = before[1];
    const uint64_t free_before = k.zones[0].free_pages;
    EXPECT_EQ(call(k, "compact_page", {p}), 0);
    const std::vector<Pfn> after = balloon_pages(k);
    ASSERT_EQ(after.size(), 2u);
    const Pfn n = after[0];  // virtballoon_migratepage inserts newpage at the head
    EXPECT_NE(n, p);
    EXPECT_EQ(after[1], before[0]);
    EXPECT_TRUE(is_free(k, p));
    EXPECT_FALSE(k.page(p).flags & ((1ull << PG_isolated) | (1ull << PG_balloon) |
                                    (1ull << PG_lru) | (1ull << PG_private)));
    EXPECT_EQ(k.page(n).refcount, 1);  // the balloon reference; the VM dropped its own
    EXPECT_EQ(k.page(n).owner, Owner::Balloon);
    EXPECT_TRUE(k.page(n).flags & (1ull << PG_balloon));
    if (v47) {
      EXPECT_TRUE(k.page(n).flags & (1ull << PG_private));
      EXPECT_EQ(k.page(n).mapping, 0u);
    }
    EXPECT_EQ(k.balloon.host.inflated, std::set<Pfn>({before[0], n}));
    EXPECT_EQ(k.balloon.events[BALLOON_MIGRATE], 1u);
    EXPECT_EQ(k.balloon.host.inflate_msgs, 2u);
    EXPECT_EQ(k.balloon.host.deflate_msgs, 1u);
    EXPECT_EQ(k.balloon.vb_dev_info.isolated_pages, 0u);
    EXPECT_EQ(k.balloon.vb.num_pages, 2u);
    EXPECT_EQ(k.stat(Stat::NR_BALLOON_PAGES), 2);
    EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 1);
    EXPECT_EQ(k.stat(Stat::NR_ISOLATED_FILE), 0);
    EXPECT_EQ(k.zones[0].free_pages, free_before);
    EXPECT_EQ(join(balloon_check(k)), "");
    EXPECT_TRUE(k.teardown_outcomes().empty());
  }
}

TEST(BalloonMigration, BalloonLockHeldIsEagainAndTheVmPutsThePageBack) {
  Kernel k = make_kernel();
  call(k, "balloon_init");
  call(k, "balloon_fill", {1});
  const Pfn p = balloon_pages(k)[0];
  // fill/leak in progress: virtballoon_migratepage's mutex_trylock fails every pass.
  k.balloon.vb.balloon_lock.owner = kSetupTask;
  EXPECT_EQ(call(k, "compact_page", {p}), 1);
  k.balloon.vb.balloon_lock.owner = kNoTask;
  EXPECT_EQ(balloon_pages(k), std::vector<Pfn>{p});
  EXPECT_EQ(k.page(p).refcount, 1);
  EXPECT_FALSE(k.page(p).flags & (1ull << PG_isolated));
  EXPECT_EQ(k.balloon.events[BALLOON_MIGRATE], 0u);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_FAIL), 1);
  EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)], int64_t(kPages) - 1);
  EXPECT_EQ(join(balloon_check(k)), "");
  EXPECT_TRUE(k.teardown_outcomes().empty());
}

TEST(BalloonMigration, CompactMemoryMovesBalloonPagesToTheFreeScannersTargets) {
  // Balloon pages at the start of the zone; the only free pages the free scanner may use
  // (it skips free pageblocks, "a large free page") are three single pages at the end.
  const SmallWorld w = small_world(40);
  Kernel k = w.k;
  const std::vector<Pfn> before = balloon_pages(k);
  call(k, "compact_memory");
  EXPECT_EQ(k.balloon.vb.num_pages, 40u);
  EXPECT_EQ(k.balloon.events[BALLOON_MIGRATE], 3u);
  const std::set<Pfn> now(k.balloon.host.inflated);
  for (Pfn p : {kPages - 1, kPages - 3, kPages - 5}) EXPECT_TRUE(now.count(p)) << p;
  EXPECT_EQ(join(balloon_check(k)), "");
  EXPECT_TRUE(k.teardown_outcomes().empty());
  EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)] + 40 + w.kernel_pages, int64_t(kPages));
}

TEST(BalloonMigration, V3DriverOwnsPgIsolated) {
  // movable-v3: balloon_page_isolate sets PG_isolated itself and the driver clears it.
  Kernel k = make_kernel("movable-v3");
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const Pfn p = balloon_pages(k)[1];
  ASSERT_TRUE(isolate_movable_page(k, p, 0));
  EXPECT_TRUE(k.page(p).flags & (1ull << PG_isolated));
  lock_page(k, p);
  putback_movable_page(k, p);  // the v3 VM does not clear it: balloon_page_putback does
  unlock_page(k, p);
  put_page(k, p);
  EXPECT_FALSE(k.page(p).flags & (1ull << PG_isolated));
  EXPECT_EQ(join(balloon_check(k)), "");
}

// ---- 4.7: the balloon's own hooks (before b1123ea6d3b3) ----

TEST(BalloonV47, PagePrivateMarksAPageOnTheListAndIsolationClearsIt) {
  Kernel k = make_kernel("v4.7");
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const balloon_dev_info& b = k.balloon.vb_dev_info;
  EXPECT_EQ(b.mapping, 0u);  // no balloon-kvm inode: balloon pages have no mapping
  const std::vector<Pfn> pages = balloon_pages(k);
  const Pfn p = pages[1];
  EXPECT_EQ(k.page(p).mapping, 0u);
  EXPECT_TRUE(k.page(p).flags & (1ull << PG_private));
  EXPECT_FALSE(page_is_movable(k.cfg, k.page(p)));
  EXPECT_FALSE(isolate_movable_page(k, p, 0));  // not a non-LRU movable page in 4.7

  ASSERT_TRUE(balloon_compaction_hooks.isolate(k, p));
  EXPECT_FALSE(k.page(p).flags & ((1ull << PG_private) | (1ull << PG_isolated)));
  EXPECT_EQ(k.page(p).refcount, 2);  // the isolation reference
  EXPECT_EQ(b.isolated_pages, 1u);
  EXPECT_EQ(balloon_pages(k), std::vector<Pfn>{pages[0]});
  EXPECT_FALSE(balloon_compaction_hooks.isolate(k, p));  // PagePrivate is clear
  EXPECT_EQ(k.page(p).refcount, 2);
  EXPECT_EQ(join(balloon_check(k)), "");

  balloon_compaction_hooks.putback(k, p);
  EXPECT_TRUE(k.page(p).flags & (1ull << PG_private));
  EXPECT_FALSE(k.page(p).flags & (1ull << PG_locked));
  EXPECT_EQ(k.page(p).refcount, 1);
  EXPECT_EQ(b.isolated_pages, 0u);
  EXPECT_EQ(balloon_pages(k), (std::vector<Pfn>{p, pages[0]}));
  EXPECT_EQ(join(balloon_check(k)), "");
}

TEST(BalloonV47, DequeueSkipsAnIsolatedPage) {
  Kernel k = make_kernel("v4.7");
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const std::vector<Pfn> pages = balloon_pages(k);
  ASSERT_TRUE(balloon_compaction_hooks.isolate(k, pages[0]));
  // The page is off the list; a leak takes the other one, then finds only the isolated
  // page left (not a BUG: isolated_pages says where it is).
  EXPECT_EQ(Pfn(call(k, "balloon_dequeue")), pages[1]);
  EXPECT_EQ(call(k, "balloon_dequeue"), -1);
  balloon_compaction_hooks.putback(k, pages[0]);
  EXPECT_EQ(Pfn(call(k, "balloon_dequeue")), pages[0]);
}

TEST(BalloonV47, CompactMemoryMovesBalloonPages) {
  const SmallWorld w = small_world(40, true, "v4.7");
  Kernel k = w.k;
  call(k, "compact_memory");
  EXPECT_EQ(k.balloon.vb.num_pages, 40u);
  EXPECT_EQ(k.balloon.events[BALLOON_MIGRATE], 3u);
  for (Pfn p : {kPages - 1, kPages - 3, kPages - 5}) EXPECT_TRUE(k.balloon.host.inflated.count(p)) << p;
  EXPECT_EQ(join(balloon_check(k)), "");
  EXPECT_TRUE(k.teardown_outcomes().empty());
  EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)] + 40 + w.kernel_pages, int64_t(kPages));
}

TEST(BalloonV47, AFixThatNeedsAnotherSaysWhich) {
  try {
    make_kernel("v4.7", {{"b1123ea6d3b3", true}});
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "fix 'b1123ea6d3b3' needs fix 'bda807d44454' (b1123ea6d3b3 gives the balloon the "
              "non-LRU movable page callbacks of bda807d44454)");
  }
  // bda807d44454 kept the balloon's hooks: a balloon page still takes them.
  Kernel k = make_kernel("v4.7", {{"c6c919eb90e0", true}, {"bda807d44454", true}});
  call(k, "balloon_init");
  call(k, "balloon_fill", {1});
  const Pfn p = balloon_pages(k)[0];
  EXPECT_EQ(call(k, "compact_page", {p}), 0);
  EXPECT_EQ(k.balloon.events[BALLOON_MIGRATE], 1u);
  EXPECT_TRUE(is_free(k, p));
  EXPECT_EQ(join(balloon_check(k)), "");
  EXPECT_TRUE(k.teardown_outcomes().empty());
}

// ---- scenario 4: the dequeue walk without pages_lock ----

namespace {

// leak_balloon (CPU 1) holds page B (the first on the list) as the cursor of its walk and
// is about to read B->lru.next; compaction (CPU 0) isolates B: balloon_page_isolate
// list_del's it (LIST_POISON1 in B->lru.next) while still holding B's page lock; then the
// walk goes on: trylock_page(B) fails, the next cursor is LIST_POISON1.
RunResult run_scenario4(bool fix, Pfn* b_out = nullptr) {
  Kernel k = make_kernel("v4.8", {{"balloon-dequeue-under-lock", fix}});
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const Pfn B = balloon_pages(k)[0];
  if (b_out) *b_out = B;
  auto st = script({before(1, "balloon_page_dequeue", page_obj(B)),
                    before(0, "balloon_page_isolate", kBalloonDev), done(1), done(0)});
  RunResult r = run_tasks(k, {{0, "compact_page", {B}}, {1, "balloon_leak", {1}}}, std::move(st));
  if (fix) {
    EXPECT_EQ(join(balloon_check(k)), "");
    EXPECT_EQ(k.balloon.vb.num_pages, 1u);
    expect_conserved(k);
  }
  return r;
}

}  // namespace

TEST(BalloonScenario4, WithoutTheFixTheWalkFollowsLIST_POISON1) {
  Pfn B = kNoPfn;
  const RunResult r = run_scenario4(false, &B);
  ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
  const Outcome& o = r.outcomes[0];
  EXPECT_EQ(o.key(), "oops:balloon_page_dequeue");
  EXPECT_EQ(o.message, "unable to handle kernel paging request at dead000000000100");
  EXPECT_EQ(o.task_name, "balloon_leak");
  ASSERT_GE(o.backtrace.size(), 2u);
  EXPECT_EQ(o.backtrace[0], "balloon_page_dequeue");
  EXPECT_EQ(o.backtrace[1], "leak_balloon");
}

TEST(BalloonScenario4, WithTheFixTheSameScriptIsClean) {
  const RunResult r = run_scenario4(true);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
}

TEST(BalloonScenario4, WithTheFixTheScriptedOrderIsUnreachableAndTheWalkSkipsTheLockedPage) {
  // With pages_lock held by the walk, balloon_page_isolate spins; the walk cannot take B
  // (compaction holds its page lock) and dequeues the next page instead.
  Kernel k = make_kernel();
  call(k, "balloon_init");
  call(k, "balloon_fill", {2});
  const std::vector<Pfn> pages = balloon_pages(k);
  auto st = script({before(1, "balloon_page_dequeue", page_obj(pages[0])),
                    before(0, "balloon_page_isolate", kBalloonDev), done(1), done(0)});
  Pfn got = kNoPfn;
  Sim sim(sim_cfg(2), &k, std::move(st));
  sim.spawn(0, "compact_page", [&] { call(k, "compact_page", {pages[0]}); });
  sim.spawn(1, "balloon_dequeue", [&] { got = Pfn(call(k, "balloon_dequeue")); });
  const RunResult r = sim.run();
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(got, pages[1]);
  EXPECT_EQ(balloon_pages(k).size(), 1u);
  EXPECT_NE(balloon_pages(k)[0], pages[0]);  // B was migrated after the leak let go
  EXPECT_EQ(join(balloon_check(k)), "");
}

namespace {

struct ExploreResult {
  uint64_t executions = 0;
  bool exhausted = false;
  std::map<std::string, uint64_t> outcomes;  // key: message -> count ("ok" for clean runs)
  std::vector<std::string> problems;         // post-run check failures (first few)
};

using Tasks = std::vector<std::tuple<CpuId, const char*, std::vector<int64_t>>>;

// explore_dfs over the tasks from a copy of `init`; after every run in which every task
// finished, the balloon and the page accounting are checked.
ExploreResult explore(const SmallWorld& init, const Tasks& tasks, uint64_t max, uint32_t bound,
                      bool stop_at_oops = false) {
  ExploreResult res;
  const DfsStats st = explore_dfs(
      [&](std::unique_ptr<Strategy> s) {
        Kernel k = init.k;
        SimConfig c = sim_cfg(2);
        c.trace = false;
        Sim sim(c, &k, std::move(s));
        sim.set_teardown([&k](Sim& sm) {
          for (auto& o : k.teardown_outcomes()) sm.add_outcome(std::move(o));
        });
        for (const auto& [cpu, name, args] : tasks)
          sim.spawn(cpu, name, [&k, name = name, args = args] { call(k, name, args); });
        const RunResult r = sim.run();
        bool oops = false;
        if (r.outcomes.empty()) res.outcomes["ok"]++;
        for (const auto& o : r.outcomes) {
          res.outcomes[o.key() + ": " + o.message]++;
          oops |= o.kind == OutcomeKind::Oops;
        }
        if (r.outcomes.empty()) {
          for (auto& p : balloon_check(k))
            if (res.problems.size() < 5) res.problems.push_back(p);
          const int64_t held = int64_t(k.balloon.vb.num_pages);
          const int64_t free = k.stats[size_t(Stat::NR_FREE_PAGES)];
          if (free + held + init.kernel_pages != int64_t(kPages) && res.problems.size() < 5)
            res.problems.push_back("pages not conserved: free " + std::to_string(free) +
                                   " + balloon " + std::to_string(held) + " + kernel " +
                                   std::to_string(init.kernel_pages));
        }
        return !(stop_at_oops && oops);
      },
      max, bound);
  res.executions = st.executions;
  res.exhausted = st.exhausted;
  return res;
}

std::string describe(const ExploreResult& e) {
  std::string s = std::to_string(e.executions) + " executions" + (e.exhausted ? " (exhausted)" : "");
  for (const auto& [k, n] : e.outcomes) s += "\n  " + k + ": " + std::to_string(n);
  for (const auto& p : e.problems) s += "\n  problem: " + p;
  return s;
}

}  // namespace

// Exploration bound: every schedule with at most 2 preemptions (CHESS-style) is run. The
// space is exhausted in about a second; with 3 preemptions it is ~800000 schedules per
// scenario (run once while writing this: the same outcome sets).
constexpr uint32_t kPreemptions = 2;

const std::string kPoisonOops =
    "oops:balloon_page_dequeue: unable to handle kernel paging request at dead000000000100";
const std::string kLeftListOops =
    "oops:balloon_page_dequeue: general protection fault: list walk left b_dev_info->pages";

TEST(BalloonScenario4, DfsFindsThePoisonOopsWithoutTheFix) {
  // Every schedule of compaction of the first balloon page against leak_balloon(1): the
  // unlocked walk either follows LIST_POISON1 (the cursor or the next page was list_del'ed
  // by balloon_page_isolate) or, after compaction re-linked the page onto
  // cc->migratepages, walks off the balloon list; both oops in balloon_page_dequeue.
  const SmallWorld w = small_world(2, false);
  const Pfn B = balloon_pages(w.k)[0];
  const ExploreResult e = explore(w, {{0, "compact_page", {B}}, {1, "balloon_leak", {1}}}, 100000,
                                  kPreemptions);
  EXPECT_TRUE(e.exhausted) << describe(e);
  ASSERT_EQ(e.outcomes.size(), 3u) << describe(e);
  EXPECT_GT(e.outcomes.at("ok"), 0u);
  EXPECT_GT(e.outcomes.at(kPoisonOops), 0u) << describe(e);
  EXPECT_GT(e.outcomes.at(kLeftListOops), 0u) << describe(e);
  EXPECT_TRUE(e.problems.empty()) << describe(e);
}

TEST(BalloonScenario4, DfsWithTheFixIsCleanInEverySchedule) {
  const SmallWorld w = small_world(2, true);
  const Pfn B = balloon_pages(w.k)[0];
  const ExploreResult e = explore(w, {{0, "compact_page", {B}}, {1, "balloon_leak", {1}}}, 100000,
                                  kPreemptions);
  EXPECT_TRUE(e.exhausted) << describe(e);
  EXPECT_GT(e.executions, 1000u);
  EXPECT_EQ(e.outcomes.size(), 1u) << describe(e);
  EXPECT_EQ(e.outcomes.count("ok"), 1u) << describe(e);
  EXPECT_TRUE(e.problems.empty()) << describe(e);
}

TEST(BalloonDfs, MigrationAgainstDequeueOfTheSamePageIsClean) {
  // leak_balloon takes the first page while compaction migrates it: the dequeue's trylock
  // or PageIsolated test, or virtballoon_migratepage's mutex_trylock, keeps them apart.
  const SmallWorld w = small_world(1, true);
  const Pfn B = balloon_pages(w.k)[0];
  const ExploreResult e = explore(w, {{0, "compact_page", {B}}, {1, "balloon_dequeue", {}}}, 100000,
                                  kPreemptions);
  EXPECT_TRUE(e.exhausted) << describe(e);
  EXPECT_EQ(e.outcomes.size(), 1u) << describe(e);
  EXPECT_EQ(e.outcomes.count("ok"), 1u) << describe(e);
  EXPECT_TRUE(e.problems.empty()) << describe(e);
}

TEST(BalloonDfs, MigrationAgainstFillIsCleanInEverySchedule) {
  // v4.7: 4.7's own protocol (isolation clears PagePrivate under the page lock and
  // pages_lock, the migrated page is freed off the LRU) is clean here too.
  for (const char* preset : {"v4.8", "v4.7"}) {
    SCOPED_TRACE(preset);
    const SmallWorld w = small_world(1, true, preset);
    const Pfn B = balloon_pages(w.k)[0];
    const ExploreResult e = explore(w, {{0, "compact_page", {B}}, {1, "balloon_fill", {1}}},
                                    100000, kPreemptions);
    EXPECT_TRUE(e.exhausted) << describe(e);
    EXPECT_EQ(e.outcomes.size(), 1u) << describe(e);
    EXPECT_EQ(e.outcomes.count("ok"), 1u) << describe(e);
    EXPECT_TRUE(e.problems.empty()) << describe(e);
  }
}

TEST(BalloonDfs, V47PutsANewPageTheLeakDequeuedOnTheLru) {
  // 4.7's unmap_and_move tells the new page's fate by PageBalloon(newpage) after
  // __unmap_and_move unlocked it. leak_balloon can dequeue the new page in between:
  // balloon_page_delete clears PageBalloon before it list_del's the page, so migration
  // takes it for an LRU page and putback_lru_page links it onto the LRU while it is still
  // on the balloon list. (The kernel's lru_cache_add links it at the next pagevec drain,
  // which narrows the window; the model has no pagevecs.) 4.8 tests __PageMovable, which
  // __ClearPageMovable keeps: clean (MigrationAgainstDequeueOfTheSamePageIsClean).
  const std::string dup =
      "bug:__list_add: list_add corruption: page pfn 1023 is already on balloon pages";
  const SmallWorld two = small_world(2, true, "v4.7");
  const SmallWorld one = small_world(1, true, "v4.7");
  for (const SmallWorld* w : {&two, &one}) {
    const Pfn B = balloon_pages(w->k)[0];
    const Tasks tasks = w == &two ? Tasks{{0, "compact_page", {B}}, {1, "balloon_leak", {1}}}
                                  : Tasks{{0, "compact_page", {B}}, {1, "balloon_dequeue", {}}};
    const ExploreResult e = explore(*w, tasks, 100000, kPreemptions);
    EXPECT_TRUE(e.exhausted) << describe(e);
    ASSERT_EQ(e.outcomes.size(), 2u) << describe(e);
    EXPECT_GT(e.outcomes.at("ok"), 0u) << describe(e);
    EXPECT_GT(e.outcomes.at(dup), 0u) << describe(e);
    EXPECT_TRUE(e.problems.empty()) << describe(e);
  }
}

TEST(BalloonScenario4, V47DfsFindsThePoisonOopsWithoutTheFix) {
  // The unlocked dequeue walk races with 4.7's own isolation the same way.
  const SmallWorld w = small_world(2, false, "v4.7");
  const Pfn B = balloon_pages(w.k)[0];
  const ExploreResult e = explore(w, {{0, "compact_page", {B}}, {1, "balloon_leak", {1}}}, 100000,
                                  kPreemptions);
  EXPECT_TRUE(e.exhausted) << describe(e);
  EXPECT_GT(e.outcomes.at("ok"), 0u) << describe(e);
  EXPECT_GT(e.outcomes.at(kPoisonOops), 0u) << describe(e);
  EXPECT_TRUE(e.problems.empty()) << describe(e);
}

// The same explorations with 3 preemptions (~10^6 schedules each, minutes): run with
// --gtest_also_run_disabled_tests --gtest_filter='*ThreePreemptions*'.
TEST(BalloonDfs, DISABLED_ThreePreemptions) {
  const SmallWorld fixed = small_world(2, true);
  const Pfn B = balloon_pages(fixed.k)[0];
  const ExploreResult leak =
      explore(fixed, {{0, "compact_page", {B}}, {1, "balloon_leak", {1}}}, 5000000, 3);
  EXPECT_TRUE(leak.exhausted) << describe(leak);
  EXPECT_EQ(leak.outcomes.size(), 1u) << describe(leak);
  EXPECT_TRUE(leak.problems.empty()) << describe(leak);
  const SmallWorld one = small_world(1, true);
  const Pfn B1 = balloon_pages(one.k)[0];
  const ExploreResult fill =
      explore(one, {{0, "compact_page", {B1}}, {1, "balloon_fill", {1}}}, 5000000, 3);
  EXPECT_TRUE(fill.exhausted) << describe(fill);
  EXPECT_EQ(fill.outcomes.size(), 1u) << describe(fill);
  EXPECT_TRUE(fill.problems.empty()) << describe(fill);
  const SmallWorld buggy = small_world(2, false);
  const ExploreResult race =
      explore(buggy, {{0, "compact_page", {B}}, {1, "balloon_leak", {1}}}, 5000000, 3);
  EXPECT_TRUE(race.exhausted) << describe(race);
  EXPECT_EQ(race.outcomes.size(), 3u) << describe(race);
  std::printf("%s\n%s\n%s\n", describe(leak).c_str(), describe(fill).c_str(), describe(race).c_str());
}
