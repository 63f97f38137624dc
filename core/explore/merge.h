// Workers' shares of one exploration, merged into the result one worker gives.
//
// random and pct: execution i belongs to worker i % workers and the budget counts them
// all, so the shares add up.
// dfs and dpor: each worker runs its subtrees in the order one worker would, stopping
// at the whole budget of its own; the merge walks the shares' runs (ShareLog) in that
// order, bound by bound and subtree by subtree, and keeps the runs one worker would
// have made: up to the budget, and each bound only if the last one pruned something in
// some worker. A worker whose share no bound pruned stops searching; its subtrees at the
// next bounds are the same runs again, all repeated. So under a budget that stops the
// search too, executions, outcome counts, examples, `first`, `first_run`, checks,
// `exhausted` and `bound_covered` are those of one worker. (A budget of seconds stops
// each worker at another point: then only the counts add up.)
#pragma once
#include <vector>

#include "explore/outcome_set.h"

namespace pagesim {

// The shares of every worker (at least one), in any order.
ExploreResult merge_shares(const std::vector<ExploreResult>& shares);

}  // namespace pagesim
