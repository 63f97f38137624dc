#include "explore/pct.h"

#include <algorithm>

namespace pagesim {

PctStrategy::PctStrategy(uint64_t seed, uint32_t depth, uint64_t steps)
    : rng_(seed), depth_(std::max<uint32_t>(depth, 1)), steps_(std::max<uint64_t>(steps, 1)) {
  // d-1 distinct change points in [1, k].
  while (change_.size() + 1 < depth_ && change_.size() < steps_) {
    const uint64_t s = 1 + rng_.below(steps_);
    if (std::find(change_.begin(), change_.end(), s) == change_.end()) change_.push_back(s);
  }
  std::sort(change_.begin(), change_.end());
}

size_t PctStrategy::choose(const Sim& sim, std::span<const Candidate> c) {
  if (prio_.empty()) {  // priorities d .. d+n-1 in a random order
    const uint32_t n = sim.lanes();
    prio_.resize(n);
    for (uint32_t i = 0; i < n; ++i) prio_[i] = depth_ + i;
    for (uint32_t i = n; i > 1; --i) std::swap(prio_[i - 1], prio_[rng_.below(i)]);
  }
  // Change points passed since the last choice lower the CPU that was running.
  while (next_change_ < change_.size() && change_[next_change_] <= sim.steps()) {
    if (last_ != kNoCpu) prio_[last_] = uint32_t(depth_ - 1 - next_change_);
    ++next_change_;
  }
  size_t best = 0;
  for (size_t i = 1; i < c.size(); ++i)
    if (prio_[c[i].cpu] > prio_[c[best].cpu]) best = i;
  last_ = c[best].cpu;
  return best;
}

}  // namespace pagesim
