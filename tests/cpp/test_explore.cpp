// Exploration contract: dpor finds every outcome dfs finds with one execution per
// Mazurkiewicz trace, splitting among workers does not change the outcome set, pct and
// random find shallow bugs, budgets stop, and minimisation keeps the failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/schedule.h"
#include "engine/sync.h"
#include "engine/world.h"
#include "explore/explorer.h"
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

ExploreResult run(const Program& p, ExploreKind k, uint32_t worker = 0, uint32_t workers = 1,
                  uint64_t executions = 1'000'000) {
  ExploreConfig c;
  c.kind = k;
  c.executions = executions;
  c.worker = worker;
  c.workers = workers;
  return explore(executor(p), c);
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

// Unbounded dpor with one race-reversal rule, driven directly: the complete executions
// (their traces, and how many repeat one), and the redundant ones cut short.
struct TreeRun {
  uint64_t complete = 0, redundant = 0, repeats = 0;
  std::set<std::string> traces, outcomes;
};
TreeRun run_tree(const Program& p, bool source_sets) {
  TreeSearch tree({.dpor = true, .source_sets = source_sets});
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
  return out;
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

TEST(Explore, WorkersShareTheTreeWithTheSameOutcomeSet) {
  for (ExploreKind k : {ExploreKind::Dfs, ExploreKind::Dpor}) {
    const ExploreResult one = run(kLostUpdate, k);
    for (uint32_t n : {2u, 3u}) {
      ExploreResult merged = run(kLostUpdate, k, 0, n);
      merged.exhausted = true;
      for (uint32_t w = 0; w < n; ++w) {
        ExploreResult share = w ? run(kLostUpdate, k, w, n) : merged;
        if (w) merged.merge(share);
        EXPECT_GT(share.executions, 0u) << "worker " << w << " of " << n;
      }
      EXPECT_TRUE(merged.exhausted);
      EXPECT_EQ(counts(merged), counts(one)) << explore_kind_name(k) << " workers " << n;
      for (const auto& [key, c] : one.outcomes)
        EXPECT_EQ(merged.outcomes.at(key).schedule, c.schedule) << key;
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

TEST(Explore, DporWorkersGiveTheSameOutcomesAndExamplesOnRandomPrograms) {
  // Which schedule stands for a trace depends on the split nodes, and a step that ends
  // the run at the last one changes the sleep sets of the other workers' subtrees.
  RandomPrograms programs(4242);
  for (int t = 0; t < 100; ++t) {
    const Program p = programs.next();
    const ExploreResult one = run(p, ExploreKind::Dpor);
    for (uint32_t n : {2u, 3u}) {
      ExploreResult merged = run(p, ExploreKind::Dpor, 0, n);
      for (uint32_t w = 1; w < n; ++w) merged.merge(run(p, ExploreKind::Dpor, w, n));
      ASSERT_EQ(counts(merged), counts(one)) << "program " << t << " workers " << n;
      for (const auto& [key, c] : one.outcomes)
        EXPECT_EQ(merged.outcomes.at(key).schedule, c.schedule) << "program " << t << " " << key;
    }
  }
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
