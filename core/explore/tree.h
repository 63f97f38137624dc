// Stateless search of the tree of schedules (CHESS, Flanagan-Godefroid DPOR): every
// execution replays a prefix of CPU choices from the initial world and branches at the
// deepest node with an alternative left; the space is exhausted when no node has one.
//
//  dfs:  every eligible CPU is an alternative, within a preemption bound (a preemption is
//        a switch away from a CPU that could have gone on).
//  dpor: only the CPUs that dynamic partial-order reduction shows must be tried: when a
//        CPU's next operation conflicts with an earlier step of another CPU that does not
//        happen before it (same object, one of them a write, per the scheduling-point
//        descriptors), the other order is tried at that step's node. Sleep sets prune
//        the re-orderings of independent steps, so every complete execution is a different
//        Mazurkiewicz trace and every trace is covered: outcome counts are trace counts.
//        With a preemption bound (bounded POR, Coons et al. 2013) it covers every trace
//        with a schedule within the bound, without sleep sets.
//
// Workers share a tree by its first `split` branching nodes: those branch on every CPU,
// and worker w runs only the subtrees whose choices there hash to w. Full nodes keep the
// search sound for dpor, and sleep sets keep one execution per trace, so the outcome set
// is the same whatever the number of workers.
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
};

class TreeSearch {
 public:
  static constexpr uint32_t kMaxCpus = 64;
  explicit TreeSearch(TreeConfig cfg);
  ~TreeSearch();

  // The strategy of the next execution; nullptr when the space is exhausted.
  std::unique_ptr<Strategy> next();
  enum class Fate : uint8_t { Complete, Redundant, OtherWorker };
  // What the execution just run was (`stopped`: the strategy cut it short): complete
  // (count it), redundant (every CPU asleep), or in another worker's share.
  Fate finish(bool stopped);

 private:
  struct Dep {  // what a step touches, for conflicts
    ObjId obj = kNoObj;
    Op op = Op::Read;
    Access rw = Access::Read;
  };
  struct Node {
    uint64_t enabled = 0, backtrack = 0, done = 0, sleep = 0;
    CpuId chosen = kNoCpu;
    CpuId cont = kNoCpu;    // the CPU that ran the step before, if it can go on
    uint32_t preempts = 0;  // preemptions before this node
    uint32_t branching = 0; // branching nodes above this one
    bool full = false;      // a split node: every CPU is tried
  };
  struct Clock {            // vector clock: per CPU, 1 + the last of its steps before
    uint32_t c[kMaxCpus];
  };
  struct ObjClocks {
    Clock all{}, writes{};
    std::vector<uint32_t> steps;  // steps that touched the object, in order
  };
  struct CpuClocks {
    Clock now{};                  // the CPU's own clock (its last step)
    Clock all{}, writes{};        // of the CPU's runqueue: its steps read it, wake-ups write it
    std::vector<uint32_t> steps, writers;
  };
  class Strat;
  friend class Strat;

  size_t choose(const Sim& sim, std::span<const Candidate> c);
  void account_step(const Sim& sim);  // the step just run: clocks and races
  void race_check(uint32_t k, CpuId p, const Dep& d, uint64_t cpu_writes);
  bool happens_before(uint32_t i, CpuId p) const {
    return cpu_[p].now.c[step_cpu_[i]] > i;
  }
  uint64_t allowed(const Node& n) const;
  uint64_t cpu_state(const Sim& sim, CpuId c) const;
  Dep& next_of(size_t node, CpuId c) { return next_[node * ncpu_ + c]; }
  void reset_execution();

  TreeConfig cfg_;
  uint32_t ncpu_ = 0;
  std::vector<Node> nodes_;
  std::vector<Dep> next_;    // by node and CPU: each enabled CPU's next operation
  size_t branch_ = 0;        // the node this execution branches at (replay below it)
  bool first_ = true;
  // Per execution:
  size_t depth_ = 0;         // steps run so far
  bool blocked_ = false;     // every eligible CPU sleeps: a redundant execution
  uint64_t signature_ = 0;   // hash of the choices at split nodes
  bool owned_known_ = false; // the split nodes are passed: the subtree is this worker's
  std::vector<CpuId> step_cpu_;
  std::vector<Dep> step_dep_;
  std::vector<uint64_t> step_cpu_writes_;  // CPUs whose runqueue the step changed
  std::vector<uint64_t> cpu_sig_;          // each CPU's tasks, before the step
  std::vector<CpuClocks> cpu_;
  std::unordered_map<ObjId, ObjClocks> objs_;
  std::vector<uint32_t> calls_;            // steps that may touch anything (Python calls)
  Clock calls_clock_{}, all_clock_{};
};

}  // namespace pagesim
