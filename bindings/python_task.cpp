#include "py_common.h"

namespace pagesim::py_glue {

void error_outcome(py::error_already_set& e) {
  Sim* sim = Sim::current();
  const std::string type = e.type().attr("__name__").cast<std::string>();
  const std::string message = py::str(e.value()).cast<std::string>();
  std::vector<std::string> details;
  py::object lines = py::module_::import("traceback")
                         .attr("format_exception")(e.type(), e.value(), e.trace());
  for (auto chunk : lines) {
    std::string text = chunk.cast<std::string>();
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      if (nl > start) details.push_back(text.substr(start, nl - start));
      start = nl + 1;
    }
  }
  if (sim->current_task()) sim->end_task(OutcomeKind::Exception, type, message, std::move(details));
  Outcome o;
  o.kind = OutcomeKind::Exception;
  o.function = type;
  o.message = message;
  o.details = std::move(details);
  sim->add_outcome(std::move(o));
}

namespace {

// Python's recursion limit while a task's Python code runs on its fiber stack, at most.
// Up to 3.11 the limit also bounds recursion through C (a key function of sorted() calling
// sorted(), a recursive __repr__): the deepest measured on 3.11, list.sort with a key,
// takes 2.5 KiB of C stack per level, so 2000 levels fit in FiberStack::kSize with room to
// spare. A higher limit (the default is 1000) is lowered only while task code runs, and
// restored unless the task set one itself. From 3.12 C recursion has a limit of its own.
constexpr int kTaskRecursionLimit = 2000;

class TaskRecursionLimit {
 public:
  TaskRecursionLimit() {
#if PY_VERSION_HEX < 0x030C0000
    if (const int limit = Py_GetRecursionLimit(); limit > kTaskRecursionLimit) [[unlikely]] {
      saved_ = limit;
      Py_SetRecursionLimit(kTaskRecursionLimit);
    }
#endif
  }
  ~TaskRecursionLimit() {
    if (saved_ && Py_GetRecursionLimit() == kTaskRecursionLimit) Py_SetRecursionLimit(saved_);
  }
  TaskRecursionLimit(const TaskRecursionLimit&) = delete;
  TaskRecursionLimit& operator=(const TaskRecursionLimit&) = delete;

 private:
  int saved_ = 0;
};

}  // namespace

std::function<void()> python_task_body(py::object factory, py::tuple args, OpExecutor exec) {
  return [factory = std::move(factory), args = std::move(args), exec = std::move(exec)] {
    Task* task = Sim::current()->current_task();
    // The generator function names the task's outermost frame in traces and reports.
    const uint32_t func = intern(py::hasattr(factory, "__name__")
                                     ? factory.attr("__name__").cast<std::string>()
                                     : std::string("python_task"));
    ModelFrame frame(func);
    task->in_python = true;
    py::object gen;
    {
      TaskRecursionLimit limit;
      gen = factory(*args);
    }
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
        TaskRecursionLimit limit;
        op = send(value);
      } catch (py::error_already_set& e) {
        task->in_python = false;
        if (e.matches(PyExc_StopIteration)) return;
        if (Sim::current()->config().errors_as_outcomes) error_outcome(e);
        throw;
      }
      task->in_python = false;
      value = exec(op);
    }
  };
}

}  // namespace pagesim::py_glue
