#include "explore/merge.h"

#include <algorithm>

namespace pagesim {

namespace {

// One subtree's runs within one bound, from the worker whose subtree it is.
struct Piece {
  const ShareLog::Segment* seg;
  const ExploreResult* share;
  bool repeated;  // a worker's subtree at a bound it did not search: its runs again
};

class TreeMerge {
 public:
  explicit TreeMerge(const std::vector<ExploreResult>& shares) : shares_(shares) {
    const ExploreResult& s0 = shares.front();
    res_.strategy = s0.strategy;
    res_.preemption_bound = s0.preemption_bound;
    res_.iterative = s0.iterative;
    res_.budget = s0.budget;
    res_.workers = s0.workers;
    for (const auto& s : shares) res_.seconds = std::max(res_.seconds, s.seconds);
    budget_ = s0.budget ? s0.budget : ~uint64_t(0);
  }

  ExploreResult run() {
    for (uint32_t b = res_.iterative ? 0 : res_.preemption_bound;; ++b) {
      if (full_) break;  // one worker would start bound b and stop at its first run
      bool completed = true, pruned = false;
      std::vector<Piece> pieces = pieces_of(b, completed, pruned);
      if (!walk(pieces)) break;  // the budget ran out with runs of bound b left
      if (!completed) break;     // a worker stopped within b (seconds, or told to)
      if (b != ~0u) res_.bound_covered = b;
      if (!pruned || b == res_.preemption_bound) {
        res_.exhausted = true;
        res_.every_schedule = !pruned;
        break;
      }
    }
    return std::move(res_);
  }

 private:
  // Every worker's subtrees at bound b, in the order one worker runs them.
  std::vector<Piece> pieces_of(uint32_t b, bool& completed, bool& pruned) const {
    std::vector<Piece> pieces;
    for (const auto& s : shares_) {
      const auto& bounds = s.share.bounds;
      auto it = std::find_if(bounds.begin(), bounds.end(),
                             [b](const ShareLog::Bound& x) { return x.bound == b; });
      uint32_t from = b;
      bool repeated = false;
      if (it != bounds.end()) {
        completed &= it->completed;
        pruned |= it->pruned;
      } else if (!bounds.empty() && bounds.back().completed && !bounds.back().pruned &&
                 bounds.back().bound < b) {
        from = bounds.back().bound;  // nothing pruned in this share: the same runs
        repeated = true;
      } else {
        completed = false;  // it stopped before bound b
        continue;
      }
      for (const auto& seg : s.share.segments)
        if (seg.bound == from) pieces.push_back({&seg, &s, repeated});
    }
    std::sort(pieces.begin(), pieces.end(), [](const Piece& x, const Piece& y) {
      return x.seg->subtree < y.seg->subtree;
    });
    return pieces;
  }

  // Counts the pieces' runs up to the budget; false if runs were left after it.
  bool walk(const std::vector<Piece>& pieces) {
    for (const Piece& p : pieces)
      for (auto [what, n] : p.seg->runs) {
        if (full_) return false;
        if (what == ShareLog::kRedundant) {
          res_.redundant += n;
          runs_ += n;
          continue;
        }
        const uint64_t take = std::min(n, budget_ - (res_.executions + res_.repeated));
        if (what == ShareLog::kRepeated || p.repeated)
          res_.repeated += take;
        else
          complete(*p.share, p.share->share.kinds[what - ShareLog::kComplete], take);
        runs_ += take;
        full_ = res_.executions + res_.repeated == budget_;
        if (take < n) return false;
      }
    return true;
  }

  // `n` complete runs of one kind, the first the next execution of one worker.
  void complete(const ExploreResult& share, const ShareLog::Kind& kind, uint64_t n) {
    for (const auto& key : kind.keys) {
      auto [it, fresh] = res_.outcomes.try_emplace(key);
      OutcomeClass& c = it->second;
      if (fresh) {  // seen first here: this worker's example is its first run of it
        c = share.outcomes.at(key);
        c.first = res_.executions + 1;
        c.first_run = runs_ + 1;
        c.count = 0;
      }
      c.count += n;
    }
    res_.checks.insert(kind.checks.begin(), kind.checks.end());
    res_.executions += n;
  }

  const std::vector<ExploreResult>& shares_;
  ExploreResult res_;
  uint64_t budget_ = 0;
  uint64_t runs_ = 0;  // executions + repeated + redundant so far
  bool full_ = false;  // the budget is used up
};

}  // namespace

ExploreResult merge_shares(const std::vector<ExploreResult>& shares) {
  if (shares.empty()) throw UsageError("no shares to merge");
  if (shares.size() > 1 && !shares.front().share.empty()) {
    for (const auto& s : shares)
      if (s.share.empty() || s.strategy != shares.front().strategy)
        throw UsageError("shares of different explorations cannot be merged");
    return TreeMerge(shares).run();
  }
  ExploreResult merged = shares.front();
  for (size_t i = 1; i < shares.size(); ++i) merged.merge(shares[i]);
  return merged;
}

}  // namespace pagesim
