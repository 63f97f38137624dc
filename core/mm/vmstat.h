// The node's vmstat counters that the kernel decides on (mm/vmstat.c): the LRU sizes and
// NR_ISOLATED_*, which too_many_isolated() compares. Each update and each deciding read is
// a scheduling point on one object, the node's vmstat, so exploration orders them against
// each other. The kernel batches updates in per-cpu deltas that it folds into the node's
// atomics past a threshold; the model's counters are exact (a threshold of 0). Counters
// nothing decides on (VM events, NR_ZSPAGES) stay plain statistics (Mm::stat).
#pragma once
#include <cstdint>

#include "engine/sync.h"
#include "mm/mm.h"
#include "mm/zone.h"

namespace pagesim::mm {

inline ObjId vmstat_obj() { return make_obj(objclass::kVmstat, 0); }

// mod_node_page_state: a write of the node's vmstat. Adding 0 changes nothing the kernel
// could see, and is no step.
void mod_node_page_state(Mm& mm, Stat item, int64_t delta, uint32_t line = here());
inline void inc_node_page_state(Mm& mm, Stat item, uint32_t line = here()) {
  mod_node_page_state(mm, item, 1, line);
}
inline void dec_node_page_state(Mm& mm, Stat item, uint32_t line = here()) {
  mod_node_page_state(mm, item, -1, line);
}

// The counters a trace shows as tracks (Sim::sample): nr_free_pages, nr_isolated_anon
// and nr_isolated_file. sample_counters records their values at the start of a run.
void sample_counter(const Mm& mm, Stat item);
void sample_counters(Sim& sim, const Mm& mm);

// node_page_state without its scheduling point, for a caller that took one for a group of
// reads: as on SMP kernels a transiently negative sum reads as 0.
inline uint64_t node_page_state(const Mm& mm, Stat item) {
  const int64_t v = mm.stats[size_t(item)];
  return v < 0 ? 0 : uint64_t(v);
}

// The LRU list `lru` of a page (NR_LRU_BASE + lru is its size counter).
inline Stat lru_size_stat(LruList lru) { return Stat(size_t(Stat::NR_INACTIVE_ANON) + lru); }

}  // namespace pagesim::mm
