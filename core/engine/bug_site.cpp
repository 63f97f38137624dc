#include "engine/bug_site.h"

#include <mutex>

namespace pagesim {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<BugSite> sites{BugSite{}};  // id 0: no site
};

Registry& registry() {
  static Registry r;
  return r;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

std::string kernel_text(std::string_view cxx) {
  std::string s(cxx);
  replace_all(s, "mm::", "");
  replace_all(s, "(mm, ", "(");
  replace_all(s, ", line)", ")");
  return s;
}

uint32_t register_bug_site(const char* function, const char* text, const char* file,
                           uint32_t line) {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  r.sites.push_back({kernel_function(function), kernel_text(text), model_source_path(file), line});
  return uint32_t(r.sites.size() - 1);
}

std::vector<BugSite> bug_sites() {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  return r.sites;
}

BugSite bug_site(uint32_t id) {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  return id < r.sites.size() ? r.sites[id] : BugSite{};
}

}  // namespace pagesim
