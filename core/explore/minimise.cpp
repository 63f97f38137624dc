#include "explore/minimise.h"

#include <algorithm>

#include "explore/tree.h"

namespace pagesim {

namespace {

struct Deviation {
  uint64_t step;
  CpuId cpu;
};

// What a run under DeviationStrategy saw (the Sim owns and ends the strategy).
struct Tally {
  std::vector<Deviation> deviations;
  uint32_t preemptions = 0;
};

// Follows `choices` (recording where they leave the default policy) or, with no choices,
// the default policy with `deviations`; counts preemptions either way.
class DeviationStrategy final : public Strategy {
 public:
  DeviationStrategy(const std::vector<CpuId>* choices, std::vector<Deviation> deviations,
                    Tally* tally)
      : deviations_(std::move(deviations)), choices_(choices), tally_(tally) {}
  std::string name() const override { return "minimise"; }
  bool sees_every_step() const override { return true; }
  size_t choose(const Sim& sim, std::span<const Candidate> c) override {
    const uint64_t step = sim.steps();
    int64_t cont = -1;
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i].cpu == last_) cont = int64_t(i);
    const size_t dflt = cont >= 0 ? size_t(cont) : 0;
    size_t pick = dflt;
    if (choices_) {
      if (step < choices_->size())
        for (size_t i = 0; i < c.size(); ++i)
          if (c[i].cpu == (*choices_)[step]) pick = i;
      if (pick != dflt) tally_->deviations.push_back({step, c[pick].cpu});
    } else {
      while (next_ < deviations_.size() && deviations_[next_].step < step) ++next_;
      if (next_ < deviations_.size() && deviations_[next_].step == step)
        for (size_t i = 0; i < c.size(); ++i)
          if (c[i].cpu == deviations_[next_].cpu) pick = i;
    }
    if (cont >= 0 && pick != size_t(cont)) ++tally_->preemptions;
    last_ = c[pick].cpu;
    return pick;
  }

 private:
  std::vector<Deviation> deviations_;
  const std::vector<CpuId>* choices_;
  Tally* tally_;
  size_t next_ = 0;
  CpuId last_ = kNoCpu;
};

bool has_key(const RunResult& r, const std::string& key) {
  if (key == "ok") return r.outcomes.empty();
  return std::any_of(r.outcomes.begin(), r.outcomes.end(),
                     [&](const Outcome& o) { return o.key() == key; });
}

}  // namespace

Minimised minimise(const Executor& run, const std::string& key, const std::vector<CpuId>& schedule,
                   uint32_t max_attempts) {
  Minimised m{key, schedule, 0, 0, 0};
  auto attempt = [&](const std::vector<CpuId>* choices, std::vector<Deviation> dev,
                     std::vector<Deviation>* seen) {
    Tally tally;
    RunResult r = run(std::make_unique<DeviationStrategy>(choices, std::move(dev), &tally));
    ++m.attempts;
    if (!has_key(r, key)) return false;
    if (seen) *seen = std::move(tally.deviations);
    m.schedule = std::move(r.schedule);
    m.preemptions = tally.preemptions;
    m.steps = r.steps;
    m.shown = true;
    return true;
  };
  std::vector<Deviation> dev;
  if (!attempt(&schedule, {}, &dev)) return m;  // does not reproduce: leave it as found
  // Drop deviations from the last to the first while the outcome stays.
  for (size_t i = dev.size(); i-- > 0 && m.attempts < max_attempts;) {
    std::vector<Deviation> fewer = dev;
    fewer.erase(fewer.begin() + ptrdiff_t(i));
    if (attempt(nullptr, fewer, nullptr)) dev = std::move(fewer);
  }
  // Greedy dropping can stop at a local minimum: search the schedules with fewer
  // preemptions (CHESS-style, bound 0, 1, ...) while the attempts last.
  for (uint32_t bound = 0; bound < m.preemptions && m.attempts < max_attempts; ++bound) {
    TreeSearch tree({.dpor = false, .preemption_bound = bound});
    while (m.attempts < max_attempts) {
      auto s = tree.next();
      if (!s) break;
      RunResult r = run(std::move(s));
      ++m.attempts;
      tree.finish(r);
      if (has_key(r, key)) {
        const std::vector<CpuId> found = r.schedule;
        attempt(&found, {}, nullptr);  // count its preemptions
        return m;
      }
    }
  }
  return m;
}

}  // namespace pagesim
