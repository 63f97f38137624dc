#include "engine/outcome.h"

#include <sstream>

namespace pagesim {

const char* outcome_kind_name(OutcomeKind k) {
  switch (k) {
    case OutcomeKind::Oops: return "oops";
    case OutcomeKind::Bug: return "bug";
    case OutcomeKind::Warn: return "warn";
    case OutcomeKind::Deadlock: return "deadlock";
    case OutcomeKind::StepLimit: return "step_limit";
    case OutcomeKind::Leak: return "leak";
    case OutcomeKind::Corruption: return "corruption";
    case OutcomeKind::Invariant: return "invariant";
    case OutcomeKind::Check: return "check";
    case OutcomeKind::Exception: return "exception";
    case OutcomeKind::Uaf: return "uaf";
    case OutcomeKind::Hang: return "hang";
  }
  return "?";
}

std::string Outcome::key() const {
  switch (kind) {
    case OutcomeKind::Oops:
    case OutcomeKind::Bug:
    case OutcomeKind::Warn:
    case OutcomeKind::Invariant:
    case OutcomeKind::Check:
    case OutcomeKind::Exception:
    case OutcomeKind::Uaf:
      if (!function.empty()) return std::string(outcome_kind_name(kind)) + ":" + function;
      return outcome_kind_name(kind);
    default:
      return outcome_kind_name(kind);
  }
}

std::string Outcome::report() const {
  std::ostringstream o;
  const std::string cpu_pid = task_name.empty() ? std::string()
      : "CPU: " + std::to_string(cpu) + " PID: " + std::to_string(task);
  const std::string where = task_name.empty() ? std::string() : cpu_pid + " Comm: " + task_name;
  // A BUG's or WARN's place: the line of the tree the preset follows, and its code.
  const std::string line = at.file + ":" + std::to_string(at.line);
  const std::string rip = "RIP: " + function + "  " + line + ": " + at.code + "\n";
  switch (kind) {
    case OutcomeKind::Oops:
      o << "BUG: " << message << "\n";
      o << "Oops: 0000 [#1] SMP\n" << where << "\n";
      break;
    case OutcomeKind::Bug:
      if (at.file.empty()) {
        o << "kernel BUG at " << function << ": " << message << "\n" << where << "\n";
        break;
      }
      // As the kernel prints it: dump_page() first, then the BUG and the oops header.
      for (const auto& d : details) o << d << "\n";
      o << "------------[ cut here ]------------\n"
        << "kernel BUG at " << line << "!\n"
        << "invalid opcode: 0000 [#1] SMP\n" << where << "\n" << rip;
      return o.str() + tail();
    case OutcomeKind::Warn:
      if (at.file.empty()) {
        o << "WARNING: at " << function << ": " << message << "\n" << where << "\n";
        break;
      }
      o << "------------[ cut here ]------------\n"
        << "WARNING: " << (cpu_pid.empty() ? "" : cpu_pid + " ") << "at " << line << " "
        << function << "\n" << where << "\n" << rip;
      break;
    case OutcomeKind::Check:
      o << "check '" << function << "' failed" << (message.empty() ? "" : ": " + message) << "\n"
        << where << "\n";
      break;
    case OutcomeKind::Exception:
      o << "Python exception " << function << ": " << message << "\n" << where << "\n";
      break;
    case OutcomeKind::Uaf:
      o << "BUG: " << message << "\n" << where << "\n";
      break;
    default:
      o << outcome_kind_name(kind) << ": " << message << "\n";
  }
  for (const auto& d : details) o << d << "\n";
  return o.str() + tail();
}

std::string Outcome::tail() const {
  std::ostringstream o;
  if (!backtrace.empty()) {
    o << "Call Trace:\n";
    for (const auto& f : backtrace) o << " " << f << "\n";
  }
  o << "(simulated time " << time << " ns, step " << step << ")";
  return o.str();
}

}  // namespace pagesim
