// The engine's part of the simulated world: everything a run shares, as plain values
// addressed by ids, so a world can be copied (snapshot) and every execution starts
// from the same state. The kernel model (kernel/) derives its Kernel from it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/sync.h"
#include "engine/workqueue.h"

namespace pagesim {

// A lock created by a scenario (from Python) rather than embedded in a model object.
enum class LockKind : uint8_t { Spin, Mutex, RwLock };
struct NamedLock {
  std::string name;
  LockKind kind = LockKind::Spin;
  SpinLock spin;
  Mutex mutex;
  RwLock rw;
};

// An atomic_t created by a scenario.
struct NamedCounter {
  std::string name;
  int64_t value = 0;
};

class World {
 public:
  World();
  virtual ~World() = default;
  World(const World&) = default;
  World& operator=(const World&) = default;

  uint32_t add_lock(std::string name, LockKind kind);
  uint32_t add_counter(std::string name, int64_t value);
  ObjId lock_obj(uint32_t i) const { return make_obj(objclass::kLock, i); }
  ObjId counter_obj(uint32_t i) const { return make_obj(objclass::kCounter, i); }

  std::vector<NamedLock> locks;
  std::vector<NamedCounter> counters;
  std::vector<WorkStruct> works;
  std::vector<Workqueue> workqueues;  // [0] is system_wq
};

// Spawns one worker task per workqueue (called by Sim::run).
void spawn_workers(Sim& sim, World& world);

}  // namespace pagesim
