// Helpers shared by the C++ tests of the engine itself.
#pragma once
#include "engine/sim.h"
#include "engine/world.h"

namespace pagesim::testing {

// Two tasks that never finish on their own: "stuck" (cpu 0) sleeps on a mutex nobody
// releases, and sets `unwound` when its stack unwinds; the daemon "worker" (cpu 1) waits
// idle for work, and sets `returned` when wait_idle() lets it return at the end.
// "stuck" sleeps on a mutex nobody holds (a lost wake-up: the run ends in a hang); the
// worker waits idle for work.
inline void spawn_stuck_and_idle_worker(Sim& sim, World& w, bool& returned, bool& unwound) {
  sim.spawn(0, "stuck", [&w, &unwound] {
    struct Guard {
      bool& done;
      ~Guard() { done = true; }
    } g{unwound};
    Sim::current()->block({w.lock_obj(0), "mutex", false, false});
  });
  sim.spawn(1, "worker", [&w, &returned] {
    if (!Sim::current()->wait_idle(w.lock_obj(1), "work")) returned = true;
  }, /*daemon=*/true);
}

}  // namespace pagesim::testing
