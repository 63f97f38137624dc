// Fiber stacks (engine/fiber_stack.h): their size, their reuse, and the guard below them
// that turns a stack overflow into a clear abort instead of a silent corruption.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "engine/fiber_stack.h"
#include "engine/sim.h"

using namespace pagesim;

namespace {

SimConfig one_cpu() {
  SimConfig c;
  c.cpus = 1;
  return c;
}

volatile size_t g_depth_limit = SIZE_MAX;  // read at run time: the recursion is not infinite to GCC

// Uses about 1 KiB of stack per level, down to `levels` levels; returns the deepest address.
[[gnu::noinline]] uintptr_t recurse(size_t levels) {
  volatile char pad[1024];
  pad[0] = char(levels);
  if (levels == 0 || levels == g_depth_limit) return reinterpret_cast<uintptr_t>(&pad[0]);
  const uintptr_t deepest = recurse(levels - 1);
  return deepest + size_t(pad[0] != char(levels));  // uses pad after the call: no tail call
}

// The stack one level of recurse() takes: its 1 KiB and the frame around it (more under
// ASan, whose redzones surround pad).
size_t level_size() {
  volatile size_t one = 1;  // read at run time: no copy of recurse() specialised for 0 or 1
  return recurse(one - 1) - recurse(one);
}

void run_task(const char* name, std::function<void()> body) {
  Sim sim(one_cpu(), nullptr, std::make_unique<RandomStrategy>(1));
  sim.spawn(0, name, std::move(body));
  sim.run();
}

}  // namespace

TEST(StackGuard, TaskHasMostOfItsStack) {
  // 7 MiB of the 8 MiB stack: far past the 512 KiB stacks tasks once had.
  EXPECT_EXIT(
      {
        run_task("deep", [] { recurse((FiberStack::kSize - (1 << 20)) / level_size()); });
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(StackGuard, OverflowAbortsNamingTheTask) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(run_task("runaway", [] { recurse(SIZE_MAX - 1); }),
               "pagesim: fiber stack overflow in task runaway \\(its 8192 KiB stack is "
               "exhausted");
}

TEST(StackGuard, StacksAreReusedAcrossRuns) {
  // An exploration runs a Sim millions of times: a task's stack comes from the pool, not
  // from a new mapping each time.
  std::set<uintptr_t> stacks;
  for (int i = 0; i < 200; ++i)
    run_task("t", [&] { stacks.insert(reinterpret_cast<uintptr_t>(__builtin_frame_address(0))); });
  EXPECT_EQ(stacks.size(), 1u);
}
