// Exploration from Python: many executions from the initial state, with their outcome set.
#include <pybind11/stl.h>

#include <chrono>

#include "explore/dfs.h"
#include "machine.h"

namespace pagesim::py_glue {

Exploration Machine::explore(const std::string& strategy, uint64_t executions, double seconds,
                             uint64_t seed, uint32_t preemption_bound) {
  if (strategy != "random" && strategy != "dfs")
    throw UsageError("unknown exploration strategy '" + strategy + "' (random, dfs)");
  if (!executions && seconds <= 0)
    throw UsageError("exploration needs a budget: executions or seconds");
  Exploration ex;
  ex.strategy = strategy;
  ex.meta = {{"strategy", strategy}, {"cpus", std::to_string(cfg_.cpus)}};
  SimConfig cfg = cfg_;
  cfg.trace = false;  // only outcomes and schedules are kept
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const uint64_t max_exec = executions ? executions : ~uint64_t(0);
  auto record = [&](const PyRun& run) -> bool {
    ++ex.executions;
    std::map<std::string, const Outcome*> keys;
    for (const auto& o : run.r.outcomes) keys.emplace(o.key(), &o);
    if (keys.empty()) keys.emplace("ok", nullptr);
    for (const auto& [k, o] : keys) {
      OutcomeClass& c = ex.outcomes[k];
      if (!c.count++) {
        c.key = k;
        c.schedule = run.r.schedule;
        c.report = o ? o->report() : "";
      }
    }
    if (ex.executions % 64 == 0 && PyErr_CheckSignals() != 0) throw py::error_already_set();
    return !(seconds > 0 && elapsed() >= seconds);
  };
  if (strategy == "random") {
    for (uint64_t i = 0; i < max_exec; ++i) {
      auto meta = ex.meta;
      if (!record(execute(std::make_unique<RandomStrategy>(seed + i), meta, cfg))) break;
    }
  } else {
    DfsStats st = explore_dfs(
        [&](std::unique_ptr<Strategy> s) { return record(execute(std::move(s), ex.meta, cfg)); },
        max_exec, preemption_bound);
    ex.exhausted = st.exhausted;
  }
  ex.seconds = elapsed();
  return ex;
}

void register_explore(py::module_& m) {
  py::class_<OutcomeClass>(m, "OutcomeClass", "One distinct outcome of an exploration.")
      .def_readonly("key", &OutcomeClass::key)
      .def_readonly("count", &OutcomeClass::count)
      .def_property_readonly("schedule", [](const OutcomeClass& c) { return Schedule{c.schedule, {}}; })
      .def_readonly("report", &OutcomeClass::report)
      .def("__repr__", [](const OutcomeClass& c) {
        return "<OutcomeClass " + c.key + " x" + std::to_string(c.count) + ">";
      });
  py::class_<Exploration>(m, "Exploration", "What an exploration found.")
      .def_readonly("strategy", &Exploration::strategy)
      .def_readonly("executions", &Exploration::executions)
      .def_readonly("exhausted", &Exploration::exhausted)
      .def_readonly("seconds", &Exploration::seconds)
      .def_readonly("outcomes", &Exploration::outcomes)
      .def_readonly("meta", &Exploration::meta);
}

}  // namespace pagesim::py_glue
