// PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
// ASPLOS 2010): CPUs get random distinct priorities d..d+n-1 and the highest-priority
// eligible CPU runs; at d-1 random steps among the first k the running CPU drops to
// priority 1..d-1. Each execution finds a given bug of depth d (d ordering constraints)
// with probability at least 1/(n * k^(d-1)).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/sim.h"

namespace pagesim {

class PctStrategy final : public Strategy {
 public:
  // `steps`: an estimate of k, the steps of an execution.
  PctStrategy(uint64_t seed, uint32_t depth, uint64_t steps);
  std::string name() const override { return "pct"; }
  size_t choose(const Sim& sim, std::span<const Candidate> c) override;

 private:
  Rng rng_;
  uint32_t depth_;
  uint64_t steps_;
  std::vector<uint32_t> prio_;          // by CPU
  std::vector<uint64_t> change_;        // change points, ascending
  size_t next_change_ = 0;
  CpuId last_ = kNoCpu;
};

}  // namespace pagesim
