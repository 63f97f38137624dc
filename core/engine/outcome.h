// How a run ends, reported the way the kernel would report it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/bug_site.h"
#include "engine/types.h"

namespace pagesim {

enum class OutcomeKind : uint8_t {
  Oops,        // NULL or poisoned pointer dereference in the model
  Bug,         // BUG() / VM_BUG_ON*() with CONFIG_DEBUG_VM
  Warn,        // WARN_ON*(): the task goes on
  Deadlock,    // no task can run while some wait
  StepLimit,   // livelock guard
  Leak,        // pages neither free nor owned at teardown
  Corruption,  // data read back differs from what was written
  Invariant,   // page state that no kernel path allows
  Check,       // a property a scenario states failed (ps.check, an end-of-run check)
  Exception,   // a Python task or check raised (exploration; run() raises it instead)
  Uaf,         // KASAN: a task touched a freed object (engine/kasan.h)
  Hang,        // no task can run while some wait for state no task can change any more
};
const char* outcome_kind_name(OutcomeKind k);

struct Outcome {
  OutcomeKind kind = OutcomeKind::Warn;
  std::string function;                // model function where it happened ("" for run-level)
  std::string message;                 // one line: "unable to handle kernel NULL pointer ..."
  std::vector<std::string> backtrace;  // innermost first, model function names
  std::vector<std::string> details;    // e.g. a dump_page line, or who waits on what
  TaskId task = kNoTask;
  CpuId cpu = kNoCpu;
  std::string task_name;
  Nanos time = 0;
  uint64_t step = 0;
  uint32_t site = 0;  // a BUG or WARN: where the check is written (engine/bug_site.h)
  SourceLine at;      // the site in the kernel tree the preset follows ("" if not there)

  // "oops:zs_page_isolate", "bug:remove_zspage", "deadlock", "leak", ...
  std::string key() const;
  // A multi-line kernel-log style report.
  std::string report() const;
  // Its last lines: the simulated backtrace, time and step.
  std::string tail() const;
};

}  // namespace pagesim
