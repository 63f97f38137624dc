// Exploration contract: dpor finds every outcome dfs finds with one execution per
// Mazurkiewicz trace, splitting among workers does not change the outcome set, pct and
// random find shallow bugs, budgets stop, and minimisation keeps the failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/schedule.h"
#include "engine/sync.h"
#include "engine/world.h"
#include "explore/explorer.h"
#include "explore/merge.h"
#include "explore/tree.h"

using namespace pagesim;

namespace {

// A small concurrent program: each CPU runs a list of instructions over shared variables
// and locks; at the end the final values become the outcome ("warn:x=2 y=1").
struct Instr {
  enum Kind { Read, Write, Inc, Lock, Unlock, MutexLock, MutexUnlock, IfEqWarn, IfEqOops } kind;
  int var = 0;   // variable or lock
  int64_t v = 0; // IfEqWarn, IfEqOops: when the last read value equals v
};
using Program = std::vector<std::vector<Instr>>;

struct ProgramWorld : World {
  int64_t vars[4] = {0, 0, 0, 0};
  SpinLock spin[2];
  Mutex mutex[2];
  ProgramWorld() {
    for (int i = 0; i < 2; ++i) {
      spin[i].id = make_obj(objclass::kLock, 10 + uint64_t(i));
      mutex[i].id = make_obj(objclass::kLock, 20 + uint64_t(i));
    }
  }
};

ObjId var_obj(int i) { return make_obj(objclass::kCounter, uint64_t(i) + 100); }

Executor executor(const Program& prog, bool trace = false) {
  return [prog, trace](std::unique_ptr<Strategy> s) {
    ProgramWorld w;
    SimConfig cfg;
    cfg.cpus = uint32_t(prog.size());
    cfg.trace = trace;
    cfg.panic_on_oops = true;  // an oops ends the run: the other CPUs are cut off
    Sim sim(cfg, &w, std::move(s));
    for (CpuId c = 0; c < prog.size(); ++c)
      sim.spawn(c, "t" + std::to_string(c), [&w, code = prog[c]] {
        MODEL_FUNC("program");
        int64_t last = 0;
        for (const Instr& in : code) {
          switch (in.kind) {
            case Instr::Read: last = atomic_read(w.vars[in.var], var_obj(in.var)); break;
            case Instr::Write:
              sched(Op::Write, Access::Write, var_obj(in.var), here());
              w.vars[in.var] = last + 1;
              break;
            case Instr::Inc: atomic_add_return<int64_t>(1, w.vars[in.var], var_obj(in.var)); break;
            case Instr::Lock: spin_lock(w.spin[in.var]); break;
            case Instr::Unlock: spin_unlock(w.spin[in.var]); break;
            case Instr::MutexLock: mutex_lock(w.mutex[in.var]); break;
            case Instr::MutexUnlock: mutex_unlock(w.mutex[in.var]); break;
            case Instr::IfEqWarn:
              if (last == in.v) WARN("saw", std::to_string(in.v));
              break;
            case Instr::IfEqOops:
              if (last == in.v) OOPS("saw " + std::to_string(in.v));
              break;
          }
        }
      });
    sim.set_teardown([&w](Sim& s) {
      Outcome o;
      o.kind = OutcomeKind::Warn;
      o.function = "x=" + std::to_string(w.vars[0]) + " y=" + std::to_string(w.vars[1]);
      s.add_outcome(o);
    });
    return sim.run();
  };
}

// A tree search within `bound` preemptions, or iterative bounding up to it.
ExploreResult run_bounded(const Program& p, ExploreKind k, uint32_t bound, bool iterative,
                          uint64_t executions = 1'000'000, uint32_t worker = 0,
                          uint32_t workers = 1) {
  ExploreConfig c;
  c.kind = k;
  c.executions = executions;
  c.preemption_bound = bound;
  c.iterative = iterative;
  c.worker = worker;
  c.workers = workers;
  return explore(executor(p), c);
}

ExploreResult run(const Program& p, ExploreKind k, uint32_t worker = 0, uint32_t workers = 1,
                  uint64_t executions = 1'000'000) {
  return run_bounded(p, k, ~0u, false, executions, worker, workers);
}

// The shares of `workers` workers, merged.
// `stable`: counts the shares that no bound pruned before the others' last bound (the
// merge repeats their runs at the bounds they did not search).
ExploreResult run_shared(const Program& p, ExploreKind k, uint32_t bound, bool iterative,
                         uint64_t executions, uint32_t workers, uint32_t* stable = nullptr) {
  std::vector<ExploreResult> shares;
  uint32_t last = 0;
  for (uint32_t w = 0; w < workers; ++w) {
    shares.push_back(run_bounded(p, k, bound, iterative, executions, w, workers));
    last = std::max(last, shares.back().share.bounds.back().bound);
  }
  if (stable)
    for (const auto& s : shares)
      *stable += s.share.bounds.back().completed && !s.share.bounds.back().pruned &&
                 s.share.bounds.back().bound < last;
  return merge_shares(shares);
}

// Everything a user reads in a result but its timing and worker count.
std::string facts(const ExploreResult& r) {
  nlohmann::json j = r.to_json();
  for (const char* key : {"seconds", "executions_per_s", "workers"}) j.erase(key);
  return j.dump(1);
}

std::map<std::string, uint64_t> counts(const ExploreResult& r) {
  std::map<std::string, uint64_t> m;
  for (const auto& [k, c] : r.outcomes) m[k] = c.count;
  return m;
}
std::set<std::string> keys(const ExploreResult& r) {
  std::set<std::string> s;
  for (const auto& [k, c] : r.outcomes) s.insert(k);
  return s;
}

// The Mazurkiewicz trace of a run: each CPU's operations, and for every object the order
// of its writes with the reads between them (reads commute with reads).
std::string trace_class(const RunResult& r) {
  std::map<ObjId, std::vector<std::string>> per_obj;
  std::map<CpuId, int> idx;
  for (const auto& t : r.trace) {
    if (t.kind != TraceKind::Step || t.op == Op::Delay) continue;
    const std::string ev = std::to_string(t.cpu) + "." + std::to_string(idx[t.cpu]++);
    auto& seq = per_obj[t.obj];
    if (t.rw == Access::Write) {
      seq.push_back("W" + ev);
    } else {
      if (seq.empty() || seq.back()[0] != 'R') seq.push_back("R");
      seq.back() += " " + ev;
    }
  }
  std::string key;
  for (auto& [obj, seq] : per_obj) {
    key += std::to_string(obj) + ":";
    for (auto& s : seq) {  // reads in one group are unordered: sort them
      if (s[0] == 'R') {
        std::vector<std::string> rs;
        size_t p = 2;
        while (p < s.size()) {
          size_t q = s.find(' ', p);
          rs.push_back(s.substr(p, q == std::string::npos ? std::string::npos : q - p));
          p = q == std::string::npos ? s.size() : q + 1;
        }
        std::sort(rs.begin(), rs.end());
        s = "R";
        for (auto& x : rs) s += " " + x;
      }
      key += s + ";";
    }
  }
  return key;
}

const Instr R(int v) { return {Instr::Read, v}; }
const Instr W(int v) { return {Instr::Write, v}; }
const Instr I(int v) { return {Instr::Inc, v}; }

// Three racy increments of x and an unrelated writer of y.
const Program kLostUpdate = {{R(0), W(0)}, {R(0), W(0)}, {R(0), W(0)}, {R(1), W(1), R(1), W(1)}};

// The traces an exhaustive exploration ran, and how many complete executions repeated one.
struct Traces {
  std::set<std::string> all;
  uint64_t repeats = 0;
};
Traces traces_of(const Program& p, ExploreKind kind) {
  Traces t;
  ExploreConfig c;
  c.kind = kind;
  c.executions = 1'000'000;
  const Executor traced = executor(p, true);
  explore([&](std::unique_ptr<Strategy> s) {
    RunResult r = traced(std::move(s));
    if (!r.stopped) t.repeats += !t.all.insert(trace_class(r)).second;
    return r;
  }, c);
  return t;
}

// The traces of every schedule (dfs).
std::set<std::string> all_traces(const Program& p) { return traces_of(p, ExploreKind::Dfs).all; }

// A tree search driven directly, with no split nodes: the complete executions (their
// traces, and how many repeat one), the redundant ones cut short, and whether the bound
// pruned.
struct TreeRun {
  uint64_t complete = 0, redundant = 0, repeats = 0;
  std::set<std::string> traces, outcomes;
  bool pruned = false;
};
TreeRun run_tree(const Program& p, TreeConfig cfg) {
  TreeSearch tree(cfg);
  const Executor traced = executor(p, true);
  TreeRun out;
  while (auto s = tree.next()) {
    const RunResult r = traced(std::move(s));
    switch (tree.finish(r)) {
      case TreeSearch::Fate::Complete:
        ++out.complete;
        out.repeats += !out.traces.insert(trace_class(r)).second;
        for (const auto& o : r.outcomes) out.outcomes.insert(o.key());
        break;
      case TreeSearch::Fate::Redundant: ++out.redundant; break;
      case TreeSearch::Fate::OtherWorker: break;
    }
  }
  out.pruned = tree.pruned();
  return out;
}
// Unbounded dpor with one race-reversal rule.
TreeRun run_tree(const Program& p, bool source_sets) {
  return run_tree(p, {.dpor = true, .source_sets = source_sets});
}

}  // namespace

TEST(Explore, DporFindsEveryOutcomeOfDfsWithOneExecutionPerTrace) {
  const ExploreResult dfs = run(kLostUpdate, ExploreKind::Dfs);
  const ExploreResult dpor = run(kLostUpdate, ExploreKind::Dpor);
  ASSERT_TRUE(dfs.exhausted);
  ASSERT_TRUE(dpor.exhausted);
  EXPECT_EQ(keys(dfs), keys(dpor));
  EXPECT_EQ(keys(dpor), (std::set<std::string>{"warn:x=1 y=2", "warn:x=2 y=2", "warn:x=3 y=2"}));

  // Count the traces among all dfs executions, and check dpor ran each once.
  const std::set<std::string> all = all_traces(kLostUpdate);
  const Traces seen = traces_of(kLostUpdate, ExploreKind::Dpor);
  EXPECT_EQ(seen.repeats, 0u);
  EXPECT_EQ(seen.all, all);
  EXPECT_EQ(dpor.executions, all.size());
  EXPECT_LT(dpor.executions * 20, dfs.executions);
}

TEST(Explore, DporAgreesWithDfsOnLocksWakeupsAndDeadlocks) {
  const Instr L{Instr::Lock, 0}, U{Instr::Unlock, 0}, ML{Instr::MutexLock, 0},
      MU{Instr::MutexUnlock, 0}, ML1{Instr::MutexLock, 1}, MU1{Instr::MutexUnlock, 1};
  const std::vector<Program> programs = {
      // ABBA between a mutex and a spinlock, with a third CPU counting.
      {{ML, L, I(0), U, MU}, {L, ML, I(0), MU, U}, {I(1), R(0), I(1)}},
      // Sleeping on a mutex, woken by another CPU; a check of what was read.
      {{ML1, R(0), {Instr::IfEqWarn, 0, 1}, MU1}, {I(0), ML1, I(0), MU1}, {R(0), W(1)}},
      // Lost update under a lock on one side only.
      {{L, R(0), W(0), U}, {R(0), W(0)}, {L, I(1), U}},
  };
  for (size_t i = 0; i < programs.size(); ++i) {
    const ExploreResult dfs = run(programs[i], ExploreKind::Dfs);
    const ExploreResult dpor = run(programs[i], ExploreKind::Dpor);
    ASSERT_TRUE(dfs.exhausted) << i;
    ASSERT_TRUE(dpor.exhausted) << i;
    EXPECT_EQ(keys(dfs), keys(dpor)) << "program " << i;
    EXPECT_LT(dpor.executions, dfs.executions) << i;
  }
}

TEST(Explore, WorkersShareTheTreeWithTheSameResult) {
  for (ExploreKind k : {ExploreKind::Dfs, ExploreKind::Dpor}) {
    const ExploreResult one = run(kLostUpdate, k);
    ASSERT_TRUE(one.exhausted);
    for (uint32_t n : {2u, 3u}) {
      for (uint32_t w = 0; w < n; ++w)
        EXPECT_GT(run(kLostUpdate, k, w, n).executions, 0u) << "worker " << w << " of " << n;
      EXPECT_EQ(facts(run_shared(kLostUpdate, k, ~0u, false, 1'000'000, n)), facts(one))
          << explore_kind_name(k) << " workers " << n;
    }
  }
}

TEST(Explore, RandomAndPctSplitByExecutionIndex) {
  for (ExploreKind k : {ExploreKind::Random, ExploreKind::Pct}) {
    const ExploreResult one = run(kLostUpdate, k, 0, 1, 300);
    ExploreResult merged = run(kLostUpdate, k, 0, 2, 300);
    merged.merge(run(kLostUpdate, k, 1, 2, 300));
    EXPECT_EQ(merged.executions, 300u);
    EXPECT_EQ(counts(merged), counts(one));
    for (const auto& [key, c] : one.outcomes) {
      EXPECT_EQ(merged.outcomes.at(key).schedule, c.schedule) << key;
      EXPECT_EQ(merged.outcomes.at(key).first, c.first) << key;
    }
  }
}

TEST(Explore, PctFindsTheLostUpdate) {
  const ExploreResult r = run(kLostUpdate, ExploreKind::Pct, 0, 1, 200);
  EXPECT_EQ(r.executions, 200u);
  EXPECT_TRUE(r.outcomes.count("warn:x=1 y=2")) << counts(r).size();
  EXPECT_TRUE(r.outcomes.count("warn:x=3 y=2"));
}

TEST(Explore, BudgetsStopAndAreReportedAsNotExhausted) {
  const ExploreResult r = run(kLostUpdate, ExploreKind::Dfs, 0, 1, 10);
  EXPECT_EQ(r.executions, 10u);
  EXPECT_FALSE(r.exhausted);
  ExploreConfig c;
  c.kind = ExploreKind::Random;
  c.seconds = 0.05;
  const ExploreResult t = explore(executor(kLostUpdate), c);
  EXPECT_GT(t.executions, 0u);
  EXPECT_GE(t.seconds, 0.05);
  ExploreConfig none;
  EXPECT_THROW(explore(executor(kLostUpdate), none), UsageError);
  c.workers = 2;
  c.worker = 2;
  EXPECT_THROW(explore(executor(kLostUpdate), c), UsageError);
  EXPECT_THROW(parse_explore_kind("bfs"), UsageError);
}

TEST(Explore, MinimisedFailureKeepsItsOutcomeWithFewerPreemptions) {
  const ExploreResult r = run(kLostUpdate, ExploreKind::Random, 0, 1, 200);
  const OutcomeClass& lost = r.outcomes.at("warn:x=1 y=2");
  const Minimised m = minimise(executor(kLostUpdate), lost.key, lost.schedule);
  EXPECT_EQ(m.key, lost.key);
  EXPECT_GT(m.steps, 0u);
  // One preemption is enough: cpu2 reads x, cpu1 and cpu0 run through, cpu2 writes last.
  EXPECT_EQ(m.preemptions, 1u) << Schedule{m.schedule, {}}.compact();
  EXPECT_LE(m.steps, lost.schedule.size());
  // Replaying the minimised schedule gives the same outcome.
  ExploreConfig c;
  const RunResult again = executor(kLostUpdate)(
      std::make_unique<ReplayStrategy>(m.schedule, nullptr));
  bool found = false;
  for (const auto& o : again.outcomes) found |= o.key() == lost.key;
  EXPECT_TRUE(found);
  // A schedule that does not show the outcome comes back with zero steps.
  EXPECT_EQ(minimise(executor(kLostUpdate), "warn:x=9 y=9", lost.schedule).steps, 0u);
}

TEST(Explore, ResultsRoundTripThroughJson) {
  ExploreResult r = run(kLostUpdate, ExploreKind::Dpor);
  r.first_failure = Minimised{"warn:x=1 y=2", {0, 1, 0}, 1, 3, 4};
  const ExploreResult back = ExploreResult::from_json(r.to_json());
  EXPECT_EQ(counts(back), counts(r));
  EXPECT_EQ(back.exhausted, r.exhausted);
  EXPECT_EQ(back.first_failure->schedule, r.first_failure->schedule);
  EXPECT_THROW(ExploreResult::from_json(nlohmann::json{{"strategy", "dfs"}}), UsageError);
}

TEST(Explore, SourceSetsCutNoExecutionShortOnWriterReaders) {
  // Writer-readers (Abdulla et al. 2014): one CPU writes x, three read a variable of
  // their own and then x. Each read of x goes before or after the write: 8 traces.
  // Source sets try only a CPU that starts a reversed race, and every run is a new
  // trace. Persistent sets with sleep sets (the rule dpor had before) try every reader
  // first at the root: the runs that start with a later reader end with every CPU
  // asleep, and the reversals that would reach half of the traces are of the writer
  // where it is asleep, so they are dropped.
  const Program p = {{W(0)}, {R(1), R(0)}, {R(2), R(0)}, {R(3), R(0)}};
  const std::set<std::string> traces = all_traces(p);
  ASSERT_EQ(traces.size(), 8u);
  const TreeRun source = run_tree(p, true), persistent = run_tree(p, false);
  EXPECT_EQ(source.traces, traces);
  EXPECT_EQ(source.complete, 8u);
  EXPECT_EQ(source.repeats, 0u);
  EXPECT_EQ(source.redundant, 0u);
  EXPECT_EQ(persistent.complete, 4u);
  EXPECT_EQ(persistent.traces.size(), 4u);
  EXPECT_EQ(persistent.redundant, 4u);
}

TEST(Explore, SourceSetsRunEachTraceOnceAndCutShortNoMoreThanPersistentSets) {
  const Instr L{Instr::Lock, 0}, U{Instr::Unlock, 0}, ML{Instr::MutexLock, 1},
      MU{Instr::MutexUnlock, 1};
  const std::vector<Program> programs = {
      kLostUpdate,
      {{W(0), R(1)}, {W(1), R(0)}, {R(0), R(1)}},  // store buffering and a reader of both
      {{L, I(0), U, R(1)}, {R(0), W(1)}, {L, R(0), U}},
      {{ML, R(0), {Instr::IfEqWarn, 0, 1}, MU}, {I(0), ML, I(0), MU}, {R(0), W(1)}},
  };
  for (size_t i = 0; i < programs.size(); ++i) {
    const std::set<std::string> traces = all_traces(programs[i]);
    const TreeRun source = run_tree(programs[i], true), persistent = run_tree(programs[i], false);
    EXPECT_EQ(source.traces, traces) << i;
    EXPECT_EQ(source.complete, traces.size()) << i;
    EXPECT_EQ(source.repeats, 0u) << i;
    EXPECT_LE(persistent.complete, traces.size()) << i;
    EXPECT_LE(source.redundant, persistent.redundant) << i;
  }
}

// Small random programs of 2 or 3 CPUs: reads, writes and increments of three
// variables, sections under a spinlock or a mutex, and oopses that end the run.
class RandomPrograms {
 public:
  explicit RandomPrograms(uint64_t seed) : seed_(seed) {}
  Program next() {
    Program p(2 + rnd(2));
    for (auto& code : p) {
      const uint32_t len = 1 + rnd(p.size() == 2 ? 4 : 3);
      const bool locked = rnd(4) == 0, mutex = rnd(2);
      if (locked) code.push_back({mutex ? Instr::MutexLock : Instr::Lock, 0});
      for (uint32_t j = 0; j < len; ++j) {
        const int v = int(rnd(3));
        switch (rnd(4)) {
          case 0: code.push_back(R(v)); break;
          case 1: code.push_back(W(v)); break;
          case 2: code.push_back(I(v)); break;
          default:
            code.push_back(R(v));
            code.push_back({rnd(3) ? Instr::IfEqWarn : Instr::IfEqOops, 0, int64_t(rnd(2))});
        }
      }
      if (locked) code.push_back({mutex ? Instr::MutexUnlock : Instr::Unlock, 0});
    }
    return p;
  }

 private:
  uint32_t rnd(uint32_t n) {
    seed_ = seed_ * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t((seed_ >> 33) % n);
  }
  uint64_t seed_;
};

TEST(Explore, SourceSetsRunEachTraceOfRandomProgramsOnce) {
  RandomPrograms programs(12345);
  for (int t = 0; t < 300; ++t) {
    const Program p = programs.next();
    const std::set<std::string> traces = all_traces(p);
    const TreeRun source = run_tree(p, true);
    EXPECT_EQ(source.traces, traces) << "program " << t;
    EXPECT_EQ(source.complete, traces.size()) << "program " << t;
    EXPECT_EQ(source.repeats, 0u) << "program " << t;
  }
}

TEST(Explore, TreeWorkersGiveOneWorkersResultOnRandomPrograms) {
  // Which schedule stands for a trace depends on the split nodes, and a step that ends
  // the run at the last one changes the sleep sets of the other workers' subtrees.
  RandomPrograms programs(4242);
  uint32_t stable = 0;
  for (int t = 0; t < 60; ++t) {
    const Program p = programs.next();
    for (ExploreKind k : {ExploreKind::Dpor, ExploreKind::Dfs}) {
      const bool iterative = t % 2;
      const ExploreResult all = run_bounded(p, k, ~0u, iterative);
      const uint64_t budget = 1 + (all.executions + all.repeated) * (t % 5) / 4;
      const ExploreResult one = run_bounded(p, k, ~0u, iterative, budget);
      for (uint32_t n : {2u, 3u})
        ASSERT_EQ(facts(run_shared(p, k, ~0u, iterative, budget, n, &stable)), facts(one))
            << "program " << t << " " << explore_kind_name(k) << " budget " << budget
            << " workers " << n;
    }
  }
  EXPECT_GT(stable, 0u);  // shares the merge repeated at later bounds
}

TEST(Explore, DporTriesTheCpusAPanicCutOff) {
  // cpu0 writes x, then oopses (ending the run) if y is still 0; cpu1 reads x and writes
  // y. The first schedule runs cpu0 to its oops and cpu1 never runs: its pending read
  // races with what cut it off, and reversing that finds the runs without an oops.
  const Program p = {{W(0), R(1), {Instr::IfEqOops, 1, 0}}, {R(0), W(1)}};
  const ExploreResult dfs = run(p, ExploreKind::Dfs);
  const ExploreResult dpor = run(p, ExploreKind::Dpor);
  ASSERT_TRUE(dfs.exhausted && dpor.exhausted);
  EXPECT_EQ(keys(dpor), keys(dfs));
  EXPECT_EQ(keys(dpor).size(), 3u);
}

// Iterative preemption bounding: bounds 0, 1, ... each searched to its end, recording only
// the executions with exactly the bound's preemptions.

namespace {
// An oops that needs two preemptions: cpu2 sees y == 2 only between cpu1's writes of y,
// and cpu1 writes 2 only when it read x between cpu0's increments.
const Program kTwoPreemptions = {{I(0), I(0)},
                                 {R(0), W(1), R(2), W(1)},
                                 {R(1), {Instr::IfEqOops, 0, 2}}};
const char kTwoPreemptionsOops[] = "oops:program";

uint64_t sum_counts(const ExploreResult& r) {
  uint64_t n = 0;
  for (const auto& [k, c] : r.outcomes) n += c.count;
  return n;
}
}  // namespace

TEST(Explore, TreeSearchCountsPreemptionsAsMinimiseDoes) {
  TreeSearch tree({.dpor = false});
  const Executor exec = executor(kTwoPreemptions);
  uint32_t most = 0;
  int n = 0;
  while (auto s = tree.next()) {
    const RunResult r = exec(std::move(s));
    ASSERT_EQ(tree.finish(r), TreeSearch::Fate::Complete);
    if (n++ % 7) continue;  // a sample: minimise replays each
    const std::string key = r.outcomes.empty() ? "ok" : r.outcomes.front().key();
    const Minimised m = minimise(exec, key, r.schedule, 1);  // one attempt: the count
    ASSERT_GT(m.steps, 0u);
    EXPECT_EQ(tree.preemptions(), m.preemptions) << Schedule{r.schedule, {}}.compact();
    most = std::max(most, tree.preemptions());
  }
  EXPECT_GE(most, 3u);
  EXPECT_FALSE(tree.pruned());
}

TEST(Explore, IterativeDfsFindsATwoPreemptionBugAfterCoveringBoundOne) {
  // The bug is out of reach within one preemption, within reach within two.
  const ExploreResult b0 = run_bounded(kTwoPreemptions, ExploreKind::Dfs, 0, false);
  const ExploreResult b1 = run_bounded(kTwoPreemptions, ExploreKind::Dfs, 1, false);
  const ExploreResult b2 = run_bounded(kTwoPreemptions, ExploreKind::Dfs, 2, false);
  ASSERT_TRUE(b0.exhausted && b1.exhausted && b2.exhausted);
  EXPECT_FALSE(b1.outcomes.count(kTwoPreemptionsOops));
  ASSERT_TRUE(b2.outcomes.count(kTwoPreemptionsOops));
  const uint64_t n0 = b0.executions, n1 = b1.executions;
  const uint64_t f2 = b2.outcomes.at(kTwoPreemptionsOops).first_run;  // within bound 2

  // Search 1 reruns the n0 schedules of search 0: repeated, not recorded.
  const ExploreResult upto1 = run_bounded(kTwoPreemptions, ExploreKind::Dfs, ~0u, true, n0 + n1);
  EXPECT_EQ(upto1.bound_covered, 1);
  EXPECT_EQ(upto1.repeated, n0);
  EXPECT_EQ(upto1.executions, n1);
  EXPECT_EQ(sum_counts(upto1), upto1.executions);
  EXPECT_FALSE(upto1.exhausted);
  EXPECT_FALSE(upto1.every_schedule);
  EXPECT_EQ(run_bounded(kTwoPreemptions, ExploreKind::Dfs, ~0u, true, n0 + n1 - 1).bound_covered,
            0);

  // Search 2 finds the bug after the runs of searches 0 and 1 and as many as search 2
  // alone needs.
  const ExploreResult before =
      run_bounded(kTwoPreemptions, ExploreKind::Dfs, ~0u, true, n0 + n1 + f2 - 1);
  EXPECT_FALSE(before.outcomes.count(kTwoPreemptionsOops));
  const ExploreResult found =
      run_bounded(kTwoPreemptions, ExploreKind::Dfs, ~0u, true, n0 + n1 + f2);
  ASSERT_TRUE(found.outcomes.count(kTwoPreemptionsOops));
  EXPECT_EQ(found.outcomes.at(kTwoPreemptionsOops).first_run, n0 + n1 + f2);
  EXPECT_EQ(found.outcomes.at(kTwoPreemptionsOops).count, 1u);
  EXPECT_EQ(found.bound_covered, 1);
  EXPECT_EQ(found.executions + found.repeated, n0 + n1 + f2);

  // To the end: every schedule once, as plain dfs, and bound 2 was covered on the way.
  const ExploreResult all = run_bounded(kTwoPreemptions, ExploreKind::Dfs, ~0u, true);
  const ExploreResult plain = run(kTwoPreemptions, ExploreKind::Dfs);
  EXPECT_TRUE(all.exhausted && all.every_schedule);
  EXPECT_GT(all.bound_covered, 2);
  EXPECT_EQ(all.executions, plain.executions);
  EXPECT_EQ(counts(all), counts(plain));
}

TEST(Explore, IterativeDfsRunsEveryScheduleOnceAsPlainDfs) {
  for (const Program& p : {kLostUpdate, kTwoPreemptions}) {
    const ExploreResult plain = run(p, ExploreKind::Dfs);
    const ExploreResult it = run_bounded(p, ExploreKind::Dfs, ~0u, true);
    ASSERT_TRUE(plain.exhausted && plain.every_schedule);
    EXPECT_EQ(plain.bound_covered, -1);
    EXPECT_EQ(plain.repeated, 0u);
    EXPECT_TRUE(it.exhausted);
    EXPECT_TRUE(it.every_schedule);
    EXPECT_TRUE(it.iterative);
    EXPECT_EQ(it.executions, plain.executions);
    EXPECT_EQ(counts(it), counts(plain));
    EXPECT_GT(it.repeated, 0u);
    for (const auto& [key, c] : plain.outcomes) EXPECT_EQ(it.outcomes.at(key).schedule, c.schedule);
    // The last search, bound_covered, pruned nothing: a smaller fixed bound prunes.
    const ExploreResult last = run_bounded(p, ExploreKind::Dfs, uint32_t(it.bound_covered), false);
    EXPECT_TRUE(last.every_schedule);
    EXPECT_FALSE(run_bounded(p, ExploreKind::Dfs, uint32_t(it.bound_covered - 1), false)
                     .every_schedule);
  }
  // One outcome per run: the counts add up to the executions.
  const ExploreResult it = run_bounded(kLostUpdate, ExploreKind::Dfs, ~0u, true);
  EXPECT_EQ(sum_counts(it), it.executions);
}

TEST(Explore, BoundedDporCoversBoundedDfsAndEveryTraceWhenNotPruned) {
  // What iterative dpor relies on, with no split nodes (which branch fully): search b
  // covers every trace with a schedule within b preemptions (also when a panic cuts
  // CPUs off), and a search the bound did not prune covers every trace.
  RandomPrograms programs(777);
  for (int t = 0; t < 200; ++t) {
    const Program p = programs.next();
    const TreeRun all = run_tree(p, {.dpor = false});
    for (uint32_t bound = 0;; ++bound) {
      const TreeRun dfs = run_tree(p, {.dpor = false, .preemption_bound = bound});
      const TreeRun dpor = run_tree(p, {.dpor = true, .preemption_bound = bound});
      EXPECT_TRUE(std::includes(dpor.traces.begin(), dpor.traces.end(), dfs.traces.begin(),
                                dfs.traces.end()))
          << "program " << t << " bound " << bound;
      EXPECT_EQ(dfs.pruned, dfs.complete < all.complete) << "program " << t << " bound " << bound;
      if (dpor.pruned) continue;
      EXPECT_EQ(dpor.traces, all.traces) << "program " << t << " bound " << bound;
      EXPECT_EQ(dpor.outcomes, all.outcomes) << "program " << t << " bound " << bound;
      break;
    }
  }
}

TEST(Explore, IterativeDporFindsTheOutcomesOfUnboundedDporOnRandomPrograms) {
  RandomPrograms programs(778);
  for (int t = 0; t < 100; ++t) {
    const Program p = programs.next();
    const ExploreResult unbounded = run(p, ExploreKind::Dpor);
    const ExploreResult it = run_bounded(p, ExploreKind::Dpor, ~0u, true);
    ASSERT_TRUE(unbounded.exhausted) << "program " << t;
    EXPECT_TRUE(it.exhausted && it.every_schedule) << "program " << t;
    EXPECT_EQ(keys(it), keys(unbounded)) << "program " << t;
    EXPECT_GE(it.bound_covered, 0) << "program " << t;
  }
}

TEST(Explore, FixedBoundsCoverTheirScopeAndSayWhetherTheyPruned) {
  for (ExploreKind k : {ExploreKind::Dfs, ExploreKind::Dpor}) {
    const ExploreResult one = run_bounded(kLostUpdate, k, 1, false);
    EXPECT_TRUE(one.exhausted);
    EXPECT_FALSE(one.every_schedule);
    EXPECT_EQ(one.bound_covered, 1);
    EXPECT_EQ(one.preemption_bound, 1u);
    EXPECT_FALSE(one.iterative);
    const ExploreResult wide = run_bounded(kLostUpdate, k, 50, false);
    EXPECT_TRUE(wide.exhausted);
    EXPECT_TRUE(wide.every_schedule);
    EXPECT_EQ(wide.bound_covered, 50);
    EXPECT_EQ(keys(wide), keys(run(kLostUpdate, k)));
    // Iterative up to a bound stops there, covering its scope.
    const ExploreResult upto = run_bounded(kLostUpdate, k, 1, true);
    EXPECT_TRUE(upto.exhausted);
    EXPECT_FALSE(upto.every_schedule);
    EXPECT_EQ(upto.bound_covered, 1);
    EXPECT_EQ(keys(upto), keys(one));
    if (k == ExploreKind::Dfs) {
      EXPECT_EQ(counts(upto), counts(one));
    }
  }
  const ExploreResult dfs = run_bounded(kLostUpdate, ExploreKind::Dfs, 50, false);
  EXPECT_EQ(counts(dfs), counts(run(kLostUpdate, ExploreKind::Dfs)));
  // Random and pct ignore bounds.
  const ExploreResult random = run_bounded(kLostUpdate, ExploreKind::Random, 1, true, 50);
  EXPECT_FALSE(random.iterative);
  EXPECT_EQ(random.preemption_bound, ~0u);
  EXPECT_EQ(random.bound_covered, -1);
  EXPECT_FALSE(random.every_schedule);
  for (const auto& [key, c] : random.outcomes) EXPECT_EQ(c.first_run, c.first);
}

TEST(Explore, IterativeWorkersShareEachSearchWithTheSameResult) {
  for (ExploreKind k : {ExploreKind::Dfs, ExploreKind::Dpor})
    for (const Program& p : {kLostUpdate, kTwoPreemptions}) {
      const ExploreResult one = run_bounded(p, k, ~0u, true);
      ASSERT_TRUE(one.every_schedule);
      if (k == ExploreKind::Dfs) {
        EXPECT_EQ(one.executions, run(p, k).executions);
      }
      for (uint32_t n : {2u, 3u})
        EXPECT_EQ(facts(run_shared(p, k, ~0u, true, 1'000'000, n)), facts(one))
            << explore_kind_name(k) << " workers " << n;
    }
}

// Issue 15, F6: a budget of executions is the whole exploration's, so a budget that stops
// the search gives the same result for any number of workers: the runs one worker makes.
TEST(Explore, ABudgetThatStopsTheSearchGivesOneWorkersResultWithAnyNumberOfWorkers) {
  struct Case {
    ExploreKind kind;
    uint32_t bound;
    bool iterative;
  };
  const Case cases[] = {{ExploreKind::Dfs, ~0u, false}, {ExploreKind::Dpor, ~0u, false},
                        {ExploreKind::Dfs, ~0u, true},  {ExploreKind::Dpor, ~0u, true},
                        {ExploreKind::Dfs, 1, false},   {ExploreKind::Dpor, 1, true}};
  uint32_t stopped = 0;
  for (const Program& p : {kLostUpdate, kTwoPreemptions})
    for (const Case& c : cases) {
      const ExploreResult all = run_bounded(p, c.kind, c.bound, c.iterative);
      ASSERT_TRUE(all.exhausted);
      const uint64_t total = all.executions + all.repeated;
      for (uint64_t budget : {uint64_t(1), total / 3, total - 1, total}) {
        if (!budget) continue;
        const ExploreResult one = run_bounded(p, c.kind, c.bound, c.iterative, budget);
        stopped += !one.exhausted;
        for (uint32_t n : {2u, 5u})
          ASSERT_EQ(facts(run_shared(p, c.kind, c.bound, c.iterative, budget, n)), facts(one))
              << explore_kind_name(c.kind) << " bound " << c.bound << " iterative "
              << c.iterative << " budget " << budget << " of " << total << ", workers " << n;
      }
    }
  EXPECT_GE(stopped, 30u);  // most budgets stopped the search
}

TEST(Explore, BoundingResultsRoundTripThroughJson) {
  const ExploreResult r = run_bounded(kTwoPreemptions, ExploreKind::Dfs, ~0u, true, 5000);
  ASSERT_GT(r.repeated, 0u);
  ASSERT_GE(r.bound_covered, 1);
  nlohmann::json j = r.to_json();
  EXPECT_EQ(j.at("repeated"), r.repeated);
  EXPECT_EQ(j.at("bound_covered"), r.bound_covered);
  EXPECT_TRUE(j.at("preemption_bound").is_null());
  EXPECT_EQ(j.at("iterative"), true);
  const ExploreResult back = ExploreResult::from_json(j);
  EXPECT_EQ(back.repeated, r.repeated);
  EXPECT_EQ(back.bound_covered, r.bound_covered);
  EXPECT_EQ(back.every_schedule, r.every_schedule);
  EXPECT_EQ(back.preemption_bound, ~0u);
  EXPECT_TRUE(back.iterative);
  for (const auto& [key, c] : r.outcomes) EXPECT_EQ(back.outcomes.at(key).first_run, c.first_run);

  const ExploreResult fixed = run_bounded(kLostUpdate, ExploreKind::Dpor, 50, false);
  const ExploreResult fixed_back = ExploreResult::from_json(fixed.to_json());
  EXPECT_EQ(fixed_back.preemption_bound, 50u);
  EXPECT_EQ(fixed_back.bound_covered, 50);
  EXPECT_TRUE(fixed_back.every_schedule);
  EXPECT_FALSE(fixed_back.iterative);
  const ExploreResult plain = run(kLostUpdate, ExploreKind::Dfs, 0, 1, 10);
  EXPECT_TRUE(plain.to_json().at("bound_covered").is_null());

  // Results written before these fields read as an unbounded search's.
  for (const char* key : {"repeated", "bound_covered", "every_schedule", "preemption_bound",
                          "iterative"})
    j.erase(key);
  for (auto& [key, e] : j.at("examples").items()) e.erase("first_run");
  const ExploreResult old = ExploreResult::from_json(j);
  EXPECT_EQ(old.repeated, 0u);
  EXPECT_EQ(old.bound_covered, -1);
  EXPECT_FALSE(old.every_schedule);
  EXPECT_EQ(old.preemption_bound, ~0u);
  EXPECT_FALSE(old.iterative);
  for (const auto& [key, c] : old.outcomes) EXPECT_EQ(c.first_run, c.first);
  EXPECT_EQ(counts(old), counts(r));
}

TEST(Explore, SharesOfOtherExplorationsDoNotMerge) {
  std::vector<ExploreResult> shares = {run(kLostUpdate, ExploreKind::Dfs, 0, 2),
                                       run(kLostUpdate, ExploreKind::Dpor, 1, 2)};
  EXPECT_THROW(merge_shares(shares), UsageError);
  shares[1] = run(kLostUpdate, ExploreKind::Random, 1, 2, 10);
  EXPECT_THROW(merge_shares(shares), UsageError);
  EXPECT_THROW(merge_shares({}), UsageError);
}

TEST(Explore, ATimeBudgetThatIsNotAFiniteNumberIsRefused) {
  // seconds = NaN once passed every check and never stopped (issue 15, F4).
  const Executor never_called = [](std::unique_ptr<Strategy>) -> RunResult {
    ADD_FAILURE() << "an exploration with a bad budget ran";
    return {};
  };
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -1.0}) {
    ExploreConfig cfg;
    cfg.executions = 0;
    cfg.seconds = bad;
    EXPECT_THROW(pagesim::explore(never_called, cfg), UsageError) << bad;
  }
}
