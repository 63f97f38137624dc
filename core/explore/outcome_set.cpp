#include "explore/outcome_set.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine/schedule.h"

namespace pagesim {

void ExploreResult::record(const RunResult& r, uint64_t index, uint64_t run_index) {
  ++executions;
  checks.insert(r.checks.begin(), r.checks.end());
  // One count per distinct key of the run: a run with two WARNs counts once for "warn:x".
  std::map<std::string, const Outcome*> keys;
  for (const auto& o : r.outcomes) keys.emplace(o.key(), &o);
  if (keys.empty()) keys.emplace("ok", nullptr);
  for (const auto& [k, o] : keys) {
    OutcomeClass& c = outcomes[k];
    if (c.count++) continue;
    c.key = k;
    c.schedule = r.schedule;
    c.report = o ? o->report() : "";
    c.first = index;
    c.first_run = run_index;
  }
}

void ExploreResult::merge(const ExploreResult& other) {
  executions += other.executions;
  redundant += other.redundant;
  checks.insert(other.checks.begin(), other.checks.end());
  seconds = std::max(seconds, other.seconds);
  for (const auto& [k, oc] : other.outcomes) {
    auto [it, fresh] = outcomes.emplace(k, oc);
    if (fresh) continue;
    OutcomeClass& c = it->second;
    const uint64_t n = c.count + oc.count;
    if (oc.first < c.first) c = oc;
    c.count = n;
  }
}

const OutcomeClass* ExploreResult::first_failing() const {
  const OutcomeClass* best = nullptr;
  for (const auto& [k, c] : outcomes)
    if (k != "ok" && (!best || c.first < best->first)) best = &c;
  return best;
}

nlohmann::json ExploreResult::to_json() const {
  nlohmann::json j;
  j["strategy"] = strategy;
  j["executions"] = executions;
  j["redundant"] = redundant;
  j["repeated"] = repeated;
  j["exhausted"] = exhausted;
  j["bound_covered"] = bound_covered < 0 ? nlohmann::json(nullptr) : nlohmann::json(bound_covered);
  j["every_schedule"] = every_schedule;
  j["checks"] = checks;
  j["preemption_bound"] =
      preemption_bound == ~0u ? nlohmann::json(nullptr) : nlohmann::json(preemption_bound);
  j["iterative"] = iterative;
  j["seconds"] = seconds;
  j["executions_per_s"] = rate();
  j["workers"] = workers;
  j["budget"] = budget;
  if (!share.empty()) j["share"] = share.to_json();
  nlohmann::json counts = nlohmann::json::object(), examples = nlohmann::json::object();
  for (const auto& [k, c] : outcomes) {
    counts[k] = c.count;
    examples[k] = {{"schedule", Schedule{c.schedule, {}}.compact()},
                   {"report", c.report},
                   {"first", c.first},
                   {"first_run", c.first_run}};
  }
  j["outcomes"] = counts;
  j["examples"] = examples;
  if (first_failure) {
    const Minimised& m = *first_failure;
    j["first_failure"] = {{"key", m.key},
                          {"schedule", Schedule{m.schedule, {}}.compact()},
                          {"preemptions", m.preemptions},
                          {"steps", m.steps},
                          {"minimise_attempts", m.attempts}};
  } else {
    j["first_failure"] = nullptr;
  }
  return j;
}

ExploreResult ExploreResult::from_json(const nlohmann::json& j) {
  ExploreResult r;
  try {
    r.strategy = j.at("strategy").get<std::string>();
    r.executions = j.at("executions").get<uint64_t>();
    r.redundant = j.at("redundant").get<uint64_t>();
    r.exhausted = j.at("exhausted").get<bool>();
    // Added with iterative bounding: older results lack them.
    r.repeated = j.value("repeated", uint64_t(0));
    if (auto b = j.find("bound_covered"); b != j.end() && !b->is_null())
      r.bound_covered = b->get<int64_t>();
    r.every_schedule = j.value("every_schedule", false);
    r.checks = j.value("checks", std::set<std::string>{});
    if (auto b = j.find("preemption_bound"); b != j.end() && !b->is_null())
      r.preemption_bound = b->get<uint32_t>();
    r.iterative = j.value("iterative", false);
    r.seconds = j.at("seconds").get<double>();
    r.workers = j.at("workers").get<uint32_t>();
    r.budget = j.value("budget", uint64_t(0));
    if (auto s = j.find("share"); s != j.end()) r.share = ShareLog::from_json(*s);
    for (const auto& [k, n] : j.at("outcomes").items()) {
      const auto& e = j.at("examples").at(k);
      const uint64_t first = e.at("first").get<uint64_t>();
      OutcomeClass c{k, n.get<uint64_t>(),
                     Schedule::parse_compact(e.at("schedule").get<std::string>()).choices,
                     e.at("report").get<std::string>(), first,
                     e.value("first_run", first)};  // older results: as `first`
      r.outcomes.emplace(k, std::move(c));
    }
    if (const auto& f = j.at("first_failure"); !f.is_null())
      r.first_failure = Minimised{
          f.at("key").get<std::string>(),
          Schedule::parse_compact(f.at("schedule").get<std::string>()).choices,
          f.at("preemptions").get<uint32_t>(), f.at("steps").get<uint64_t>(),
          f.at("minimise_attempts").get<uint32_t>()};
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(std::string("malformed exploration result: ") + e.what());
  }
  return r;
}

}  // namespace pagesim
