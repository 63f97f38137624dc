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

// Kernel pages (unreclaimable; `gfp` may make them movable) taken from zone z until `left`
// pages are free in it.
void fill_zone(Kernel& k, uint32_t z, uint64_t left, gfp_t gfp = GFP_KERNEL) {
  if (k.zones[z].name == "DMA32") gfp |= __GFP_DMA32;
  while (k.zones[z].free_pages > left) ASSERT_NE(alloc_pages(k, gfp, 0, Owner::Kernel), kNoPfn);
}

// kswapd0 on cpu 0 and `body` on cpu 1, with the teardown checks; `timed`: in the order of
// the simulated clocks (a delay in `body` lets kswapd go to sleep first).
RunResult run_with_kswapd(Kernel& k, std::function<void()> body, bool timed = false) {
  Sim sim(sim_cfg(2), &k,
          timed ? std::unique_ptr<Strategy>(std::make_unique<TimedStrategy>(1))
                : std::unique_ptr<Strategy>(std::make_unique<RandomStrategy>(1)));
  with_teardown(sim, k);
  k.check_daemons(true, true);  // as pagesim.Kernel(kswapd=True) checks the preset
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
uint64_t fake_counted = 0;  // count_objects calls
std::vector<uint64_t> fake_scans;
bool fake_writer_arrives = false;  // a register_shrinker comes to wait while it is counted
const ShrinkerOps fake_ops = {
    "fake",
    [](Mm& mm, uint64_t) {
      fake_counted++;
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

// ---- 5.0's watermark boost ----

namespace {

// v5.4 with 1c30844d2dfe off (and the fixes that change its code).
const std::map<std::string, bool> kNoBoost = {
    {"1c30844d2dfe", false}, {"73444bc4d8f9", false},
    {"fix-division-by-zero-when-boosting-watermarks", false},
    {"ignore-the-boost-for-isolation-and-compaction", false},
    {"do-not-special-case-slab-reclaim-when-boosted", false}};

// Movable pages in every pageblock of zone z, every other one freed: no free block of a
// pageblock's order, and no free unmovable page, so an unmovable order-0 allocation falls
// back and steals from a movable pageblock below pageblock_order.
void fragment_movable(Kernel& k, uint32_t z) {
  const gfp_t gfp = GFP_HIGHUSER_MOVABLE | (k.zones[z].name == "DMA32" ? __GFP_DMA32 : 0);
  std::vector<Pfn> pages;
  for (Pfn p; k.zones[z].free_pages > 16 && (p = alloc_pages(k, gfp, 0, Owner::Kernel)) != kNoPfn;)
    pages.push_back(p);
  for (size_t i = 0; i < pages.size(); i += 2) __free_pages(k, pages[i], 0);
}

// The first free block of the zone's free lists, from the lowest order.
Pfn a_free_block(const Kernel& k, const Zone& z) {
  for (int o = 0; o < MAX_ORDER; o++)
    for (uint32_t list : z.free_area[size_t(o)].free_list)
      if (k.lists[list].first != kNoPfn) return k.lists[list].first;
  return kNoPfn;
}

uint64_t entries_of(const RunResult& r, const char* func) {
  return uint64_t(std::count_if(r.trace.begin(), r.trace.end(), [&](const TraceRecord& s) {
    return s.kind == TraceKind::Enter && interned(s.func) == func;
  }));
}

}  // namespace

// 1c30844d2dfe (5.0): a fallback that steals below a pageblock boosts every watermark of
// the zone by a pageblock (here beyond its free pages) and wakes kswapd, which takes the
// boost off again and wakes kcompactd for a pageblock; before, nothing.
TEST(Kswapd, With1c30844d2dfeAFallbackBoostsTheWatermarksUntilKswapdRuns) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v5.4", fixed ? std::map<std::string, bool>{} : kNoBoost);
    fragment_movable(k, 0);
    const uint64_t free = k.zones[0].free_pages;
    k.kswapd.running = true;  // the boost needs a kswapd to take it off
    ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);  // set-up: kswapd not yet running
    EXPECT_EQ(k.zones[0].watermark_boost, fixed ? pageblock_nr_pages : 0);
    EXPECT_EQ(zone_watermark_ok(k, k.zones[0], 0, Watermark::Low), !fixed) << free;
    EXPECT_EQ(zone_watermark_ok(k, k.zones[0], 0, k.zones[0].watermark[size_t(Watermark::Low)], 0), true);
    k.kswapd.running = false;
    const RunResult r = run_with_kswapd(k, [] {});
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    EXPECT_EQ(k.zones[0].watermark_boost, 0u);
    // The boosted high watermark is above the free pages: the boost is given up for a
    // normal reclaim, which reclaims nothing (one failure); the boost comes off anyway.
    EXPECT_EQ(k.stat(Stat::PAGEOUTRUN), fixed ? 1 : 0);
    EXPECT_EQ(k.kswapd.failures, fixed ? 1 : 0);
    EXPECT_EQ(entries_of(r, "wakeup_kcompactd"), fixed ? 1u : 0u);  // (an order-0 one returns at once)
  }
}

// 73444bc4d8f9 (5.0): the boost's kswapd wakeup comes after rmqueue drops zone->lock;
// 1c30844d2dfe woke kswapd from steal_suitable_fallback, under the lock.
TEST(Kswapd, With73444bc4d8f9TheBoostWakesKswapdAfterZoneLockIsDropped) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v5.4", {{"73444bc4d8f9", fixed}});
    fragment_movable(k, 0);
    const RunResult r = run_with_kswapd(k, [&] {
      delay(100'000);  // kswapd asleep
      ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);
    }, /*timed=*/true);
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    // The task's wakeup, and whether it held zone->lock then.
    int depth = 0, woken_at_depth = -1;
    for (const TraceRecord& s : r.trace) {
      if (s.kind != TraceKind::Step || r.task_names.size() <= s.task || r.task_names[s.task] != "t")
        continue;
      if (s.obj == k.zones[0].lock.id && s.op == Op::SpinLock) depth++;
      if (s.obj == k.zones[0].lock.id && s.op == Op::SpinUnlock) depth--;
      if (s.obj == kswapd_wait_obj() && interned(s.func) == "wakeup_kswapd" && woken_at_depth < 0)
        woken_at_depth = depth;
    }
    EXPECT_EQ(woken_at_depth, fixed ? 0 : 1);
    EXPECT_EQ(k.stat(Stat::PAGEOUTRUN), 1);  // woken either way
  }
}

// "fix a division by zero error when boosting watermarks" (5.0): a zone whose high
// watermark is 0 (DMA32's share of min_free_kbytes rounds to nothing) is not boosted;
// before, it was by a pageblock, more than the zone's free memory.
TEST(Kswapd, WithTheDivisionByZeroFixAZoneWithoutAHighWatermarkIsNotBoosted) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    kernel::KernelConfig kc;
    kc.preset = "v5.4";
    kc.fixes = {{"fix-division-by-zero-when-boosting-watermarks", fixed}};
    kc.zones = {{"DMA32", 512, MIGRATE_MOVABLE}, {"Normal", 1u << 20, MIGRATE_MOVABLE}};  // 4 GiB
    Kernel k(kc);
    ASSERT_EQ(k.zones[0].watermark[size_t(Watermark::High)], 0u);
    fragment_movable(k, 0);
    k.kswapd.running = true;
    ASSERT_NE(alloc_pages(k, GFP_KERNEL | __GFP_DMA32, 0, Owner::Kernel), kNoPfn);
    EXPECT_EQ(k.zones[0].watermark_boost, fixed ? 0 : pageblock_nr_pages);
  }
}

// "ignore the fragmentation avoidance boost for isolation and compaction" (5.1):
// compaction's free scanner isolates down to the min watermark without the boost; with
// the boost (5.0), not while the zone is boosted.
TEST(Kswapd, SinceIgnoreTheBoostForIsolationABoostedZoneStillGivesCompactionTargets) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v5.4", {{"ignore-the-boost-for-isolation-and-compaction", fixed}});
    Zone& z = k.zones[0];
    ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);  // free blocks of orders 0 to 9
    z.watermark_boost = z.free_pages;  // beyond what is free (a boost of a nearly full zone)
    const Pfn block = a_free_block(k, z);
    ASSERT_NE(block, kNoPfn);
    spin_lock_irqsave(z.lock);
    const unsigned order = unsigned(k.page(block).private_);
    ASSERT_EQ(order, 0u);
    EXPECT_EQ(__isolate_free_page(k, block, order), fixed ? 1u : 0u);
    spin_unlock_irqrestore(z.lock);
  }
}

// dffcac2cb88e (5.3): a kswapd that could not sleep, and was not woken again, reclaims for
// the classzone of its last run; before, for zone 0 (kswapd_classzone_idx(pgdat, 0)).
// Both zones are below their high watermarks: kswapd starts for the highest zone
// (e716f2eb24de), cannot sleep, and every balance_pgdat run looks at Normal too, or none.
TEST(Kswapd, WithDffcac2cb88eAKswapdThatCannotSleepKeepsItsClasszone) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = two_zones("v5.4", {{"dffcac2cb88e", fixed}});
    fill_zone(k, 0, 44);
    fill_zone(k, 1, 44);
    const RunResult r = run_with_kswapd(k, [] {});
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    // balance_pgdat runs that checked Normal's watermark.
    uint64_t runs = 0, checked_normal = 0;
    bool in_run = false, seen = false;
    for (const TraceRecord& s : r.trace) {
      const std::string& f = interned(s.func);
      if (s.kind == TraceKind::Enter && f == "balance_pgdat") in_run = true, seen = false, runs++;
      if (s.kind == TraceKind::Exit && f == "balance_pgdat") in_run = false, checked_normal += seen;
      if (in_run && s.kind == TraceKind::Step && s.obj == k.zones[1].lock.id) seen = true;
    }
    EXPECT_EQ(runs, uint64_t(MAX_RECLAIM_RETRIES));
    EXPECT_EQ(checked_normal, fixed ? runs : 0u);
  }
}

// "do not special-case slab reclaim when watermarks are boosted" (5.3): the boosted pass
// of a node balanced at its boosted watermarks calls the shrinkers; 1c30844d2dfe (5.0)
// left them out (sc.may_shrinkslab). Either way it reclaims nothing, gives up at once (one
// failure) and takes the boost off.
TEST(Kswapd, SinceDoNotSpecialCaseSlabReclaimABoostedPassCallsTheShrinkers) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v5.4", {{"do-not-special-case-slab-reclaim-when-boosted", fixed}}, 2048);
    fragment_movable(k, 0);
    fake_count = 1000;
    register_shrinker(k, &fake_ops, 0);
    fake_counted = 0;
    const RunResult r = run_with_kswapd(k, [&] {
      delay(100'000);  // kswapd asleep
      ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);  // boosts, wakes kswapd
    }, /*timed=*/true);
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    EXPECT_EQ(k.stat(Stat::PAGEOUTRUN), 1);
    EXPECT_EQ(fake_counted, fixed ? 1u : 0u);
    EXPECT_EQ(k.kswapd.failures, 1);
    EXPECT_EQ(k.zones[0].watermark_boost, 0u);
  }
}

// 14f69140ff9c (5.7, 5.4.41): a zone of fewer than four pageblocks is not boosted; before,
// a 1024-page zone was, by a pageblock, to a min watermark above its free pages. A zone of
// four pageblocks is boosted either way.
TEST(Kswapd, With14f69140ff9cAZoneOfFewerThanFourPageblocksIsNotBoosted) {
  for (const bool fixed : {true, false}) {
    for (const uint32_t pages : {1024u, 2048u}) {
      SCOPED_TRACE(std::to_string(fixed) + " " + std::to_string(pages));
      Kernel k = make_kernel("v5.4", {{"14f69140ff9c", fixed}}, pages);
      fragment_movable(k, 0);
      k.kswapd.running = true;
      ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);
      const bool boosted = !fixed || pages == 2048;
      EXPECT_EQ(k.zones[0].watermark_boost, boosted ? pageblock_nr_pages : 0);
      if (pages == 1024)  // the next order-0 allocation fails with half the zone free
        EXPECT_EQ(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel) == kNoPfn, boosted) << k.zones[0].free_pages;
    }
  }
}

// f80b08fc4453 (5.9): an order-0 GFP_ATOMIC allocation that fails the boosted min
// watermark tests it again without the boost. A zone of four pageblocks (min 90) with 150
// pages free, boosted by a pageblock: the atomic allocation (min 602, less a half and a
// quarter: 226) fails; with the fix it passes (90: 34).
TEST(Kswapd, WithF80b08fc4453AnAtomicAllocationIgnoresTheBoostAtTheMinWatermark) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v5.10", {{"f80b08fc4453", fixed}}, 2048);
    fill_zone(k, 0, 150, GFP_HIGHUSER_MOVABLE);  // the rest free at the zone's end, in pieces
    k.kswapd.running = true;
    ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);  // steals, boosts
    ASSERT_EQ(k.zones[0].watermark_boost, pageblock_nr_pages);
    EXPECT_EQ(alloc_pages(k, GFP_ATOMIC, 0, Owner::Kernel) != kNoPfn, fixed) << k.zones[0].free_pages;
    EXPECT_EQ(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);  // others still see it
  }
}

// 597c892038e0 (5.11): a steal in a zone 14f69140ff9c does not boost (two pageblocks) no
// longer sets ZONE_BOOSTED_WATERMARK. Before, rmqueue woke kswapd for it, and kswapd
// reclaimed a node that was below its high watermark but above its low one: premature
// kswapd runs, which the allocation alone (above the low watermark) would not have caused.
TEST(Kswapd, With597c892038e0AStealWithoutABoostWakesNoKswapd) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    // v5.4 with 14f69140ff9c (as 5.4.41): kswapd=True is refused on v5.15.
    Kernel k = make_kernel("v5.4", {{"14f69140ff9c", true}, {"597c892038e0", fixed}});
    fill_zone(k, 0, 100, GFP_HIGHUSER_MOVABLE);  // min 64, low 80, high 96: balanced
    const RunResult r = run_with_kswapd(k, [&] {
      delay(100'000);  // kswapd asleep
      while (k.zones[0].free_pages > 90)  // below high, above low: the fast path, no wakeup
        ASSERT_NE(alloc_pages(k, GFP_HIGHUSER_MOVABLE, 0, Owner::Kernel), kNoPfn);
      ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);  // steals
    }, /*timed=*/true);
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    EXPECT_EQ(k.zones[0].watermark_boost, 0u);
    // Woken, kswapd reclaims nothing and runs until the node is hopeless.
    EXPECT_EQ(k.stat(Stat::PAGEOUTRUN), fixed ? 0 : MAX_RECLAIM_RETRIES);
  }
}

// "don't wake kswapd from rmqueue() unless __GFP_KSWAPD_RECLAIM is specified" (6.5): a
// caller that may not wake kswapd leaves ZONE_BOOSTED_WATERMARK to the next caller; before,
// its rmqueue() took the flag and woke kswapd.
TEST(Kswapd, SinceRmqueueWakeNeedsKswapdReclaimACallerWithoutItLeavesTheFlag) {
  for (const bool fixed : {true, false}) {
    SCOPED_TRACE(fixed);
    Kernel k = make_kernel("v6.6", {{"dont-wake-kswapd-from-rmqueue-without-kswapd-reclaim", fixed}});
    k.kswapd.running = true;
    k.zones[0].boosted_watermark_flag = true;  // a stealer's boost, its wakeup still owed
    ASSERT_NE(alloc_pages(k, GFP_KERNEL & ~__GFP_KSWAPD_RECLAIM, 0, Owner::Kernel), kNoPfn);
    EXPECT_EQ(k.zones[0].boosted_watermark_flag, fixed);
    ASSERT_NE(alloc_pages(k, GFP_KERNEL, 0, Owner::Kernel), kNoPfn);
    EXPECT_FALSE(k.zones[0].boosted_watermark_flag);
  }
}
