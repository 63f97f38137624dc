#include "engine/trace.h"

#include <cstdio>

#include "engine/intern.h"
#include "engine/objclass.h"
#include "engine/rng.h"

namespace pagesim {

// One multiply-xorshift round per step: cheap, and order-sensitive.
void TraceHash::add_step(CpuId cpu, TaskId task, const OpDesc& d) {
  const uint64_t a = uint64_t(cpu) | uint64_t(task) << 16 | uint64_t(d.op) << 32 |
                     uint64_t(d.rw) << 40;
  h_ = (h_ ^ a ^ (d.obj * 0x9e3779b97f4a7c15ULL) ^ interned_hash(d.func)) * 0xbf58476d1ce4e5b9ULL;
  h_ ^= h_ >> 31;
}

void TraceHash::add_outcome(uint64_t key_hash) { h_ = hash_mix(h_, key_hash); }

std::string trace_record_str(const TraceRecord& r, const std::string& task_name,
                             const World* world) {
  char buf[256];
  const char* what = r.kind == TraceKind::Step ? op_name(r.op)
                     : r.kind == TraceKind::Enter ? "enter" : "exit";
  std::snprintf(buf, sizeof buf, "%6llu %10llu cpu%u %-12s %-14s %s", (unsigned long long)r.step,
                (unsigned long long)r.clock, unsigned(r.cpu), task_name.c_str(), what,
                interned(r.func).c_str());
  std::string s = buf;
  if (r.kind == TraceKind::Step && r.obj != kNoObj) s += " " + obj_label(r.obj, world);
  return s;
}

}  // namespace pagesim
