// Exhaustive depth-first search over schedules with a harness of the caller's: the
// tree search of tree.h in dfs mode, for tests and tools that build their own runs.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/sim.h"

namespace pagesim {

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
