#include "py_common.h"

namespace pagesim::py_glue {

std::function<void()> python_task_body(py::object factory, py::tuple args, OpExecutor exec) {
  return [factory = std::move(factory), args = std::move(args), exec = std::move(exec)] {
    Task* task = Sim::current()->current_task();
    // The generator function names the task's outermost frame in traces and reports.
    const uint32_t func = intern(py::hasattr(factory, "__name__")
                                     ? factory.attr("__name__").cast<std::string>()
                                     : std::string("python_task"));
    ModelFrame frame(func);
    task->in_python = true;
    py::object gen = factory(*args);
    task->in_python = false;
    if (!py::hasattr(gen, "send"))
      throw UsageError("a task must be a generator function that yields operations; " +
                       py::repr(factory).cast<std::string>() + " returned " +
                       py::repr(gen).cast<std::string>());
    py::object send = gen.attr("send");
    py::object value = py::none();
    for (;;) {
      py::object op;
      task->in_python = true;
      try {
        op = send(value);
      } catch (py::error_already_set& e) {
        task->in_python = false;
        if (e.matches(PyExc_StopIteration)) return;
        throw;
      }
      task->in_python = false;
      value = exec(op);
    }
  };
}

}  // namespace pagesim::py_glue
