// Exploration from Python: many executions from the initial state, with their outcome set
// (explore/explorer.h). Workers run in other processes or on Ray; their shares merge here.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "explore/merge.h"
#include "machine.h"

namespace pagesim::py_glue {

ExploreResult Machine::explore(const std::string& strategy, uint64_t executions, double seconds,
                               uint64_t seed, uint32_t preemption_bound, uint32_t pct_depth,
                               uint32_t worker, uint32_t workers, py::object progress,
                               bool minimise, bool iterative) {
  ExploreConfig ec;
  ec.kind = parse_explore_kind(strategy);
  if (ec.kind == ExploreKind::Dpor && cfg_.window != ~Nanos(0))
    throw UsageError("dpor needs free interleaving (window=None): with a timing window, which "
                     "CPUs may run depends on clocks, not only on conflicts");
  ec.executions = executions;
  ec.seconds = seconds;
  ec.seed = seed;
  ec.preemption_bound = preemption_bound;
  ec.iterative = iterative;
  ec.pct_depth = pct_depth;
  ec.worker = worker;
  ec.workers = workers;
  // A scenario without Python code in its runs (kernel entry points for tasks, no
  // end-of-run checks) explores without the GIL, so Python threads, a notebook's kernel
  // and Ctrl-C stay responsive; Python tasks hand the GIL over at the interpreter's switch
  // interval. Signals are checked every 64 executions either way.
  const bool nogil = !has_python();
  ec.progress = [&](const ExploreResult& r) {
    std::optional<py::gil_scoped_acquire> gil;
    if (nogil) gil.emplace();
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    return progress.is_none() || progress(r).cast<bool>();
  };
  const Executor run = explorer_executor();
  Exploring busy(*this);
  std::optional<py::gil_scoped_release> released;
  if (nogil) released.emplace();
  ExploreResult res = pagesim::explore(run, ec);
  if (minimise)
    if (const OutcomeClass* f = res.first_failing())
      res.first_failure = pagesim::minimise(run, f->key, f->schedule);
  return res;
}

Minimised Machine::minimise(const std::string& key, const std::vector<CpuId>& schedule) {
  for (CpuId c : schedule)
    if (c >= cfg_.cpus && !cfg_.lanes())  // lanes: a stale one is found by the replay
      throw UsageError("minimise: the schedule names cpu " + std::to_string(c) +
                       ", the machine has " + std::to_string(cfg_.cpus) + " CPUs");
  Minimised m = pagesim::minimise(explorer_executor(), key, schedule);
  if (!m.shown)
    throw UsageError("minimise: the schedule does not show outcome '" + key +
                     "' (an exploration's example always does, unless a task depends on "
                     "state outside the simulation)");
  return m;
}

Executor Machine::explorer_executor() {
  SimConfig cfg = cfg_;
  cfg.trace = false;       // only outcomes and schedules are kept
  cfg.task_names = false;
  cfg.errors_as_outcomes = true;  // an exception in a task is one more outcome
  // One world and one Sim serve every execution, each reset to the initial state: they
  // keep their memory, so an execution allocates next to nothing.
  struct Scratch {
    std::shared_ptr<World> world;
    std::unique_ptr<Sim> sim;
  };
  return [this, cfg, s = std::make_shared<Scratch>()](std::unique_ptr<Strategy> strat) {
    if (s->world)
      reset_world(*s->world);
    else
      s->world = fresh_world();
    if (s->sim)
      s->sim->reset(s->world.get(), std::move(strat));
    else
      s->sim = std::make_unique<Sim>(cfg, s->world.get(), std::move(strat));
    try {
      RunResult r = run_tasks(*s->sim, *s->world);
      s->sim->end_run();  // as a run's own Sim ends: before the world is reset again
      return r;
    } catch (...) {
      s->sim.reset();  // ends its tasks now; a failed run's Sim is not reused
      throw;
    }
  };
}

namespace {
ExploreResult result_from_json(const std::string& s) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(std::string("malformed exploration result: ") + e.what());
  }
  return ExploreResult::from_json(j);
}
}  // namespace

void register_explore(py::module_& m) {
  py::class_<OutcomeClass>(m, "OutcomeClass", "One distinct outcome of an exploration.")
      .def_readonly("key", &OutcomeClass::key)
      .def_readonly("count", &OutcomeClass::count)
      .def_property_readonly("schedule", [](const OutcomeClass& c) { return Schedule{c.schedule, {}}; })
      .def_readonly("report", &OutcomeClass::report)
      .def_readonly("first", &OutcomeClass::first,
                    "The execution that first had it, which is the example (1-based): "
                    "random and pct, the execution index (seed + first - 1); dfs and dpor, "
                    "among complete executions in the order one worker runs them, whatever "
                    "the number of workers.")
      .def_readonly("first_run", &OutcomeClass::first_run,
                    "Runs performed until it was first seen (1-based): random and pct, as "
                    "first; dfs and dpor, executions + repeated + redundant.")
      .def("__repr__", [](const OutcomeClass& c) {
        return "<OutcomeClass " + c.key + " x" + std::to_string(c.count) + ">";
      });
  py::class_<Minimised>(m, "Minimised", "A failing schedule shrunk to its fewest preemptions.")
      .def_readonly("key", &Minimised::key)
      .def_property_readonly("schedule", [](const Minimised& x) { return Schedule{x.schedule, {}}; })
      .def_readonly("preemptions", &Minimised::preemptions)
      .def_readonly("steps", &Minimised::steps)
      .def_readonly("attempts", &Minimised::attempts);
  py::class_<ExploreResult>(m, "ExploreResult", "What an exploration (or one worker's share) found.")
      .def_readonly("strategy", &ExploreResult::strategy)
      .def_readonly("executions", &ExploreResult::executions)
      .def_readonly("redundant", &ExploreResult::redundant)
      .def_readonly("repeated", &ExploreResult::repeated,
                    "Iterative bounding: executions of bound b with fewer than b preemptions "
                    "(not in outcomes).")
      .def_readonly("exhausted", &ExploreResult::exhausted)
      .def_property_readonly(
          "bound_covered",
          [](const ExploreResult& r) -> std::optional<int64_t> {
            if (r.bound_covered < 0) return std::nullopt;
            return r.bound_covered;
          },
          "The highest preemption bound whose schedules were all run (None: none).")
      .def_readonly("every_schedule", &ExploreResult::every_schedule,
                    "Every schedule (dpor: trace) with no bound was run.")
      .def_property_readonly(
          "preemption_bound",
          [](const ExploreResult& r) -> std::optional<uint32_t> {
            if (r.preemption_bound == ~0u) return std::nullopt;
            return r.preemption_bound;
          },
          "The bound the search used (None: none).")
      .def_readonly("iterative", &ExploreResult::iterative)
      .def_readonly("seconds", &ExploreResult::seconds)
      .def_readonly("workers", &ExploreResult::workers)
      .def_readonly("outcomes", &ExploreResult::outcomes)
      .def_readonly("checks", &ExploreResult::checks)
      .def_readwrite("first_failure", &ExploreResult::first_failure)
      .def_property_readonly("rate", &ExploreResult::rate)
      .def("first_failing", &ExploreResult::first_failing, py::return_value_policy::copy)
      .def_static("merge_shares", [](const std::vector<std::string>& shares) {
        std::vector<ExploreResult> rs;
        for (const auto& s : shares) rs.push_back(result_from_json(s));
        return merge_shares(rs);
      }, "The workers' shares (to_json of each) as the result one worker gives (merge.h).")
      .def("mark_incomplete", [](ExploreResult& r) {
        r.exhausted = r.every_schedule = false;
        r.bound_covered = -1;
      }, "A share is missing: nothing was exhausted or fully covered.")
      .def("set_workers", [](ExploreResult& r, uint32_t n, double seconds) {
        r.workers = n;
        r.seconds = seconds;
      })
      .def("to_json", [](const ExploreResult& r) { return r.to_json().dump(); })
      .def_static("from_json", &result_from_json);
}

}  // namespace pagesim::py_glue
