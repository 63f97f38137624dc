// Fiber stacks: mapped with a PROT_NONE guard at their low end and pooled per thread. A
// task that overflows its stack faults in the guard, and the process ends with a one-line
// message naming the task instead of overwriting whatever lies below.
#pragma once
#include <cstddef>

#include <boost/context/stack_context.hpp>

namespace pagesim {

struct Task;

// A Boost.Context stack allocator. Stacks are reused across runs and executions (an
// exploration runs millions): only a pool miss maps memory.
class FiberStack {
 public:
  // Usable bytes, as a Linux main thread's default (ulimit -s 8192): Python code recursing
  // to its recursion limit in a task fits as it does on the main thread. MAP_NORESERVE:
  // pages are only backed once touched.
  static constexpr size_t kSize = size_t(8) << 20;
  // Below the usable bytes. The core is built with -fstack-clash-protection, so a larger
  // frame of its own probes it too.
  static constexpr size_t kGuard = size_t(64) << 10;

  // `task` is named if the stack overflows.
  explicit FiberStack(const Task* task) : task_(task) {}
  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& sc) noexcept;

 private:
  const Task* task_;
};

}  // namespace pagesim
