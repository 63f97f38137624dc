// Shared pieces of the pybind11 glue: exception translation and the Python task driver.
#pragma once
#include <pybind11/pybind11.h>

#include <functional>
#include <string>

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

void register_engine(py::module_& m);
void register_bench(py::module_& m);
void register_kernel(py::module_& m);
void register_explore(py::module_& m);
void register_zsmalloc(py::module_& m);  // zsmalloc and zram views
void register_balloon(py::module_& m);   // balloon and test driver views

}  // namespace pagesim::py_glue
