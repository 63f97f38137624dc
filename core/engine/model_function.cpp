#include "engine/model_function.h"

#include <map>
#include <set>
#include <mutex>

#include "engine/intern.h"

namespace pagesim {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::string, std::less<>> files;  // name -> file
  std::vector<ModelFunction> sorted;
  std::set<std::string, std::less<>> reporters;  // REPORT_FUNC names
  bool stale = true;
};

Registry& registry() {
  static Registry r;
  return r;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string model_source_path(std::string_view path) {
  const size_t at = path.rfind("core/");
  return std::string(at == std::string_view::npos ? path : path.substr(at));
}

uint32_t register_model_function(const char* name, const char* file) {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  r.files.emplace(name, model_source_path(file));
  r.stale = true;
  return intern(name);
}

std::string kernel_function(std::string_view name) {
  for (std::string_view suffix : {"_v3", "_47", "_517"})
    if (name.size() > suffix.size() && name.ends_with(suffix))
      return std::string(name.substr(0, name.size() - suffix.size()));
  return std::string(name);
}

const char* register_report_function(const char* name) {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  return r.reporters.emplace(kernel_function(name)).first->c_str();  // a std::set's own
}

std::vector<std::string> outcome_functions() {
  std::set<std::string> all;
  for (const auto& f : model_functions()) all.insert(f.name);
  Registry& r = registry();
  std::lock_guard g(r.mu);
  all.insert(r.reporters.begin(), r.reporters.end());
  return {all.begin(), all.end()};
}

const std::vector<ModelFunction>& model_functions() {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  if (r.stale) {
    r.sorted.clear();
    for (const auto& [name, file] : r.files) r.sorted.push_back({name, file});
    r.stale = false;
  }
  return r.sorted;
}

const ModelFunction* find_model_function(std::string_view name) {
  const auto& all = model_functions();
  auto it = std::lower_bound(all.begin(), all.end(), name,
                             [](const ModelFunction& f, std::string_view n) { return f.name < n; });
  return it != all.end() && it->name == name ? &*it : nullptr;
}

std::vector<std::string> near_matches(std::string_view name, const std::vector<std::string>& known,
                                      size_t max) {
  // Close enough: a third of the longer name may differ, or one contains the other.
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& k : known) {
    const size_t d = edit_distance(name, k);
    const size_t limit = std::max<size_t>(1, std::max(name.size(), k.size()) / 3);
    const bool contains = name.size() >= 3 && (k.find(name) != std::string::npos ||
                                               name.find(k) != std::string_view::npos);
    if (d <= limit || contains) scored.emplace_back(contains ? std::min(d, limit) : d, k);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < max; ++i) out.push_back(scored[i].second);
  return out;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& known) {
  const auto near = near_matches(name, known);
  if (near.empty()) return "";
  std::string s = " (did you mean ";
  for (size_t i = 0; i < near.size(); ++i)
    s += (i ? (i + 1 == near.size() ? " or " : ", ") : "") + ("'" + near[i] + "'");
  return s + "?)";
}

std::string join_names(const std::vector<std::string>& names, std::string_view sep) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : std::string(sep)) + n;
  return s;
}

}  // namespace pagesim
