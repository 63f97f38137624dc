// JSON export of a run: outcomes (as {key: count} and in full), schedule, trace, hash.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/sim.h"

namespace pagesim {

nlohmann::json outcome_to_json(const Outcome& o);
nlohmann::json trace_to_json(const RunResult& r, const World* world = nullptr);
// The counter samples: [{step, t, name, value}], in order.
nlohmann::json counters_to_json(const RunResult& r);
// The wake-ups: {step, t, obj, waker, wakee} (tasks by name).
nlohmann::json wakes_to_json(const RunResult& r, const World* world);
// `meta` names what was run (scenario, preset, strategy, seed ...).
nlohmann::json run_to_json(const RunResult& r, const std::map<std::string, std::string>& meta,
                           bool with_trace, const World* world = nullptr);

}  // namespace pagesim
