#include "engine/world.h"

#include <stdexcept>

namespace pagesim {
namespace {

std::string lock_label(uint64_t i, const World* w) {
  if (w && i < w->locks.size()) return "'" + w->locks[i].name + "'";
  return "lock " + std::to_string(i);
}
std::string counter_label(uint64_t i, const World* w) {
  if (w && i < w->counters.size()) return "counter '" + w->counters[i].name + "'";
  return "counter " + std::to_string(i);
}
std::string work_label(uint64_t i, const World* w) {
  if (w && i < w->works.size()) return std::string("work ") + w->works[i].name;
  return "work " + std::to_string(i);
}
std::string wq_label(uint64_t i, const World* w) {
  if (w && i < w->workqueues.size()) return "workqueue " + w->workqueues[i].name;
  return "workqueue " + std::to_string(i);
}

const bool registered = [] {
  register_obj_class(objclass::kLock, "lock", lock_label);
  register_obj_class(objclass::kCounter, "counter", counter_label);
  register_obj_class(objclass::kWork, "work", work_label);
  register_obj_class(objclass::kWorkqueue, "workqueue", wq_label);
  return true;
}();

}  // namespace

World::World() { alloc_workqueue(*this, "events", 0); }

uint32_t World::add_lock(std::string name, LockKind kind) {
  const auto i = uint32_t(locks.size());
  NamedLock& l = locks.emplace_back();
  l.name = std::move(name);
  l.kind = kind;
  l.spin.id = l.mutex.id = l.rw.id = lock_obj(i);
  return i;
}

uint32_t World::add_counter(std::string name, int64_t value) {
  counters.push_back({std::move(name), value});
  return uint32_t(counters.size() - 1);
}

uint32_t init_work(World& w, WorkFn fn, uint64_t arg, const char* name) {
  w.works.push_back({fn, arg, name, false, false});
  return uint32_t(w.works.size() - 1);
}

uint32_t alloc_workqueue(World& w, std::string name, CpuId cpu) {
  w.workqueues.push_back({std::move(name), cpu, {}, 0, {}});
  kasan_alloc(w.workqueues.back().life);
  return uint32_t(w.workqueues.size() - 1);
}

bool queue_work(World& w, uint32_t wq, uint32_t work, uint32_t line) {
  if (wq >= w.workqueues.size() || work >= w.works.size())
    throw UsageError("queue_work: no such workqueue or work");
  sched(Op::QueueWork, Access::Write, work_obj(work), line);
  kasan_check(w.workqueues[wq].life, "struct workqueue_struct", w.workqueues[wq].name, true);
  WorkStruct& ws = w.works[work];
  if (ws.pending) return false;
  ws.pending = true;
  w.workqueues[wq].queue.push_back(work);
  if (Sim* s = Sim::current()) s->wake(wq_obj(wq));
  return true;
}

namespace {

// process_one_work: clear PENDING, run the function, wake flushers.
void process_one_work(World& w, uint32_t wq) {
  const uint32_t work = w.workqueues[wq].queue.front();
  w.workqueues[wq].queue.pop_front();
  w.works[work].pending = false;
  w.works[work].running = true;
  w.workqueues[wq].running = work + 1;
  w.works[work].func(w, w.works[work].arg);
  w.works[work].running = false;
  w.workqueues[wq].running = 0;
  if (Sim* s = Sim::current()) s->wake(work_obj(work));
}

// A kworker starts asleep; each wake-up is a visible look at its queue.
void worker_thread(World& w, uint32_t wq) {
  MODEL_FUNC("worker_thread");
  Sim& s = *Sim::current();
  for (;;) {
    if (w.workqueues[wq].queue.empty()) {
      if (!s.wait_idle(wq_obj(wq), "workqueue")) return;  // the run is over
      sched(Op::Read, Access::Read, wq_obj(wq), here());
      continue;
    }
    process_one_work(w, wq);
  }
}

}  // namespace

void flush_work(World& w, uint32_t work, uint32_t line) {
  if (work >= w.works.size()) throw UsageError("flush_work: no such work");
  Sim* s = Sim::current();
  if (!s || !s->current_task()) {
    // Set-up code: run queued work inline until this one has run.
    while (w.works[work].pending) {
      for (uint32_t wq = 0; wq < w.workqueues.size(); ++wq)
        if (!w.workqueues[wq].queue.empty()) {
          process_one_work(w, wq);
          break;
        }
    }
    return;
  }
  for (;;) {
    sched(Op::FlushWork, Access::Read, work_obj(work), line);
    const WorkStruct& ws = w.works[work];
    if (!ws.pending && !ws.running) return;
    // It waits for the worker's progress, not for a lock's holder.
    s->block({work_obj(work), "flush_work", false, false, false, true});
  }
}

void drain_workqueue(World& w, uint32_t wq, uint32_t line) {
  if (wq >= w.workqueues.size()) throw UsageError("drain_workqueue: no such workqueue");
  for (;;) {
    sched(Op::Read, Access::Read, wq_obj(wq), line);
    const Workqueue& q = w.workqueues[wq];
    if (q.running) {
      flush_work(w, q.running - 1, line);
    } else if (!q.queue.empty()) {
      flush_work(w, q.queue.front(), line);
    } else {
      return;
    }
  }
}

namespace {
// A look at a work's state (work_pending, work_busy): a read of the work.
const WorkStruct& look_at(World& w, uint32_t work, uint32_t line, const char* fn) {
  if (work >= w.works.size()) throw UsageError(std::string(fn) + ": no such work");
  sched(Op::Read, Access::Read, work_obj(work), line);
  return w.works[work];
}
}  // namespace

bool work_pending(World& w, uint32_t work, uint32_t line) { return look_at(w, work, line, "work_pending").pending; }

bool work_busy(World& w, uint32_t work, uint32_t line) {
  const WorkStruct& ws = look_at(w, work, line, "work_busy");
  return ws.pending || ws.running;
}

void destroy_workqueue(World& w, uint32_t wq, uint32_t line) {
  drain_workqueue(w, wq, line);
  // The drain's last look at the queue is the scheduling point the free follows.
  kasan_record_free(w.workqueues[wq].life, "struct workqueue_struct", wq);
}

bool cancel_work_sync(World& w, uint32_t work, uint32_t line) {
  if (work >= w.works.size()) throw UsageError("cancel_work_sync: no such work");
  sched(Op::QueueWork, Access::Write, work_obj(work), line);
  WorkStruct& ws = w.works[work];
  const bool pending = ws.pending;
  if (pending) {
    ws.pending = false;
    for (Workqueue& wq : w.workqueues) std::erase(wq.queue, work);
  }
  if (ws.running) flush_work(w, work, line);
  return pending;
}

void spawn_workers(Sim& sim, World& world) {
  for (uint32_t wq = 0; wq < world.workqueues.size(); ++wq) {
    const CpuId cpu = world.workqueues[wq].cpu < sim.config().cpus ? world.workqueues[wq].cpu : 0;
    thread_local std::string name;  // reused: every execution spawns its workers
    name.assign("kworker/").append(std::to_string(cpu)).append(":").append(
        world.workqueues[wq].name);
    sim.spawn(cpu, name, [&world, wq] { worker_thread(world, wq); }, /*daemon=*/true);
  }
}

}  // namespace pagesim
