// pagesim._core: the compiled core. The Python package (bindings/pagesim) wraps it.
#include <pybind11/pybind11.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "engine/sim.h"
#include "py_common.h"

namespace py = pybind11;

namespace {

// Sets Python exception `type` with `what` as one line: invalid UTF-8 replaced, control
// characters escaped (\n, \x01), and at most kMaxMessage bytes kept.
void set_usage_error(PyObject* type, const char* what) {
  constexpr size_t kMaxMessage = 1000;
  std::string text(what);
  if (text.size() > kMaxMessage)
    text = text.substr(0, kMaxMessage) + "... (" + std::to_string(text.size() - kMaxMessage) +
           " more bytes)";
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else out += char(c);
  }
  PyObject* msg = PyUnicode_DecodeUTF8(out.data(), Py_ssize_t(out.size()), "replace");
  if (!msg) {
    PyErr_Clear();
    PyErr_SetString(type, "(a message that is not text)");
    return;
  }
  PyErr_SetObject(type, msg);
  Py_DECREF(msg);
}

// The exception types (a translator is a plain function: no captures).
PyObject* usage_t = nullptr;
PyObject* setup_t = nullptr;
PyObject* stale_t = nullptr;

// T.__new__(T) makes an instance whose C++ object was never constructed, and pybind11 lets
// any method read it (garbage, or a crash). Each class of the module answers it with a
// UsageError instead. The `__new__` attribute is what that call looks up; calling the class
// goes through the C slot tp_new, which is put back as it was.
void refuse_bare_new(py::module_& m) {
  py::cpp_function refuse([](py::handle cls, const py::args&, const py::kwargs&) -> py::object {
    const auto name = py::str(cls.attr("__name__")).cast<std::string>();
    throw pagesim::UsageError(name + ".__new__ is refused: it would make a " + name +
                              " with no C++ object behind it (call " + name +
                              "(...) or get one from pagesim)");
  });
  std::vector<std::pair<PyTypeObject*, newfunc>> classes;
  for (const auto& [key, value] : py::dict(m.attr("__dict__")))
    if (PyType_Check(value.ptr()) && py::detail::get_type_info(reinterpret_cast<PyTypeObject*>(value.ptr())))
      classes.emplace_back(reinterpret_cast<PyTypeObject*>(value.ptr()),
                           reinterpret_cast<PyTypeObject*>(value.ptr())->tp_new);
  // Setting __new__ on a class changes the slot of its subclasses too: all are put back after.
  for (const auto& [type, tp_new] : classes)
    py::setattr(reinterpret_cast<PyObject*>(type), "__new__", py::staticmethod(refuse));
  for (const auto& [type, tp_new] : classes) type->tp_new = tp_new;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pagesim core: deterministic simulator of Linux memory management";
  m.attr("__version__") = PAGESIM_VERSION;

  // Translators registered later are tried first: the most specific come last.
  auto usage = py::register_exception<pagesim::UsageError>(m, "UsageError", PyExc_ValueError);
  py::register_exception<pagesim::StaleSchedule>(m, "StaleScheduleError", usage);
  auto setup_fault = py::register_exception<pagesim::SetupFault>(m, "SetupFault", usage);
  // Raw pointers: the module keeps the types alive, and a py::object captured here would be
  // released at exit without the GIL.
  usage_t = usage.ptr();
  setup_t = setup_fault.ptr();
  stale_t = m.attr("StaleScheduleError").ptr();
  // Registered last, so tried first: the message of a UsageError is one line of valid text
  // whatever it quotes (a name with a newline, bytes of a malformed JSON document cut in
  // the middle of a character, a number of 5000 digits).
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const pagesim::SetupFault& e) {
      set_usage_error(setup_t, e.what());
    } catch (const pagesim::StaleSchedule& e) {
      set_usage_error(stale_t, e.what());
    } catch (const pagesim::UsageError& e) {
      set_usage_error(usage_t, e.what());
    }
  });

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
  refuse_bare_new(m);
}
