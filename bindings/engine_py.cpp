// The engine as Python sees it: a Machine with CPUs, scenario-level locks and counters,
// Python generator tasks, strategies, and the results of a run.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "engine/intern.h"
#include "engine/run_json.h"
#include "engine/schedule.h"
#include "engine/world.h"
#include "explore/script.h"
#include "machine.h"
#include "py_common.h"

namespace pagesim::py_glue {

py::object execute_engine_op(World& w, uint64_t machine, const EngineOp& op) {
  if (op.machine && op.machine != machine)
    throw UsageError("a task used a lock or counter of another Machine");
  const bool on_lock = op.kind <= EngineOp::WriteUnlock;
  const bool on_counter = op.kind >= EngineOp::CounterRead && op.kind <= EngineOp::CounterSet;
  if ((on_lock && op.index >= w.locks.size()) || (on_counter && op.index >= w.counters.size()))
    throw UsageError("a task used a lock or counter this run's state does not have");
  const uint32_t line = 0;
  switch (op.kind) {
    case EngineOp::Delay:
      delay(Nanos(op.arg), line);
      return py::none();
    case EngineOp::CounterRead:
      return py::int_(atomic_read(w.counters[op.index].value, w.counter_obj(op.index), line));
    case EngineOp::CounterAdd:
      return py::int_(atomic_add_return(op.arg, w.counters[op.index].value,
                                        w.counter_obj(op.index), line));
    case EngineOp::CounterSet:
      sched(Op::Write, Access::Write, w.counter_obj(op.index), line);
      w.counters[op.index].value = op.arg;
      return py::none();
    case EngineOp::Check: {  // a property of the task's own: no scheduling point
      Sim* s = Sim::current();
      s->note_check(op.index);
      if (!op.arg) s->report(OutcomeKind::Check, interned(op.index), op.message);
      return py::bool_(op.arg != 0);
    }
    case EngineOp::Warn: {
      Sim* s = Sim::current();
      s->warn(s->current_task()->name, op.message);
      return py::none();
    }
    case EngineOp::Bug: {
      Sim* s = Sim::current();
      s->bug(s->current_task()->name, op.message);
    }
    case EngineOp::Now:  // the task's own clock: no scheduling point
      return py::int_(Sim::current()->now());
    default:
      break;
  }
  NamedLock& l = w.locks[op.index];
  switch (op.kind) {
    case EngineOp::Lock:
      l.kind == LockKind::Spin ? spin_lock(l.spin, line) : mutex_lock(l.mutex, line);
      return py::none();
    case EngineOp::Trylock:
      return py::bool_(l.kind == LockKind::Spin ? spin_trylock(l.spin, line)
                                                : mutex_trylock(l.mutex, line));
    case EngineOp::Unlock:
    case EngineOp::UnlockBh: {  // UnlockBh: a spinlock (LockHandle::op checked it)
      const TaskId owner = l.kind == LockKind::Spin ? l.spin.owner : l.mutex.owner;
      if (owner != self_id())
        throw UsageError("task unlocks '" + l.name + "', which it does not hold");
      if (op.kind == EngineOp::UnlockBh)
        spin_unlock_bh(l.spin, line);
      else
        l.kind == LockKind::Spin ? spin_unlock(l.spin, line) : mutex_unlock(l.mutex, line);
      return py::none();
    }
    case EngineOp::LockBh: spin_lock_bh(l.spin, line); return py::none();
    case EngineOp::ReadLock: read_lock(l.rw, line); return py::none();
    case EngineOp::ReadUnlock:
      if (!Sim::current()->holds(l.rw.id, self_id()))
        throw UsageError("task read_unlocks '" + l.name + "', which it does not hold");
      read_unlock(l.rw, line);
      return py::none();
    case EngineOp::WriteLock: write_lock(l.rw, line); return py::none();
    case EngineOp::WriteUnlock:
      if (l.rw.writer != self_id())
        throw UsageError("task write_unlocks '" + l.name + "', which it does not hold");
      write_unlock(l.rw, line);
      return py::none();
    default: return py::none();
  }
}

std::unique_ptr<Strategy> make_strategy(const std::string& name, uint64_t seed) {
  if (name == "random") return std::make_unique<RandomStrategy>(seed);
  if (name == "timed") return std::make_unique<TimedStrategy>(seed);
  throw UsageError("unknown strategy '" + name + "' (random, timed; replay by passing schedule=)");
}

Schedule to_schedule(py::handle s) {
  if (py::isinstance<Schedule>(s)) return s.cast<Schedule>();
  if (py::isinstance<py::str>(s)) return Schedule::parse_compact(str_arg(s, "Schedule", "schedule"));
  if (py::isinstance<py::list>(s) || py::isinstance<py::tuple>(s)) {
    Schedule r;
    for (auto c : s) {
      if (!py::isinstance<py::int_>(c) || py::isinstance<py::bool_>(c))
        throw UsageError("schedule entries must be CPU numbers, got " + py::repr(c).cast<std::string>());
      const auto v = c.cast<py::int_>();
      if (v < py::int_(0) || v >= py::int_(kNoCpu))
        throw UsageError("schedule CPU " + py::str(v).cast<std::string>() + " out of range");
      r.choices.push_back(CpuId(v.cast<long>()));
    }
    return r;
  }
  throw UsageError("schedule must be a Schedule, a compact string like '0x3 1' or a list of CPUs");
}

Machine::Machine(uint32_t cpus, std::optional<Nanos> window, uint64_t max_steps, bool trace,
                 bool panic_on_oops, bool debug_atomic_sleep, bool preempt, bool softirq) {
  if (cpus == 0 || cpus > 256) throw UsageError("cpus must be between 1 and 256");
  if (max_steps == 0) throw UsageError("max_steps must be at least 1 (a run's most steps)");
  cfg_.cpus = cpus;
  cfg_.window = window ? *window : ~Nanos(0);
  cfg_.max_steps = max_steps;
  cfg_.trace = trace;
  cfg_.panic_on_oops = panic_on_oops;
  cfg_.debug_atomic_sleep = debug_atomic_sleep;
  cfg_.preempt = preempt;
  cfg_.softirq = softirq;
}

namespace {
// Locks and counters belong to the initial state: a run's copy of it has only those made
// before the run began.
void check_not_running(const char* what) {
  if (Sim::current())
    throw UsageError(std::string("a ") + what + " is created at set-up, not by a running task");
}
}  // namespace

void Machine::check_idle(const char* what) const {
  if (exploring_)
    throw UsageError(std::string(what) + ": the scenario is being explored (in another thread); "
                     "its initial state cannot change until that ends");
}

bool Machine::has_python() const {
  return std::any_of(tasks_.begin(), tasks_.end(),
                     [](const TaskSpec& t) { return !t.factory.is_none(); });
}

LockHandle Machine::add_lock(const std::string& name, LockKind k) {
  check_not_running("lock");
  check_idle("lock");
  return {world().add_lock(name, k), k, name, uid_};
}

CounterHandle Machine::counter(const std::string& name, int64_t v) {
  check_not_running("counter");
  check_idle("counter");
  return {world().add_counter(name, v), name, uid_};
}

CpuId Machine::check_cpu(long cpu) const {
  if (cpu < 0 || cpu >= long(cfg_.cpus))
    throw UsageError("spawn: cpu " + std::to_string(cpu) + " out of range (machine has " +
                     std::to_string(cfg_.cpus) + " CPUs)");
  return CpuId(cpu);
}

CpuId Machine::check_spawn(long cpu, bool softirq) const {
  check_idle("spawn");
  const CpuId c = check_cpu(cpu);
  if (softirq && !cfg_.softirq)
    throw UsageError("spawn: a softirq context needs softirq=True on the machine or scenario");
  return c;
}

CpuId Machine::spawn(long cpu, py::object fn, py::args args, std::optional<std::string> name,
                     bool softirq) {
  const CpuId c = check_spawn(cpu, softirq);
  if (!PyCallable_Check(fn.ptr())) throw UsageError("spawn: task must be a generator function");
  std::string n = name ? *name
                       : py::hasattr(fn, "__name__") ? fn.attr("__name__").cast<std::string>()
                                                     : "task" + std::to_string(tasks_.size());
  tasks_.push_back({c, n, fn, py::tuple(args), nullptr, {}, softirq});
  return lane_of_last();
}

py::object Machine::execute_op(World& w, py::handle h) {
  if (!py::isinstance<EngineOp>(h))
    throw UsageError("a task yielded " + py::repr(h).cast<std::string>() +
                     ", which is not a pagesim operation");
  return execute_engine_op(w, uid_, h.cast<EngineOp>());
}

namespace {

// lanes: the CPUs, or with preempt the spawned tasks (a script names a task by its lane).
std::vector<ScriptStep> to_script(py::handle script, uint32_t lanes, bool preempt) {
  std::vector<ScriptStep> steps;
  if (!py::isinstance<py::list>(script) && !py::isinstance<py::tuple>(script))
    throw UsageError("script must be a list of (cpu, until, function, obj, count[, stop]) steps");
  const char* shape = "a script step is (cpu, until, function, obj, count[, stop]): cpu an int, "
                      "until a string, function a string or None, obj an int or None, count an "
                      "int >= 0, stop True or False";
  auto is_int = [](py::handle h) {
    return py::isinstance<py::int_>(h) && !py::isinstance<py::bool_>(h);
  };
  for (auto item : script) {
    if (!py::isinstance<py::tuple>(item) && !py::isinstance<py::list>(item))
      throw UsageError(shape);
    auto t = py::tuple(py::reinterpret_borrow<py::object>(item));
    if (t.size() != 5 && t.size() != 6) throw UsageError(shape);
    if (!is_int(t[0]) || !py::isinstance<py::str>(t[1]) ||
        !(t[2].is_none() || py::isinstance<py::str>(t[2])) || !(t[3].is_none() || is_int(t[3])) ||
        !is_int(t[4]) || (t.size() == 6 && !py::isinstance<py::bool_>(t[5])))
      throw UsageError(shape);
    const auto in = [](py::handle h, uint64_t hi) {
      return py::int_(py::reinterpret_borrow<py::object>(h)) >= py::int_(0) &&
             py::int_(py::reinterpret_borrow<py::object>(h)) <= py::int_(hi);
    };
    if (!in(t[0], lanes - 1))
      throw UsageError("script step on " + std::string(preempt ? "lane " : "cpu ") +
                       py::repr(t[0]).cast<std::string>() + ", the machine has " +
                       std::to_string(lanes) + (preempt ? " tasks" : " CPUs"));
    if ((!t[3].is_none() && !in(t[3], ~uint64_t(0))) || !in(t[4], ~uint64_t(0)))
      throw UsageError("script step " + py::repr(item).cast<std::string>() +
                       ": obj and count must be ints between 0 and 2^64-1");
    ScriptStep st;
    const long cpu = t[0].cast<long>();
    st.cpu = CpuId(cpu);
    const std::string until = t[1].cast<std::string>();
    if (until == "done") st.until = ScriptStep::Until::Done;
    else if (until == "before") st.until = ScriptStep::Until::Before;
    else if (until == "after") st.until = ScriptStep::Until::After;
    else if (until == "steps") st.until = ScriptStep::Until::Steps;
    else throw UsageError("script 'until' must be done, before, after or steps, not '" + until + "'");
    if (!t[2].is_none()) st.func = intern(t[2].cast<std::string>());
    if ((st.until == ScriptStep::Until::Before || st.until == ScriptStep::Until::After) && !st.func)
      throw UsageError("script step '" + until + "' needs a function name");
    st.obj = t[3].is_none() ? kNoObj : t[3].cast<ObjId>();
    st.count = t[4].cast<uint64_t>();
    st.stop = t.size() == 6 && t[5].cast<bool>();
    steps.push_back(st);
  }
  return steps;
}

}  // namespace

PyRun Machine::run(const std::string& strategy, uint64_t seed, py::object schedule,
                   py::object script, bool errors_as_outcomes, bool stop_at_end) {
  std::unique_ptr<Strategy> strat = make_strategy(strategy, seed);
  std::map<std::string, std::string> meta{{"strategy", strategy},
                                          {"seed", std::to_string(seed)},
                                          {"cpus", std::to_string(cfg_.cpus)}};
  if (!schedule.is_none()) {
    Schedule s = to_schedule(schedule);
    auto it = s.meta.find("cpus");
    if (it != s.meta.end() && it->second != std::to_string(cfg_.cpus))
      throw StaleSchedule("schedule was recorded on " + it->second + " CPUs, this machine has " +
                          std::to_string(cfg_.cpus));
    strat = std::make_unique<ReplayStrategy>(std::move(s.choices), std::move(strat), stop_at_end);
    meta["strategy"] = "replay";
  }
  auto status = std::make_shared<std::vector<ScriptStepStatus>>();
  if (schedule.is_none() && !script.is_none()) {
    const uint32_t lanes = cfg_.lanes() ? uint32_t(tasks_.size()) : cfg_.cpus;
    strat = std::make_unique<ScriptStrategy>(to_script(script, lanes, cfg_.lanes()),
                                             std::move(strat), status);
    meta["strategy"] = "script+" + strategy;
  }
  SimConfig cfg = cfg_;
  cfg.errors_as_outcomes = errors_as_outcomes;
  PyRun out = execute(std::move(strat), std::move(meta), cfg);
  out.script = std::move(*status);
  return out;
}

PyRun Machine::execute(std::unique_ptr<Strategy> strat, std::map<std::string, std::string> meta,
                       const SimConfig& cfg) {
  std::shared_ptr<World> world = fresh_world();  // every run starts from the same state
  Sim sim(cfg, world.get(), std::move(strat));
  PyRun out{run_tasks(sim, *world), std::move(meta), world, nullptr};
  finish(out);
  return out;
}

RunResult Machine::run_tasks(Sim& sim, World& world) {
  // With lanes, the scenario's tasks are spawned first: task i is lane i.
  if (!sim.config().lanes()) prepare(sim, world);
  for (const auto& t : tasks_) {
    if (t.factory.is_none()) {
      sim.spawn(t.cpu, t.name, native_body(t, world), false, t.softirq);
      continue;
    }
    sim.spawn(t.cpu, t.name,
              python_task_body(t.factory, t.args,
                               [this, w = &world](py::handle op) { return execute_op(*w, op); }),
              false, t.softirq);
  }
  if (sim.config().lanes()) prepare(sim, world);
  RunResult r = sim.run();
  spdlog::debug("run ended after {} steps, {} outcomes, hash {:016x}", r.steps, r.outcomes.size(),
                r.trace_hash);
  return r;
}

namespace {

py::object json_to_py(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

}  // namespace

void register_engine(py::module_& m) {
  py::class_<EngineOp>(m, "Op", "An operation a Python task yields.")
      .def("__repr__", &EngineOp::repr);

  // The ops a Python task yields at every step: pybind11 matches their arguments, and a
  // call that does not match gets a one-line error (def_bad_args). Their signatures are
  // written in their docstrings.
  py::options signatures_in_docstrings;
  signatures_in_docstrings.disable_function_signatures();

  py::class_<LockHandle> lock(m, "Lock", "A scenario-level lock (spinlock, mutex or rwlock).");
  lock.def_readonly("name", &LockHandle::name)
      .def("__repr__", [](const LockHandle& l) { return "<pagesim lock '" + l.name + "'>"; });
  for (const auto& [name, fn, kind, doc] : {
           std::tuple{"lock", "Lock.lock", EngineOp::Lock, ""},
           std::tuple{"unlock", "Lock.unlock", EngineOp::Unlock, ""},
           std::tuple{"trylock", "Lock.trylock", EngineOp::Trylock, "Yields True if the lock was taken."},
           std::tuple{"lock_bh", "Lock.lock_bh", EngineOp::LockBh,
                      "spin_lock_bh: bottom halves off, then the spinlock (no softirq of this "
                      "CPU interrupts the task until unlock_bh)."},
           std::tuple{"unlock_bh", "Lock.unlock_bh", EngineOp::UnlockBh,
                      "spin_unlock_bh: the spinlock, then bottom halves on."},
           std::tuple{"read_lock", "Lock.read_lock", EngineOp::ReadLock, ""},
           std::tuple{"read_unlock", "Lock.read_unlock", EngineOp::ReadUnlock, ""},
           std::tuple{"write_lock", "Lock.write_lock", EngineOp::WriteLock, ""},
           std::tuple{"write_unlock", "Lock.write_unlock", EngineOp::WriteUnlock, ""}}) {
    const std::string signature = std::string(name) + "(self) -> Op" + (*doc ? "\n\n" : "") + doc;
    lock.def(name, [kind](const LockHandle& l) { return l.op(kind); }, signature.c_str());
    def_bad_args(lock, name, {fn, {}});
  }

  py::class_<CounterHandle> counter(m, "Counter", "A scenario-level atomic_t.");
  counter.def_readonly("name", &CounterHandle::name)
      .def("read", [](const CounterHandle& c) { return c.op(EngineOp::CounterRead); },
           "read(self) -> Op\n\nYields the value (atomic_read).")
      .def("add", [](const CounterHandle& c, py::object d) {
        return c.op(EngineOp::CounterAdd, int_arg(d, "Counter.add", "delta", INT64_MIN, INT64_MAX));
      }, py::arg("delta") = 1, "add(self, delta: int = 1) -> Op\n\nYields the new value (atomic_add_return).")
      .def("set", [](const CounterHandle& c, py::object v) {
        return c.op(EngineOp::CounterSet, int_arg(v, "Counter.set", "value", INT64_MIN, INT64_MAX));
      }, py::arg("value"), "set(self, value: int) -> Op\n\nStores a value (atomic_set).");
  def_bad_args(counter, "read", {"Counter.read", {}});
  def_bad_args(counter, "add", {"Counter.add", {"delta"}});
  def_bad_args(counter, "set", {"Counter.set", {"value"}, 1});

  m.def("delay", [](py::object ns) {
    return EngineOp{EngineOp::Delay, 0, int_arg(ns, "delay", "ns", 0, INT64_MAX)};
  }, py::arg("ns"), "delay(ns: int) -> Op\n\nAn operation that spends `ns` simulated nanoseconds of CPU time.");
  def_bad_args(m, "delay", {"delay", {"ns"}, 1});
  m.def("now", [] { return EngineOp{EngineOp::Now}; },
        "now() -> Op\n\nYields the simulated time in nanoseconds on the task's CPU (its clock, "
        "as jiffies would tell a kernel path how long it took). No scheduling point.");
  def_bad_args(m, "now", {"now", {}});
  m.def("check", [](py::object cond, py::object name_arg, py::object message_arg) {
    const std::string name = str_arg(name_arg, "check", "name");
    const std::string message = str_arg(message_arg, "check", "message");
    if (name.empty()) throw UsageError("a check needs a name: ps.check(cond, 'name', msg)");
    return EngineOp{EngineOp::Check, intern(name), py::bool_(cond) ? 1 : 0, 0, message};
  }, py::arg("cond"), py::arg("name"), py::arg("message") = "",
     "check(cond: object, name: str, message: str = '') -> Op\n\n"
     "An operation that checks a property: when `cond` is false the run gets outcome "
     "check:<name> with the task's backtrace (the task goes on). Yields `cond`.");
  def_bad_args(m, "check", {"check", {"cond", "name", "message"}, 2});
  m.def("bug", [](py::object msg) {
    return EngineOp{EngineOp::Bug, 0, 0, 0, str_arg(msg, "bug", "message")};
  }, py::arg("message"), "bug(message: str) -> Op\n\nAn operation that reports bug:<task> and ends the task, as BUG() does.");
  def_bad_args(m, "bug", {"bug", {"message"}, 1});
  m.def("warn", [](py::object msg) {
    return EngineOp{EngineOp::Warn, 0, 0, 0, str_arg(msg, "warn", "message")};
  }, py::arg("message"), "warn(message: str) -> Op\n\n"
     "An operation that reports warn:<task>; the task goes on, as after WARN().");
  def_bad_args(m, "warn", {"warn", {"message"}, 1});
  signatures_in_docstrings.enable_function_signatures();

  py::class_<Outcome>(m, "Outcome", "How a run (or a task in it) ended, kernel-style.")
      .def_property_readonly("kind", [](const Outcome& o) { return outcome_kind_name(o.kind); })
      .def_readonly("function", &Outcome::function)
      .def_readonly("message", &Outcome::message)
      .def_readonly("backtrace", &Outcome::backtrace)
      .def_readonly("details", &Outcome::details)
      .def_readonly("task", &Outcome::task_name)
      .def_property_readonly("cpu", [](const Outcome& o) { return o.cpu == kNoCpu ? -1 : int(o.cpu); })
      .def_readonly("time_ns", &Outcome::time)
      .def_readonly("step", &Outcome::step)
      .def_property_readonly("key", &Outcome::key)
      .def_property_readonly("report", &Outcome::report)
      .def_property_readonly("at", [](const Outcome& o) -> py::object {
        if (o.at.file.empty()) return py::none();
        return py::make_tuple(o.at.file, o.at.line, o.at.code);
      }, "A BUG's or WARN's line in the kernel tree the preset follows: (file, line, code), "
         "or None")
      .def("__repr__", [](const Outcome& o) { return "<Outcome " + o.key() + ">"; });

  m.def("bug_sites", [] {
    py::list out;
    const auto sites = bug_sites();
    for (size_t id = 1; id < sites.size(); ++id)
      out.append(py::dict(py::arg("id") = id, py::arg("function") = sites[id].function,
                          py::arg("text") = sites[id].text,
                          py::arg("model_file") = sites[id].model_file,
                          py::arg("model_line") = sites[id].model_line));
    return out;
  }, "Every BUG and WARN site of the model: the kernel function and the kernel's text of "
     "its check, and where the model checks it.");

  py::class_<Schedule>(m, "Schedule", "The CPU chosen at every step of a run.")
      .def(py::init([](py::object s) { return to_schedule(s); }), py::arg("schedule"))
      .def_readonly("choices", &Schedule::choices)
      .def_readwrite("meta", &Schedule::meta)
      .def("__str__", &Schedule::compact)
      .def("__repr__", [](const Schedule& s) { return "Schedule('" + s.compact() + "')"; })
      .def("__len__", [](const Schedule& s) { return s.choices.size(); })
      .def("__eq__", [](const Schedule& a, const Schedule& b) { return a.choices == b.choices; })
      .def("to_json", [](const Schedule& s) { return s.to_json().dump(2); })
      .def_static("from_json", [](const std::string& text) {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
          throw UsageError(std::string("schedule is not valid JSON: ") + e.what());
        }
        try {
          return Schedule::from_json(j);
        } catch (const nlohmann::json::exception& e) {
          throw UsageError(std::string("malformed schedule JSON: ") + e.what());
        }
      });

  py::class_<PyRun>(m, "RunResult", "The result of one run.")
      .def_property_readonly("ok", [](const PyRun& p) { return p.r.ok(); })
      .def_property_readonly("outcomes", [](const PyRun& p) { return p.r.outcomes; })
      .def_property_readonly("steps", [](const PyRun& p) { return p.r.steps; })
      .def_property_readonly("time_ns", [](const PyRun& p) { return p.r.clock; })
      .def_property_readonly("trace_hash", [](const PyRun& p) { return p.r.trace_hash; })
      .def_property_readonly("schedule", [](const PyRun& p) { return Schedule{p.r.schedule, p.meta}; })
      .def_property_readonly("meta", [](const PyRun& p) { return p.meta; })
      .def_property_readonly("tasks", [](const PyRun& p) { return p.r.task_names; })
      .def_property_readonly("checks", [](const PyRun& p) { return p.r.checks; },
                             "Property checks evaluated in the run, by name.")
      .def_property_readonly("stopped", [](const PyRun& p) { return p.r.stopped; },
                             "The run ended early (at a script's stop step).")
      .def_property_readonly("script_status", [](const PyRun& p) {
        py::list l;
        for (const auto& s : p.script) {
          py::dict d;
          d["reached"] = s.reached;
          d["matched"] = s.matched;
          d["context_ended"] = s.context_ended;
          d["last_function"] = s.last_func ? py::object(py::str(interned(s.last_func))) : py::none();
          d["ops"] = s.ops;
          l.append(d);
        }
        return l;
      }, "Per script step: reached, matched, context_ended, last_function, ops.")
      .def_property_readonly(
          "kernel",
          [](const PyRun& p) { return p.kernel ? py::cast(KernelView{p.kernel}) : py::none(); },
          "The kernel's state at the end of the run (None for a plain Machine).")
      .def("trace", [](const PyRun& p) { return json_to_py(trace_to_json(p.r, p.world.get())); },
           "The trace as a list of dicts (empty if tracing was off).")
      .def("counters", [](const PyRun& p) { return json_to_py(counters_to_json(p.r)); },
           "Counter samples as a list of dicts {step, t, name, value}: the initial values, "
           "then each change (nr_free_pages, nr_isolated), in order (empty if tracing was off).")
      .def("wakes", [](const PyRun& p) { return json_to_py(wakes_to_json(p.r, p.world.get())); },
           "Wake-ups as a list of dicts {step, t, obj, waker, wakee}: a task woken by "
           "another, in order (empty if tracing was off).")
      .def("trace_text", [](const PyRun& p) {
        std::string s;
        for (const auto& t : p.r.trace)
          s += trace_record_str(t, t.task < p.r.task_names.size() ? p.r.task_names[t.task] : "?",
                              p.world.get()) + "\n";
        return s;
      })
      .def("to_json", [](const PyRun& p, bool trace) { return run_to_json(p.r, p.meta, trace, p.world.get()).dump(2); },
           py::arg("trace") = false)
      .def("__repr__", [](const PyRun& p) {
        std::map<std::string, int> counts;
        for (const auto& o : p.r.outcomes) counts[o.key()]++;
        std::string k;
        for (const auto& [key, n] : counts)
          k += (k.empty() ? "" : ",") + key + (n > 1 ? " x" + std::to_string(n) : "");
        return "<RunResult " + (k.empty() ? std::string("ok") : k) + " steps=" + std::to_string(p.r.steps) + ">";
      });

  py::enum_<LockKind>(m, "LockKind")
      .value("spin", LockKind::Spin)
      .value("mutex", LockKind::Mutex)
      .value("rwlock", LockKind::RwLock);

  py::class_<Machine>(m, "Machine", R"doc(
A simulated machine: CPUs, scenario-level locks and counters, and Python tasks.

Each task is a generator function; it yields operations (``lock.lock()``,
``pagesim.delay(100)``) and receives their results. ``run()`` starts every task from
the initial state, so a machine can be run many times with different seeds or a
recorded schedule.)doc")
      .def(py::init<uint32_t, std::optional<Nanos>, uint64_t, bool, bool, bool, bool, bool>(),
           py::arg("cpus") = 2, py::arg("window") = py::none(), py::arg("max_steps") = 1'000'000,
           py::arg("trace") = true, py::arg("panic_on_oops") = false,
           py::arg("debug_atomic_sleep") = false, py::arg("preempt") = false,
           py::arg("softirq") = false)
      .def_property_readonly("cpus", &Machine::cpus)
      .def_property_readonly("preempt", &Machine::preempt,
                             "CONFIG_PREEMPT: tasks of a CPU preempt each other; schedules and "
                             "scripts name tasks by lane (their spawn order)")
      .def_property_readonly("softirq", &Machine::softirq,
                             "softirq contexts may be spawned (spawn(..., softirq=True)); "
                             "schedules and scripts name tasks by lane (their spawn order)")
      .def("spinlock", [](Machine& m, const std::string& n) { return m.add_lock(n, LockKind::Spin); }, py::arg("name"))
      .def("mutex", [](Machine& m, const std::string& n) { return m.add_lock(n, LockKind::Mutex); }, py::arg("name"))
      .def("rwlock", [](Machine& m, const std::string& n) { return m.add_lock(n, LockKind::RwLock); }, py::arg("name"))
      .def("counter", &Machine::counter, py::arg("name"), py::arg("value") = 0)
      .def("spawn", &Machine::spawn, py::arg("cpu"), py::arg("task"),
           py::arg("name") = py::none(), py::arg("softirq") = false,
           "spawn(cpu, task, *args, name=None, softirq=False): run task(*args) on a CPU, or "
           "with softirq as a softirq context that interrupts the CPU's task wherever it has "
           "bottom halves enabled and cannot sleep. Returns the lane that scripts name it by: "
           "the CPU, or with preempt or softirq its place among the spawned tasks.")
      .def("run", &Machine::run, py::arg("strategy") = "random", py::arg("seed") = 0,
           py::arg("schedule") = py::none(), py::arg("script") = py::none(),
           py::arg("errors_as_outcomes") = false, py::arg("stop_at_end") = false,
           "Run every task to the end. strategy: 'random' or 'timed'; schedule: replay a "
           "recorded Schedule (its unscripted tail falls to the strategy).")
      .def("explore", &Machine::explore, py::arg("strategy") = "random",
           py::arg("executions") = 1000, py::arg("seconds") = 0.0, py::arg("seed") = 0,
           py::arg("preemption_bound") = ~0u, py::arg("pct_depth") = 3, py::arg("worker") = 0,
           py::arg("workers") = 1, py::arg("progress") = py::none(), py::arg("minimise") = true,
           py::arg("iterative") = false,
           "Run many executions from the initial state (strategy random, pct, dfs or dpor) "
           "until the budget or exhaustion; returns the outcome set. worker/workers: this "
           "process's share of a split exploration. progress(result) is called every 64 "
           "executions; returning False stops. iterative: dfs and dpor search preemption "
           "bounds 0, 1, ... (up to preemption_bound) until one prunes nothing.")
      .def("minimise", &Machine::minimise, py::arg("key"), py::arg("schedule"),
           "Shrink a schedule that shows outcome `key` to its fewest preemptions.");
}

}  // namespace pagesim::py_glue
