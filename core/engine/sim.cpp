#include "engine/sim.h"

#include <algorithm>

#include "engine/fiber_stack.h"
#include "engine/intern.h"
#include "engine/objclass.h"
#include "engine/world.h"

namespace pagesim {

namespace detail {
thread_local constinit Sim* current_sim __attribute__((tls_model("initial-exec"))) = nullptr;
}  // namespace detail

namespace {

// Thrown inside a task's fiber to end it (BUG, oops); caught at the fiber's entry.
struct TaskExit {};

Nanos sat_add(Nanos a, Nanos b) { return a > ~Nanos(0) - b ? ~Nanos(0) : a + b; }

}  // namespace

CostModel CostModel::defaults() {
  CostModel m;
  auto set = [&](Op op, Nanos ns) { m.ns[size_t(op)] = ns; };
  set(Op::Read, 1);
  set(Op::Write, 1);
  set(Op::AtomicRead, 1);
  set(Op::AtomicRmw, 20);
  set(Op::BitTest, 1);
  set(Op::BitSet, 20);
  set(Op::BitClear, 20);
  set(Op::TestAndSet, 20);
  set(Op::SpinLock, 20);
  set(Op::SpinUnlock, 5);
  set(Op::SpinTrylock, 20);
  set(Op::Lock, 25);
  set(Op::Unlock, 10);
  set(Op::Trylock, 20);
  set(Op::ReadLock, 20);
  set(Op::ReadUnlock, 10);
  set(Op::WriteLock, 20);
  set(Op::WriteUnlock, 10);
  set(Op::ListAdd, 5);
  set(Op::ListDel, 5);
  set(Op::QueueWork, 50);
  set(Op::FlushWork, 50);
  set(Op::Delay, 0);
  set(Op::Call, 0);
  return m;
}

const char* op_name(Op op) {
  static const char* const names[] = {
      "read",       "write",       "atomic_read", "atomic_rmw",   "bit_test",
      "bit_set",    "bit_clear",   "test_and_set", "spin_lock",   "spin_unlock",
      "spin_trylock", "lock",      "unlock",      "trylock",      "read_lock",
      "read_unlock", "write_lock", "write_unlock", "list_add",    "list_del",
      "queue_work", "flush_work",  "delay",       "call"};
  static_assert(sizeof(names) / sizeof(names[0]) == kOpCount);
  return names[size_t(op)];
}

bool RunResult::ok() const { return outcomes.empty(); }

Sim::Sim(SimConfig cfg, World* world, std::unique_ptr<Strategy> strategy)
    : cfg_(std::move(cfg)) {
  if (cfg_.cpus == 0 || cfg_.cpus > 256) throw UsageError("cpus must be between 1 and 256");
  if (!cfg_.lanes()) cpus_.resize(cfg_.cpus);  // with lanes, spawn() adds them
  fit_tree();
  reset(world, std::move(strategy));
}

Sim::~Sim() { end_run(); }

void Sim::reset(World* world, std::unique_ptr<Strategy> strategy) {
  if (!strategy) throw UsageError("no strategy");
  if (in_run_) throw UsageError("a Sim cannot be reset while it runs");
  end_run();
  world_ = world;
  strategy_ = std::move(strategy);
  replay_ = dynamic_cast<ReplayStrategy*>(strategy_.get());
  earliest_first_ = strategy_->earliest_first();
  sees_every_step_ = strategy_->sees_every_step();
  no_step_here_ = replay_ || sees_every_step_ || cfg_.lanes();
  tie_ = strategy_->tie_seed() | 1;
  if (cfg_.lanes()) {
    cpus_.clear();
    owner_.assign(cfg_.cpus, kNoCpu);
    interrupted_.assign(cfg_.cpus, kNoCpu);
    phys_clock_.assign(cfg_.cpus, 0);
    lanes_of_.resize(cfg_.cpus);
    for (auto& l : lanes_of_) l.clear();
  }
  for (Cpu& c : cpus_) {
    c.clock = 0;
    c.current = kNoTask;
    c.runqueue.clear();
  }
  std::fill(tree_key_.begin(), tree_key_.end(), kNotReady);
  std::fill(tree_cpu_.begin(), tree_cpu_.end(), CpuId(0));
  for (size_t i = 0; i < leaves_; ++i) tree_cpu_[leaves_ + i] = CpuId(i);
  ready_ = 0;
  to_advance_.clear();
  waiters_.clear();
  holders_.clear();
  outcomes_.clear();
  checks_.clear();
  schedule_.clear();
  chosen_ = 0;
  trace_.clear();
  counters_.clear();
  wakes_.clear();
  hash_ = TraceHash();
  from_ = nullptr;
  running_ = stepping_ = nullptr;
  steps_ = 0;
  stop_ = stopped_ = false;
  error_ = nullptr;
}

namespace {
// A Task as spawn() finds a new one, keeping the memory of its name.
void recycle(Task& t) {
  std::string name = std::move(t.name);
  t = Task();
  t.name = std::move(name);
  t.name.clear();
}
}  // namespace

void Sim::end_run() {
  end_tasks();
  teardown_ = nullptr;
  step_check_ = nullptr;
  strategy_.reset();
  replay_ = nullptr;
}

void Sim::end_tasks() {
  if (tasks_.empty()) return;
  unwinding_ = true;
  Sim* prev = detail::current_sim;
  detail::current_sim = this;
  for (const auto& t : tasks_)
    if (t->idle_wait) switch_to(*t);
  // In TaskId order; each task's stack unwinds before its body (and what the body
  // captured) is destroyed.
  for (auto& t : tasks_) {
    t->fiber = boost::context::fiber();
    recycle(*t);
  }
  while (!tasks_.empty()) {  // the last spare is reused first: task 0 gets its old Task
    spare_.push_back(std::move(tasks_.back()));
    tasks_.pop_back();
  }
  detail::current_sim = prev;
  unwinding_ = false;
}

Nanos Sim::now() const { return running_ ? cpus_[running_->cpu].clock : 0; }

TaskId Sim::spawn(CpuId cpu, std::string_view name, std::function<void()> body, bool daemon,
                  bool softirq) {
  if (cpu >= cfg_.cpus)
    throw UsageError("spawn: cpu " + std::to_string(cpu) + " out of range (machine has " +
                     std::to_string(cfg_.cpus) + " CPUs)");
  if (softirq && !cfg_.softirq)
    throw UsageError("spawn: a softirq context needs softirq=True on the machine or scenario");
  if (tasks_.size() >= kNoTask - 1) throw UsageError("spawn: too many tasks");
  if (spare_.empty()) {
    tasks_.push_back(std::make_unique<Task>());
  } else {
    tasks_.push_back(std::move(spare_.back()));
    spare_.pop_back();
  }
  Task& t = *tasks_.back();
  t.id = TaskId(tasks_.size() - 1);
  t.cpu = cfg_.lanes() ? add_lane(cpu) : cpu;
  t.phys = cpu;
  t.name.assign(name);
  t.daemon = daemon;
  t.softirq = softirq;
  t.body = std::move(body);
  t.wake_time = now();
  cpus_[t.cpu].runqueue.push_back(t.id);
  next_on_cpu(t.cpu);
  return t.id;
}

// ---- ready CPUs: a tournament tree by (clock, tie-break) ----

namespace {
// Key: the clock above a 16-bit tie-break (the CPU, or a seeded random value for
// earliest-first strategies). Clocks past 2^48 ns (78 simulated hours) saturate.
inline uint64_t ready_key(Nanos clock, uint16_t tie) {
  constexpr Nanos kMax = (Nanos(1) << 48) - 1;
  return (std::min(clock, kMax) << 16) | tie;
}
inline Nanos key_clock(uint64_t key) { return key >> 16; }
}  // namespace

// Replays the matches from CPU c's leaf to the root, carrying the winner: one load of a
// sibling (which did not change) and a branch-free select per level. On equal keys the
// carried node stays ahead: a fixed rule, so runs stay reproducible.
inline void Sim::set_key(CpuId c, uint64_t key) {
  uint64_t* const k = tree_key_.data();
  CpuId* const cpu = tree_cpu_.data();
  size_t i = leaves_ + c;
  uint64_t wkey = key;
  uint64_t wcpu = c;
  k[i] = key;
  for (; i > 1; i >>= 1) {
    const uint64_t mask = -uint64_t(k[i ^ 1] < wkey);
    wkey ^= (wkey ^ k[i ^ 1]) & mask;
    wcpu ^= (wcpu ^ cpu[i ^ 1]) & mask;
    k[i >> 1] = wkey;
    cpu[i >> 1] = CpuId(wcpu);
  }
}

inline void Sim::make_ready(CpuId c) {
  uint16_t tie = c;
  if (earliest_first_) {  // xorshift64, seeded by the strategy
    tie_ ^= tie_ << 13;
    tie_ ^= tie_ >> 7;
    tie_ ^= tie_ << 17;
    tie = uint16_t(tie_ >> 48);
  }
  ready_ += tree_key_[leaves_ + c] == kNotReady;
  set_key(c, ready_key(cpus_[c].clock, tie));
}

void Sim::unready(CpuId c) {
  if (tree_key_[leaves_ + c] == kNotReady) return;
  --ready_;
  set_key(c, kNotReady);
}

// Sizes the tree for every CPU (lane), keeping the keys of those that are ready.
void Sim::fit_tree() {
  if (cands_.size() < cpus_.size()) cands_.resize(cpus_.size());
  size_t leaves = 1;
  while (leaves < cpus_.size()) leaves *= 2;
  if (leaves <= leaves_ && !tree_key_.empty()) return;
  std::vector<uint64_t> keys(cpus_.size(), kNotReady);
  for (size_t c = 0; c < cpus_.size() && c < leaves_ && !tree_key_.empty(); ++c)
    keys[c] = tree_key_[leaves_ + c];
  leaves_ = leaves;
  tree_key_.assign(2 * leaves_, kNotReady);
  tree_cpu_.assign(2 * leaves_, CpuId(0));
  for (size_t i = 0; i < leaves_; ++i) tree_cpu_[leaves_ + i] = CpuId(i);
  for (size_t c = 0; c < keys.size(); ++c)
    if (keys[c] != kNotReady) set_key(CpuId(c), keys[c]);
}

// ---- preempt: each task a lane; a CPU runs one of its lanes at a time ----

CpuId Sim::add_lane(CpuId p) {
  if (cpus_.size() >= kNoCpu - 1) throw UsageError("spawn: too many tasks");
  const CpuId lane = CpuId(cpus_.size());
  cpus_.emplace_back();
  cpus_.back().clock = phys_clock_[p];
  lanes_of_[p].push_back(lane);
  fit_tree();
  return lane;
}

// With CONFIG_PREEMPT, a task that holds no spinlock can be preempted where it stopped,
// or in a busy-wait that keeps preemption on. A softirq runs to its end.
bool Sim::preemptible(CpuId lane) const {
  const Task& t = *tasks_[cpus_[lane].current];
  if (!cfg_.preempt || t.softirq || t.spin_depth) return false;
  return t.state == TaskState::Ready || (t.state == TaskState::Spinning && t.wait.preemptible);
}

// A softirq can interrupt a task wherever it has bottom halves and interrupts enabled: at
// a scheduling point, or spinning in spin_lock (which leaves them enabled), spinlock held
// or not.
bool Sim::interruptible(CpuId lane) const {
  const Task& t = *tasks_[cpus_[lane].current];
  if (t.softirq || t.bh_depth || t.irq_depth) return false;
  return t.state == TaskState::Ready || t.state == TaskState::Spinning;
}

Task* Sim::interrupted_task() {
  if (!running_ || !running_->softirq) return nullptr;
  const CpuId lane = interrupted_[running_->phys];
  if (lane == kNoCpu || cpus_[lane].current == kNoTask) return nullptr;
  return tasks_[cpus_[lane].current].get();
}

// A CPU with no owner and nothing ready to run on it: it would pull a preempted task.
CpuId Sim::idle_cpu() const {
  for (CpuId q = 0; q < owner_.size(); ++q) {
    if (owner_[q] != kNoCpu) continue;
    const bool busy = std::any_of(lanes_of_[q].begin(), lanes_of_[q].end(), [&](CpuId l) {
      const TaskId t = cpus_[l].current;
      return t != kNoTask && tasks_[t]->state == TaskState::Ready;
    });
    if (!busy) return q;
  }
  return kNoCpu;
}

// The chosen lane runs: on its CPU, preempting the owner there, or, a preempted task whose
// CPU is held, on an idle CPU that pulls it (idle balancing).
void Sim::take_cpu(CpuId lane) {
  Task& t = *tasks_[cpus_[lane].current];
  CpuId p = t.phys;
  if (owner_[p] == lane) return;
  if (t.softirq && owner_[p] != kNoCpu) {  // interrupts the owner, which stays on its CPU
    phys_clock_[p] = std::max(phys_clock_[p], cpus_[owner_[p]].clock);
    interrupted_[p] = owner_[p];
    owner_[p] = lane;
    cpus_[lane].clock = std::max(cpus_[lane].clock, phys_clock_[p]);
    return;
  }
  if (owner_[p] != kNoCpu && !preemptible(owner_[p])) {
    const CpuId q = idle_cpu();
    auto& from = lanes_of_[p];
    from.erase(std::find(from.begin(), from.end(), lane));
    lanes_of_[q].push_back(lane);
    t.phys = p = q;
  }
  CpuId& o = owner_[p];
  if (o != kNoCpu) {  // preempted
    phys_clock_[p] = std::max(phys_clock_[p], cpus_[o].clock);
    tasks_[cpus_[o].current]->preempted = true;
  }
  o = lane;
  t.preempted = false;
  cpus_[lane].clock = std::max(cpus_[lane].clock, phys_clock_[p]);
}

// A lane may be chosen when its task waits at a scheduling point and its CPU is its own,
// free, or held by a lane that can be preempted; or, preempted, when a CPU is idle.
void Sim::place_lanes() {
  for (CpuId p = 0; p < owner_.size(); ++p) {
    CpuId& o = owner_[p];
    if (o != kNoCpu && cpus_[o].current == kNoTask) {  // the owner slept or ended
      phys_clock_[p] = std::max(phys_clock_[p], cpus_[o].clock);
      // A softirq ended: the task it interrupted has its CPU back.
      const CpuId back = interrupted_[p];
      o = back != kNoCpu && cpus_[back].current != kNoTask ? back : kNoCpu;
      interrupted_[p] = kNoCpu;
    }
  }
  const bool spare = idle_cpu() != kNoCpu;
  for (CpuId p = 0; p < owner_.size(); ++p) {
    const CpuId o = owner_[p];
    const bool open = o == kNoCpu || preemptible(o);
    const bool irq = o == kNoCpu || interruptible(o);
    for (CpuId l : lanes_of_[p]) {
      const TaskId id = cpus_[l].current;
      const Task* t = id != kNoTask ? tasks_[id].get() : nullptr;
      const bool want = t && t->state == TaskState::Ready &&
                        (l == o || (t->softirq ? irq : open) || (spare && t->preempted));
      if (want && !eligible(l))
        make_ready(l);
      else if (!want && eligible(l))
        unready(l);
    }
  }
}

// Eligible CPUs, in CPU order: ready, with a clock within the timing window of the
// earliest (there is a ready CPU, so there is a task 0).
std::span<const Candidate> Sim::collect_candidates() {
  // Eligible keys are those below `limit`: not kNotReady, and clock <= bound.
  const Nanos bound = sat_add(key_clock(tree_key_[1]), cfg_.window);
  const uint64_t limit = bound >= key_clock(kNotReady) ? kNotReady : (bound + 1) << 16;
  const uint64_t* const keys = tree_key_.data() + leaves_;
  size_t n = 0;
  for (CpuId c = 0; c < cpus_.size(); ++c) {
    // Written for every CPU and kept for the eligible ones: no branch to mispredict (a
    // CPU that is not eligible may have no task: it reads task 0's, unused).
    const size_t eligible = keys[c] < limit;
    const Cpu& cpu = cpus_[c];
    cands_[n] = {c, cpu.current, cpu.clock, &tasks_[cpu.current & -eligible]->pending};
    n += eligible;
  }
  return {cands_.data(), n};
}

// ---- task switching ----

// Whoever resumes this context later has set from_ to its own slot. Inline: each return
// taken right after a switch is mispredicted (the CPU's return stack holds the other
// context's calls), so the switch stays in its caller's frame.
inline void Sim::jump(boost::context::fiber& self, boost::context::fiber& to) {
  from_ = &self;
  boost::context::fiber back = std::move(to).resume();
  *from_ = std::move(back);
}

Task* Sim::switch_to(Task& t) {
  running_ = &t;
  t.state = TaskState::Running;
  if (!t.started) {
    t.started = true;
    t.fiber = boost::context::fiber(
        std::allocator_arg, FiberStack(&t), [this, &t](boost::context::fiber&& back) {
          *from_ = std::move(back);
          try {
            t.body();
            returned_atomic(t);
            t.state = TaskState::Done;
          } catch (const TaskExit&) {
            t.state = TaskState::Dead;
          } catch (const boost::context::detail::forced_unwind&) {
            throw;
          } catch (...) {
            error_ = std::current_exception();
            t.state = TaskState::Dead;
            stop_ = true;
          }
          from_ = &t.fiber;  // finished: the scheduler finds it empty
          return std::move(sched_);
        });
  }
  jump(sched_, t.fiber);
  Task* back = running_;
  running_ = nullptr;
  return back;
}

void Sim::switch_out(Task& t) { jump(t.fiber, sched_); }

// A task that returns holding a spinlock leaves preempt_count raised: schedule_debug()'s
// __schedule_bug at the process's next schedule (whatever the config). A softirq context
// ends with its own checks.
void Sim::returned_atomic(const Task& t) {
  if (!t.spin_depth || t.softirq) return;
  std::vector<std::string> held;
  for (const Holder& h : holders_)
    if (h.task == t.id) held.push_back("held: " + obj_label(h.obj, world_));
  held.insert(held.begin(), t.name + " returned with preempt_count " + std::to_string(t.spin_depth) +
                                " (a spinlock or preempt_disable not undone)");
  report(OutcomeKind::Bug, "__schedule_bug", "scheduling while atomic", std::move(held));
}

void Sim::next_on_cpu(CpuId c) {
  Cpu& cpu = cpus_[c];
  if (cpu.current != kNoTask || cpu.runqueue.empty()) return;
  Task& t = *tasks_[cpu.runqueue.front()];
  cpu.runqueue.erase(cpu.runqueue.begin());
  cpu.current = t.id;
  cpu.clock = std::max(cpu.clock, t.wake_time);
  to_advance_.push_back(t.id);
}

// Place a task's CPU after the task switched back to the scheduler.
void Sim::settle(Task& t) {
  switch (t.state) {
    case TaskState::Ready:
      make_ready(t.cpu);
      break;
    case TaskState::Spinning:
      unready(t.cpu);
      break;  // it keeps its CPU, burning time until the lock is released
    case TaskState::Sleeping:
    case TaskState::Done:
    case TaskState::Dead:
      unready(t.cpu);
      cpus_[t.cpu].current = kNoTask;
      next_on_cpu(t.cpu);
      break;
    default:
      break;
  }
  if (cfg_.lanes()) place_lanes();
}

// Run new and woken tasks up to their next scheduling point (invisible local work).
void Sim::advance_pending() {
  for (size_t i = 0; i < to_advance_.size() && !stop_; ++i)
    settle(*switch_to(*tasks_[to_advance_[i]]));
  to_advance_.clear();
}

// A push_back that stays inline in the scheduling point (the vector's does not).
[[gnu::always_inline]] inline void Sim::add_choice(CpuId c) {
  if (chosen_ == schedule_.size()) [[unlikely]]
    grow_schedule();
  schedule_[chosen_++] = c;
}

[[gnu::cold, gnu::noinline]] void Sim::grow_schedule() {
  schedule_.resize(std::max<size_t>(256, 2 * chosen_));  // most runs are short: one allocation
}

// The scheduler loop's next iteration, run by the task that finished its step, when all
// it would do is pick a CPU: no task to advance, no per-step check, no stop, no replay
// or script to follow. The task then switches straight to the chosen one, or goes on
// when the choice is forced. Returns when `t` is chosen again; false leaves the step to
// the scheduler.
inline bool Sim::step_here(Task& t) {
  if (!to_advance_.empty() || step_check_ || stop_ || steps_ >= cfg_.max_steps || no_step_here_)
    return false;
  if (ready_ == 1 && tree_cpu_[1] == t.cpu) {
    add_choice(t.cpu);  // no switch and no tree update: its key is refreshed later
    return true;
  }
  make_ready(t.cpu);
  Task& next = *tasks_[cpus_[earliest_first_ ? tree_cpu_[1] : choose_cpu()].current];
  add_choice(next.cpu);
  if (&next != &t) {
    t.state = TaskState::Ready;
    running_ = stepping_ = &next;
    next.state = TaskState::Running;
    jump(t.fiber, next.fiber);
  }
  return true;
}

// Trace, hash and time the task's pending operation as step `step`.
[[gnu::always_inline]] inline void Sim::record_step(Task& t, uint64_t step, Nanos cost) {
  Cpu& c = cpus_[t.cpu];
  if (cfg_.trace)
    trace_.push_back({step, c.clock, t.pending.obj, t.pending.func, t.pending.line, t.id, t.phys,
                      TraceKind::Step, t.pending.op, t.pending.rw, t.pending.bit});
  hash_.add_step(t.cpu, t.id, t.pending);
  c.clock += cost;
}

void Sim::point(Op op, Access rw, ObjId obj, uint32_t line, Nanos extra, uint8_t bit) {
  Task& t = *running_;
  if (t.in_python)
    throw UsageError("a model operation was called directly inside a Python task; yield it "
                     "instead (e.g. `yield lock.lock()`)");
  t.pending = {op, rw, bit, t.frames.top(), line, obj};
  if (stepping_ != &t || !step_here(t)) {
    t.state = TaskState::Ready;
    switch_out(t);
  }
  // Chosen: the operation happens now.
  record_step(t, steps_, cfg_.costs.ns[size_t(op)] + extra);
  ++steps_;
}

// A follow-on operation is part of the step just taken: the same step number, no choice.
void Sim::follow_on(Op op, Access rw, ObjId obj, uint32_t line) {
  Task& t = *running_;
  t.pending = {op, rw, 0, t.frames.top(), line, obj};
  record_step(t, steps_ - 1, cfg_.costs.ns[size_t(op)]);
}

void Sim::block(const WaitInfo& w) {
  Task& t = *running_;
  if (t.softirq && !w.spinning)  // schedule() from a softirq: the kernel's __schedule_bug
    end_task(OutcomeKind::Bug, REPORT_FUNC("__schedule_bug"), "scheduling while atomic",
             {std::string("a softirq context sleeps on ") + w.what + " " + obj_label(w.obj, world_)});

  t.wait = w;
  t.state = w.spinning ? TaskState::Spinning : TaskState::Sleeping;
  waiters_.emplace_back(w.obj, t.id);
  switch_out(t);
  t.wait = {};
}

bool Sim::wait_idle(ObjId obj, const char* what) {
  Task& t = *running_;
  t.idle_wait = true;
  block({obj, what, false, true});
  t.idle_wait = false;
  return !unwinding_;
}

void Sim::might_sleep(const char* what, ObjId obj) {
  if (!cfg_.debug_atomic_sleep || !running_ || (!running_->spin_depth && !running_->softirq))
    return;
  report(OutcomeKind::Bug, "__might_sleep", "sleeping function called from invalid context",
         {"in_atomic(): 1, spinlocks held: " + std::to_string(running_->spin_depth) +
          (running_->softirq ? ", in softirq" : "") + ", taking " + what + " " +
          obj_label(obj, world_)});
}

void Sim::wake(ObjId obj, bool pollers_only) {
  if (waiters_.empty()) return;
  const Nanos t_now = now();
  size_t keep = 0;
  for (size_t i = 0; i < waiters_.size(); ++i) {
    if (waiters_[i].first != obj || (pollers_only && !tasks_[waiters_[i].second]->wait.condition)) {
      waiters_[keep++] = waiters_[i];
      continue;
    }
    Task& w = *tasks_[waiters_[i].second];
    w.wake_time = t_now;
    if (cfg_.trace && running_) wakes_.push_back({steps_, t_now, obj, running_->id, w.id});
    if (w.state == TaskState::Spinning) {
      Cpu& c = cpus_[w.cpu];
      c.clock = std::max(c.clock, t_now);  // it spun until now
      w.state = TaskState::New;
      to_advance_.push_back(w.id);
    } else {
      w.state = TaskState::New;
      cpus_[w.cpu].runqueue.push_back(w.id);
      next_on_cpu(w.cpu);
    }
  }
  waiters_.resize(keep);
}

void Sim::hold(ObjId obj) {
  if (!running_) {
    holders_.push_back({obj, kNoTask});
    return;
  }
  // The step that took it was the last one taken (a trace's step index).
  holders_.push_back({obj, running_->id, running_->frames.top(), steps_ ? steps_ - 1 : 0});
}

void Sim::release(ObjId obj) {
  for (size_t i = holders_.size(); i-- > 0;)
    if (holders_[i].obj == obj) {
      holders_.erase(holders_.begin() + ptrdiff_t(i));
      return;
    }
}

bool Sim::holds(ObjId obj, TaskId task) const {
  for (const auto& h : holders_)
    if (h.obj == obj && h.task == task) return true;
  return false;
}

const Holder* Sim::find_holder(ObjId obj) const {
  for (const auto& h : holders_)
    if (h.obj == obj) return &h;
  return nullptr;
}

TaskId Sim::holder(ObjId obj) const {
  const Holder* h = find_holder(obj);
  return h ? h->task : kNoTask;
}

void Sim::sample_counter(const char* name, int64_t value) {
  counters_.push_back({steps_, running_ ? now() : 0, intern(name), value});
}

void Sim::trace_frame(const Task& t, uint32_t func, TraceKind kind) {
  trace_.push_back({steps_, cpus_[t.cpu].clock, kNoObj, func, 0, t.id, t.phys, kind, Op::Call,
                    Access::Read, 0});
}

// ---- outcomes ----

Outcome Sim::make_outcome(OutcomeKind k, std::string function, std::string message,
                          std::vector<std::string> details) const {
  Outcome o;
  o.kind = k;
  o.function = std::move(function);
  o.message = std::move(message);
  o.details = std::move(details);
  o.step = steps_;
  o.time = now();
  if (running_) {
    o.task = running_->id;
    o.cpu = running_->phys;
    o.task_name = running_->name;
    for (auto it = running_->frames.rbegin(); it != running_->frames.rend(); ++it)
      o.backtrace.push_back(interned(*it));
  }
  return o;
}

Outcome Sim::site_outcome(OutcomeKind k, std::string function, uint32_t site,
                          std::vector<std::string> details) const {
  Outcome o = make_outcome(k, std::move(function), bug_site(site).text, std::move(details));
  o.site = site;
  if (cfg_.bug_lines && site < cfg_.bug_lines->size()) o.at = (*cfg_.bug_lines)[site];
  return o;
}

void Sim::bug_at(std::string function, uint32_t site, std::vector<std::string> details) {
  outcomes_.push_back(site_outcome(OutcomeKind::Bug, std::move(function), site, std::move(details)));
  kill_current();
}

void Sim::warn_at(std::string function, uint32_t site, std::vector<std::string> details) {
  outcomes_.push_back(site_outcome(OutcomeKind::Warn, std::move(function), site, std::move(details)));
}

void Sim::add_outcome(Outcome o) {
  if (!o.step) o.step = steps_;
  if (!o.time)
    for (const Cpu& c : cpus_) o.time = std::max(o.time, c.clock);
  outcomes_.push_back(std::move(o));
}

void Sim::warn(std::string function, std::string message, std::vector<std::string> details) {
  report(OutcomeKind::Warn, std::move(function), std::move(message), std::move(details));
}

void Sim::report(OutcomeKind k, std::string function, std::string message,
                 std::vector<std::string> details) {
  outcomes_.push_back(make_outcome(k, std::move(function), std::move(message), std::move(details)));
}

void Sim::kill_current() {
  if (cfg_.panic_on_oops) stop_ = true;
  throw TaskExit{};
}

void Sim::bug(std::string function, std::string message, std::vector<std::string> details) {
  end_task(OutcomeKind::Bug, std::move(function), std::move(message), std::move(details));
}

void Sim::end_task(OutcomeKind k, std::string function, std::string message,
                   std::vector<std::string> details) {
  outcomes_.push_back(make_outcome(k, std::move(function), std::move(message), std::move(details)));
  kill_current();
}

void Sim::note_check(uint32_t name) {
  if (std::find(checks_.begin(), checks_.end(), name) == checks_.end()) checks_.push_back(name);
}

void Sim::oops(std::string message, std::vector<std::string> details) {
  std::string fn = running_ && !running_->frames.empty() ? interned(running_->frames.back()) : "";
  outcomes_.push_back(
      make_outcome(OutcomeKind::Oops, std::move(fn), std::move(message), std::move(details)));
  kill_current();
}

namespace {
Sim* in_task() {
  Sim* s = Sim::current();
  return s && s->current_task() ? s : nullptr;
}
std::string setup_report(const char* kind, const std::string& fn, const std::string& msg,
                         const std::vector<std::string>& details) {
  std::string r = std::string(kind) + (fn.empty() ? "" : " in " + fn) + ": " + msg;
  for (const auto& d : details) r += "\n" + d;
  return r + "\n(raised by set-up code, outside any simulated task)";
}
}  // namespace

void WARN(const char* function, std::string message, std::vector<std::string> details) {
  if (Sim* s = in_task()) return s->warn(function, std::move(message), std::move(details));
  throw SetupFault(setup_report("WARNING", function, message, details));
}

void REPORT_CORRUPTION(const char* function, std::string message) {
  if (Sim* s = in_task()) return s->report(OutcomeKind::Corruption, function, std::move(message));
  throw SetupFault("data corruption: " + message);
}

void REPORT_BUG(const char* function, std::string message, std::vector<std::string> details) {
  if (Sim* s = in_task())
    return s->report(OutcomeKind::Bug, function, std::move(message), std::move(details));
  throw SetupFault(setup_report("BUG", function, message, details));
}

void BUG(const char* function, std::string message, std::vector<std::string> details) {
  if (Sim* s = in_task()) s->bug(function, std::move(message), std::move(details));
  throw SetupFault(setup_report("kernel BUG", function, message, details));
}

void WARN(const char* function, uint32_t site, std::vector<std::string> details) {
  if (Sim* s = in_task()) return s->warn_at(function, site, std::move(details));
  throw SetupFault(setup_report("WARNING", function, bug_site(site).text, details));
}

void BUG(const char* function, uint32_t site, std::vector<std::string> details) {
  if (Sim* s = in_task()) s->bug_at(function, site, std::move(details));
  throw SetupFault(setup_report("kernel BUG", function, bug_site(site).text, details));
}

void OOPS(std::string message, std::vector<std::string> details) {
  if (Sim* s = in_task()) s->oops(std::move(message), std::move(details));
  throw SetupFault(setup_report("Oops", "", message, details));
}

// No task can run and some wait: a deadlock when one waits for a lock, a hang when each
// waits for state (a polled condition) that no task can change any more.
void Sim::report_deadlock() {
  std::vector<std::string> waits;
  bool stuck = false, on_lock = false;
  for (const auto& tp : tasks_) {
    const Task& t = *tp;
    // Runnable, but its CPU's owner never lets go: with preempt, a lane that holds the
    // CPU; without, the task the CPU runs until it sleeps. (A worker that never ran
    // would have gone idle: it counts as asleep.)
    const Task* cpu_owner = nullptr;
    if (cfg_.lanes() && t.state == TaskState::Ready && owner_[t.phys] != kNoCpu)
      cpu_owner = tasks_[cpus_[owner_[t.phys]].current].get();
    else if (!cfg_.lanes() && t.state == TaskState::New && (t.started || !t.daemon) &&
             cpus_[t.cpu].current != t.id && cpus_[t.cpu].current != kNoTask)
      cpu_owner = tasks_[cpus_[t.cpu].current].get();
    if (cpu_owner) {
      stuck = true;
      waits.push_back(t.name + " (cpu" + std::to_string(t.phys) + ") " +
                      (t.preempted        ? "preempted by "
                       : cpu_owner->softirq ? "interrupted by softirq "
                                            : "waits for its CPU, held by ") +
                      cpu_owner->name +
                      (t.frames.empty() ? "" : " in " + interned(t.frames.back())));
      continue;
    }
    if (t.state != TaskState::Sleeping && t.state != TaskState::Spinning) continue;
    if (t.wait.idle) continue;
    stuck = true;
    TaskId h = holder(t.wait.obj);
    // A sleeper on a lock nobody holds missed its wake-up (unlock_page found no PG_waiters):
    // it waits for what no task can change, a hang, not a deadlock.
    const bool lost_wakeup = !t.wait.condition && h == kNoTask && t.state == TaskState::Sleeping;
    on_lock |= !t.wait.condition && !lost_wakeup;
    std::string line = t.name + " (cpu" + std::to_string(t.phys) + ") " +
                       (t.state == TaskState::Spinning ? "spins on " : "sleeps on ") +
                       t.wait.what + " " + obj_label(t.wait.obj, world_);
    if (lost_wakeup) line += ", which nobody holds (a lost wake-up)";
    if (h != kNoTask) {
      line += " held by " + tasks_[h]->name;
      if (tasks_[h]->state == TaskState::Dead) line += " (dead)";
    }
    if (!t.frames.empty()) line += " in " + interned(t.frames.back());
    waits.push_back(std::move(line));
  }
  if (!stuck) return;
  // Tasks that wait, directly or through other waiters, on a lock a dead task (one that
  // oopsed or hit a BUG) still holds are that failure's aftermath, as an oopsed kernel
  // task's locks stay held: the failure's report lists them instead of a deadlock.
  const auto waits_on_dead = [&](const Task& t) {
    const Task* cur = &t;
    for (size_t hops = 0; hops <= tasks_.size(); ++hops) {
      if (cur->state != TaskState::Sleeping && cur->state != TaskState::Spinning) return false;
      const TaskId h = holder(cur->wait.obj);
      if (h == kNoTask) return false;
      cur = tasks_[h].get();
      if (cur->state == TaskState::Dead) return true;
    }
    return false;  // a cycle among live tasks
  };
  // A task that waits for a condition after a task died waits, as far as the model can
  // tell, for what the dead task would have done (put back the pages it isolated).
  const bool any_dead = std::any_of(tasks_.begin(), tasks_.end(),
                                    [](const auto& tp) { return tp->state == TaskState::Dead; });
  const bool aftermath = std::all_of(tasks_.begin(), tasks_.end(), [&](const auto& tp) {
    return (tp->state != TaskState::Sleeping && tp->state != TaskState::Spinning) ||
           tp->wait.idle || waits_on_dead(*tp) || (tp->wait.condition && any_dead);
  });
  if (aftermath && !outcomes_.empty()) {
    auto& failure = outcomes_.back().details;
    failure.push_back("after it:");
    failure.insert(failure.end(), waits.begin(), waits.end());
    return;
  }
  Outcome o;
  o.kind = on_lock ? OutcomeKind::Deadlock : OutcomeKind::Hang;
  o.message = "no task can run while " + std::to_string(waits.size()) + " wait" +
              (on_lock ? "" : " for what no task can change");
  o.details = std::move(waits);
  if (on_lock) locking_scenario(o.details);
  o.step = steps_;
  for (const Cpu& c : cpus_) o.time = std::max(o.time, c.clock);
  outcomes_.push_back(std::move(o));
}

// Lockdep's "possible unsafe locking scenario", for the locks of a deadlock: where each
// holder took the lock another task waits for (its model function), then a column per
// CPU with the lock taken, in the order taken, and each wait last.
void Sim::locking_scenario(std::vector<std::string>& out) const {
  struct Event {
    uint64_t step;
    CpuId cpu;
    std::string text;
  };
  std::vector<Event> taken, waits;
  std::vector<CpuId> cpus;
  for (const auto& tp : tasks_) {
    const Task& t = *tp;
    if ((t.state != TaskState::Sleeping && t.state != TaskState::Spinning) || t.wait.condition)
      continue;
    const Holder* h = find_holder(t.wait.obj);
    if (!h || h->task == kNoTask) continue;
    const Task& holder = *tasks_[h->task];
    const std::string lock = obj_label(h->obj, world_);
    out.push_back(holder.name + " took " + t.wait.what + " " + lock + " in " +
                  interned(h->func) + " at step " + std::to_string(h->step));
    taken.push_back({h->step, holder.phys, "lock(" + lock + ");"});
    if (t.softirq && holder.phys == t.phys) {
      // Lockdep's inconsistent lock state; a bit spinlock has no lockdep map, and the CPU
      // just hangs.
      const bool bit = std::string_view(t.wait.what) == kBitSpinlock;
      out.insert(out.end() - 1,
                 (bit ? "" : "inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage: ") + holder.name +
                     " holds " + lock + " with softirqs on, and a softirq of its CPU " +
                     (bit ? "spins on it (a bit spinlock, which lockdep does not see)" : "takes it"));
      waits.push_back({0, t.phys, "<Interrupt>"});
      waits.push_back({0, t.phys, "  lock(" + lock + ");"});
    } else {
      waits.push_back({0, t.phys, "lock(" + lock + ");"});  // after every lock taken
    }
    for (CpuId c : {holder.phys, t.phys})
      if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
  }
  if (taken.empty()) return;
  std::sort(cpus.begin(), cpus.end());
  // By step (each lock is taken at a step of its own). Not std::stable_sort: libstdc++'s
  // temporary buffer is a new/free mismatch to ASan.
  std::sort(taken.begin(), taken.end(),
            [](const Event& a, const Event& b) { return a.step < b.step; });
  constexpr size_t kColumn = 32;
  const auto row = [&](CpuId cpu, const std::string& text) {
    const size_t col = size_t(std::find(cpus.begin(), cpus.end(), cpu) - cpus.begin());
    return std::string(2 + kColumn * col, ' ') + text;
  };
  out.push_back(" Possible unsafe locking scenario:");
  std::string head, rule;
  for (size_t i = 0; i < cpus.size(); ++i) {
    const std::string h = "CPU" + std::to_string(cpus[i]);
    head.resize(6 + kColumn * i, ' ');
    rule.resize(6 + kColumn * i, ' ');
    head += h;
    rule += std::string(h.size(), '-');
  }
  out.push_back(head);
  out.push_back(rule);
  for (const auto& e : taken) out.push_back(row(e.cpu, e.text));
  for (const auto& e : waits) out.push_back(row(e.cpu, e.text));
  out.push_back(" *** DEADLOCK ***");
}

// ---- the scheduler loop ----

RunResult Sim::run() {
  if (in_run_ || steps_ || stop_) throw UsageError("a Sim runs once");
  {
    // This is the current Sim until the loop ends, also when a check throws.
    struct InRun {
      Sim& sim;
      Sim* const prev = detail::current_sim;
      explicit InRun(Sim& s) : sim(s) {
        detail::current_sim = &s;
        s.in_run_ = true;
      }
      ~InRun() {
        detail::current_sim = prev;
        sim.in_run_ = false;
      }
    } in_run(*this);
    if (world_) spawn_workers(*this, *world_);
    advance_pending();
    while (!stop_) {
      if (!ready_) {
        report_deadlock();
        break;
      }
      if (steps_ >= cfg_.max_steps) {
        Outcome o;
        o.kind = OutcomeKind::StepLimit;
        o.message = "run exceeded " + std::to_string(cfg_.max_steps) + " steps (livelock?)";
        o.step = steps_;
        for (const Cpu& c : cpus_) o.time = std::max(o.time, c.clock);
        outcomes_.push_back(std::move(o));
        break;
      }
      CpuId c;
      if (earliest_first_) {
        c = tree_cpu_[1];  // the tree's order is the strategy's order
      } else {
        c = choose_cpu();
        if (c == kNoCpu) break;
      }
      add_choice(c);
      if (cfg_.lanes()) take_cpu(c);
      stepping_ = tasks_[cpus_[c].current].get();
      Task* back = switch_to(*stepping_);  // another task, if they switched among themselves
      stepping_ = nullptr;
      settle(*back);
      advance_pending();
      if (step_check_) step_check_(*this);
    }
    if (sees_every_step_) strategy_->finish(*this);
    if (teardown_ && !error_ && !stop_ && completed()) teardown_(*this);
  }
  if (!error_ && replay_ && !replay_->exhausted(steps_))
    error_ = std::make_exception_ptr(StaleSchedule(
        "stale schedule: the run ended after " + std::to_string(steps_) +
        " steps but the schedule goes on; it was recorded for another scenario, preset or "
        "version"));
  if (error_) std::rethrow_exception(error_);
  return finish_run();
}

CpuId Sim::choose_cpu() {
  if (ready_ == 1 && !replay_ && !sees_every_step_) return tree_cpu_[1];  // no choice
  const std::span<const Candidate> cands = collect_candidates();
  size_t pick = 0;
  if (replay_ && !replay_->exhausted(steps_)) {
      const CpuId want = replay_->expected(steps_);
      auto it = std::find_if(cands.begin(), cands.end(),
                             [&](const Candidate& c) { return c.cpu == want; });
      if (it == cands.end()) {
        std::string elig;
        for (const auto& c : cands) elig += (elig.empty() ? "" : ",") + std::to_string(c.cpu);
        const std::string unit = cfg_.lanes() ? "lane" : "cpu";
        error_ = std::make_exception_ptr(StaleSchedule(
            "stale schedule: step " + std::to_string(steps_) + " chooses " + unit +
            std::to_string(want) + " but only " + unit + " {" + elig +
            "} can run there; the schedule was recorded for another scenario, preset or version"));
        return kNoCpu;
      }
      pick = size_t(it - cands.begin());
  } else if (cands.size() > 1 || sees_every_step_) {
    pick = strategy_->choose(*this, cands);
    if (pick == Strategy::kStop) {
      stop_ = stopped_ = true;
      return kNoCpu;
    }
  }
  return cands[pick].cpu;
}

bool Sim::completed() const {
  for (const auto& t : tasks_)
    if (t->state == TaskState::Dead) return false;
  for (const auto& o : outcomes_)
    if (o.kind == OutcomeKind::Deadlock || o.kind == OutcomeKind::Hang ||
        o.kind == OutcomeKind::StepLimit)
      return false;
  return true;
}

RunResult Sim::finish_run() {
  RunResult r;
  r.steps = steps_;
  for (const Cpu& c : cpus_) r.clock = std::max(r.clock, c.clock);
  for (const auto& o : outcomes_) hash_.add_outcome(string_hash(o.key()));
  if (cfg_.task_names) {
    r.task_names.reserve(tasks_.size());
    for (const auto& t : tasks_) r.task_names.push_back(t->name);
  }
  r.outcomes = std::move(outcomes_);
  r.trace_hash = hash_.value();
  r.stopped = stopped_;
  for (uint32_t c : checks_) r.checks.push_back(interned(c));
  schedule_.resize(chosen_);
  r.schedule = std::move(schedule_);
  r.trace = std::move(trace_);
  r.counters = std::move(counters_);
  r.wakes = std::move(wakes_);
  return r;
}

}  // namespace pagesim
