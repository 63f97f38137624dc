#include "engine/sync.h"

#include <algorithm>

#include "engine/objclass.h"

namespace pagesim {
namespace {

// Outside a run nothing can wait: a held lock in set-up code is a scenario error.
[[noreturn]] void setup_contention(const char* what, ObjId id) {
  throw UsageError(std::string("set-up code found ") + what + " " + obj_label(id) +
                   " held; set-up runs outside any task and cannot wait");
}

Sim* running_sim() {
  Sim* s = Sim::current();
  return s && s->current_task() ? s : nullptr;
}

void acquired(Sim* s, ObjId id, bool spinning) {
  if (!s) return;
  s->hold(id);
  if (spinning) s->current_task()->spin_depth++;
}

void released(Sim* s, ObjId id, bool spinning) {
  if (!s) return;
  s->release(id);
  if (spinning && s->current_task()->spin_depth) s->current_task()->spin_depth--;
  s->wake(id);
}

// A spinlock taken at a scheduling point: if the task makes no other before it unlocks,
// nothing it did in between was visible to another CPU (every shared access is a
// scheduling point), so the unlock is part of the same step (Sim::follow_on). A walk that
// takes each lock of many to look and finds nothing (zs_compact over the size classes)
// then costs one step a lock, and no interleaving is lost: another CPU's step between the
// lock and the unlock could only be one that does not touch the lock.
void took_spinlock(Sim* s, ObjId id) {
  if (!s) return;
  s->current_task()->quiet_lock = id;
  s->current_task()->quiet_step = s->steps();
}

// Not with softirqs: one could interrupt the task between the lock and the unlock.
bool quiet_since_lock(Sim* s, ObjId id) {
  return s && !s->config().softirq && s->current_task()->quiet_lock == id &&
         s->current_task()->quiet_step == s->steps();
}

}  // namespace

void preempt_disable() {
  if (Sim* s = running_sim()) s->current_task()->spin_depth++;
}

void preempt_enable() {
  if (Sim* s = running_sim(); s && s->current_task()->spin_depth) s->current_task()->spin_depth--;
}

void local_bh_disable() {
  if (Sim* s = running_sim()) s->current_task()->bh_depth++;
}

void local_bh_enable() {
  if (Sim* s = running_sim(); s && s->current_task()->bh_depth) s->current_task()->bh_depth--;
}

void spin_lock_bh(SpinLock& l, uint32_t line) {
  local_bh_disable();
  spin_lock(l, line);
}

void spin_unlock_bh(SpinLock& l, uint32_t line) {
  spin_unlock(l, line);
  local_bh_enable();
}

void local_irq_disable() {
  if (Sim* s = running_sim()) s->current_task()->irq_depth++;
}

void local_irq_enable() {
  if (Sim* s = running_sim(); s && s->current_task()->irq_depth) s->current_task()->irq_depth--;
}

void spin_lock_irq(SpinLock& l, uint32_t line) {
  local_irq_disable();
  spin_lock(l, line);
}

void spin_unlock_irq(SpinLock& l, uint32_t line) {
  spin_unlock(l, line);
  local_irq_enable();
}

bool spin_trylock_irqsave(SpinLock& l, uint32_t line) {
  local_irq_disable();
  if (spin_trylock(l, line)) return true;
  local_irq_enable();
  return false;
}

void spin_lock(SpinLock& l, uint32_t line) {
  Sim* s = running_sim();
  for (;;) {
    sched(Op::SpinLock, Access::Write, l.id, line);
    if (l.owner == kNoTask) {
      l.owner = self_id();
      took_spinlock(s, l.id);
      return acquired(s, l.id, true);
    }
    if (!s) setup_contention("spinlock", l.id);
    ++l.spinning;
    s->block({l.id, "spinlock", true, false});
    --l.spinning;
  }
}

bool spin_is_contended(const SpinLock& l, uint32_t line) {
  sched(Op::Read, Access::Read, l.id, line);
  return l.spinning != 0;
}

bool spin_trylock(SpinLock& l, uint32_t line) {
  sched(Op::SpinTrylock, Access::Write, l.id, line);
  if (l.owner != kNoTask) return false;
  l.owner = self_id();
  Sim* s = running_sim();
  took_spinlock(s, l.id);
  acquired(s, l.id, true);
  return true;
}

// CONFIG_DEBUG_SPINLOCK-style checks: unlocking a lock the task does not hold.
static void check_owner(TaskId owner, const char* fn, ObjId id) {
  if (owner != self_id())
    BUG(fn, std::string(owner == kNoTask ? "lock already unlocked: " : "wrong owner: ") +
                obj_label(id, Sim::current() ? Sim::current()->world() : nullptr));
}

void spin_unlock(SpinLock& l, uint32_t line) {
  check_owner(l.owner, REPORT_FUNC("spin_unlock"), l.id);
  Sim* s = running_sim();
  if (quiet_since_lock(s, l.id))
    s->follow_on(Op::SpinUnlock, Access::Write, l.id, line);
  else
    sched(Op::SpinUnlock, Access::Write, l.id, line);
  l.owner = kNoTask;
  released(s, l.id, true);
}

void mutex_lock(Mutex& m, uint32_t line) {
  Sim* s = running_sim();
  if (s) s->might_sleep("mutex", m.id);
  for (;;) {
    sched(Op::Lock, Access::Write, m.id, line);
    if (m.owner == kNoTask) {
      m.owner = self_id();
      return acquired(s, m.id, false);
    }
    if (!s) setup_contention("mutex", m.id);
    s->block({m.id, "mutex", false, false});
  }
}

bool mutex_trylock(Mutex& m, uint32_t line) {
  sched(Op::Trylock, Access::Write, m.id, line);
  if (m.owner != kNoTask) return false;
  m.owner = self_id();
  acquired(running_sim(), m.id, false);
  return true;
}

void mutex_unlock(Mutex& m, uint32_t line) {
  check_owner(m.owner, REPORT_FUNC("mutex_unlock"), m.id);
  sched(Op::Unlock, Access::Write, m.id, line);
  m.owner = kNoTask;
  released(running_sim(), m.id, false);
}

void down_read(RwSem& rw, uint32_t line) {
  Sim* s = running_sim();
  if (s) s->might_sleep("rw_semaphore (read)", rw.id);
  bool queued = false;
  for (;;) {
    sched(Op::ReadLock, Access::Write, rw.id, line);
    if (rw.writer == kNoTask && !rw.writers_waiting) {
      if (queued) --rw.readers_waiting;
      ++rw.readers;
      return acquired(s, rw.id, false);
    }
    if (!s) setup_contention("rw_semaphore", rw.id);
    if (!queued) ++rw.readers_waiting;
    queued = true;
    s->block({rw.id, "rw_semaphore (read)", false, false});
  }
}

bool down_read_trylock(RwSem& rw, uint32_t line) {
  sched(Op::Trylock, Access::Write, rw.id, line);
  if (rw.writer != kNoTask || rw.writers_waiting) return false;
  ++rw.readers;
  acquired(running_sim(), rw.id, false);
  return true;
}

void up_read(RwSem& rw, uint32_t line) {
  if (!rw.readers) BUG(REPORT_FUNC("up_read"), "rw_semaphore not read-locked: " + obj_label(rw.id));
  sched(Op::ReadUnlock, Access::Write, rw.id, line);
  --rw.readers;
  released(running_sim(), rw.id, false);
}

void down_write(RwSem& rw, uint32_t line) {
  Sim* s = running_sim();
  if (s) s->might_sleep("rw_semaphore (write)", rw.id);
  bool queued = false;
  for (;;) {
    sched(Op::WriteLock, Access::Write, rw.id, line);
    if (rw.writer == kNoTask && !rw.readers) {
      if (queued) --rw.writers_waiting;
      rw.writer = self_id();
      return acquired(s, rw.id, false);
    }
    if (!s) setup_contention("rw_semaphore", rw.id);
    if (!queued) ++rw.writers_waiting;
    queued = true;
    s->block({rw.id, "rw_semaphore (write)", false, false});
  }
}

void up_write(RwSem& rw, uint32_t line) {
  check_owner(rw.writer, REPORT_FUNC("up_write"), rw.id);
  sched(Op::WriteUnlock, Access::Write, rw.id, line);
  rw.writer = kNoTask;
  released(running_sim(), rw.id, false);
}

bool rwsem_is_contended(const RwSem& rw, uint32_t line) {
  sched(Op::Read, Access::Read, rw.id, line);
  return rw.readers_waiting || rw.writers_waiting;
}

namespace {
// Spins until the task's ticket is served: it then holds the rwlock's wait_lock.
void rwlock_queue(Sim* s, RwLock& l, const char* what, uint32_t line) {
  if (!s) setup_contention("rwlock", l.id);
  const uint16_t ticket = l.next++;
  while (l.serving != ticket) {
    s->block({l.id, what, true, false});
    sched(Op::ReadLock, Access::Read, l.id, line);
  }
}
void rwlock_unqueue(Sim* s, RwLock& l) {
  ++l.serving;
  if (s) s->wake(l.id);
}
}  // namespace

void read_lock(RwLock& l, uint32_t line) {
  Sim* s = running_sim();
  sched(Op::ReadLock, Access::Write, l.id, line);
  if (l.writer == kNoTask && l.waiting == kNoTask) {  // no _QW_WMASK bit: the fast path
    ++l.readers;
    return acquired(s, l.id, true);
  }
  rwlock_queue(s, l, "rwlock (read)", line);  // queued_read_lock_slowpath
  while (l.writer != kNoTask) {               // rspin_until_writer_unlock
    s->block({l.id, "rwlock (read)", true, false});
    sched(Op::ReadLock, Access::Write, l.id, line);
  }
  ++l.readers;
  acquired(s, l.id, true);
  rwlock_unqueue(s, l);
}

void read_unlock(RwLock& l, uint32_t line) {
  if (!l.readers) BUG(REPORT_FUNC("read_unlock"), "rwlock not read-locked: " + obj_label(l.id));
  sched(Op::ReadUnlock, Access::Write, l.id, line);
  --l.readers;
  released(running_sim(), l.id, true);
}

void write_lock(RwLock& l, uint32_t line) {
  Sim* s = running_sim();
  sched(Op::WriteLock, Access::Write, l.id, line);
  const auto idle = [&] { return l.writer == kNoTask && l.waiting == kNoTask && !l.readers; };
  if (idle()) {  // cmpxchg(&lock->cnts, 0, _QW_LOCKED)
    l.writer = self_id();
    return acquired(s, l.id, true);
  }
  rwlock_queue(s, l, "rwlock (write)", line);  // queued_write_lock_slowpath
  while (l.writer != kNoTask) {  // another writer holds it: wait to set _QW_WAITING
    s->block({l.id, "rwlock (write)", true, false});
    sched(Op::WriteLock, Access::Write, l.id, line);
  }
  l.waiting = self_id();
  while (l.readers) {  // new readers now queue; wait for those inside to leave
    s->block({l.id, "rwlock (write)", true, false});
    sched(Op::WriteLock, Access::Write, l.id, line);
  }
  l.waiting = kNoTask;
  l.writer = self_id();
  acquired(s, l.id, true);
  rwlock_unqueue(s, l);
}

void write_unlock(RwLock& l, uint32_t line) {
  check_owner(l.writer, REPORT_FUNC("write_unlock"), l.id);
  sched(Op::WriteUnlock, Access::Write, l.id, line);
  l.writer = kNoTask;
  released(running_sim(), l.id, true);
}

bool rwlock_is_contended(const RwLock& l, uint32_t line) {
  sched(Op::Read, Access::Read, l.id, line);
  return l.next != l.serving;
}

namespace {
// The run of a task about to wait; set-up code cannot wait.
Sim* waiting_sim(const WaitInfo& w) {
  Sim* s = running_sim();
  if (!s)
    throw UsageError(std::string("set-up code would ") + (w.spinning ? "spin" : "sleep") +
                     " on " + w.what + " (" + obj_label(w.obj) +
                     "); set-up runs outside any task and cannot wait");
  return s;
}
}  // namespace

void sleep_on(const WaitInfo& w) {
  Sim* s = waiting_sim(w);
  s->might_sleep(w.what, w.obj);
  s->block(w);
}

void poll_sleep(ObjId obj, Nanos period, const char* what, uint32_t line) {
  Sim* s = running_sim();
  const Nanos start = s ? s->now() : 0;
  sleep_on({obj, what, false, false, false, true});  // refuses set-up code (no s)
  const Nanos slept = s->now() - start;
  const Nanos periods = std::max<Nanos>(1, (slept + period - 1) / period);
  delay(periods * period - slept, line);
}

void poll_resched(ObjId obj, const char* what) { sleep_on({obj, what, false, false, false, true}); }

void poll_spin(ObjId obj, const char* what) {
  const WaitInfo w{obj, what, true, false, true, true};
  waiting_sim(w)->block(w);
}

void wake_up(ObjId obj) {
  if (Sim* s = running_sim()) s->wake(obj);
}

void wake_up_pollers(ObjId obj) {
  if (Sim* s = running_sim()) s->wake(obj, true);
}

void bit_lock(int nr, uint64_t& w, ObjId obj, BitLockKind kind, const char* what, uint32_t line) {
  Sim* s = running_sim();
  const bool sleeps = kind == BitLockKind::Sleep;
  if (s && sleeps) s->might_sleep(what, obj);
  for (;;) {
    sched_bit(Op::TestAndSet, Access::Write, obj, line, nr);
    if (!((w >> nr) & 1)) {
      w |= uint64_t(1) << nr;
      return acquired(s, obj, kind == BitLockKind::Spin);
    }
    if (!s) setup_contention(what, obj);
    s->block({obj, what, !sleeps, false, kind == BitLockKind::Busy});
  }
}

bool bit_trylock(int nr, uint64_t& w, ObjId obj, BitLockKind kind, uint32_t line) {
  sched_bit(Op::TestAndSet, Access::Write, obj, line, nr);
  if ((w >> nr) & 1) return false;
  w |= uint64_t(1) << nr;
  acquired(running_sim(), obj, kind == BitLockKind::Spin);
  return true;
}

uint64_t bit_unlock_quiet(int nr, uint64_t& w, ObjId obj, uint32_t line) {
  sched_bit(Op::BitClear, Access::Write, obj, line, nr);
  w &= ~(uint64_t(1) << nr);
  if (Sim* s = running_sim()) s->release(obj);
  return w;
}

void bit_unlock(int nr, uint64_t& w, ObjId obj, BitLockKind kind, uint32_t line) {
  sched_bit(Op::BitClear, Access::Write, obj, line, nr);
  w &= ~(uint64_t(1) << nr);
  released(running_sim(), obj, kind == BitLockKind::Spin);
}

}  // namespace pagesim
