// The Python-facing machine: tasks on CPUs over a world, run with a strategy. `Machine`
// runs over the engine's World (scenario-level locks and counters); `KernelMachine`
// (kernel_py.cpp) runs over a Kernel, with kernel entry points as tasks.
#pragma once
#include <pybind11/pybind11.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/schedule.h"
#include "engine/world.h"
#include "explore/explorer.h"
#include "explore/script.h"
#include "py_common.h"

namespace pagesim::kernel {
class Kernel;
}

namespace pagesim::py_glue {

// An operation yielded by a Python task on a scenario-level object.
struct EngineOp {
  enum Kind : uint8_t {
    Lock, Unlock, Trylock, LockBh, UnlockBh, ReadLock, ReadUnlock, WriteLock, WriteUnlock,
    CounterRead, CounterAdd, CounterSet, Delay,
    Check, Bug, Warn,  // properties: ps.check(cond, name, msg), ps.bug(msg), ps.warn(msg)
    Now,               // ps.now(): the task's CPU clock
  };
  Kind kind;
  uint32_t index = 0;    // Check: the interned check name
  int64_t arg = 0;       // Check: the condition
  uint64_t machine = 0;  // the Machine whose lock/counter this is (0: none, e.g. delay)
  std::string message = {};  // Check, Bug, Warn
  std::string repr() const {
    static const char* const names[] = {"lock", "unlock", "trylock", "lock_bh", "unlock_bh",
                                        "read_lock", "read_unlock",
                                        "write_lock", "write_unlock", "read", "add", "set", "delay",
                                        "check", "bug", "warn", "now"};
    return std::string("<pagesim op ") + names[kind] + ">";
  }
};

struct LockHandle {
  uint32_t index;
  LockKind kind;
  std::string name;
  uint64_t machine;
  EngineOp op(EngineOp::Kind k) const {
    const bool rw_op = k == EngineOp::ReadLock || k == EngineOp::ReadUnlock ||
                       k == EngineOp::WriteLock || k == EngineOp::WriteUnlock;
    if (rw_op != (kind == LockKind::RwLock))
      throw UsageError("lock '" + name + "' does not support this operation (" +
                       (kind == LockKind::RwLock ? "use read_lock/write_lock" : "not an rwlock") +
                       ")");
    if (k == EngineOp::Trylock && kind == LockKind::RwLock)
      throw UsageError("rwlock '" + name + "' has no trylock");
    if ((k == EngineOp::LockBh || k == EngineOp::UnlockBh) && kind != LockKind::Spin)
      throw UsageError("lock '" + name + "' is not a spinlock: lock_bh is spin_lock_bh");
    return {k, index, 0, machine};
  }
};

struct CounterHandle {
  uint32_t index;
  std::string name;
  uint64_t machine;
  EngineOp op(EngineOp::Kind k, int64_t arg = 0) const { return {k, index, arg, machine}; }
};


// Runs an engine operation (lock, counter, delay) yielded by a Python task.
py::object execute_engine_op(World& w, uint64_t machine, const EngineOp& op);
std::unique_ptr<Strategy> make_strategy(const std::string& name, uint64_t seed);
Schedule to_schedule(py::handle s);

// A read-only view of a Kernel world (the initial one, or a run's final state).
struct KernelView {
  std::shared_ptr<kernel::Kernel> k;
};

struct PyRun {
  RunResult r;
  std::map<std::string, std::string> meta;
  std::shared_ptr<World> world;             // the run's final state, for labels in traces
  std::shared_ptr<kernel::Kernel> kernel;   // the same world, when it is a Kernel
  std::vector<ScriptStepStatus> script = {};  // how far each script step got
};

struct TaskSpec {
  CpuId cpu;
  std::string name;
  py::object factory;                // a Python generator function, or None
  py::tuple args;
  const void* entry = nullptr;       // a kernel entry point (KernelMachine)
  std::vector<int64_t> entry_args;
  bool softirq = false;              // a softirq context (SimConfig::softirq)
};

class Machine {
 public:
  Machine(uint32_t cpus, std::optional<Nanos> window, uint64_t max_steps, bool trace,
          bool panic_on_oops, bool debug_atomic_sleep, bool preempt = false,
          bool softirq = false);
  virtual ~Machine() = default;

  LockHandle add_lock(const std::string& name, LockKind k);
  CounterHandle counter(const std::string& name, int64_t v);
  // Returns the lane a script names the task by: its CPU, or with preempt its own lane
  // (the task's place among the spawned ones, which run_tasks spawns first).
  CpuId spawn(long cpu, py::object task, py::args args, std::optional<std::string> name,
              bool softirq = false);
  CpuId lane_of_last() const { return cfg_.lanes() ? CpuId(tasks_.size() - 1) : tasks_.back().cpu; }
  // schedule: replay a recorded Schedule; script: a list of (cpu, until, function, obj,
  // count) steps, until in "done", "before", "after", "steps" (see explore/script.h).
  // errors_as_outcomes: a Python exception in a task or check is an outcome, not raised.
  // stop_at_end: a replayed schedule ends the run where it ends.
  PyRun run(const std::string& strategy, uint64_t seed, py::object schedule, py::object script,
            bool errors_as_outcomes, bool stop_at_end);
  // Runs many executions from the initial state (explore/explorer.h): this worker's share,
  // with the first failure minimised when `minimise` (do it after merging workers);
  // `iterative`: dfs and dpor search bounds 0, 1, ... up to `preemption_bound`.
  ExploreResult explore(const std::string& strategy, uint64_t executions, double seconds,
                        uint64_t seed, uint32_t preemption_bound, uint32_t pct_depth,
                        uint32_t worker, uint32_t workers, py::object progress, bool minimise,
                        bool iterative);
  // Shrinks a schedule that shows outcome `key` (explore/minimise.h).
  Minimised minimise(const std::string& key, const std::vector<CpuId>& schedule);
  uint32_t cpus() const { return cfg_.cpus; }
  bool preempt() const { return cfg_.preempt; }
  bool softirq() const { return cfg_.softirq; }

 protected:
  // Explorations in progress (another Python thread runs while one holds no GIL): the
  // initial state they copy from must not change under them.
  struct Exploring {
    explicit Exploring(Machine& m) : m(m) { ++m.exploring_; }
    ~Exploring() { --m.exploring_; }
    Exploring(const Exploring&) = delete;
    Exploring& operator=(const Exploring&) = delete;
    Machine& m;
  };
  // Set-up changes the initial state: refused while an exploration reads it.
  void check_idle(const char* what) const;
  // Whether a run executes Python code (tasks, checks): then it needs the GIL.
  virtual bool has_python() const;

  // One run with the given strategy, on a fresh copy of the initial world.
  PyRun execute(std::unique_ptr<Strategy> strat, std::map<std::string, std::string> meta,
                const SimConfig& cfg);
  // Spawns the tasks on `sim`, whose world `world` is in its initial state, and runs them.
  RunResult run_tasks(Sim& sim, World& world);
  // An executor for exploration: runs without traces, reusing one world and one Sim.
  Executor explorer_executor();
  CpuId check_cpu(long cpu) const;
  // A task may be spawned now, on `cpu`, as a softirq if the machine allows them: its CPU.
  CpuId check_spawn(long cpu, bool softirq) const;
  virtual World& world() { return world_; }
  // A fresh copy of the initial world for one run.
  virtual std::shared_ptr<World> fresh_world() { return std::make_shared<World>(world_); }
  virtual void reset_world(World& w) { w = world_; }
  // An operation a Python task yielded.
  virtual py::object execute_op(World& w, py::handle op);
  // A task that is not a Python generator (a kernel entry point).
  virtual std::function<void()> native_body(const TaskSpec&, World&) {
    throw UsageError("spawn: task must be a generator function");
  }
  // Before the run (hooks, daemons) and after it (attach the final state).
  virtual void prepare(Sim&, World&) {}
  virtual void finish(PyRun&) {}

  SimConfig cfg_;
  World world_;
  std::deque<TaskSpec> tasks_;
  uint32_t exploring_ = 0;  // changed and read with the GIL held  // a deque: a spec never moves (native bodies refer to it)
  uint64_t uid_ = next_uid();
  static uint64_t next_uid() {
    static uint64_t n = 0;
    return ++n;
  }
};

}  // namespace pagesim::py_glue
