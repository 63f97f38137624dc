// Exhaustive depth-first search over schedules (stateless model checking): every run
// replays a prefix of choices and takes the first candidate after it; the search then
// backtracks to the deepest choice point with an untried candidate. With a preemption
// bound it explores the CHESS-style subset of schedules with at most that many
// preemptions (a switch away from a CPU that could have continued).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/sim.h"

namespace pagesim {

class DfsStrategy final : public Strategy {
 public:
  struct Choice {
    uint32_t index;     // which candidate was taken
    uint32_t count;     // how many there were
    int32_t cont;       // the candidate that continues the previous CPU, or -1
    uint32_t preempts;  // preemptions before this choice
  };
  // Follows `prefix`, then takes the first candidate (or the continuing one when out of
  // preemptions); records every choice into `*path`.
  DfsStrategy(std::vector<Choice> prefix, uint32_t preemption_bound, std::vector<Choice>* path)
      : prefix_(std::move(prefix)), bound_(preemption_bound), path_(path) {}
  std::string name() const override { return "dfs"; }
  size_t choose(const Sim& sim, std::span<const Candidate> c) override;

 private:
  std::vector<Choice> prefix_;
  uint32_t bound_;
  std::vector<Choice>* path_;
  uint32_t preemptions_ = 0;
  CpuId last_ = kNoCpu;
};

struct DfsStats {
  uint64_t executions = 0;
  bool exhausted = false;  // every schedule in scope was run
};

// Runs `execute` once per schedule until the space is exhausted or `max_executions`.
// `execute` builds a fresh world and Sim with the given strategy and runs it; it returns
// false to stop early (e.g. a counterexample was found).
DfsStats explore_dfs(const std::function<bool(std::unique_ptr<Strategy>)>& execute,
                     uint64_t max_executions, uint32_t preemption_bound = ~0u);

}  // namespace pagesim
