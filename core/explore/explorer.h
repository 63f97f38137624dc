// Exploration: many executions of one scenario, each from a copy of its initial world
// under a strategy that picks the interleaving, summed up as an outcome set.
//
//  random  random choices in runs of 1 to ~64 steps; execution i uses seed + i
//  pct     PCT with bug depth `pct_depth` (pct.h); execution i uses seed + i
//  dfs     every schedule within `preemption_bound` preemptions (tree.h)
//  dpor    one schedule per Mazurkiewicz trace (tree.h)
//
// Iterative bounding (CHESS) for dfs and dpor: a search within 0 preemptions, then 1,
// 2, ... (up to `preemption_bound`), each to its end and split among workers as one
// search is, until one that the bound pruned nothing from (then every schedule was run).
// Search b records only the executions with exactly b preemptions; the others were
// covered by search b - 1 (for dpor too: bounded POR covers every trace with a schedule
// within its bound) and count as repeated.
//
// Every strategy stops at a budget of executions (complete ones, repeated ones included)
// or seconds; dfs and dpor also when the space is exhausted. Workers split the space:
// executions by index for random and pct, subtrees for dfs and dpor; a budget of
// executions is the whole exploration's, and the shares merge into one worker's result
// (merge.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "explore/minimise.h"
#include "explore/outcome_set.h"

namespace pagesim {

enum class ExploreKind : uint8_t { Random, Pct, Dfs, Dpor };
ExploreKind parse_explore_kind(const std::string& name);  // throws UsageError
const char* explore_kind_name(ExploreKind k);

struct ExploreConfig {
  ExploreKind kind = ExploreKind::Random;
  uint64_t executions = 0;            // budget, 0: none
  double seconds = 0;                 // budget, 0: none
  uint64_t seed = 0;
  uint32_t preemption_bound = ~0u;    // dfs, dpor
  bool iterative = false;             // dfs, dpor: bounds 0, 1, ... up to preemption_bound
  uint32_t pct_depth = 3;             // pct
  uint32_t worker = 0, workers = 1;   // this worker's share
  // Called about every 64 executions with the result so far; returning false stops.
  std::function<bool(const ExploreResult&)> progress;
};

// Runs the exploration; minimise() the first failure afterwards (after merging workers).
ExploreResult explore(const Executor& run, const ExploreConfig& cfg);

// Branching nodes shared among `workers` so that each gets many subtrees.
uint32_t split_depth(uint32_t workers);

}  // namespace pagesim
