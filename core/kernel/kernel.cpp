#include "kernel/kernel.h"

namespace pagesim::kernel {

Kernel::Kernel(const KernelConfig& cfg) : preset_(cfg.preset) {
  const Preset& p = find_preset(cfg.preset);
  this->cfg.fixes = resolve_fixes(p, cfg.fixes);
  this->cfg.debug_vm = cfg.debug_vm < 0 ? p.debug_vm : cfg.debug_vm != 0;
  mm::init_memory(*this, cfg.zones);
}

Outcome violation_outcome(const mm::Violation& v) {
  Outcome o;
  o.kind = v.kind;
  o.function = v.kind == OutcomeKind::Leak ? "" : "check_invariants";
  o.message = v.what + " (pfn " + std::to_string(v.pfn) + ")";
  o.details = {v.dump};
  return o;
}

Outcome driver_check_outcome(const char* check, const std::string& problem) {
  Outcome o;
  const bool leak = problem.starts_with(drivers::kLeak);
  o.kind = leak ? OutcomeKind::Leak : OutcomeKind::Invariant;
  o.function = check;
  o.message = leak ? problem.substr(drivers::kLeak.size()) : problem;
  return o;
}

std::vector<Outcome> Kernel::teardown_outcomes() const {
  std::vector<Outcome> out;
  // One pass over mem_map: the drivers' checks look at the pages it lists (those that are
  // not clean free pages) instead of every page.
  mm::PageCensus& census = mm::thread_census();
  for (const auto& v : mm::check_teardown(*this, &census)) out.push_back(violation_outcome(v));
  // Each driver's own invariants (no object lost, no page leaked, counts consistent).
  const std::pair<const char*, std::vector<std::string>> checks[] = {
      {"zsmalloc_check", drivers::zsmalloc_check(*this, true, &census)},
      {"zram_check", drivers::zram_check(*this)},
      {"balloon_check", drivers::balloon_check(*this, &census)},
      {"test_driver_check", drivers::test_driver_check(*this)},
      {"z3fold_check", drivers::z3fold_check(*this)},
  };
  for (const auto& [fn, problems] : checks)
    for (const auto& msg : problems) out.push_back(driver_check_outcome(fn, msg));
  return out;
}

std::vector<Outcome> Kernel::invariant_outcomes() const {
  std::vector<Outcome> out;
  for (const auto& v : mm::check_invariants(*this)) out.push_back(violation_outcome(v));
  return out;
}

}  // namespace pagesim::kernel
