// Stateless search of the tree of schedules (CHESS, DPOR): every execution replays a
// prefix of CPU choices from the initial world and branches at the deepest node with an
// alternative left; the space is exhausted when no node has one.
//
//  dfs:  every eligible CPU is an alternative, within a preemption bound (a preemption is
//        a switch away from a CPU that could have gone on).
//  dpor: only the CPUs that dynamic partial-order reduction shows must be tried. Two
//        steps conflict when they touch one object and one of them writes it (per the
//        scheduling-point descriptors), or when either may touch anything; a step reads
//        its CPU's runqueue and a wake-up writes the runqueues it changes. A race is a
//        conflict between steps of two CPUs with no other step ordered between them.
//        Unbounded, races are reversed with source sets (Abdulla, Aronis, Jonsson,
//        Sagonas, POPL 2014) and sleep sets prune the re-orderings of independent steps:
//        every complete execution is a different Mazurkiewicz trace and every trace is
//        covered, so outcome counts are trace counts; an execution whose every CPU is
//        asleep is cut short as redundant. The last step of a run cut short (a panic,
//        the step limit) conflicts with everything the other CPUs would have done.
//        With a preemption bound (bounded POR, Coons, Musuvathi, McKinley, OOPSLA 2013)
//        it reverses races with persistent sets (Flanagan-Godefroid) plus Coons'
//        conservative point and no sleep sets, and covers every trace with a schedule
//        within the bound.
//
// Workers share a tree by its first `split` branching nodes: those branch on every CPU,
// and worker w runs only the subtrees whose choices there hash to w. Full nodes keep the
// search sound for dpor, and sleep sets keep one execution per trace, so the outcome set
// is the same whatever the number of workers.
//
// The happens-before state of the replayed prefix is not rebuilt: each step's changes
// go to an undo log, and branching at node d rewinds the log to step d.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/sim.h"

namespace pagesim {

struct TreeConfig {
  bool dpor = false;
  uint32_t preemption_bound = ~0u;  // ~0u: none
  uint32_t split = 0;               // branching nodes shared among workers
  uint32_t worker = 0;
  uint32_t workers = 1;
  // Unbounded dpor: false reverses races with persistent sets instead, as dpor did
  // before; with sleep sets that misses traces (the tests compare the two).
  bool source_sets = true;
};

class TreeSearch {
 public:
  static constexpr uint32_t kMaxCpus = 64;
  explicit TreeSearch(TreeConfig cfg);
  ~TreeSearch();

  // The strategy of the next execution; nullptr when the space is exhausted.
  std::unique_ptr<Strategy> next();
  enum class Fate : uint8_t { Complete, Redundant, OtherWorker };
  // What the execution just run was: complete (count it), redundant (the strategy
  // stopped it, every CPU asleep), or in another worker's share.
  Fate finish(const RunResult& r);
  // The preemptions of the execution just finished (as minimise counts them).
  uint32_t preemptions() const { return preemptions_; }
  // The subtree of the execution just finished: the split nodes' choices, numbered in
  // the order the search walks them (the same in every worker, which walks into the
  // other workers' subtrees to their split node). A search with no split is subtree 0.
  uint64_t subtree() const { return subtree_; }
  // Whether the preemption bound has kept an alternative from being tried: any CPU that
  // dfs or a split node would try, or that dpor's races put there. When the space is
  // exhausted without it, the search was the same with no bound (for dpor: persistent
  // sets, Coons' points and no sleep sets, a sound search), so every schedule (dpor:
  // trace) was covered.
  bool pruned() const { return pruned_; }

 private:
  static constexpr uint32_t kNoRow = ~0u;
  struct Dep {  // what a step touches, for conflicts
    ObjId obj = kNoObj;
    Op op = Op::Read;
    Access rw = Access::Read;
    uint32_t row = kNoRow;  // the object's row in last_ (touches_obj only)
  };
  struct Node {
    uint64_t enabled = 0, backtrack = 0, done = 0, sleep = 0;
    CpuId chosen = kNoCpu;
    CpuId cont = kNoCpu;    // the CPU that ran the step before, if it can go on
    uint32_t preempts = 0;  // preemptions before this node
    uint32_t branching = 0; // branching nodes above this one
    bool full = false;      // a split node: every CPU is tried
  };
  class Strat;
  friend class Strat;

  size_t choose(const Sim& sim, std::span<const Candidate> c);
  void start(const Sim& sim);
  uint64_t cpu_state(const Sim& sim, CpuId c) const;
  uint64_t runqueue_writes(const Sim& sim, CpuId p);  // and remember the new states
  Dep& next_of(size_t node, CpuId c) { return next_[node * ncpu_ + c]; }
  Dep& dep_of(uint32_t step) { return next_of(step, nodes_[step].chosen); }
  uint32_t row(ObjId obj);

  // Happens-before, by vector clocks: clock(i)[c] is 1 + the last step of CPU c that
  // happens before step i (its own: i + 1).
  const uint32_t* clock(uint32_t step) const { return &clocks_[size_t(step) * ncpu_]; }
  uint32_t last_step(CpuId c) const { return last_[c]; }  // 1 + CPU c's last step, or 0
  bool happens_before(uint32_t i, CpuId p) const {  // step i before p's last step
    const uint32_t l = last_step(p);
    return l && clock(l - 1)[nodes_[i].chosen] > i;
  }
  // 1 + the last step of each other CPU that conflicts with CPU p's operation `d` and
  // its wake-ups of `writes`; 0: none.
  void conflicts(CpuId p, const Dep& d, uint64_t writes, uint32_t* out) const;
  void clock_after(CpuId p, uint32_t k, const uint32_t* conf, uint32_t* out) const;
  void account_step(uint32_t k, uint64_t writes);  // races, then the step's clock
  void set_last(uint32_t idx, uint32_t v);
  void rewind(size_t step);                        // back to before `step`
  void persistent_race(CpuId p, const uint32_t* conf);
  void source_races(uint32_t k, CpuId p, const uint32_t* conf, const uint32_t* vc);
  bool source_mode() const { return cfg_.source_sets && cfg_.preemption_bound == ~0u; }
  uint64_t allowed(const Node& n) const;
  bool cut_short(const RunResult& r) const;

  TreeConfig cfg_;
  uint32_t ncpu_ = 0;
  bool panic_on_oops_ = false;
  bool preempt_ = false;  // lanes (preempt or softirq): a lane can be disabled by its CPU's owner
  // Backtrack lane p at node i: p itself if it could run there, else every lane that could
  // (see the definition).
  void try_at(size_t i, CpuId p);
  std::vector<Node> nodes_;
  std::vector<Dep> next_;    // by node and CPU: each enabled CPU's next operation
  size_t branch_ = 0;        // the node this execution branches at (replay below it)
  bool first_ = true;
  bool pruned_ = false;
  uint64_t subtree_ = 0;
  uint32_t preemptions_ = 0; // of the execution just finished
  // Per execution:
  size_t depth_ = 0;         // steps run so far
  bool blocked_ = false;     // every eligible CPU sleeps: a redundant execution
  uint64_t signature_ = 0;   // hash of the choices at split nodes
  bool other_worker_ = false; // past the split nodes, in another worker's subtree
  std::vector<uint64_t> cpu_sig_;          // each CPU's tasks, before the step
  // Of the steps of the prefix run so far, kept across executions up to the branch node:
  std::vector<uint64_t> step_writes_;      // CPUs whose runqueue the step changed
  std::vector<uint32_t> clocks_;           // by step and CPU
  std::vector<std::vector<uint32_t>> cpu_steps_;  // by CPU: its steps, in order
  // The last access by each CPU (1 + step, 0: none), in rows of ncpu_: row 0 any step,
  // row 1 a step that may touch anything, rows 2.. 1 + ncpu_ the wake-ups onto each CPU's
  // runqueue, then per object a row for any access and a row for writes.
  std::vector<uint32_t> last_;
  std::unordered_map<ObjId, uint32_t> rows_;
  static constexpr uint32_t kRowCacheBits = 10;
  struct RowCache {
    ObjId obj = kNoObj;
    uint32_t row = 0;
  };
  std::vector<RowCache> row_cache_ = std::vector<RowCache>(size_t(1) << kRowCacheBits);
  std::vector<std::pair<uint32_t, uint32_t>> undo_;  // (index in last_, old value)
  std::vector<size_t> undo_mark_;                    // by step: undo_ size before it
};

}  // namespace pagesim
