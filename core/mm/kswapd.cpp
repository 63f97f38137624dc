// kswapd (mm/vmscan.c), as 4.8.15 has it (squirrel20/linux-4.8.15 mm/vmscan.c:3081-3517),
// with the named fixes of later releases. See kswapd.h for what the model leaves out.
#include "mm/kswapd.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "engine/model_function.h"
#include "engine/sync.h"
#include "mm/compaction.h"
#include "mm/current.h"
#include "mm/page_alloc.h"
#include "mm/shrinker.h"
#include "mm/vmstat.h"

namespace pagesim::mm {
namespace {

constexpr uint64_t SWAP_CLUSTER_MAX = 32;

ObjId kswapd_node_obj() { return make_obj(objclass::kKswapd, 1); }

// e716f2eb24de: MAX_NR_ZONES marks a pgdat whose kswapd was not woken; the model's node
// has no zone at that index or above.
int max_nr_zones(const Mm& mm) { return int(mm.zones.size()); }

struct scan_control {
  int order;
  int priority = DEF_PRIORITY;
  int reclaim_idx = 0;
  uint64_t nr_to_reclaim = 0;
  uint64_t nr_scanned = 0;
  uint64_t nr_reclaimed = 0;
  bool may_shrinkslab = true;  // 1c30844d2dfe: not while reclaiming a boost
};

// zone_balanced (4.8): the zone meets its high watermark at this order.
bool zone_balanced(const Mm& mm, const Zone& zone, int order) {
  return zone_watermark_ok(mm, zone, unsigned(order), Watermark::High);  // zone_watermark_ok_safe
}

// pgdat_balanced (e716f2eb24de): the first balanced zone up to classzone_idx, from the
// lowest; a node without a managed zone there counts as balanced.
bool pgdat_balanced(const Mm& mm, int order, int classzone_idx) {
  bool managed = false;
  for (int i = 0; i <= classzone_idx; i++) {
    const Zone& zone = mm.zones[size_t(i)];
    if (!managed_zone(zone)) continue;
    managed = true;
    if (zone_balanced(mm, zone, order)) return true;
  }
  return !managed;
}

// pgdat_watermark_boosted (1c30844d2dfe): a managed zone up to classzone_idx is boosted.
// Checked top-down as the higher zones are more likely to be boosted.
bool pgdat_watermark_boosted(const Mm& mm, int classzone_idx) {
  for (int i = classzone_idx; i >= 0; i--) {
    const Zone& zone = mm.zones[size_t(i)];
    if (managed_zone(zone) && zone.watermark_boost) return true;
  }
  return false;
}

// shrink_node (4.8.15 mm/vmscan.c:2509-2598): get_scan_count() reads the LRU sizes and
// finds nothing to scan (no swap for the anonymous pages, no file pages): sc->nr_scanned
// and sc->nr_reclaimed stay as they are, and no LRU page is eligible. Then the slab caches
// are shrunk "in the same proportion that the eligible LRU pages were scanned": what
// shrinkers free goes back to the allocator, but only slab pages (reclaimed_slab, which
// the model has none of) count as reclaimed.
void shrink_node(Mm& mm, const scan_control& sc) {
  MODEL_FUNC("shrink_node");
  sched(Op::Read, Access::Read, vmstat_obj(), here());
  const uint64_t node_lru_pages = 0;
  if (sc.may_shrinkslab) shrink_slab(mm, /*nr_scanned=*/0, node_lru_pages, sc.priority);
}

// Returns true if kswapd scanned at least the requested number of pages to reclaim, which
// decides whether the scanning priority needs to be raised.
bool kswapd_shrink_node(Mm& mm, scan_control& sc) {
  MODEL_FUNC("kswapd_shrink_node");
  // Reclaim a number of pages proportional to the number of zones.
  sc.nr_to_reclaim = 0;
  for (int z = 0; z <= sc.reclaim_idx; z++) {
    const Zone& zone = mm.zones[size_t(z)];
    if (!managed_zone(zone)) continue;
    sc.nr_to_reclaim += std::max(zone.wmark_pages(Watermark::High), SWAP_CLUSTER_MAX);
  }
  shrink_node(mm, sc);
  // Fragmentation may mean that the system cannot be rebalanced for high-order
  // allocations. If twice the allocation size has been reclaimed then recheck watermarks
  // only at order-0 to prevent excessive reclaim.
  if (sc.order && sc.nr_reclaimed >= (uint64_t(2) << sc.order)) sc.order = 0;
  return sc.nr_scanned >= sc.nr_to_reclaim;
}

// balance_pgdat: reclaims across the node from the zones the caller may use until one of
// them is balanced, and since 1c30844d2dfe the boost a fallback put on their watermarks.
// Returns the order kswapd finished reclaiming at.
int balance_pgdat(Mm& mm, int order, int classzone_idx) {
  MODEL_FUNC("balance_pgdat");
  scan_control sc{order};
  mm.stat(Stat::PAGEOUTRUN)++;  // count_vm_event(PAGEOUTRUN)
  // Account for the reclaim boost. Note that the zone boost is left in place so that
  // parallel allocations that are near the watermark will stall or direct reclaim until
  // kswapd is finished.
  uint64_t nr_boost_reclaim = 0;
  std::vector<uint64_t> zone_boosts(mm.zones.size());
  if (mm.cfg.has(Fix::WatermarkBoost))
    for (int i = 0; i <= classzone_idx; i++) {
      const Zone& zone = mm.zones[size_t(i)];
      if (!managed_zone(zone)) continue;
      nr_boost_reclaim += zone.watermark_boost;
      zone_boosts[size_t(i)] = zone.watermark_boost;
    }
  const bool boosted = nr_boost_reclaim;
restart:
  sc.priority = DEF_PRIORITY;
  do {
    const uint64_t nr_reclaimed = sc.nr_reclaimed;
    bool raise_priority = true;
    sc.reclaim_idx = classzone_idx;
    // Only reclaim if there are no eligible zones. 4.8 checks from high to low zone.
    if (mm.cfg.has(Fix::KswapdClasszoneSentinel)) {
      const bool balanced = pgdat_balanced(mm, sc.order, classzone_idx);
      // If the pgdat is imbalanced then ignore boosting and preserve the watermarks for a
      // later time and restart (the boost still comes off at the end).
      if (!balanced && nr_boost_reclaim) {
        nr_boost_reclaim = 0;
        goto restart;
      }
      // If boosting is not active then only reclaim if there are no eligible zones.
      if (!nr_boost_reclaim && balanced) goto out;
    } else {
      for (int i = classzone_idx; i >= 0; i--) {
        const Zone& zone = mm.zones[size_t(i)];
        if (managed_zone(zone) && zone_balanced(mm, zone, sc.order)) goto out;
      }
    }
    // Limit the priority of boosting to avoid reclaim writeback.
    if (nr_boost_reclaim && sc.priority == DEF_PRIORITY - 2) raise_priority = false;
    // Do not writeback or swap pages for boosted reclaim (the model has neither), and until
    // "do not special-case slab reclaim when watermarks are boosted" no shrinkers either.
    sc.may_shrinkslab = !nr_boost_reclaim || mm.cfg.has(Fix::BoostShrinksSlab);
    // age_active_anon() needs swap; there is none.
    if (kswapd_shrink_node(mm, sc)) raise_priority = false;
    // Raise priority if scanning rate is too low or there was no progress in reclaiming.
    const uint64_t progress = sc.nr_reclaimed - nr_reclaimed;
    nr_boost_reclaim -= std::min(nr_boost_reclaim, progress);
    // If reclaim made no progress for a boost, stop reclaim as IO cannot be queued and it
    // could be an infinite loop in extreme circumstances.
    if (nr_boost_reclaim && !progress) break;
    if (raise_priority || !progress) sc.priority--;
  } while (sc.priority >= 1);
  if (mm.cfg.has(Fix::KswapdFailures) && !sc.nr_reclaimed) {
    sched(Op::Write, Access::Write, kswapd_wait_obj(), here());
    mm.kswapd.failures++;
  }
out:
  // If reclaim was boosted, account for the reclaim done in this pass: the boost seen at
  // the start comes off (increments are under the zone lock), then kcompactd is woken to
  // defragment pageblocks, as there is now likely space.
  if (boosted) {
    for (int i = 0; i <= classzone_idx; i++) {
      if (!zone_boosts[size_t(i)]) continue;
      Zone& zone = mm.zones[size_t(i)];
      spin_lock_irqsave(zone.lock);
      zone.watermark_boost -= std::min(zone.watermark_boost, zone_boosts[size_t(i)]);
      spin_unlock_irqrestore(zone.lock);
    }
    kswapd_note_change(mm);
    wakeup_kcompactd(mm, pageblock_order, classzone_idx);
  }
  return sc.order;
}

// kswapd_classzone_idx (e716f2eb24de): the index a wakeup asked for, or `classzone_idx`
// when none did; before dffcac2cb88e the higher of the two.
int kswapd_classzone_idx(const Mm& mm, int classzone_idx) {
  if (mm.kswapd.classzone_idx == max_nr_zones(mm)) return classzone_idx;
  if (mm.cfg.has(Fix::KswapdKeepsClasszone)) return mm.kswapd.classzone_idx;
  return std::max(mm.kswapd.classzone_idx, classzone_idx);
}

// prepare_to_wait / finish_wait on pgdat->kswapd_wait: while kswapd is on the queue, a
// wakeup_kswapd() wakes it (sets `woken`), and schedule() then returns at once.
void prepare_to_wait(Mm& mm) {
  mm.kswapd.waiting = true;
  mm.kswapd.woken = false;
}
void finish_wait(Mm& mm) {
  mm.kswapd.waiting = false;
  mm.kswapd.woken = false;
}

// schedule(): sleeps until a wakeup. False when the run ends instead.
bool schedule(Mm& mm) {
  while (!mm.kswapd.woken)
    if (!Sim::current()->wait_idle(kswapd_wait_obj(), "kswapd_wait")) return false;
  return true;
}

// Returns false when the run ended while kswapd slept. `slept`: it went fully to sleep.
bool kswapd_try_to_sleep(Mm& mm, int alloc_order, int reclaim_order, int classzone_idx,
                         bool* slept) {
  MODEL_FUNC("kswapd_try_to_sleep");
  KswapdState& pg = mm.kswapd;
  bool remaining = false;
  sched(Op::Write, Access::Write, kswapd_wait_obj(), here());
  prepare_to_wait(mm);
  // Try to sleep for a short interval.
  if (prepare_kswapd_sleep(mm, reclaim_order, classzone_idx)) {
    // reset_isolation_suitable(pgdat): the model keeps no pageblock skip hints.
    // We have freed the memory, now we should compact it to make allocation of the
    // requested order possible.
    wakeup_kcompactd(mm, alloc_order, classzone_idx);
    // schedule_timeout(HZ/10): one scheduling point; a wakeup before it is premature.
    sched(Op::Read, Access::Read, kswapd_wait_obj(), here());
    remaining = pg.woken;
    // If woken prematurely then reset kswapd_classzone_idx and order. The values will
    // either be from a wakeup request or the previous request that slept prematurely.
    if (remaining) {
      pg.classzone_idx = mm.cfg.has(Fix::KswapdClasszoneSentinel)
                             ? kswapd_classzone_idx(mm, classzone_idx)
                             : std::max(pg.classzone_idx, classzone_idx);
      pg.order = std::max(pg.order, reclaim_order);
    }
    finish_wait(mm);
    prepare_to_wait(mm);
  }
  // After a short sleep, check if it was a premature sleep. If not, then go fully to
  // sleep until explicitly woken up.
  if (!remaining && prepare_kswapd_sleep(mm, reclaim_order, classzone_idx)) {
    *slept = true;
    if (!schedule(mm)) return false;
  } else {
    mm.stat(remaining ? Stat::KSWAPD_LOW_WMARK_HIT_QUICKLY : Stat::KSWAPD_HIGH_WMARK_HIT_QUICKLY)++;
  }
  finish_wait(mm);
  return true;
}

// What kswapd's next pass depends on besides what kswapd_node_changed() reports.
struct PassInputs {
  int alloc_order, reclaim_order, classzone_idx, order, pgdat_classzone_idx, failures;
  bool operator==(const PassInputs&) const = default;
};

}  // namespace

ObjId kswapd_wait_obj() { return make_obj(objclass::kKswapd, 0); }

// 4.8 wants every zone up to classzone_idx balanced; "fix zone balance check in
// prepare_kswapd_sleep" one of them, as balance_pgdat() does; c73322d098e4 lets a
// hopeless node sleep too.
bool prepare_kswapd_sleep(const Mm& mm, int order, int classzone_idx) {
  MODEL_FUNC("prepare_kswapd_sleep");
  if (mm.cfg.has(Fix::KswapdFailures) && mm.kswapd.failures >= MAX_RECLAIM_RETRIES) return true;
  if (mm.cfg.has(Fix::KswapdClasszoneSentinel)) return pgdat_balanced(mm, order, classzone_idx);
  const bool any = mm.cfg.has(Fix::KswapdSleepAnyZone);
  for (int i = 0; i <= classzone_idx; i++) {
    const Zone& zone = mm.zones[size_t(i)];
    if (!managed_zone(zone)) continue;
    if (zone_balanced(mm, zone, order) == any) return any;
  }
  return !any;
}

void kswapd_node_changed(Mm& mm) {
  mm.kswapd.changed = true;
  wake_up_pollers(kswapd_node_obj());
}

void wakeup_kswapd(Mm& mm, uint32_t zone_id, gfp_t gfp_flags, int order, int classzone_idx) {
  KswapdState& pg = mm.kswapd;
  if (!pg.running) return;
  MODEL_FUNC("wakeup_kswapd");
  if (!managed_zone(mm.zones[zone_id])) return;
  sched(Op::Write, Access::Write, kswapd_wait_obj(), here());
  // (e716f2eb24de's MAX_NR_ZONES is a wakeup's own classzone; dffcac2cb88e spells out
  // what its kswapd_classzone_idx() did here.)
  const bool not_woken = mm.cfg.has(Fix::KswapdClasszoneSentinel) && pg.classzone_idx == max_nr_zones(mm);
  pg.classzone_idx = not_woken ? classzone_idx : std::max(pg.classzone_idx, classzone_idx);
  pg.order = std::max(pg.order, order);
  kswapd_node_changed(mm);
  if (!pg.waiting) return;
  // c73322d098e4: a hopeless node is left to direct reclaim.
  const bool hopeless = mm.cfg.has(Fix::KswapdFailures) && pg.failures >= MAX_RECLAIM_RETRIES;
  bool balanced;
  if (mm.cfg.has(Fix::KswapdClasszoneSentinel)) {
    // 1c30844d2dfe: a boosted zone wakes kswapd on a balanced node.
    balanced = pgdat_balanced(mm, order, classzone_idx) &&
               !(mm.cfg.has(Fix::WatermarkBoost) && pgdat_watermark_boosted(mm, classzone_idx));
  } else {
    // Only wake kswapd if all zones are unbalanced.
    balanced = false;
    for (int z = 0; z <= classzone_idx && !balanced; z++) {
      const Zone& zone = mm.zones[size_t(z)];
      balanced = managed_zone(zone) && zone_balanced(mm, zone, order);
    }
  }
  if (hopeless || balanced) {
    // There may be plenty of free memory available, but it's too fragmented for
    // high-order allocations. Wake up kcompactd and rely on compaction_suitable() to
    // determine if it's needed (4.17).
    if (mm.cfg.has(Fix::KcompactdWhenKswapdCannot) && !(gfp_flags & __GFP_DIRECT_RECLAIM))
      wakeup_kcompactd(mm, order, classzone_idx);
    return;
  }
  pg.woken = true;  // wake_up_interruptible(&pgdat->kswapd_wait)
  Sim::current()->wake(kswapd_wait_obj());
}

// kswapd() (4.8.15 mm/vmscan.c:3403-3484). A pass that starts from what the last one
// started from, with nothing changed in between that it looks at (kswapd_node_changed),
// decides what it decided: kswapd then waits for a change instead of running it again (it
// would in the kernel, at 100% of its CPU). A run that ends with kswapd so is a hang:
// 4.8's kswapd on a node it can neither balance nor give up, the busy loop c73322d098e4
// fixed.
void kswapd(Mm& mm) {
  MODEL_FUNC("kswapd");
  KswapdState& pg = mm.kswapd;
  current_flags() |= PF_MEMALLOC;  // | PF_SWAPWRITE | PF_KSWAPD
  const bool sentinel = mm.cfg.has(Fix::KswapdClasszoneSentinel);
  int alloc_order = 0, reclaim_order = 0;
  int classzone_idx = sentinel ? max_nr_zones(mm) - 1 : 0;
  pg.order = 0;
  pg.classzone_idx = sentinel ? max_nr_zones(mm) : 0;
  std::optional<PassInputs> last;
  bool slept = true;
  for (;;) {
    if (sentinel) {
      alloc_order = reclaim_order = pg.order;
      classzone_idx = kswapd_classzone_idx(mm, classzone_idx);
    }
  kswapd_try_sleep:
    const PassInputs in{alloc_order, reclaim_order, classzone_idx, pg.order, pg.classzone_idx,
                        pg.failures};
    if (!slept && last == in && !pg.changed)
      poll_resched(kswapd_node_obj(),
                   "cond_resched (balance_pgdat: the node unbalanced, nothing to reclaim)");
    last = in;
    pg.changed = false;
    slept = false;
    if (!kswapd_try_to_sleep(mm, alloc_order, reclaim_order, classzone_idx, &slept)) return;
    // Read the new order and classzone_idx.
    sched(Op::Write, Access::Write, kswapd_wait_obj(), here());
    alloc_order = reclaim_order = pg.order;
    // dffcac2cb88e: a kswapd nobody woke again keeps its classzone; before, zone 0's.
    if (sentinel)
      classzone_idx = kswapd_classzone_idx(mm, mm.cfg.has(Fix::KswapdKeepsClasszone) ? classzone_idx : 0);
    else
      classzone_idx = pg.classzone_idx;
    pg.order = 0;
    pg.classzone_idx = sentinel ? max_nr_zones(mm) : 0;
    // Reclaim begins at the requested order but if a high-order reclaim fails then kswapd
    // falls back to reclaiming for order-0. If that happens, kswapd will consider sleeping
    // for the order it finished reclaiming at (reclaim_order) but kcompactd is woken to
    // compact for the original request (alloc_order).
    reclaim_order = balance_pgdat(mm, alloc_order, classzone_idx);
    if (reclaim_order < alloc_order) goto kswapd_try_sleep;
    if (!sentinel) {
      alloc_order = reclaim_order = pg.order;
      classzone_idx = pg.classzone_idx;
    }
  }
}

}  // namespace pagesim::mm
