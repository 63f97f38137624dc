// Outcome sets in the manner of herd7: every distinct outcome of an exploration with how
// many executions had it and one replayable schedule, plus the exploration's budget facts.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/sim.h"

namespace pagesim {

struct OutcomeClass {
  std::string key;                // "ok", "oops:zs_page_isolate", "deadlock", ...
  uint64_t count = 0;
  std::vector<CpuId> schedule;    // the example: replays this outcome
  std::string report;             // the example's report, kernel-log style
  uint64_t first = 0;             // executions run until it was first seen (1-based)
};

// A failing schedule shrunk to the fewest preemptions that still fail the same way.
struct Minimised {
  std::string key;
  std::vector<CpuId> schedule;
  uint32_t preemptions = 0;       // switches away from a CPU that could have gone on
  uint64_t steps = 0;
  uint32_t attempts = 0;          // executions the shrinking ran
};

struct ExploreResult {
  std::string strategy;
  uint64_t executions = 0;        // complete executions, each counted in `outcomes`
  uint64_t redundant = 0;         // dpor: executions cut short by a sleep set
  bool exhausted = false;         // every schedule in scope was run (dfs, dpor)
  double seconds = 0;
  uint32_t workers = 1;
  std::map<std::string, OutcomeClass> outcomes;
  std::optional<Minimised> first_failure;

  // Counts one complete execution. `order` ranks examples: the smaller wins, so the
  // example of each outcome does not depend on how the space was split among workers.
  void record(const RunResult& r, uint64_t order_index);
  // Adds another worker's share of the same exploration.
  void merge(const ExploreResult& other);
  // The failing outcome found first (smallest example), if any.
  const OutcomeClass* first_failing() const;
  double rate() const { return seconds > 0 ? double(executions) / seconds : 0; }

  nlohmann::json to_json() const;
  static ExploreResult from_json(const nlohmann::json& j);

  // Example order: by execution index for random and pct (execution i uses seed + i), by
  // schedule for tree searches (their order of discovery depends on the split).
  bool by_schedule = false;
};

}  // namespace pagesim
