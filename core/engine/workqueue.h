// Workqueues: queue_work / schedule_work / flush_work with one worker task per queue.
#pragma once
#include <cstdint>
#include <deque>
#include <string>

#include "engine/kasan.h"
#include "engine/objclass.h"
#include "engine/types.h"

namespace pagesim {

class World;
using WorkFn = void (*)(World&, uint64_t arg);

// struct work_struct: the function and its argument, PENDING and running state.
struct WorkStruct {
  WorkFn func = nullptr;
  uint64_t arg = 0;
  const char* name = "";
  bool pending = false;  // WORK_STRUCT_PENDING: queued and not yet started
  bool running = false;
};

struct Workqueue {
  std::string name;
  CpuId cpu = 0;                // the CPU its worker (kworker) is bound to
  std::deque<uint32_t> queue;   // work ids, FIFO
  uint32_t running = 0;         // the work its worker runs now, + 1 (0: none)
  KasanObject life;             // freed by destroy_workqueue
};

inline ObjId work_obj(uint32_t work) { return make_obj(objclass::kWork, work); }
inline ObjId wq_obj(uint32_t wq) { return make_obj(objclass::kWorkqueue, wq); }

// INIT_WORK: returns the work id.
uint32_t init_work(World& w, WorkFn fn, uint64_t arg, const char* name);
uint32_t alloc_workqueue(World& w, std::string name, CpuId cpu);
// Returns false if the work was already pending (the kernel's queue_work semantics).
bool queue_work(World& w, uint32_t wq, uint32_t work, uint32_t line = 0);
inline bool schedule_work(World& w, uint32_t work, uint32_t line = 0) {
  return queue_work(w, 0, work, line);
}
// work_pending(): whether the work is queued and not yet started (a look at the work).
bool work_pending(World& w, uint32_t work, uint32_t line = 0);
// work_busy() != 0: the work is pending or running (WORK_BUSY_PENDING, WORK_BUSY_RUNNING).
bool work_busy(World& w, uint32_t work, uint32_t line = 0);
// cancel_work_sync: takes a pending work off its queue, then waits for a running one to
// end; returns whether it was pending.
bool cancel_work_sync(World& w, uint32_t work, uint32_t line = 0);
// Waits until the work is neither pending nor running. Set-up code runs it inline.
void flush_work(World& w, uint32_t work, uint32_t line = 0);
// drain_workqueue (destroy_workqueue's first step): flushes the queue's works until it is
// empty and its worker idle, work queued meanwhile included.
void drain_workqueue(World& w, uint32_t wq, uint32_t line = 0);
// destroy_workqueue: drains the queue and frees it; a later queue_work on it is a
// use-after-free.
void destroy_workqueue(World& w, uint32_t wq, uint32_t line = 0);

}  // namespace pagesim
