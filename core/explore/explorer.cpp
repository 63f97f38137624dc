#include "explore/explorer.h"

#include <chrono>
#include <cmath>

#include "explore/pct.h"
#include "explore/tree.h"

namespace pagesim {

ExploreKind parse_explore_kind(const std::string& name) {
  for (auto k : {ExploreKind::Random, ExploreKind::Pct, ExploreKind::Dfs, ExploreKind::Dpor})
    if (name == explore_kind_name(k)) return k;
  throw UsageError("unknown exploration strategy '" + name + "' (random, pct, dfs, dpor)");
}

const char* explore_kind_name(ExploreKind k) {
  switch (k) {
    case ExploreKind::Random: return "random";
    case ExploreKind::Pct: return "pct";
    case ExploreKind::Dfs: return "dfs";
    case ExploreKind::Dpor: return "dpor";
  }
  return "?";
}

uint32_t split_depth(uint32_t workers) {
  uint32_t d = 0;
  while (workers > 1 && (uint64_t(1) << d) < uint64_t(workers) * 16) ++d;
  return d;
}

namespace {
// Which schedules dpor runs (bounded: how many per trace; unbounded: which one stands for
// a trace, and so the examples) depends on which nodes branch fully: it always splits at
// the same depth, so any number of workers (up to 64) explores the same tree.
uint32_t split_for(const ExploreConfig& cfg) {
  if (cfg.kind == ExploreKind::Dpor && cfg.workers <= 64) return split_depth(64);
  return split_depth(cfg.workers);
}
}  // namespace

ExploreResult explore(const Executor& run, const ExploreConfig& cfg) {
  if (!cfg.workers || cfg.worker >= cfg.workers)
    throw UsageError("worker " + std::to_string(cfg.worker) + " of " +
                     std::to_string(cfg.workers) + " does not exist");
  if (!std::isfinite(cfg.seconds) || cfg.seconds < 0)
    throw UsageError("seconds must be a finite number >= 0");
  if (!cfg.executions && cfg.seconds <= 0)
    throw UsageError("exploration needs a budget: executions or seconds");
  ExploreResult res;
  res.strategy = explore_kind_name(cfg.kind);
  res.workers = cfg.workers;
  res.budget = cfg.executions;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const uint64_t budget = cfg.executions ? cfg.executions : ~uint64_t(0);
  uint64_t tick = 0;
  // After each execution: false when a budget or the progress callback says stop.
  auto go_on = [&] {
    if (cfg.progress && ++tick % 64 == 0) {
      res.seconds = elapsed();
      if (!cfg.progress(res)) return false;
    }
    return !(cfg.seconds > 0 && elapsed() >= cfg.seconds);
  };

  if (cfg.kind == ExploreKind::Random || cfg.kind == ExploreKind::Pct) {
    uint64_t pct_steps = 0;
    if (cfg.kind == ExploreKind::Pct)  // k: the length of a run without preemptions
      pct_steps = run(std::make_unique<TimedStrategy>(cfg.seed)).steps;
    // Execution i (seed + i) belongs to worker i % workers; the budget counts all.
    for (uint64_t i = cfg.worker; i < budget; i += cfg.workers) {
      std::unique_ptr<Strategy> s;
      // Random executions mix uniform interleaving with runs of ~4, ~16 and ~64 steps:
      // a race that needs one context to run through a long path is found too.
      static constexpr uint32_t kRunLengths[] = {1, 4, 16, 64};
      if (cfg.kind == ExploreKind::Random)
        s = std::make_unique<RandomStrategy>(cfg.seed + i, kRunLengths[(cfg.seed + i) % 4]);
      else
        s = std::make_unique<PctStrategy>(cfg.seed + i, cfg.pct_depth, pct_steps);
      res.record(run(std::move(s)), i + 1, i + 1);
      if (!go_on()) break;
    }
  } else {
    res.preemption_bound = cfg.preemption_bound;
    res.iterative = cfg.iterative;
    const bool log = cfg.workers > 1;  // the shares merge by their runs (merge.h)
    // One search to its end (true) or until stopped. Executions with fewer than `fresh`
    // preemptions are repeated: not recorded.
    auto search = [&](TreeSearch& tree, uint32_t bound, uint32_t fresh) {
      for (;;) {
        auto s = tree.next();
        if (!s) return true;
        if (res.executions + res.repeated >= budget) return false;
        RunResult r = run(std::move(s));
        uint32_t what = ShareLog::kRedundant;
        switch (tree.finish(r)) {
          case TreeSearch::Fate::Complete:
            if (tree.preemptions() < fresh) {
              ++res.repeated;
              what = ShareLog::kRepeated;
            } else {
              res.record(r, res.executions + 1,
                         res.executions + res.repeated + res.redundant + 1);
              if (log) what = res.share.kind_of(r);
            }
            break;
          case TreeSearch::Fate::Redundant:
            ++res.redundant;
            break;
          case TreeSearch::Fate::OtherWorker:
            if (!go_on()) return false;
            continue;
        }
        if (log) res.share.add(bound, tree.subtree(), what);
        if (!go_on()) return false;
      }
    };
    for (uint32_t bound = cfg.iterative ? 0 : cfg.preemption_bound;; ++bound) {
      TreeSearch tree({.dpor = cfg.kind == ExploreKind::Dpor,
                       .preemption_bound = bound,
                       .split = split_for(cfg),
                       .worker = cfg.worker,
                       .workers = cfg.workers});
      const bool completed = search(tree, bound, cfg.iterative ? bound : 0);
      if (log) res.share.bounds.push_back({bound, completed, tree.pruned()});
      if (!completed) break;
      if (bound != ~0u) res.bound_covered = bound;
      if (!tree.pruned() || bound == cfg.preemption_bound) {
        res.exhausted = true;
        res.every_schedule = !tree.pruned();
        break;
      }
    }
  }
  res.seconds = elapsed();
  return res;
}

}  // namespace pagesim
