// pagesim._core: the compiled core. The Python package (bindings/pagesim) wraps it.
#include <pybind11/pybind11.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "engine/sim.h"
#include "py_common.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "pagesim core: deterministic simulator of Linux memory management";
  m.attr("__version__") = PAGESIM_VERSION;

  // Translators registered later are tried first: the most specific come last.
  auto usage = py::register_exception<pagesim::UsageError>(m, "UsageError", PyExc_ValueError);
  py::register_exception<pagesim::StaleSchedule>(m, "StaleScheduleError", usage);
  py::register_exception<pagesim::SetupFault>(m, "SetupFault", usage);

  m.def(
      "set_log_level",
      [](const std::string& level) {
        auto l = spdlog::level::from_str(level);
        if (l == spdlog::level::off && level != "off")
          throw pagesim::UsageError("unknown log level '" + level +
                                    "' (trace, debug, info, warn, error, critical, off)");
        spdlog::set_level(l);
      },
      py::arg("level"), "Set the core's log level: trace, debug, info, warn, error, off.");
  // Logs go to stderr so they never mix with JSON a command prints on stdout.
  if (!spdlog::get("pagesim")) spdlog::set_default_logger(spdlog::stderr_color_mt("pagesim"));
  spdlog::set_level(spdlog::level::warn);

  pagesim::py_glue::register_explore(m);
  pagesim::py_glue::register_engine(m);
  pagesim::py_glue::register_bench(m);
  pagesim::py_glue::register_kernel(m);
  pagesim::py_glue::register_zsmalloc(m);
  pagesim::py_glue::register_balloon(m);
}
