#include "engine/schedule.h"

#include <sstream>

#include "engine/sim.h"

namespace pagesim {

std::string Schedule::compact() const {
  std::string out;
  for (size_t i = 0; i < choices.size();) {
    size_t j = i;
    while (j < choices.size() && choices[j] == choices[i]) ++j;
    if (!out.empty()) out += ' ';
    out += std::to_string(choices[i]);
    if (j - i > 1) out += "x" + std::to_string(j - i);
    i = j;
  }
  return out;
}

Schedule Schedule::parse_compact(const std::string& s) {
  Schedule sch;
  std::istringstream in(s);
  std::string tok;
  while (in >> tok) {
    auto bad = [&] {
      return UsageError("malformed schedule token '" + tok +
                        "': expected CPU or CPUxCOUNT, e.g. '0x3 1 0x2'");
    };
    size_t x = tok.find('x');
    std::string cpu_s = tok.substr(0, x), n_s = x == std::string::npos ? "1" : tok.substr(x + 1);
    if (cpu_s.empty() || n_s.empty() ||
        cpu_s.find_first_not_of("0123456789") != std::string::npos ||
        n_s.find_first_not_of("0123456789") != std::string::npos || cpu_s.size() > 5 ||
        n_s.size() > 9)
      throw bad();
    const unsigned long cpu = std::stoul(cpu_s), n = std::stoul(n_s);
    if (cpu >= kNoCpu || n == 0) throw bad();
    if (n > kMaxScheduleSteps - sch.choices.size())  // '0x999999999' would take gigabytes
      throw UsageError("schedule longer than " + std::to_string(kMaxScheduleSteps) +
                       " steps (a run's max_steps can never reach it)");
    sch.choices.insert(sch.choices.end(), n, CpuId(cpu));
  }
  return sch;
}

nlohmann::json Schedule::to_json() const {
  nlohmann::json j;
  j["schema"] = kScheduleSchema;
  j["pagesim_version"] = PAGESIM_VERSION;
  j["meta"] = meta;
  j["schedule"] = compact();
  j["steps"] = choices.size();
  return j;
}

Schedule Schedule::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("schema"))
    throw UsageError("not a pagesim schedule (no \"schema\" field)");
  if (j["schema"] != kScheduleSchema && j["schema"] != kRunSchema)
    throw UsageError("unsupported schedule schema " + j["schema"].dump() + " (this pagesim reads " +
                     kScheduleSchema + ")");
  const std::string version = j.contains("pagesim_version") && j["pagesim_version"].is_string()
                                ? j["pagesim_version"].get<std::string>() : "";
  if (version != PAGESIM_VERSION)
    throw StaleSchedule("schedule recorded by pagesim " + (version.empty() ? "?" : version) +
                     ", this is pagesim " PAGESIM_VERSION +
                     "; model changes between versions make old schedules stale");
  if (!j.contains("schedule") || !j["schedule"].is_string())
    throw UsageError("schedule JSON lacks a \"schedule\" string");
  Schedule s = parse_compact(j["schedule"].get<std::string>());
  if (j.contains("meta") && j["meta"].is_object())
    for (auto& [k, v] : j["meta"].items()) {
      if (!v.is_string() && !v.is_number() && !v.is_boolean())
        throw UsageError("schedule meta \"" + k + "\" must be a string, not " + v.type_name());
      s.meta[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  return s;
}

}  // namespace pagesim
