#include "engine/trace.h"

#include <cstdio>

#include "engine/intern.h"
#include "engine/objclass.h"
#include "engine/rng.h"

namespace pagesim {

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
