// A tree search's share of an exploration, as one worker ran it: its runs in order, by
// preemption bound and subtree, so that the shares merge into the very result one worker
// gives under the same budget (merge.h). Only kept when there is more than one worker.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/sim.h"

namespace pagesim {

struct ShareLog {
  // What a run was: repeated (iterative bounding), redundant (dpor), or a complete run
  // of kind `what - kComplete` (its outcome keys and checks).
  static constexpr uint32_t kRepeated = 0, kRedundant = 1, kComplete = 2;
  struct Kind {
    std::vector<std::string> keys;    // outcome keys, sorted ("ok" for none)
    std::vector<std::string> checks;  // property checks evaluated, sorted
    auto operator<=>(const Kind&) const = default;
  };
  // The runs of one subtree within one bound, in order, as (what, how many in a row).
  struct Segment {
    uint32_t bound = 0;
    uint64_t subtree = 0;  // TreeSearch::subtree(): the same number in every worker
    std::vector<std::pair<uint32_t, uint64_t>> runs;
  };
  // How each bound's search ended in this worker: run to its end, and whether the bound
  // pruned anything (the search goes on to the next bound if it did in any worker).
  struct Bound {
    uint32_t bound = 0;
    bool completed = false;
    bool pruned = false;
  };

  std::vector<Kind> kinds;
  std::vector<Segment> segments;
  std::vector<Bound> bounds;

  bool empty() const { return segments.empty() && bounds.empty(); }
  // Appends one run (`what` from kind_of for a complete one).
  void add(uint32_t bound, uint64_t subtree, uint32_t what);
  uint32_t kind_of(const RunResult& r);  // kComplete + the kind's index

  nlohmann::json to_json() const;
  static ShareLog from_json(const nlohmann::json& j);

 private:
  std::map<Kind, uint32_t> index_;
  uint32_t ok_ = 0;  // the kind of a run with no outcome and no check, once seen
};

}  // namespace pagesim
