#include "kernel/preset.h"

#include <initializer_list>

#include "engine/sim.h"

namespace pagesim::kernel {
namespace {

std::bitset<kFixCount> fixes(std::initializer_list<Fix> l) {
  std::bitset<kFixCount> b;
  for (Fix f : l) b.set(size_t(f));
  return b;
}

// What the v4 series (merged in 4.8) changed from v3, and what came after 4.8.
constexpr std::initializer_list<Fix> kMerged = {
    Fix::NonLruMigration, Fix::VmOwnsPgIsolated, Fix::MovableMappingBit, Fix::ZsFreeSkipsIsolated,
    Fix::ZsMovableAfterSetup, Fix::ZsCompactKeepsPinBit, Fix::BalloonDequeueUnderLock};

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> p = [] {
    std::vector<Preset> v;
    v.push_back({"v4.8", "Linux 4.8 as released: non-LRU movable page migration merged",
                 fixes(kMerged), true});
    auto v49 = fixes(kMerged);
    v49.set(size_t(Fix::NrIsolatedLruOnly));
    v.push_back({"v4.9", "4.8 plus 6afcf8ef0ca0 (NR_ISOLATED counts LRU pages only)", v49, true});
    v.push_back({"movable-v3",
                 "the April 2016 v3 series: PG_movable a real flag, drivers own PG_isolated, "
                 "zs_free frees zspages with isolated sub-pages",
                 fixes({Fix::NonLruMigration, Fix::ZsCompactKeepsPinBit,
                        Fix::BalloonDequeueUnderLock}),
                 true});
    v.push_back({"v4.7",
                 "before non-LRU movable page migration: compaction treats zsmalloc, balloon and "
                 "driver pages as unmovable (the balloon's own pre-4.8 migration path is not "
                 "modelled)",
                 fixes(kMerged).reset(size_t(Fix::NonLruMigration)), true});
    return v;
  }();
  return p;
}

const Preset& find_preset(std::string_view name) {
  std::string known;
  for (const auto& p : presets()) {
    if (name == p.name) return p;
    known += (known.empty() ? "" : ", ") + std::string(p.name);
  }
  throw UsageError("unknown kernel preset '" + std::string(name) + "' (known: " + known + ")");
}

}  // namespace pagesim::kernel
