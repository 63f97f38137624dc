// Synchronisation primitives with the kernel's blocking semantics. Every access is a
// scheduling point; outside a run (set-up code) they act directly.
#pragma once
#include <cstdint>

#include "engine/sim.h"

namespace pagesim {

// Scheduling point for the current task, if any.
inline void sched(Op op, Access rw, ObjId obj, uint32_t line, Nanos extra = 0,
                  uint8_t bit = 0) {
  if (Sim* s = Sim::current(); s && s->current_task()) s->point(op, rw, obj, line, extra, bit);
}
// The scheduling point of an operation on bit `nr` of the object's flags word.
inline void sched_bit(Op op, Access rw, ObjId obj, uint32_t line, int nr) {
  sched(op, rw, obj, line, 0, uint8_t(nr + 1));
}

inline TaskId self_id() {
  Sim* s = Sim::current();
  Task* t = s ? s->current_task() : nullptr;
  return t ? t->id : kSetupTask;
}

// Busy CPU time with no shared access (udelay, a compute phase).
inline void delay(Nanos ns, uint32_t line = here()) { sched(Op::Delay, Access::Read, kNoObj, line, ns); }

// Sleeps until a wake_up(w.obj) (wait_event and friends: the caller looks again at its
// condition afterwards). Set-up code runs outside any task and cannot wait: a UsageError
// that says on what it would have slept.
void sleep_on(const WaitInfo& w);

// A loop that sleeps `period` (schedule_timeout, congestion_wait) and looks again at
// state behind `obj`. That state changes only with writes to obj, which call wake_up(obj),
// and a second look at unchanged state decides the same: so the task sleeps off its CPU
// until a write, then to the end of the period the write fell in, when the loop looks
// again. Waiting for a write no task can make any more is a hang, not a deadlock.
void poll_sleep(ObjId obj, Nanos period, const char* what, uint32_t line = here());
// The same loop with only cond_resched() between its looks: the task gives its CPU to
// the tasks waiting for it, and otherwise looks again at once, so it is off its CPU
// until a write (nothing it would see changes before one).
void poll_resched(ObjId obj, const char* what);
// The same loop with nothing between its looks: the task keeps its CPU until a write,
// preemptible under CONFIG_PREEMPT (it holds no spinlock).
void poll_spin(ObjId obj, const char* what);
// Wakes the tasks that poll obj (a writer of the state they poll).
void wake_up(ObjId obj);
// The same for a lock's object, without waking the tasks queued on the lock itself (an
// unlock that wakes those only in some kernels: unlock_page and PG_waiters).
void wake_up_pollers(ObjId obj);

// spinlock_t: spins in simulated time; the task keeps its CPU while spinning.
struct SpinLock {
  ObjId id = kNoObj;
  TaskId owner = kNoTask;
  uint16_t spinning = 0;  // tasks spinning in spin_lock (the qspinlock's pending/queued bits)
};
void spin_lock(SpinLock& l, uint32_t line = here());
bool spin_trylock(SpinLock& l, uint32_t line = here());
void spin_unlock(SpinLock& l, uint32_t line = here());
// Bottom halves off (the softirq count): a softirq cannot interrupt the task until they
// are on again. spin_lock_bh = local_bh_disable + spin_lock, the lock a softirq also
// takes must be taken this way in process context.
void local_bh_disable();
void local_bh_enable();
void spin_lock_bh(SpinLock& l, uint32_t line = here());
void spin_unlock_bh(SpinLock& l, uint32_t line = here());
// Interrupts off (local_irq_save, local_irq_disable): no softirq runs on the CPU either.
// spin_lock_irqsave/irq = interrupts off + spin_lock; the unlock turns them on after it.
// (The model has no hardirq contexts: what it keeps out is a softirq.)
void local_irq_disable();
void local_irq_enable();
void spin_lock_irq(SpinLock& l, uint32_t line = here());
void spin_unlock_irq(SpinLock& l, uint32_t line = here());
inline void spin_lock_irqsave(SpinLock& l, uint32_t line = here()) { spin_lock_irq(l, line); }
inline void spin_unlock_irqrestore(SpinLock& l, uint32_t line = here()) { spin_unlock_irq(l, line); }
bool spin_trylock_irqsave(SpinLock& l, uint32_t line = here());
// preempt_disable()/preempt_enable() (get_cpu_var/put_cpu_var): the preempt count, which
// spinlocks raise too. No scheduling point: only the task's own state changes.
void preempt_disable();
void preempt_enable();

// assert_spin_locked(): no scheduling point, a debug check on the caller's own state.
inline bool spin_is_locked(const SpinLock& l) { return l.owner != kNoTask; }
// spin_is_contended(): another CPU is spinning on the lock.
bool spin_is_contended(const SpinLock& l, uint32_t line = here());

// struct mutex: sleeps on contention.
struct Mutex {
  ObjId id = kNoObj;
  TaskId owner = kNoTask;
};
void mutex_lock(Mutex& m, uint32_t line = here());
bool mutex_trylock(Mutex& m, uint32_t line = here());
void mutex_unlock(Mutex& m, uint32_t line = here());

// rwlock_t as x86's queued rwlock (kernel/locking/qrwlock.c): readers share, a writer
// excludes, both spin. A task that cannot take it at once queues on the lock's wait_lock
// (FIFO); the writer at the head of the queue sets _QW_WAITING, which sends new readers
// to the queue too, so a reader never overtakes a waiting writer (in process context: the
// model has no interrupts, whose readers skip the queue).
struct RwLock {
  ObjId id = kNoObj;
  TaskId writer = kNoTask;      // _QW_LOCKED
  TaskId waiting = kNoTask;     // _QW_WAITING: the writer at the head of the queue
  uint16_t readers = 0;
  uint16_t next = 0, serving = 0;  // wait_lock, a ticket lock
};
void read_lock(RwLock& l, uint32_t line = here());
void read_unlock(RwLock& l, uint32_t line = here());
void write_lock(RwLock& l, uint32_t line = here());
void write_unlock(RwLock& l, uint32_t line = here());
// rwlock_is_contended (qrwlock): the wait_lock is held, so a reader or writer is queued.
bool rwlock_is_contended(const RwLock& l, uint32_t line = here());

// struct rw_semaphore: readers share, a writer excludes, both sleep. A waiting writer
// holds off new readers (rwsem-xadd: its waiting bias makes the count negative, and a
// reader's fast path and trylock fail on a negative count).
struct RwSem {
  ObjId id = kNoObj;
  TaskId writer = kNoTask;
  uint16_t readers = 0;
  uint16_t writers_waiting = 0;
  uint16_t readers_waiting = 0;
};
void down_read(RwSem& s, uint32_t line = here());
bool down_read_trylock(RwSem& s, uint32_t line = here());
void up_read(RwSem& s, uint32_t line = here());
void down_write(RwSem& s, uint32_t line = here());
void up_write(RwSem& s, uint32_t line = here());
// rwsem_is_contended: a task waits for it (its wait_list is not empty).
bool rwsem_is_contended(const RwSem& s, uint32_t line = here());

// Bit operations on a flags word that belongs to object `obj`.
template <class Word>
inline bool test_bit(int nr, const Word& w, ObjId obj, uint32_t line = here()) {
  sched_bit(Op::BitTest, Access::Read, obj, line, nr);
  return (w >> nr) & 1;
}
template <class Word>
inline void set_bit(int nr, Word& w, ObjId obj, uint32_t line = here()) {
  sched_bit(Op::BitSet, Access::Write, obj, line, nr);
  w |= Word(1) << nr;
}
template <class Word>
inline void clear_bit(int nr, Word& w, ObjId obj, uint32_t line = here()) {
  sched_bit(Op::BitClear, Access::Write, obj, line, nr);
  w &= ~(Word(1) << nr);
}
// __set_bit / __clear_bit: a plain read-modify-write of the word, two steps. An atomic
// update of another bit by another CPU between the read and the write is lost.
template <class Word>
inline void __set_bit(int nr, Word& w, ObjId obj, uint32_t line = here()) {
  sched(Op::Read, Access::Read, obj, line);
  const Word v = w;
  sched_bit(Op::BitSet, Access::Write, obj, line, nr);
  w = v | (Word(1) << nr);
}
template <class Word>
inline void __clear_bit(int nr, Word& w, ObjId obj, uint32_t line = here()) {
  sched(Op::Read, Access::Read, obj, line);
  const Word v = w;
  sched_bit(Op::BitClear, Access::Write, obj, line, nr);
  w = v & ~(Word(1) << nr);
}
template <class Word>
inline bool test_and_set_bit(int nr, Word& w, ObjId obj, uint32_t line = here()) {
  sched_bit(Op::TestAndSet, Access::Write, obj, line, nr);
  const bool old = (w >> nr) & 1;
  w |= Word(1) << nr;
  return old;
}
template <class Word>
inline bool test_and_clear_bit(int nr, Word& w, ObjId obj, uint32_t line = here()) {
  sched_bit(Op::BitClear, Access::Write, obj, line, nr);
  const bool old = (w >> nr) & 1;
  w &= ~(Word(1) << nr);
  return old;
}

// A bit used as a lock, with waiters keyed by `obj`. Spinning with preemption off while
// held (bit_spin_lock, the zsmalloc handle pin since 4.8), busy-waiting with preemption on
// (test_and_set_bit_lock in a loop: the pin before 4.8) or sleeping (PG_locked: lock_page /
// wait_on_page_locked).
enum class BitLockKind : uint8_t { Spin, Busy, Sleep };
void bit_lock(int nr, uint64_t& w, ObjId obj, BitLockKind kind, const char* what,
              uint32_t line = here());
bool bit_trylock(int nr, uint64_t& w, ObjId obj, BitLockKind kind, uint32_t line = here());
void bit_unlock(int nr, uint64_t& w, ObjId obj, BitLockKind kind, uint32_t line = here());
// A sleeping bit lock's unlock that wakes nobody (the caller decides, as unlock_page does
// by PG_waiters); returns the word as the unlock left it.
uint64_t bit_unlock_quiet(int nr, uint64_t& w, ObjId obj, uint32_t line = here());

inline void bit_spin_lock(int nr, uint64_t& w, ObjId obj, uint32_t line = here()) {
  bit_lock(nr, w, obj, BitLockKind::Spin, kBitSpinlock, line);
}
inline bool bit_spin_trylock(int nr, uint64_t& w, ObjId obj, uint32_t line = here()) {
  return bit_trylock(nr, w, obj, BitLockKind::Spin, line);
}
inline void bit_spin_unlock(int nr, uint64_t& w, ObjId obj, uint32_t line = here()) {
  bit_unlock(nr, w, obj, BitLockKind::Spin, line);
}

// atomic_t operations on a counter field of object `obj`.
template <class Int>
inline Int atomic_read(const Int& v, ObjId obj, uint32_t line = here()) {
  sched(Op::AtomicRead, Access::Read, obj, line);
  return v;
}
template <class Int>
inline Int atomic_add_return(Int d, Int& v, ObjId obj, uint32_t line = here()) {
  sched(Op::AtomicRmw, Access::Write, obj, line);
  return v += d;
}
// atomic_add_unless(v, d, u): add unless v == u; returns whether it added.
template <class Int>
inline bool atomic_add_unless(Int& v, Int d, Int u, ObjId obj, uint32_t line = here()) {
  sched(Op::AtomicRmw, Access::Write, obj, line);
  if (v == u) return false;
  v += d;
  return true;
}

}  // namespace pagesim
