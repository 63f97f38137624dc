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

}  // namespace

void mod_node_page_state(Mm& mm, Stat item, int64_t delta, uint32_t line) {
  if (!delta) return;
  sched(Op::AtomicRmw, Access::Write, vmstat_obj(), line);
  mm.stat(item) += delta;
  wake_up(vmstat_obj());  // a task polling too_many_isolated() looks again
}

}  // namespace pagesim::mm
