// Outcome sets in the manner of herd7: every distinct outcome of an exploration with how
// many executions had it and one replayable schedule, plus the exploration's budget facts.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/sim.h"
#include "explore/share_log.h"

namespace pagesim {

struct OutcomeClass {
  std::string key;                // "ok", "oops:zs_page_isolate", "deadlock", ...
  uint64_t count = 0;
  std::vector<CpuId> schedule;    // the example: replays this outcome
  std::string report;             // the example's report, kernel-log style
  // The execution that first had it, which is the example: 1-based, among the
  // executions (random and pct: execution index, seed + first - 1; dfs and dpor: complete
  // executions in the order one worker runs them, whatever the number of workers).
  uint64_t first = 0;
  // Runs performed until it was first seen (1-based): random and pct, as `first`; dfs
  // and dpor, executions + repeated + redundant, in the order one worker runs them.
  uint64_t first_run = 0;
};

struct Minimised {
  std::string key;
  std::vector<CpuId> schedule;
  uint32_t preemptions = 0;       // switches away from a CPU that could have gone on
  uint64_t steps = 0;
  uint32_t attempts = 0;          // executions the shrinking ran
  bool shown = false;             // the schedule given did show the outcome
};

struct ExploreResult {
  std::string strategy;
  uint64_t executions = 0;        // complete executions, each counted in `outcomes`
  uint64_t redundant = 0;         // dpor: executions cut short by a sleep set
  // Iterative bounding: executions of bound b with fewer than b preemptions, run by an
  // earlier bound already; not counted in `outcomes`.
  uint64_t repeated = 0;
  // Every schedule in scope was run (dfs, dpor): within `preemption_bound`, or with
  // none (iterative or unbounded) every schedule, as `every_schedule`.
  bool exhausted = false;
  // The highest preemption bound whose schedules (dpor: traces) were all run; -1: none.
  // An exhausted unbounded search leaves it -1 and sets `every_schedule`.
  int64_t bound_covered = -1;
  // Every schedule (dpor: trace) with no bound was run: the space was exhausted and no
  // bound pruned it.
  bool every_schedule = false;
  uint32_t preemption_bound = ~0u;  // as the search used it (~0u: none)
  bool iterative = false;           // bounds 0, 1, ... up to preemption_bound
  uint64_t budget = 0;              // executions (0: none)
  double seconds = 0;
  uint32_t workers = 1;
  std::set<std::string> checks;   // property checks evaluated (ps.check, end-of-run checks)
  std::map<std::string, OutcomeClass> outcomes;
  std::optional<Minimised> first_failure;

  // A tree search's runs in this worker, when there are several (merge.h).
  ShareLog share;

  // Counts one complete execution, the `index`-th (1-based, as OutcomeClass::first);
  // `run_index`: the runs performed so far, this one included (first_run).
  void record(const RunResult& r, uint64_t index, uint64_t run_index);
  // Adds another worker's share of the same random or pct exploration: counts add up,
  // each example is the one seen first. Tree searches merge with merge_shares().
  void merge(const ExploreResult& other);
  // The failing outcome seen first, if any.
  const OutcomeClass* first_failing() const;
  double rate() const { return seconds > 0 ? double(executions) / seconds : 0; }

  nlohmann::json to_json() const;
  static ExploreResult from_json(const nlohmann::json& j);

};

}  // namespace pagesim
