// Shrinkers (mm/vmscan.c): caches that reclaim registers with the VM. kswapd's
// shrink_node() calls shrink_slab(), which asks each one how much it could free and has
// it scan a share of that.
#pragma once
#include <cstdint>

#include "mm/mm.h"

namespace pagesim::mm {

inline constexpr uint64_t SHRINK_STOP = ~uint64_t(0);
inline constexpr int DEFAULT_SEEKS = 2;
inline constexpr uint64_t SHRINK_BATCH = 128;

// struct shrinker's callbacks, in a static table (the world stays copyable); `private_`
// is the owner (a zsmalloc pool's id).
struct ShrinkerOps {
  const char* name;
  uint64_t (*count_objects)(Mm&, uint64_t private_);
  uint64_t (*scan_objects)(Mm&, uint64_t private_, uint64_t nr_to_scan);  // or SHRINK_STOP
  int seeks = DEFAULT_SEEKS;
  uint64_t batch = 0;  // 0: SHRINK_BATCH
};

// register_shrinker / unregister_shrinker: under shrinker_rwsem for write. The returned
// id names the shrinker for unregister_shrinker.
uint32_t register_shrinker(Mm& mm, const ShrinkerOps* ops, uint64_t private_);
void unregister_shrinker(Mm& mm, uint32_t id);

// shrink_slab(gfp_mask, nid, NULL, nr_scanned, nr_eligible) (4.8), shrink_slab(gfp_mask,
// nid, NULL, priority) (9092c71bb724, 4.16): the global shrinkers, under shrinker_rwsem
// for read (a reclaimer that cannot take it at once skips them). Returns what they freed.
uint64_t shrink_slab(Mm& mm, uint64_t nr_scanned, uint64_t nr_eligible, int priority);

}  // namespace pagesim::mm
