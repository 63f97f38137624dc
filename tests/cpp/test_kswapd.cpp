// kswapd on a node with nothing reclaimable (mm/kswapd.h): when it sleeps, loops or gives
// up, per release. scenarios/kswapd_busyloop_4_12.py has the reported busy loop.
#include <gtest/gtest.h>

#include "engine/sim.h"
#include "engine/sync.h"
#include "kernel_support.h"
#include "mm/compaction.h"
#include "mm/lru.h"
#include "mm/kswapd.h"
#include "mm/page_alloc.h"
#include "mm/shrinker.h"

using namespace pagesim;
using namespace pagesim::mm;
using namespace pagesim::testing;
using pagesim::kernel::Kernel;

namespace {

// DMA32 and Normal, 512 pages each: min 32, low 40, high 48 pages in each zone.
Kernel two_zones(const std::string& preset, std::map<std::string, bool> fixes = {}) {
  kernel::KernelConfig kc;
  kc.preset = preset;
  kc.fixes = std::move(fixes);
  kc.zones = {{"DMA32", 512, MIGRATE_MOVABLE}, {"Normal", 512, MIGRATE_MOVABLE}};
  return Kernel(kc);
}

// Kernel pages (unreclaimable) taken from zone z until `left` pages are free in it.
void fill_zone(Kernel& k, uint32_t z, uint64_t left) {
  const gfp_t gfp = k.zones[z].name == "DMA32" ? GFP_KERNEL | __GFP_DMA32 : GFP_KERNEL;
  while (k.zones[z].free_pages > left) ASSERT_NE(alloc_pages(k, gfp, 0, Owner::Kernel), kNoPfn);
}

// kswapd0 on cpu 0 and `body` on cpu 1, with the teardown checks; `timed`: in the order of
// the simulated clocks (a delay in `body` lets kswapd go to sleep first).
RunResult run_with_kswapd(Kernel& k, std::function<void()> body, bool timed = false) {
  Sim sim(sim_cfg(2), &k,
          timed ? std::unique_ptr<Strategy>(std::make_unique<TimedStrategy>(1))
                : std::unique_ptr<Strategy>(std::make_unique<RandomStrategy>(1)));
  with_teardown(sim, k);
  k.kswapd.running = true;
  sim.spawn(0, "kcompactd0", [&] { kcompactd(k); }, /*daemon=*/true);
  sim.spawn(0, "kswapd0", [&] { kswapd(k); }, /*daemon=*/true);
  sim.spawn(1, "t", std::move(body));
  return sim.run();
}

}  // namespace

// One zone below its high watermark, nothing reclaimable: 4.8's kswapd never sleeps (a
// hang once nothing else runs); since c73322d098e4 it gives the node up after 16
// balance_pgdat runs without progress, and sleeps.
TEST(Kswapd, WithoutC73322d098e4KswapdNeverSleepsOnAnUnreclaimableNode) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v4.14", {{"c73322d098e4", fixed}}, 512);
    fill_zone(k, 0, 60);  // low 56, high 67
    const RunResult r = run_with_kswapd(k, [&] { wakeup_kswapd(k, 0, GFP_KERNEL, 0, 0); });
    if (fixed) {
      ASSERT_TRUE(r.ok()) << outcomes_str(r);
      EXPECT_EQ(k.kswapd.failures, MAX_RECLAIM_RETRIES);
      EXPECT_EQ(k.stat(Stat::PAGEOUTRUN), MAX_RECLAIM_RETRIES);
      EXPECT_TRUE(prepare_kswapd_sleep(k, 0, 0)) << "hopeless";
    } else {
      ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
      EXPECT_EQ(r.outcomes[0].key(), "hang");
      EXPECT_NE(r.outcomes[0].report().find("kswapd0 (cpu0) sleeps on cond_resched (balance_pgdat"),
                std::string::npos) << r.outcomes[0].report();
      EXPECT_EQ(k.kswapd.failures, 0);
      EXPECT_GE(k.stat(Stat::KSWAPD_HIGH_WMARK_HIT_QUICKLY), 1);
    }
  }
}

// The balanced zone that lets kswapd sleep: 4.8 wants every zone up to the classzone
// balanced, "fix zone balance check in prepare_kswapd_sleep" (4.12) one of them.
TEST(Kswapd, WithFixZoneBalanceCheckOneBalancedZoneLetsKswapdSleep) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = two_zones("v4.9", {{"fix-zone-balance-check-in-prepare-kswapd-sleep", fixed}});
    fill_zone(k, 1, 44);  // Normal below its high watermark, DMA32 free
    EXPECT_EQ(prepare_kswapd_sleep(k, 0, 1), fixed);
    EXPECT_TRUE(prepare_kswapd_sleep(k, 0, 0));  // DMA32 alone is balanced
  }
}

// A kswapd nobody woke: 4.8's looks at zone 0 only (classzone_idx 0), and with DMA32 below
// its high watermark reclaims for it, to no avail, until the node is hopeless; since
// e716f2eb24de it keeps the classzone it started with (the highest), which Normal balances.
TEST(Kswapd, WithoutE716f2eb24deANeverWokenKswapdBalancesZoneZeroOnly) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = two_zones("v4.14", {{"e716f2eb24de", fixed}});
    fill_zone(k, 0, 44);  // DMA32 below its high watermark, Normal free
    const RunResult r = run_with_kswapd(k, [] {});
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    EXPECT_EQ(k.stat(Stat::PAGEOUTRUN), fixed ? 0 : MAX_RECLAIM_RETRIES);
  }
}

// kswapd wakes kcompactd for the order it was woken for only when it may sleep at that
// order. With nothing reclaimable and order-9 requests coming (three pages of four free,
// no free order-9 block), 4.14's kswapd does so once the node is hopeless,
// and kcompactd compacts; 4.8's never may, and goes to sleep at order 0 (an order-0
// wakeup of kcompactd does nothing) once the requests stop.
TEST(Kswapd, WakesKcompactdForTheOrderOnlyOnceItGivesTheNodeUp) {
  for (const std::string preset : {"v4.14", "v4.8"}) {
    SCOPED_TRACE(preset);
    Kernel k = make_kernel(preset, {}, 2048);
    const uint32_t pid = process_create(k, "frag");
    const uint32_t n = process_fault_in(k, pid, 2048);
    for (uint32_t v = 0; v < n; v++)
      if (v % 4) process_unmap(k, pid, v);  // compaction_suitable wants 2 << 9 free pages
    const RunResult r = run_with_kswapd(k, [&] {
      // The slow path of THP faults, again and again, until the node is hopeless.
      for (int i = 0; i < 2000 && k.kswapd.failures < MAX_RECLAIM_RETRIES; ++i) {
        wakeup_kswapd(k, 0, GFP_HIGHUSER_MOVABLE, 9, 0);
        delay(1'000);
      }
    });
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    const bool fixed = preset == "v4.14";
    EXPECT_EQ(k.kswapd.failures, fixed ? MAX_RECLAIM_RETRIES : 0);
    EXPECT_EQ(k.stat(Stat::KCOMPACTD_WAKE), fixed ? 1 : 0);
    EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS) > 0, fixed);
  }
}

// ---- shrink_slab ----

namespace {

// A cache of `fake_count` objects that records what it is asked to scan and frees it.
uint64_t fake_count = 0;
std::vector<uint64_t> fake_scans;
bool fake_writer_arrives = false;  // a register_shrinker comes to wait while it is counted
const ShrinkerOps fake_ops = {
    "fake",
    [](Mm& mm, uint64_t) {
      if (fake_writer_arrives) mm.shrinker_rwsem.writers_waiting = 1;
      return fake_count;
    },
    [](Mm&, uint64_t, uint64_t nr_to_scan) {
      fake_scans.push_back(nr_to_scan);
      return nr_to_scan;
    },
    DEFAULT_SEEKS, 0};

// What shrink_slab at each priority from 12 down asks a cache of `count` objects to scan,
// as reclaim that scanned no LRU page calls it.
std::vector<std::vector<uint64_t>> scans_by_priority(Kernel& k, uint64_t count) {
  fake_count = count;
  register_shrinker(k, &fake_ops, 0);
  std::vector<std::vector<uint64_t>> by_priority;
  for (int priority = DEF_PRIORITY; priority >= 1; --priority) {
    fake_scans.clear();
    shrink_slab(k, 0, 0, priority);
    by_priority.push_back(fake_scans);
  }
  return by_priority;
}

}  // namespace

// 4.8: with no LRU page scanned, nr_scanned counts as SWAP_CLUSTER_MAX and a cache is asked
// for twice its count at every priority. 9092c71bb724 (4.16): count >> priority, twice
// (seeks 2), with what is left deferred to the next call: a small cache is scanned near
// priority 1 only.
TEST(Shrinker, Since9092c71bb724AShareByPriorityNotTwiceTheCache) {
  using Scans = std::vector<std::vector<uint64_t>>;
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v4.19", {{"9092c71bb724", fixed}, {"172b06c32b94", false}});
    const Scans got = scans_by_priority(k, 10);
    if (fixed)  // nothing down to priority 4; 2 deferred at 3, 6 at 2, 6 + 10 scanned at 1
      EXPECT_EQ(got, (Scans{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {16}}));
    else
      EXPECT_EQ(got, Scans(12, {20}));
  }
}

// 172b06c32b94 (4.19): at least min(count, batch) a call, so a small cache is asked for
// all of it at every priority; a9a238e83fbb (5.0) reverts it.
TEST(Shrinker, With172b06c32b94ASmallCacheIsScannedAtEveryPriority) {
  using Scans = std::vector<std::vector<uint64_t>>;
  for (const auto& [preset, flips, every] :
       {std::tuple<const char*, std::map<std::string, bool>, bool>{"v4.19", {}, true},
        {"v4.19", {{"172b06c32b94", false}}, false},
        {"v5.4", {}, false},
        {"v5.4", {{"a9a238e83fbb", false}}, true}}) {
    SCOPED_TRACE(std::string(preset) + (flips.empty() ? "" : " flipped"));
    Kernel k = make_kernel(preset, flips);
    const Scans got = scans_by_priority(k, 10);
    EXPECT_EQ(got == Scans(12, {10}), every);
  }
}

// e496612c5130 (4.16): shrink_slab gives the rest of the shrinkers up when a task waits
// for shrinker_rwsem (a register_shrinker); before, it went through the list.
TEST(Shrinker, WithE496612c5130AWaitingRegistrationStopsTheWalk) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v4.19", {{"e496612c5130", fixed}});
    fake_count = 100;
    register_shrinker(k, &fake_ops, 0);
    register_shrinker(k, &fake_ops, 1);
    fake_scans.clear();
    fake_writer_arrives = true;
    shrink_slab(k, 0, 0, 1);
    fake_writer_arrives = false;
    k.shrinker_rwsem.writers_waiting = 0;
    EXPECT_EQ(fake_scans.size(), fixed ? 1u : 2u);
  }
}

// "wakeup kcompactd even if kswapd cannot free more memory" (4.17): on a hopeless node a
// caller that cannot reclaim directly (GFP_ATOMIC) wakes kcompactd; before, nothing.
TEST(Kswapd, SinceWakeupKcompactdEvenIfKswapdCannotAnAtomicCallerWakesKcompactd) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v4.19", {{"wakeup-kcompactd-even-if-kswapd-cannot-free-more-memory", fixed}},
                           2048);
    const uint32_t pid = process_create(k, "frag");
    const uint32_t n = process_fault_in(k, pid, 2048);
    for (uint32_t v = 0; v < n; v++)
      if (v % 4) process_unmap(k, pid, v);
    k.kswapd.failures = MAX_RECLAIM_RETRIES;  // hopeless
    const RunResult r = run_with_kswapd(k, [&] {
      delay(100'000);  // kswapd and kcompactd asleep
      wakeup_kswapd(k, 0, GFP_ATOMIC, 9, 0);
    }, /*timed=*/true);
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    EXPECT_EQ(k.stat(Stat::PAGEOUTRUN), 0);  // kswapd stays asleep either way
    EXPECT_EQ(k.stat(Stat::KCOMPACTD_WAKE), fixed ? 1 : 0);
  }
}
