#include "engine/strategy.h"

#include "engine/sim.h"

namespace pagesim {

size_t RandomStrategy::choose(const Sim&, std::span<const Candidate> c) {
  size_t pick = size_t(rng_.below(c.size()));
  if (run_length_ > 1 && rng_.below(run_length_) != 0)
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i].cpu == last_) pick = i;
  last_ = c[pick].cpu;
  return pick;
}

size_t TimedStrategy::choose(const Sim&, std::span<const Candidate> c) {
  Nanos best = c[0].clock;
  for (const auto& x : c) best = std::min(best, x.clock);
  size_t ties = 0;
  for (const auto& x : c) ties += x.clock == best;
  size_t pick = size_t(rng_.below(ties));
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i].clock == best && pick-- == 0) return i;
  return 0;
}

size_t ReplayStrategy::choose(const Sim& sim, std::span<const Candidate> c) {
  const uint64_t step = sim.steps();
  if (exhausted(step)) {
    if (stop_at_end_ || c.empty()) return kStop;
    return c.size() == 1 || !fallback_ ? 0 : fallback_->choose(sim, c);
  }
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i].cpu == choices_[step]) return i;
  return 0;  // not reached: the Sim validates the choice before asking
}

}  // namespace pagesim
