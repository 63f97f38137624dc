// A schedule: the CPU chosen at every step of a run. Written compactly as runs,
// "0x3 1 0x2" (cpu0 three times, cpu1, cpu0 twice), and as JSON with a schema, the
// pagesim version and what it was recorded against, so a stale replay is refused.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/types.h"

namespace pagesim {

inline constexpr const char* kScheduleSchema = "pagesim.schedule/1";
inline constexpr const char* kRunSchema = "pagesim.run/1";

// The longest schedule a string or file may describe.
inline constexpr size_t kMaxScheduleSteps = 100'000'000;

struct Schedule {
  std::vector<CpuId> choices;
  // What the schedule was recorded against (scenario, preset, cpus, ...): a replay
  // checks these before running.
  std::map<std::string, std::string> meta;

  std::string compact() const;
  static Schedule parse_compact(const std::string& s);  // throws UsageError
  nlohmann::json to_json() const;
  static Schedule from_json(const nlohmann::json& j);   // throws UsageError
};

}  // namespace pagesim
