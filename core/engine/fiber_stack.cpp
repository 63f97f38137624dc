#include "engine/fiber_stack.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "engine/sim.h"

namespace pagesim {

namespace {

constexpr size_t kMapping = FiberStack::kGuard + FiberStack::kSize;
// The top bytes of a mapping hold its Slot*, written once when it is mapped; the fiber's
// stack starts below them.
constexpr size_t kHeader = 64;
constexpr size_t kAltStack = size_t(64) << 10;  // a signal stack for threads that have none
constexpr size_t kPoolMax = 256;                // free stacks kept per thread

// Every mapped stack has a slot, which the SIGSEGV handler reads without locks or
// allocation. Slots are never freed: a free one has lo == 0.
struct Slot {
  std::atomic<uintptr_t> lo{0};            // the mapping's low end, where its guard is
  std::atomic<const Task*> task{nullptr};  // the task whose fiber runs on it
};
struct Chunk {
  Slot slots[64];
  std::atomic<Chunk*> next{nullptr};
};
Chunk g_slots;
static_assert(std::atomic<uintptr_t>::is_always_lock_free &&
              std::atomic<const Task*>::is_always_lock_free);

Slot* claim_slot(uintptr_t lo) {
  for (Chunk* c = &g_slots;;) {
    for (Slot& s : c->slots) {
      uintptr_t free = 0;
      if (s.lo.load(std::memory_order_relaxed) == 0 && s.lo.compare_exchange_strong(free, lo))
        return &s;
    }
    Chunk* next = c->next.load(std::memory_order_acquire);
    if (!next) {
      auto* fresh = new Chunk;
      if (c->next.compare_exchange_strong(next, fresh))
        next = fresh;
      else
        delete fresh;  // another thread linked one: `next` is that one
    }
    c = next;
  }
}

// ---- the SIGSEGV handler: async-signal-safe (no allocation, no locks, write(2)) ----

struct sigaction g_prev;  // the handler before ours, which other faults go to

void put(const char* s, size_t n) {
  while (n) {
    const ssize_t w = ::write(2, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= size_t(w);
  }
}
void put(const char* s) { put(s, std::strlen(s)); }
void put_number(size_t v) {
  char buf[24];
  size_t i = sizeof buf;
  do buf[--i] = char('0' + v % 10);
  while (v /= 10);
  put(buf + i, sizeof buf - i);
}

const Slot* guard_slot(uintptr_t addr) {
  for (const Chunk* c = &g_slots; c; c = c->next.load(std::memory_order_acquire))
    for (const Slot& s : c->slots) {
      const uintptr_t lo = s.lo.load(std::memory_order_relaxed);
      if (lo && addr - lo < FiberStack::kGuard) return &s;
    }
  return nullptr;
}

void on_segv(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  // si_code > 0: a fault (not a signal sent by kill or raise), si_addr its address.
  if (info->si_code > 0)
    if (const Slot* s = guard_slot(reinterpret_cast<uintptr_t>(info->si_addr))) {
      const Task* t = s->task.load(std::memory_order_relaxed);
      put("pagesim: fiber stack overflow in task ");
      if (t)
        put(t->name.data(), std::min<size_t>(t->name.size(), 200));
      else
        put("?");
      put(" (its ");
      put_number(FiberStack::kSize >> 10);
      put(" KiB stack is exhausted: runaway recursion in model code or in C code it called); "
          "aborting\n");
      std::abort();
    }
  errno = saved_errno;
  if (g_prev.sa_flags & SA_SIGINFO) {
    g_prev.sa_sigaction(sig, info, uctx);
  } else if (g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN) {
    g_prev.sa_handler(sig);
  } else if (info->si_code > 0 || g_prev.sa_handler == SIG_DFL) {
    // The default action: it happens when the faulting instruction runs again (a signal
    // that was sent is sent again).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    if (info->si_code <= 0) raise(sig);
  }
}

// Once per process, when the first stack is mapped: ours comes before any handler
// installed earlier (Python's faulthandler), which the faults it does not own go to.
void install_handler() {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_segv;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    return sigaction(SIGSEGV, &sa, &g_prev) == 0;
  }();
  (void)installed;
}

// ---- mappings and the per-thread pool ----

char* low_end(const Slot* s) {
  return reinterpret_cast<char*>(s->lo.load(std::memory_order_relaxed));
}

Slot* map_stack() {
  install_handler();
  void* p = ::mmap(nullptr, kMapping, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  char* base = static_cast<char*>(p);
  if (::mprotect(base, FiberStack::kGuard, PROT_NONE) != 0) {
    ::munmap(p, kMapping);
    throw std::bad_alloc();
  }
  // Best effort: a touched stack page stays a small page, not 2 MiB.
  ::madvise(base + FiberStack::kGuard, FiberStack::kSize, MADV_NOHUGEPAGE);
  Slot* s = claim_slot(reinterpret_cast<uintptr_t>(base));
  std::memcpy(base + kMapping - kHeader, &s, sizeof s);
  return s;
}

void unmap_stack(Slot* s) {
  char* base = low_end(s);
  s->task.store(nullptr, std::memory_order_relaxed);
  s->lo.store(0, std::memory_order_release);
  ::munmap(base, kMapping);
}

struct ThreadStacks {
  std::vector<Slot*> free;
  void* alt = nullptr;  // the signal stack given to this thread, if it had none

  ThreadStacks() {
    free.reserve(kPoolMax);
    // The handler runs on a signal stack: the faulting one is exhausted. Python's
    // faulthandler gives the thread that enables it one, which serves as well.
    stack_t cur;
    if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) &&
        cur.ss_size >= size_t(MINSIGSTKSZ) + 8192)
      return;
    void* p = ::mmap(nullptr, kAltStack, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;  // a fault then ends the process without the message
    stack_t ss{};
    ss.ss_sp = p;
    ss.ss_size = kAltStack;
    if (sigaltstack(&ss, nullptr) == 0)
      alt = p;
    else
      ::munmap(p, kAltStack);
  }
  ~ThreadStacks() {
    for (Slot* s : free) unmap_stack(s);
    stack_t cur;
    // Unmapped only while it is the thread's signal stack: whoever replaced it may put it
    // back later.
    if (alt && sigaltstack(nullptr, &cur) == 0 && cur.ss_sp == alt) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      if (sigaltstack(&off, nullptr) == 0) ::munmap(alt, kAltStack);
    }
  }
};

// The thread's pool: null before its first use and once the thread exits (`exited`: its
// stacks are then unmapped directly). initial-exec: a fiber's creation reads it, and the
// default TLS model of a shared library would call __tls_get_addr each time.
struct ThreadPool {
  ThreadStacks* stacks;
  bool exited;
};
thread_local ThreadPool t_pool __attribute__((tls_model("initial-exec"))) = {nullptr, false};

[[gnu::cold, gnu::noinline]] ThreadStacks* make_thread_stacks() {
  if (t_pool.exited) return nullptr;
  struct Owner {
    ThreadStacks stacks;
    ~Owner() { t_pool = {nullptr, true}; }
  };
  static thread_local Owner owner;
  t_pool.stacks = &owner.stacks;
  return t_pool.stacks;
}

inline ThreadStacks* thread_stacks() {
  if (ThreadStacks* s = t_pool.stacks) [[likely]]
    return s;
  return make_thread_stacks();
}

}  // namespace

boost::context::stack_context FiberStack::allocate() {
  ThreadStacks* ts = thread_stacks();
  Slot* s;
  if (ts && !ts->free.empty()) {
    s = ts->free.back();
    ts->free.pop_back();
  } else {
    s = map_stack();
  }
  s->task.store(task_, std::memory_order_relaxed);
  boost::context::stack_context sc;
  sc.size = kSize - kHeader;
  sc.sp = low_end(s) + kMapping - kHeader;
  return sc;
}

void FiberStack::deallocate(boost::context::stack_context& sc) noexcept {
  Slot* s;
  std::memcpy(&s, sc.sp, sizeof s);
  s->task.store(nullptr, std::memory_order_relaxed);
  ThreadStacks* ts = thread_stacks();
  if (ts && ts->free.size() < kPoolMax) {
    ts->free.push_back(s);  // kPoolMax reserved up front: no allocation here
  } else {
    unmap_stack(s);
  }
}

}  // namespace pagesim
