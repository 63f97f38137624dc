// Shrinking a failing schedule to the fewest preemptions that still fail the same way.
// A schedule is read as a default policy (keep running the CPU that ran last, else the
// lowest eligible CPU) plus deviations from it; deviations are dropped one at a time,
// greedily, while the run still shows the outcome; then schedules with fewer preemptions
// than what remains are searched exhaustively, bound by bound, within the attempts.
// What remains is the race's essence: the few switches a reader has to follow.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "explore/outcome_set.h"

namespace pagesim {

using Executor = std::function<RunResult(std::unique_ptr<Strategy>)>;

// Shrinks `schedule`, which shows outcome `key`; a schedule that does not reproduce it
// comes back unchanged with zero steps.
Minimised minimise(const Executor& run, const std::string& key, const std::vector<CpuId>& schedule,
                   uint32_t max_attempts = 3000);

}  // namespace pagesim
