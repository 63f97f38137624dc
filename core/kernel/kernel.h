// The Kernel world: the whole simulated state of one machine (memory model and drivers),
// configured from a preset. A Kernel value is copied to snapshot it: every execution of
// an exploration starts from a copy of the set-up world.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "drivers/drivers.h"
#include "kernel/preset.h"
#include "mm/invariants.h"
#include "mm/page_alloc.h"

namespace pagesim::kernel {

struct KernelConfig {
  std::string preset = "v4.8";
  std::map<std::string, bool> fixes;  // by fix name: on/off on top of the preset
  int debug_vm = -1;                  // -1: the preset's CONFIG_DEBUG_VM
  std::vector<mm::ZoneSpec> zones = {{"Normal", 4096, mm::MIGRATE_MOVABLE}};
};

class Kernel : public drivers::Drivers {
 public:
  explicit Kernel(const KernelConfig& cfg);
  const std::string& preset_name() const { return preset_; }

  // A UsageError when the preset's kernel has no daemon the model can run as it ran:
  // kcompactd before 4.6, kswapd before 4.8's node reclaim or after what is modelled.
  void check_daemons(bool kcompactd, bool kswapd) const;

  // Outcomes for the end of a run: invariant violations and leaks.
  std::vector<Outcome> teardown_outcomes() const;
  std::vector<Outcome> invariant_outcomes() const;

 private:
  std::string preset_;
};

Outcome violation_outcome(const mm::Violation& v);
// One problem a driver's teardown check found (drivers::kLeak marks a leak).
Outcome driver_check_outcome(const char* check, const std::string& problem);

}  // namespace pagesim::kernel
