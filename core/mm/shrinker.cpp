// Shrinkers, as 4.8.15 has them (squirrel20/linux-4.8.15 mm/vmscan.c:248-470).
#include "mm/shrinker.h"

#include <algorithm>
#include <utility>

#include "engine/model_function.h"
#include "engine/sync.h"
#include "mm/kswapd.h"

namespace pagesim::mm {
namespace {

constexpr uint64_t SWAP_CLUSTER_MAX = 32;

// do_shrink_slab (4.8.15 mm/vmscan.c:280-389). The share of a cache to scan, delta, is
// in 4.8 the share of the LRU pages reclaim scanned, four times over, divided by the seeks
// a re-created object costs; since 9092c71bb724 (4.16) the cache divided by 2^priority, as
// reclaim's share of each LRU list. The total, with what earlier calls deferred, is
// clamped to twice the cache. Before 9092c71bb724 the deferred work never matters while
// reclaim scans nothing (kswapd's case: nr_scanned SWAP_CLUSTER_MAX, no eligible LRU page,
// so delta is 64 times the cache and the total its clamp): the model keeps nr_deferred
// from 9092c71bb724 on, with 4.10's count of it ("set correct defer count for shrinker":
// what is left of the unclamped total after the scans).
uint64_t do_shrink_slab(Mm& mm, Shrinker& shrinker, uint64_t nr_scanned, uint64_t nr_eligible,
                        int priority) {
  MODEL_FUNC("do_shrink_slab");
  const ShrinkerOps& ops = *shrinker.ops;
  const bool by_priority = mm.cfg.has(Fix::ShrinkSlabPriority);
  const uint64_t batch_size = ops.batch ? ops.batch : SHRINK_BATCH;
  const uint64_t freeable = ops.count_objects(mm, shrinker.private_);
  if (freeable == 0) return 0;
  // nr_deferred is touched by reclaimers only: in the model kswapd alone.
  const uint64_t nr = by_priority ? std::exchange(shrinker.nr_deferred, 0) : 0;
  uint64_t delta = by_priority ? (freeable >> priority) * 4 / uint64_t(ops.seeks)
                               : 4 * nr_scanned / uint64_t(ops.seeks) * freeable / (nr_eligible + 1);
  // 172b06c32b94: make sure we apply some minimal pressure on default priority even on
  // small cgroups.
  if (mm.cfg.has(Fix::ShrinkSlabMinDelta) && !mm.cfg.has(Fix::ShrinkSlabMinDeltaReverted))
    delta = std::max(delta, std::min(freeable, batch_size));
  uint64_t total_scan = nr + delta;
  uint64_t next_deferred = total_scan;
  if (delta < freeable / 4) total_scan = std::min(total_scan, freeable / 2);
  // Avoid risking looping forever due to too large nr value: never try to free more than
  // twice the estimate number of freeable entries.
  total_scan = std::min(total_scan, freeable * 2);
  uint64_t freed = 0, scanned = 0;
  while (total_scan >= batch_size || total_scan >= freeable) {
    const uint64_t nr_to_scan = std::min(batch_size, total_scan);
    const uint64_t ret = ops.scan_objects(mm, shrinker.private_, nr_to_scan);
    if (ret == SHRINK_STOP) break;
    freed += ret;
    mm.stat(Stat::SLABS_SCANNED) += int64_t(nr_to_scan);  // count_vm_events(SLABS_SCANNED, ...)
    total_scan -= nr_to_scan;
    scanned += nr_to_scan;
  }
  if (by_priority) {
    shrinker.nr_deferred += next_deferred >= scanned ? next_deferred - scanned : 0;
    // A deferral past what the clamps let through changes no later decision.
    if (std::min(shrinker.nr_deferred, 2 * freeable) != std::min(nr, 2 * freeable))
      kswapd_note_change(mm);
  }
  return freed;
}

}  // namespace

uint32_t register_shrinker(Mm& mm, const ShrinkerOps* ops, uint64_t private_) {
  MODEL_FUNC("register_shrinker");
  down_write(mm.shrinker_rwsem);
  const uint32_t id = uint32_t(mm.shrinkers.size());
  mm.shrinkers.push_back({ops, private_, true, 0});  // list_add_tail(&shrinker->list, &shrinker_list)
  kswapd_note_change(mm);
  up_write(mm.shrinker_rwsem);
  return id;
}

void unregister_shrinker(Mm& mm, uint32_t id) {
  MODEL_FUNC("unregister_shrinker");
  down_write(mm.shrinker_rwsem);
  mm.shrinkers[id].listed = false;  // list_del(&shrinker->list)
  kswapd_note_change(mm);
  up_write(mm.shrinker_rwsem);
}

// shrink_slab (4.8.15 mm/vmscan.c:419-470), for the global shrinkers (memcg NULL, or the
// root memcg from 4.19): the model has no memory cgroups.
uint64_t shrink_slab(Mm& mm, uint64_t nr_scanned, uint64_t nr_eligible, int priority) {
  MODEL_FUNC("shrink_slab");
  if (!mm.cfg.has(Fix::ShrinkSlabPriority) && nr_scanned == 0) nr_scanned = SWAP_CLUSTER_MAX;
  // A shrinker is being registered or unregistered: 4.8 reports progress so that reclaim
  // does not give up (4.17 reports none), and the shrinkers wait for the next call.
  if (!down_read_trylock(mm.shrinker_rwsem)) return 1;
  uint64_t freed = 0;
  for (size_t i = 0; i < mm.shrinkers.size(); ++i) {  // list_for_each_entry(shrinker_list)
    if (!mm.shrinkers[i].listed) continue;
    freed += do_shrink_slab(mm, mm.shrinkers[i], nr_scanned, nr_eligible, priority);
    // e496612c5130: bail out if someone wants to register a new shrinker to prevent the
    // registration from being stalled for long periods by parallel ongoing shrinking.
    if (mm.cfg.has(Fix::ShrinkSlabContended) && rwsem_is_contended(mm.shrinker_rwsem)) {
      freed = freed ? freed : 1;
      break;
    }
  }
  up_read(mm.shrinker_rwsem);
  return freed;
}

}  // namespace pagesim::mm
