// Helpers shared by the C++ tests that drive a whole Kernel through its entry points.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/sim.h"
#include "kernel/entry.h"
#include "kernel/kernel.h"

namespace pagesim::testing {

// A kernel of one Normal zone (1024 pages by default: two pageblocks).
inline kernel::Kernel make_kernel(const std::string& preset = "v4.8",
                                  std::map<std::string, bool> fixes = {},
                                  uint32_t pages = 1024) {
  kernel::KernelConfig kc;
  kc.preset = preset;
  kc.fixes = std::move(fixes);
  kc.zones = {{"Normal", pages, mm::MIGRATE_MOVABLE}};
  return kernel::Kernel(kc);
}

// Runs an entry point by name (in set-up code, or inside the calling task).
inline int64_t call(kernel::Kernel& k, const char* name, std::vector<int64_t> args = {}) {
  return kernel::call_entry(k, kernel::find_entry(name), args);
}

inline SimConfig sim_cfg(uint32_t cpus) {
  SimConfig c;
  c.cpus = cpus;
  return c;
}

inline std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

inline std::string outcomes_str(const RunResult& r) {
  std::string s;
  for (const auto& o : r.outcomes) s += o.report() + "\n";
  return s;
}

inline const Outcome* find(const RunResult& r, const std::string& key) {
  for (const auto& o : r.outcomes)
    if (o.key() == key) return &o;
  return nullptr;
}

inline bool is_free(const kernel::Kernel& k, mm::Pfn p) { return k.page(p).refcount == 0; }

// Adds the kernel's teardown checks (invariants, leaks, drivers' own) to a run's outcomes,
// as pagesim.Kernel does.
inline void with_teardown(Sim& sim, kernel::Kernel& k) {
  sim.set_teardown([&k](Sim& s) {
    for (auto& o : k.teardown_outcomes()) s.add_outcome(std::move(o));
  });
}

// Runs `body` as one task on cpu 0, with the teardown checks.
inline RunResult run_task(kernel::Kernel& k, std::function<void()> body) {
  Sim sim(sim_cfg(1), &k, std::make_unique<RandomStrategy>(1));
  with_teardown(sim, k);
  sim.spawn(0, "t", std::move(body));
  return sim.run();
}

}  // namespace pagesim::testing
