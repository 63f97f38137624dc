#include "kernel/kernel.h"

namespace pagesim::kernel {

Kernel::Kernel(const KernelConfig& cfg) : preset_(cfg.preset) {
  const Preset& p = find_preset(cfg.preset);
  this->cfg.fixes = resolve_fixes(p, cfg.fixes);
  this->cfg.debug_vm = cfg.debug_vm < 0 ? p.debug_vm : cfg.debug_vm != 0;
  mm::init_memory(*this, cfg.zones);
}

void Kernel::check_daemons(bool kcompactd, bool kswapd) const {
  if (kcompactd && !cfg.has(Fix::Kcompactd))
    throw UsageError("kcompactd=True: " + preset_ +
                     " has no kcompactd (698b1b30642f, 4.6); its kswapd compacts after "
                     "reclaim, which the model does not have");
  if (!kswapd) return;
  // 4.8's kswapd reclaims by node (Mel Gorman's series, 1d82de618ddd "mm, vmscan: make
  // kswapd reclaim in terms of nodes"); 4.7's balanced each zone (kswapd_shrink_zone).
  if (!descends_from(preset_, "v4.8"))
    throw UsageError("kswapd=True: the model's kswapd is 4.8's and later (1d82de618ddd, "
                     "kswapd reclaims by node), and " + preset_ +
                     " is not built on v4.8: its kswapd balances each zone");
  // Later fixes of the boost the model has may be flipped on (5.4.41 has 14f69140ff9c).
  auto later = cfg.fixes & ~find_preset("v5.4").fixes;
  for (Fix f : {Fix::BoostSmallZones, Fix::AtomicIgnoresBoost, Fix::BoostWakeOnlyIfBoosted,
                Fix::RmqueueWakeNeedsKswapd})
    later.reset(size_t(f));
  for (size_t f = 0; f < later.size(); ++f)
    if (later.test(f))
      throw UsageError("kswapd=True: the model's kswapd is 4.8's to 5.4's, and " + preset_ +
                       " has " + fix_info(Fix(f)).name +
                       ", from a later release (5.9's proactive compaction, among others, is "
                       "not modelled yet)");
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
