#include "engine/kasan.h"

#include "engine/intern.h"
#include "engine/sim.h"
#include "engine/sync.h"

namespace pagesim {
namespace {

KasanTrack here_track() {
  KasanTrack t;
  Sim* s = Sim::current();
  const Task* task = s ? s->current_task() : nullptr;
  if (!task) {
    static const uint32_t setup = intern("set-up");
    t.task = setup;
    return t;
  }
  t.task = intern(task->name);
  for (auto it = task->frames.rbegin(); it != task->frames.rend(); ++it) {
    if (t.depth == kKasanFrames) {
      t.truncated = true;
      break;
    }
    t.frames[t.depth++] = *it;
  }
  return t;
}

// A second free is a double-free (`what()` names the object only then); the first
// records where it happened.
template <class What>
void record_free(KasanObject& o, What what) {
  if (o.freed) kasan_report(o, what(), true, "double-free");
  o.freed = true;
  o.free = here_track();
}

void print_track(std::vector<std::string>& out, const char* what, const KasanTrack& t) {
  out.push_back(std::string(what) + " by task " + interned(t.task) + ":");
  for (uint8_t i = 0; i < t.depth; ++i) out.push_back(" " + interned(t.frames[i]));
  if (t.truncated) out.push_back(" ...");
}

}  // namespace

void kasan_alloc(KasanObject& o) {
  o.freed = false;
  o.alloc = here_track();
  o.free = {};
}

void kasan_free(KasanObject& o, const std::string& what, uint32_t line) {
  sched(Op::Write, Access::Write, kNoObj, line);
  record_free(o, [&] { return what; });
}

void kasan_record_free(KasanObject& o, const char* type, uint64_t id) {
  record_free(o, [&] { return std::string(type) + " " + std::to_string(id); });
}

void kasan_use_after_free(const KasanObject& o, const char* type, const std::string& name,
                          bool write) {
  kasan_report(o, std::string(type) + " " + name, write, "use-after-free");
}

void kasan_report(const KasanObject& o, const std::string& what, bool write, const char* bug) {
  std::vector<std::string> d;
  Sim* s = Sim::current();
  const Task* task = s ? s->current_task() : nullptr;
  d.push_back(std::string(write ? "Write of " : "Read of ") + what + " by task " +
              (task ? task->name : "set-up"));
  print_track(d, "Allocated", o.alloc);
  print_track(d, "Freed", o.free);
  if (!task) {
    std::string msg = std::string("BUG: KASAN: ") + bug + " in set-up code";
    for (const auto& l : d) msg += "\n" + l;
    throw SetupFault(msg);
  }
  const std::string fn = task->frames.empty() ? "" : interned(task->frames.back());
  s->end_task(OutcomeKind::Uaf, fn, std::string("KASAN: ") + bug + " in " + fn, std::move(d));
}

}  // namespace pagesim
