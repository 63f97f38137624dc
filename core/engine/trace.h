// Compact per-step trace records and the run's 64-bit trace hash.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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
};

// The hash covers steps only (cpu, task, op, access, object, function name), not
// source lines, so cosmetic edits to model code keep recorded hashes valid.
class TraceHash {
 public:
  void add_step(CpuId cpu, TaskId task, const OpDesc& d);
  void add_outcome(uint64_t key_hash);
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0x70616765'73696d31ULL;  // "pagesim1"
};

class World;
std::string trace_record_str(const TraceRecord& r, const std::string& task_name,
                             const World* world = nullptr);

}  // namespace pagesim
