// current->flags (include/linux/sched.h): the PF_* bits of the running task.
#pragma once
#include <cstdint>

#include "engine/sim.h"

namespace pagesim::mm {

// "I am a memory allocator": set around direct compaction, so that its migrations never
// sleep on a page lock the allocating task may itself hold (__unmap_and_move).
inline constexpr uint32_t PF_MEMALLOC = 0x00000800;

// The running task's flags; set-up code, which runs in no task, has a word of its own.
inline uint32_t& current_flags() {
  thread_local uint32_t setup_flags = 0;
  Sim* s = Sim::current();
  Task* t = s ? s->current_task() : nullptr;
  return t ? t->flags : setup_flags;
}

// current->flags & PF_KTHREAD: the run's daemons (kcompactd, the kworkers) are the kernel
// threads; every task a scenario starts is a user task in a system call.
inline bool current_is_kthread() {
  Sim* s = Sim::current();
  Task* t = s ? s->current_task() : nullptr;
  return t && t->daemon;
}

// The kernel's `current`: the running task, or in a softirq the task it interrupted;
// nullptr in set-up code.
inline Task* current_kernel_task() {
  Sim* s = Sim::current();
  if (!s) return nullptr;
  Task* t = s->current_task();
  if (t && t->softirq) return s->interrupted_task();
  return t;
}

// current->capture_control (5e1f0f098b46); set-up code has a slot of its own.
inline void*& current_capture_control() {
  thread_local void* setup_capture = nullptr;
  Task* t = current_kernel_task();
  return t ? t->capture_control : setup_capture;
}

// current->flags |= PF_MEMALLOC for a scope, cleared at its end as the kernel clears it
// (also when the scope is left by an exception: set-up code goes on after one).
struct MemallocScope {
  MemallocScope() { current_flags() |= PF_MEMALLOC; }
  ~MemallocScope() { current_flags() &= ~PF_MEMALLOC; }
  MemallocScope(const MemallocScope&) = delete;
  MemallocScope& operator=(const MemallocScope&) = delete;
};

}  // namespace pagesim::mm
