// Basic vocabulary of the engine: ids, simulated time, and the typed descriptor
// every scheduling point carries.
#pragma once
#include <cstdint>

namespace pagesim {

using Nanos = uint64_t;   // simulated nanoseconds
using CpuId = uint16_t;
using TaskId = uint16_t;
inline constexpr TaskId kNoTask = 0xffff;
inline constexpr TaskId kSetupTask = 0xfffe;  // "owner" of a lock taken by set-up code
inline constexpr CpuId kNoCpu = 0xffff;

// Objects are named by stable ids, never host pointers, so the world can be copied.
// The top byte is the object class (see objclass.h), the rest an index in that class.
using ObjId = uint64_t;
inline constexpr ObjId kNoObj = 0;
constexpr ObjId make_obj(uint8_t cls, uint64_t index) {
  return (uint64_t(cls) << 56) | (index & ((uint64_t(1) << 56) - 1));
}
constexpr uint8_t obj_class(ObjId id) { return uint8_t(id >> 56); }
constexpr uint64_t obj_index(ObjId id) { return id & ((uint64_t(1) << 56) - 1); }

// The kind of a visible operation. Each has a cost in the cost model.
enum class Op : uint8_t {
  Read,          // plain load of shared state
  Write,         // plain store
  AtomicRead,    // atomic_read / page_count
  AtomicRmw,     // atomic inc/dec/add, get_page/put_page
  BitTest,       // test_bit / PageFoo()
  BitSet,        // set_bit / SetPageFoo()
  BitClear,      // clear_bit / ClearPageFoo()
  TestAndSet,    // test_and_set_bit / trylock_page
  SpinLock,
  SpinUnlock,
  SpinTrylock,
  Lock,          // sleeping lock: mutex, page lock
  Unlock,
  Trylock,
  ReadLock,
  ReadUnlock,
  WriteLock,
  WriteUnlock,
  ListAdd,
  ListDel,
  QueueWork,
  FlushWork,
  Delay,         // busy CPU time, no shared state
  Call,          // a call into model code from a Python task
  Count_
};
inline constexpr int kOpCount = int(Op::Count_);
const char* op_name(Op op);

// Whether an operation reads or writes its object: what DPOR reads to know conflicts.
enum class Access : uint8_t { Read, Write };

// One visible operation, described before it happens.
struct OpDesc {
  Op op = Op::Read;
  Access rw = Access::Read;
  uint8_t bit = 0;    // a bit operation's bit + 1 (0: none): traces name the flag
  uint32_t func = 0;  // interned model function (the task's innermost frame)
  uint32_t line = 0;  // source line of the primitive's call site
  ObjId obj = kNoObj;
};

}  // namespace pagesim
