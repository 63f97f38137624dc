#include "explore/outcome_set.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine/schedule.h"

namespace pagesim {

namespace {
bool before(const OutcomeClass& a, const OutcomeClass& b, bool by_schedule) {
  if (by_schedule) return a.schedule < b.schedule;
  return a.first < b.first;
}
}  // namespace

void ExploreResult::record(const RunResult& r, uint64_t order_index, uint64_t run_index) {
  ++executions;
  checks.insert(r.checks.begin(), r.checks.end());
  // One count per distinct key of the run: a run with two WARNs counts once for "warn:x".
  std::map<std::string, const Outcome*> keys;
  for (const auto& o : r.outcomes) keys.emplace(o.key(), &o);
  if (keys.empty()) keys.emplace("ok", nullptr);
  for (const auto& [k, o] : keys) {
    OutcomeClass& c = outcomes[k];
    const bool fresh = !c.count++;
    if (fresh) {
      c.key = k;
      c.first_run = run_index;
    }
    if (fresh || (by_schedule ? r.schedule < c.schedule : order_index < c.first)) {
      c.schedule = r.schedule;
      c.report = o ? o->report() : "";
      c.first = order_index;
    }
  }
}

void ExploreResult::merge(const ExploreResult& other) {
  executions += other.executions;
  redundant += other.redundant;
  repeated += other.repeated;
  exhausted = exhausted && other.exhausted;
  bound_covered = std::min(bound_covered, other.bound_covered);
  every_schedule = every_schedule && other.every_schedule;
  checks.insert(other.checks.begin(), other.checks.end());
  seconds = std::max(seconds, other.seconds);
  for (const auto& [k, oc] : other.outcomes) {
    auto [it, fresh] = outcomes.emplace(k, oc);
    if (fresh) continue;
    OutcomeClass& c = it->second;
    const uint64_t n = c.count + oc.count, first_run = std::min(c.first_run, oc.first_run);
    if (before(oc, c, by_schedule)) c = oc;
    c.count = n;
    c.first_run = first_run;
  }
}

const OutcomeClass* ExploreResult::first_failing() const {
  const OutcomeClass* best = nullptr;
  for (const auto& [k, c] : outcomes)
    if (k != "ok" && (!best || before(c, *best, by_schedule))) best = &c;
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
  j["by_schedule"] = by_schedule;
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
    r.by_schedule = j.at("by_schedule").get<bool>();
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
