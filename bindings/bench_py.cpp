// Workloads for benchmarks/: C++ tasks, so the engine is measured without Python in the loop.
#include <pybind11/pybind11.h>

#include <chrono>

#include "engine/sync.h"
#include "mm/page.h"
#include "engine/world.h"
#include "py_common.h"

namespace pagesim::py_glue {

// The ping workload: `tasks` tasks, one per CPU, each step a timed operation whose cost
// varies per task and step. Timed strategy, window 0 (a plain discrete-event simulation).
// Returns {"steps", "seconds", "trace_hash"}.
py::dict bench_ping(uint32_t tasks, uint64_t steps_per_task, bool trace) {
  World world;
  SimConfig cfg;
  cfg.cpus = tasks;
  cfg.window = 0;
  cfg.trace = trace;
  cfg.max_steps = ~uint64_t(0);
  Sim sim(cfg, &world, std::make_unique<TimedStrategy>(1));
  for (uint32_t i = 0; i < tasks; ++i)
    sim.spawn(CpuId(i), "ping" + std::to_string(i), [i, steps_per_task] {
      uint64_t x = i + 1;
      for (uint64_t s = 0; s < steps_per_task; ++s) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        delay(1 + (x >> 58));  // 1..64 ns
      }
    });
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r;
  {
    py::gil_scoped_release nogil;
    r = sim.run();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  py::dict d;
  d["steps"] = r.steps;
  d["seconds"] = secs;
  d["trace_hash"] = r.trace_hash;
  d["sim_time_ns"] = r.clock;
  return d;
}

void register_bench(py::module_& m) {
  m.def("sizeof_page", [] { return sizeof(mm::Page); }, "Bytes of the model's struct page.");
  m.def("bench_ping", &bench_ping, py::arg("tasks") = 64, py::arg("steps_per_task") = 100000,
        py::arg("trace") = false, "Engine benchmark workload (see benchmarks/engine.py).");
}

}  // namespace pagesim::py_glue
