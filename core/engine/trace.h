// Compact per-step trace records and the run's 64-bit trace hash.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/intern.h"
#include "engine/types.h"

namespace pagesim {

enum class TraceKind : uint8_t {
  Step,   // a visible operation performed at a scheduling point
  Enter,  // a task entered a model function (recorded only when tracing)
  Exit,   // a task returned from a model function
};

struct TraceRecord {        // 40 bytes
  uint64_t step;            // index of the step (Enter/Exit: the step they follow)
  Nanos clock;              // the CPU's clock when the operation started
  ObjId obj;
  uint32_t func;            // interned model function
  uint32_t line;
  TaskId task;
  CpuId cpu;
  TraceKind kind;
  Op op;
  Access rw;
  uint8_t bit;              // OpDesc::bit: not hashed
};

// A counter's value after a step changed it (a counter track in a trace viewer), recorded
// only when tracing: the model samples what a kernel developer watches (nr_free_pages,
// NR_ISOLATED). Samples taken before the first step hold the initial values.
struct CounterSample {
  uint64_t step;   // the steps taken when the value was set
  Nanos clock;     // the clock of the CPU that set it (0 in set-up)
  uint32_t name;   // interned
  int64_t value;
};

// A task woken by another (a lock released to it, a page unlocked, a work item done),
// recorded only when tracing: a trace viewer draws it as an arrow from waker to wakee.
struct WakeRecord {
  uint64_t step;  // the steps taken when it was woken: the waker's step is the last
  Nanos clock;    // the waker's clock then
  ObjId obj;      // what the wakee waited on
  TaskId waker, wakee;
};

// The hash covers steps only (cpu, task, op, access, object, function name), not
// source lines, so cosmetic edits to model code keep recorded hashes valid.
class TraceHash {
 public:
  // One multiply-xorshift round per step: cheap, and order-sensitive.
  void add_step(CpuId cpu, TaskId task, const OpDesc& d) {
    const uint64_t a = uint64_t(cpu) | uint64_t(task) << 16 | uint64_t(d.op) << 32 |
                       uint64_t(d.rw) << 40;
    h_ = (h_ ^ a ^ (d.obj * 0x9e3779b97f4a7c15ULL) ^ interned_hash(d.func)) *
         0xbf58476d1ce4e5b9ULL;
    h_ ^= h_ >> 31;
  }
  void add_outcome(uint64_t key_hash);
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0x70616765'73696d31ULL;  // "pagesim1"
};

class World;
std::string trace_record_str(const TraceRecord& r, const std::string& task_name,
                             const World* world = nullptr);

}  // namespace pagesim
