// Shared pieces of the pybind11 glue: exception translation and the Python task driver.
#pragma once
#include <pybind11/pybind11.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/sim.h"

namespace pagesim::py_glue {

namespace py = pybind11;

// Executes one operation yielded by a Python task and returns the value sent back
// into the generator. Implemented by each layer that defines operations.
using OpExecutor = std::function<py::object(py::handle op)>;

// The body of a Python task: calls `factory(*args)` to get a generator, then sends
// each operation's result back in. No Python frame is live while C++ runs the
// operation (which may switch fibers): the generator is suspended at its `yield`.
std::function<void()> python_task_body(py::object factory, py::tuple args, OpExecutor exec);
// With SimConfig::errors_as_outcomes: a Python exception becomes outcome exception:<Type>
// with its traceback; inside a task it ends the task, as BUG() does.
void error_outcome(py::error_already_set& e);

// Arguments of the functions a Python task calls at every step (ps.call, ps.delay, ...):
// they take py::object and check it here, so a wrong type is a one-line UsageError naming
// the argument without a Python-level wrapper on the hot path (see pagesim/args.py for the
// rest of the API).
inline std::string arg_repr(py::handle v) {
  std::string r = py::repr(v).cast<std::string>();
  return r.size() <= 60 ? r : r.substr(0, 57) + "...";
}

inline std::string str_arg(py::handle v, const char* fn, const char* name) {
  if (!PyUnicode_Check(v.ptr()))
    throw UsageError(std::string(fn) + ": " + name + " must be a string, not " + arg_repr(v));
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(v.ptr(), &n);
  if (!s) {  // a lone surrogate: not UTF-8
    PyErr_Clear();
    throw UsageError(std::string(fn) + ": " + name + " must be a string of UTF-8 text, not " +
                     arg_repr(v));
  }
  return std::string(s, size_t(n));
}

inline int64_t int_arg(py::handle v, const char* fn, const char* name, int64_t lo, int64_t hi) {
  const auto bad = [&] {
    return UsageError(std::string(fn) + ": " + name + " must be an int between " +
                      std::to_string(lo) + " and " + std::to_string(hi) + ", not " + arg_repr(v));
  };
  if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr())) throw bad();
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (overflow || x < lo || x > hi) throw bad();
  return int64_t(x);
}

// The parameters of a per-step op. pybind11 matches its arguments (the fast path); a call
// whose arguments do not match falls through to an overload that raises bad_op_args'
// one-line UsageError ("delay: ns is missing"), where pybind11 would list C++ signatures.
struct OpParams {
  const char* fn;                  // as messages name it: "delay", "Lock.lock"
  std::vector<const char*> names;  // positional-or-keyword parameters
  size_t required = 0;             // the first `required` of them
  bool variadic = false;           // *args of ints after them (ps.call)
};
[[noreturn]] void bad_op_args(const OpParams& p, const py::args& a, const py::kwargs& k);
// Adds that overload to a module function or a method; define the op with
// py::options::disable_function_signatures() and its signature in the docstring.
inline void def_bad_args(py::module_& m, const char* name, OpParams p) {
  m.def(name, [p](const py::args& a, const py::kwargs& k) { bad_op_args(p, a, k); });
}
template <class T>
void def_bad_args(py::class_<T>& c, const char* name, OpParams p) {
  c.def(name, [p](py::handle, const py::args& a, const py::kwargs& k) { bad_op_args(p, a, k); });
}

void register_engine(py::module_& m);
void register_bench(py::module_& m);
void register_kernel(py::module_& m);
void register_explore(py::module_& m);
void register_zsmalloc(py::module_& m);  // zsmalloc and zram views
void register_balloon(py::module_& m);   // balloon and test driver views

}  // namespace pagesim::py_glue
