#include "explore/share_log.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace pagesim {

void ShareLog::add(uint32_t bound, uint64_t subtree, uint32_t what) {
  if (segments.empty() || segments.back().bound != bound || segments.back().subtree != subtree)
    segments.push_back({bound, subtree, {}});
  auto& runs = segments.back().runs;
  if (!runs.empty() && runs.back().first == what)
    ++runs.back().second;
  else
    runs.emplace_back(what, 1);
}

uint32_t ShareLog::kind_of(const RunResult& r) {
  const bool ok = r.outcomes.empty() && r.checks.empty();
  if (ok && ok_) return ok_;  // most runs
  Kind k;
  for (const auto& o : r.outcomes) k.keys.push_back(o.key());
  std::sort(k.keys.begin(), k.keys.end());
  k.keys.erase(std::unique(k.keys.begin(), k.keys.end()), k.keys.end());
  if (k.keys.empty()) k.keys.emplace_back("ok");
  k.checks = r.checks;
  std::sort(k.checks.begin(), k.checks.end());
  auto [it, fresh] = index_.try_emplace(std::move(k), uint32_t(kinds.size()));
  if (fresh) kinds.push_back(it->first);
  if (ok) ok_ = kComplete + it->second;
  return kComplete + it->second;
}

nlohmann::json ShareLog::to_json() const {
  nlohmann::json j;
  auto& ks = j["kinds"] = nlohmann::json::array();
  for (const auto& k : kinds) ks.push_back({k.keys, k.checks});
  auto& ss = j["segments"] = nlohmann::json::array();
  for (const auto& s : segments) {
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& [what, n] : s.runs) runs.push_back({what, n});
    ss.push_back({s.bound, s.subtree, std::move(runs)});
  }
  auto& bs = j["bounds"] = nlohmann::json::array();
  for (const auto& b : bounds) bs.push_back({b.bound, b.completed, b.pruned});
  return j;
}

ShareLog ShareLog::from_json(const nlohmann::json& j) {
  ShareLog l;
  for (const auto& k : j.at("kinds")) {
    l.kinds.push_back({k.at(0).get<std::vector<std::string>>(),
                       k.at(1).get<std::vector<std::string>>()});
    l.index_.emplace(l.kinds.back(), uint32_t(l.kinds.size() - 1));
    if (l.kinds.back() == Kind{{"ok"}, {}}) l.ok_ = kComplete + uint32_t(l.kinds.size() - 1);
  }
  for (const auto& s : j.at("segments")) {
    Segment seg{s.at(0).get<uint32_t>(), s.at(1).get<uint64_t>(), {}};
    for (const auto& r : s.at(2)) {
      const uint32_t what = r.at(0).get<uint32_t>();
      if (what >= kComplete + l.kinds.size())
        throw nlohmann::json::other_error::create(501, "run of an unknown kind", nullptr);
      seg.runs.emplace_back(what, r.at(1).get<uint64_t>());
    }
    l.segments.push_back(std::move(seg));
  }
  for (const auto& b : j.at("bounds"))
    l.bounds.push_back({b.at(0).get<uint32_t>(), b.at(1).get<bool>(), b.at(2).get<bool>()});
  return l;
}

}  // namespace pagesim
