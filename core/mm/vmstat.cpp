#include "mm/vmstat.h"

#include <string>

#include "engine/objclass.h"

namespace pagesim::mm {
namespace {

const bool registered = [] {
  register_obj_class(objclass::kVmstat, "node vmstat",
                     [](uint64_t node, const World*) { return "node " + std::to_string(node) + " vmstat"; });
  return true;
}();

constexpr Stat kSampled[] = {Stat::NR_FREE_PAGES, Stat::NR_ISOLATED_ANON, Stat::NR_ISOLATED_FILE};

constexpr bool sampled(Stat item) {
  for (Stat s : kSampled)
    if (s == item) return true;
  return false;
}

}  // namespace

void sample_counter(const Mm& mm, Stat item) {
  if (Sim* s = Sim::current()) s->sample(stat_name(item), mm.stats[size_t(item)]);
}

void sample_counters(Sim& sim, const Mm& mm) {
  for (Stat item : kSampled) sim.sample(stat_name(item), mm.stats[size_t(item)]);
}

void mod_node_page_state(Mm& mm, Stat item, int64_t delta, uint32_t line) {
  if (!delta) return;
  sched(Op::AtomicRmw, Access::Write, vmstat_obj(), line);
  mm.stat(item) += delta;
  if (sampled(item)) sample_counter(mm, item);
  wake_up(vmstat_obj());  // a task polling too_many_isolated() looks again
}

}  // namespace pagesim::mm
