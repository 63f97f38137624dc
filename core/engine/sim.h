// The simulation engine: CPUs with clocks, tasks as stackful fibers, the scheduler
// loop that lets the strategy pick which CPU performs its next visible operation.
#pragma once
#include <array>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/context/fiber.hpp>

#include "engine/frames.h"
#include "engine/outcome.h"
#include "engine/strategy.h"
#include "engine/trace.h"
#include "engine/intern.h"
#include "engine/model_function.h"
#include "engine/types.h"

namespace pagesim {

class World;
class Sim;

namespace detail {
// initial-exec: the scheduling point reads this on every step; the default TLS model of a
// shared library would call __tls_get_addr each time. constinit: no dynamic initialisation,
// so a read is a plain TLS load, not a call through its TLS wrapper (whose address check
// UBSan builds on the flags of an initial-exec `add` that the linker turns into a `lea` in
// an executable: a false "load of null pointer" in every C++ test of the sanitizer build).
extern thread_local constinit Sim* current_sim __attribute__((tls_model("initial-exec")));
}  // namespace detail

// Errors from misuse (bad input, stale schedule): they reach Python as exceptions.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct StaleSchedule : UsageError {
  using UsageError::UsageError;
};

// Simulated nanoseconds per operation kind.
struct CostModel {
  std::array<Nanos, kOpCount> ns{};
  static CostModel defaults();
};

struct SimConfig {
  uint32_t cpus = 2;
  Nanos window = ~Nanos(0);     // timing window; 0 = strict DES, ~0 = free interleaving
  uint64_t max_steps = 1'000'000;
  bool trace = true;            // record per-step records (the hash is always kept)
  bool task_names = true;       // fill RunResult::task_names (exploration reads none)
  bool panic_on_oops = false;   // an oops ends the run instead of just its task
  // CONFIG_DEBUG_ATOMIC_SLEEP: sleeping with a spinlock held reports
  // "BUG: sleeping function called from invalid context".
  bool debug_atomic_sleep = false;
  // CONFIG_PREEMPT: a task can be preempted by another task of its CPU wherever it holds
  // no spinlock (preempt count 0): at every scheduling point, and in a busy-wait that
  // keeps preemption on. Each task is then a lane of its own: schedules, strategies and
  // exploration choose lanes, and at most one lane of a CPU holds it at a time. A
  // preempted task may be pulled by an idle CPU; no other task leaves its CPU.
  bool preempt = false;
  // Softirq contexts may be spawned (Sim::spawn's softirq): each task is then a lane, as
  // with preempt. A softirq interrupts its CPU's task at any scheduling point where that
  // task has bottom halves enabled (not inside spin_lock_bh or local_bh_disable), and
  // runs to its end before the task goes on; it cannot sleep. Without preempt, tasks of
  // one CPU still do not preempt each other.
  bool softirq = false;
  // Each task a lane of its own (preempt or softirq).
  bool lanes() const { return preempt || softirq; }
  // An error raised by a task's own code (a Python exception) or an end-of-run check
  // becomes an outcome (OutcomeKind::Exception) instead of ending the run with it.
  bool errors_as_outcomes = false;
  CostModel costs = CostModel::defaults();
  // The lines of the kernel tree the preset follows, by BUG/WARN site (set by the kernel
  // layer; a report names them): "kernel BUG at mm/zsmalloc.c:1946!".
  const SourceLines* bug_lines = nullptr;
};

enum class TaskState : uint8_t { New, Ready, Running, Sleeping, Spinning, Done, Dead };

// What a blocked task waits on, for wake-ups and for deadlock reports.
// The wait label of a bit spinlock: a lock lockdep has no map for.
inline constexpr char kBitSpinlock[] = "bit spinlock";

struct WaitInfo {
  ObjId obj = kNoObj;
  const char* what = "";      // "page lock", "spinlock", "mutex", "work" ...
  bool spinning = false;      // spins in place (keeps its CPU) rather than sleeping
  bool idle = false;          // a worker waiting for work: not a deadlock by itself
  bool preemptible = false;   // a busy-wait with preemption on (a loop on a trylock)
  bool condition = false;     // waits for state other tasks change, not for a lock holder
};

struct Task {
  // Hot fields first: a step reads these.
  TaskId id = kNoTask;
  CpuId cpu = 0;              // its lane: the CPU, or with SimConfig::preempt its own lane
  CpuId phys = 0;             // the CPU it runs on (traces and reports name this one)
  bool preempted = false;     // preempt: lost its CPU while runnable (an idle CPU may pull it)
  TaskState state = TaskState::New;
  bool in_python = false;     // a Python frame is live: no scheduling point allowed
  bool started = false;
  bool daemon = false;        // a worker: the run may end while it waits idle
  bool idle_wait = false;     // waits in Sim::wait_idle(), which returns false at the end
  OpDesc pending;             // the operation it performs next when chosen
  FrameStack frames;          // model functions, outermost first (simulated stack)
  boost::context::fiber fiber;   // the task while it is suspended
  uint32_t spin_depth = 0;    // spinlocks held (preempt count)
  uint32_t bh_depth = 0;      // local_bh_disable nesting (softirq count)
  uint32_t irq_depth = 0;     // local_irq_save nesting: interrupts off, so no softirq either
  bool softirq = false;       // a softirq context: interrupts its CPU's task, cannot sleep
  uint32_t flags = 0;         // current->flags: the kernel layer's PF_* bits
  void* capture_control = nullptr;  // current->capture_control: the kernel layer's (mm)
  ObjId quiet_lock = kNoObj;  // the spinlock it took at step quiet_step (see spin_unlock)
  uint64_t quiet_step = 0;
  Nanos wake_time = 0;        // when it was last woken
  WaitInfo wait;
  std::string name;
  std::function<void()> body;
};

// A CPU, or with SimConfig::preempt a lane: one task's claim on its CPU.
struct Cpu {
  Nanos clock = 0;
  TaskId current = kNoTask;
  std::vector<TaskId> runqueue;  // runnable tasks waiting for this CPU, FIFO (a few)
};

// A lock holder, kept for deadlock reports: who holds it, and where it took it.
struct Holder {
  ObjId obj;
  TaskId task;
  uint32_t func = 0;   // the holder's innermost model function when it took the lock
  uint64_t step = 0;   // the step it took it at
};

struct RunResult {
  std::vector<Outcome> outcomes;  // empty: the run ended ok
  uint64_t steps = 0;
  Nanos clock = 0;                // the latest CPU clock at the end
  uint64_t trace_hash = 0;
  std::vector<CpuId> schedule;    // the CPU chosen at every step
  std::vector<TraceRecord> trace;
  std::vector<CounterSample> counters;  // when tracing
  std::vector<WakeRecord> wakes;        // when tracing
  std::vector<std::string> task_names;  // by TaskId (when SimConfig::task_names)
  bool stopped = false;           // the strategy ended the run early (Strategy::kStop)
  std::vector<std::string> checks;  // property checks evaluated, each once, in order
  bool ok() const;
};

class Sim {
 public:
  Sim(SimConfig cfg, World* world, std::unique_ptr<Strategy> strategy);
  ~Sim();
  Sim(const Sim&) = delete;
  Sim& operator=(const Sim&) = delete;

  // Ends the last run (end_run) and prepares another from scratch on `world` with
  // `strategy`, as a new Sim with the same config would, but keeping the memory: tasks,
  // stacks and vectors. An exploration runs one Sim many times.
  void reset(World* world, std::unique_ptr<Strategy> strategy);
  // Ends the last run as destroying the Sim would: the tasks it left unfinished end
  // (idle workers return from wait_idle(), the others unwind; their frames must not
  // touch the run any more), then the strategy and the checks are released. An owner
  // that reuses the Sim calls it where the Sim would have been destroyed, before the
  // world changes.
  void end_run();

  TaskId spawn(CpuId cpu, std::string_view name, std::function<void()> body,
               bool daemon = false, bool softirq = false);
  // Called after every step (per-step invariant checks); may add outcomes.
  void set_step_check(std::function<void(Sim&)> f) { step_check_ = std::move(f); }
  // Called once at the end of a run in which every task finished (no deadlock, no task
  // killed, no step limit): teardown checks such as leaks. May add outcomes.
  void set_teardown(std::function<void(Sim&)> f) { teardown_ = std::move(f); }
  // Runs to the end: every task done (workers idle), deadlock, step limit or panic.
  // A C++ or Python exception escaping a task (misuse) is rethrown here.
  RunResult run();

  // ---- the running simulation, as seen from model code ----
  // nullptr outside a run (set-up code runs directly)
  static Sim* current() { return detail::current_sim; }
  Task* current_task() { return running_; }
  // The task a running softirq interrupted (it runs on that task's stack: the kernel's
  // `current`), or nullptr.
  Task* interrupted_task();
  World* world() { return world_; }
  const SimConfig& config() const { return cfg_; }
  uint64_t steps() const { return steps_; }
  Nanos now() const;      // the clock of the CPU running the current task
  const Task& task(TaskId id) const { return *tasks_[id]; }
  size_t task_count() const { return tasks_.size(); }
  const Cpu& cpu(CpuId id) const { return cpus_[id]; }
  // What strategies choose among: the CPUs, or with preempt the lanes (one per task).
  uint32_t lanes() const { return uint32_t(cpus_.size()); }
  // With preempt: whether a lane may be chosen now, and whether it holds its CPU.
  bool eligible(CpuId lane) const { return tree_key_[leaves_ + lane] != kNotReady; }
  bool owns_cpu(CpuId lane) const {
    const TaskId t = cpus_[lane].current;
    return t != kNoTask && owner_[tasks_[t]->phys] == lane;
  }

  // A scheduling point: describe the next visible operation and let the strategy
  // decide when it happens. `extra` adds to the op's cost (Delay). Returns when the
  // operation may be performed.
  // `bit`: a bit operation's bit + 1, which traces name.
  void point(Op op, Access rw, ObjId obj, uint32_t line, Nanos extra = 0, uint8_t bit = 0);
  // An operation that happens as part of the task's last step, with no scheduling point
  // of its own: traced (with that step's index), hashed and timed like one. For an
  // operation no other CPU could tell apart from that step (spin_unlock right after
  // spin_lock).
  void follow_on(Op op, Access rw, ObjId obj, uint32_t line);
  // Block the current task until wake(obj). The caller re-checks its condition.
  void block(const WaitInfo& w);
  // A worker waits for work (an idle wait: not a deadlock by itself). Returns false when
  // the run has ended instead: the worker then returns from its thread function, which
  // is cheaper than unwinding its stack.
  bool wait_idle(ObjId obj, const char* what);
  // might_sleep(): with debug_atomic_sleep, taking a sleeping lock while holding a
  // spinlock is reported (whether or not the lock is contended).
  void might_sleep(const char* what, ObjId obj);
  // Wake every task blocked on obj; they retry. `pollers_only`: only the tasks in a
  // polling loop (poll_sleep, poll_resched, poll_spin), not those queued on a lock.
  void wake(ObjId obj, bool pollers_only = false);
  void hold(ObjId obj);       // the current task now holds obj
  // Records a counter's new value when tracing (CounterSample); cheap when not.
  void sample(const char* name, int64_t value) {
    if (cfg_.trace) sample_counter(name, value);
  }
  void release(ObjId obj);
  TaskId holder(ObjId obj) const;
  const Holder* find_holder(ObjId obj) const;  // who holds obj, and where it took it
  bool holds(ObjId obj, TaskId task) const;

  // Frames of the simulated call stack (see ModelFrame). Inline: every model function
  // call passes here.
  void enter(Task& t, uint32_t func) {
    t.frames.push_back(func);
    if (cfg_.trace && !unwinding_) trace_frame(t, func, TraceKind::Enter);
  }
  void exit(Task& t, uint32_t func) {
    if (!t.frames.empty()) t.frames.pop_back();
    if (cfg_.trace && !unwinding_) trace_frame(t, func, TraceKind::Exit);
  }

  // Outcomes raised by model code. bug/oops end the task (or the run with panic).
  void warn(std::string function, std::string message, std::vector<std::string> details = {});
  [[noreturn]] void bug(std::string function, std::string message,
                        std::vector<std::string> details = {});
  // A BUG or WARN at a registered site: its message is the kernel's text of the check.
  [[noreturn]] void bug_at(std::string function, uint32_t site,
                           std::vector<std::string> details = {});
  void warn_at(std::string function, uint32_t site, std::vector<std::string> details = {});
  // Records an outcome of kind `k` for the current task and ends it, as BUG() does.
  [[noreturn]] void end_task(OutcomeKind k, std::string function, std::string message,
                             std::vector<std::string> details = {});
  // A property check named `name` was evaluated (RunResult::checks lists them).
  void note_check(uint32_t name);
  [[noreturn]] void oops(std::string message, std::vector<std::string> details = {});
  // Records an outcome for the current task without ending it (bad_page, a leak found
  // by a check): the kernel prints and goes on.
  void report(OutcomeKind k, std::string function, std::string message,
              std::vector<std::string> details = {});
  void add_outcome(Outcome o);  // run-level outcomes (leak, corruption, invariant)
  // The run's outcomes so far (its RunResult takes them at the end).
  const std::vector<Outcome>& outcomes() const { return outcomes_; }

 private:
  static constexpr uint64_t kNotReady = ~uint64_t(0);  // the key of an idle subtree
  CpuId choose_cpu();  // kNoCpu: a stale replay (error_ is set)
  RunResult finish_run();
  void end_tasks();  // see end_run()
  bool completed() const;  // every task finished: no deadlock, kill or step limit
  void set_key(CpuId c, uint64_t key);
  void fit_tree();
  void make_ready(CpuId c);
  void unready(CpuId c);
  // ---- preempt: lanes and the CPU each runs on ----
  CpuId add_lane(CpuId phys);
  void take_cpu(CpuId lane);   // the chosen lane runs on its CPU, preempting its owner
  void place_lanes();          // which lanes may be chosen now
  CpuId idle_cpu() const;
  bool preemptible(CpuId lane) const;
  bool interruptible(CpuId lane) const;
  std::span<const Candidate> collect_candidates();
  // Suspends the running context into `self` and resumes `to`.
  void jump(boost::context::fiber& self, boost::context::fiber& to);
  Task* switch_to(Task& t);          // scheduler -> task; returns the task that switched back
  void switch_out(Task& t);          // task -> scheduler
  void returned_atomic(const Task& t);  // a task returned: __schedule_bug if it is atomic
  bool step_here(Task& t);           // the scheduler's next choice, made by a task
  void settle(Task& t);              // after a task switched back: place its CPU
  void next_on_cpu(CpuId c);
  void add_choice(CpuId c);          // records the CPU chosen for this step
  void grow_schedule();
  void advance_pending();
  void record_step(Task& t, uint64_t step, Nanos cost);
  void report_deadlock();
  void trace_frame(const Task& t, uint32_t func, TraceKind kind);
  void sample_counter(const char* name, int64_t value);
  void locking_scenario(std::vector<std::string>& out) const;
  Outcome make_outcome(OutcomeKind k, std::string function, std::string message,
                       std::vector<std::string> details) const;
  Outcome site_outcome(OutcomeKind k, std::string function, uint32_t site,
                       std::vector<std::string> details) const;
  [[noreturn]] void kill_current();

  SimConfig cfg_;
  World* world_;
  std::unique_ptr<Strategy> strategy_;
  // A context (the scheduler or a task) that resumes another leaves its continuation in
  // the fiber that from_ points to: tasks switch to each other directly, not only through
  // the scheduler.
  boost::context::fiber sched_;      // the scheduler while tasks run
  boost::context::fiber* from_ = nullptr;
  std::vector<std::unique_ptr<Task>> tasks_;  // by TaskId; a Task never moves
  std::vector<std::unique_ptr<Task>> spare_;  // ended Tasks, for spawn() to reuse
  std::vector<Cpu> cpus_;            // by lane (the CPUs themselves without preempt)
  std::vector<CpuId> owner_;         // preempt: the lane running on each CPU, or kNoCpu
  std::vector<Nanos> phys_clock_;    // preempt: each CPU's clock when its owner last changed
  std::vector<std::vector<CpuId>> lanes_of_;  // preempt: each CPU's lanes
  std::vector<CpuId> interrupted_;   // softirq: the lane a running softirq interrupted
  // Ready CPUs: a tournament tree, CPU c at leaf leaves_ + c, the root at 1, each inner
  // node the earliest (key, cpu) of its subtree. Keys are clock << 16 | tie-break.
  std::vector<uint64_t> tree_key_;
  std::vector<CpuId> tree_cpu_;
  size_t leaves_ = 1;               // a power of two >= cpus
  uint32_t ready_ = 0;              // ready CPUs
  std::vector<Candidate> cands_;    // one per CPU; collect_candidates() fills a prefix
  std::vector<TaskId> to_advance_;
  std::vector<std::pair<ObjId, TaskId>> waiters_;
  std::vector<Holder> holders_;
  std::vector<Outcome> outcomes_;
  std::vector<uint32_t> checks_;  // interned names of the property checks evaluated
  std::vector<CpuId> schedule_;      // the first chosen_ entries are the choices so far
  size_t chosen_ = 0;
  std::vector<TraceRecord> trace_;
  std::vector<CounterSample> counters_;
  std::vector<WakeRecord> wakes_;
  TraceHash hash_;
  Task* running_ = nullptr;
  Task* stepping_ = nullptr;  // the task chosen for the current step
  uint64_t steps_ = 0;
  bool stop_ = false;
  bool stopped_ = false;  // by the strategy
  bool in_run_ = false;
  bool unwinding_ = false;
  std::exception_ptr error_;
  std::function<void(Sim&)> step_check_;
  std::function<void(Sim&)> teardown_;
  ReplayStrategy* replay_ = nullptr;  // set when the strategy is a replay
  bool earliest_first_ = false;       // the strategy is the tree's order (timed)
  bool sees_every_step_ = false;      // the strategy is asked at forced steps too
  bool no_step_here_ = false;         // every step goes through the scheduler loop
  uint64_t tie_ = 1;                  // tie-break keys for earliest-first strategies
};

// The current line, for scheduling-point descriptors.
inline uint32_t here(const std::source_location& l = std::source_location::current()) {
  return l.line();
}

// RAII frame of the simulated call stack: MODEL_FUNC("zs_free") at the top of a model
// function names it in descriptors, traces, backtraces and breakpoints. The name must be
// a literal.
class ModelFrame {
 public:
  explicit ModelFrame(uint32_t func) : func_(func), sim_(Sim::current()) {
    if (sim_ && (task_ = sim_->current_task())) sim_->enter(*task_, func_);
  }
  ~ModelFrame() {
    if (task_) sim_->exit(*task_, func_);
  }
  ModelFrame(const ModelFrame&) = delete;
  ModelFrame& operator=(const ModelFrame&) = delete;

 private:
  uint32_t func_;
  Sim* sim_;
  Task* task_ = nullptr;
};

// Kernel-style reports from model code. Inside a run they become outcomes; in set-up
// code (no task) they raise SetupFault, which reaches Python as an exception.
struct SetupFault : UsageError {
  using UsageError::UsageError;
};
void WARN(const char* function, std::string message, std::vector<std::string> details = {});
// Data read back that is not what was written: kind Corruption (set-up: "data corruption: ").
void REPORT_CORRUPTION(const char* function, std::string message);
// A kernel report that does not stop the task ("BUG: Bad page state"): kind Bug.
void REPORT_BUG(const char* function, std::string message, std::vector<std::string> details = {});
[[noreturn]] void BUG(const char* function, std::string message,
                      std::vector<std::string> details = {});
// At a registered site (BUG_SITE): the report names the kernel's line and text.
void WARN(const char* function, uint32_t site, std::vector<std::string> details = {});
[[noreturn]] void BUG(const char* function, uint32_t site, std::vector<std::string> details = {});
[[noreturn]] void OOPS(std::string message, std::vector<std::string> details = {});

}  // namespace pagesim

#define PAGESIM_CAT2(a, b) a##b
#define PAGESIM_CAT(a, b) PAGESIM_CAT2(a, b)
// The name is registered when the library loads (engine/model_function.h).
#define MODEL_FUNC(name)                                                       \
  ::pagesim::ModelFrame PAGESIM_CAT(_model_frame_, __LINE__)(                  \
      ::pagesim::detail::ModelFunctionId<name, __FILE__>::id)
