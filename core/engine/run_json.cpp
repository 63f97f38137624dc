#include "engine/run_json.h"

#include <cstdio>

#include "engine/intern.h"
#include "engine/objclass.h"
#include "engine/schedule.h"

namespace pagesim {

nlohmann::json outcome_to_json(const Outcome& o) {
  nlohmann::json j;
  j["key"] = o.key();
  j["kind"] = outcome_kind_name(o.kind);
  j["function"] = o.function;
  j["message"] = o.message;
  j["backtrace"] = o.backtrace;
  j["details"] = o.details;
  j["task"] = o.task_name;
  j["cpu"] = o.cpu == kNoCpu ? -1 : int(o.cpu);
  j["time_ns"] = o.time;
  j["step"] = o.step;
  j["report"] = o.report();
  if (!o.at.file.empty())  // a BUG's or WARN's line in the kernel tree the preset follows
    j["at"] = {{"file", o.at.file}, {"line", o.at.line}, {"code", o.at.code}};
  return j;
}

namespace {
// A task of the run by name ("?" when the run kept no names).
std::string task_name(const RunResult& r, TaskId t) {
  return t < r.task_names.size() ? r.task_names[t] : "?";
}
}  // namespace

nlohmann::json trace_to_json(const RunResult& r, const World* world) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& t : r.trace) {
    nlohmann::json e;
    e["step"] = t.step;
    e["t"] = t.clock;
    e["cpu"] = t.cpu;
    e["task"] = task_name(r, t.task);
    e["kind"] = t.kind == TraceKind::Step ? "step" : t.kind == TraceKind::Enter ? "enter" : "exit";
    e["func"] = interned(t.func);
    if (t.kind == TraceKind::Step) {
      e["op"] = op_name(t.op);
      e["rw"] = t.rw == Access::Write ? "w" : "r";
      if (t.obj != kNoObj) e["obj"] = obj_label(t.obj, world);
      if (t.bit && t.obj != kNoObj) e["bit"] = obj_bit_name(t.obj, t.bit - 1, world);
      e["line"] = t.line;
    }
    arr.push_back(std::move(e));
  }
  return arr;
}

nlohmann::json counters_to_json(const RunResult& r) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : r.counters)
    arr.push_back({{"step", c.step}, {"t", c.clock}, {"name", interned(c.name)}, {"value", c.value}});
  return arr;
}

nlohmann::json wakes_to_json(const RunResult& r, const World* world) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& w : r.wakes)
    arr.push_back({{"step", w.step}, {"t", w.clock}, {"obj", obj_label(w.obj, world)},
                   {"waker", task_name(r, w.waker)}, {"wakee", task_name(r, w.wakee)}});
  return arr;
}

nlohmann::json run_to_json(const RunResult& r, const std::map<std::string, std::string>& meta,
                           bool with_trace, const World* world) {
  nlohmann::json j;
  j["schema"] = kRunSchema;
  j["pagesim_version"] = PAGESIM_VERSION;
  j["meta"] = meta;
  for (const auto& [k, v] : meta) j[k] = v;
  std::map<std::string, int> counts;
  for (const auto& o : r.outcomes) counts[o.key()]++;
  if (counts.empty()) counts["ok"] = 1;
  j["outcomes"] = counts;
  nlohmann::json full = nlohmann::json::array();
  for (const auto& o : r.outcomes) full.push_back(outcome_to_json(o));
  j["outcome_reports"] = full;
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", (unsigned long long)r.trace_hash);
  j["trace_hash"] = hash;
  j["steps"] = r.steps;
  j["time_ns"] = r.clock;
  j["schedule"] = Schedule{r.schedule, {}}.compact();
  if (with_trace) j["trace"] = trace_to_json(r, world);
  return j;
}

}  // namespace pagesim
