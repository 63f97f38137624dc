#include "kernel/bug_lines.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string_view>
#include <tuple>

namespace pagesim::kernel {
namespace {

struct BugLine {
  std::string_view tree, function, text;
  uint32_t ordinal;  // among the sites of one function and text, in model order
  std::string_view file;
  uint32_t line;  // 0: the tree has no such check
  std::string_view code;
};

constexpr BugLine kBugLines[] = {
#include "kernel/bug_lines.inc"
};

constexpr std::string_view kModelOnly = "core/drivers/test_driver.cpp";

SourceLines lines_of(const std::string& tree) {
  const std::vector<BugSite> sites = bug_sites();
  // Each site's ordinal, as scripts/bug_lines.py counts it.
  std::vector<uint32_t> order(sites.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin() + 1, order.end(), [&](uint32_t a, uint32_t b) {
    return std::tie(sites[a].function, sites[a].text, sites[a].model_file, sites[a].model_line, a) <
           std::tie(sites[b].function, sites[b].text, sites[b].model_file, sites[b].model_line, b);
  });
  std::vector<uint32_t> ordinal(sites.size(), 0);
  for (size_t k = 2; k < order.size(); ++k) {
    const BugSite& a = sites[order[k - 1]];
    const BugSite& b = sites[order[k]];
    if (a.function == b.function && a.text == b.text) ordinal[order[k]] = ordinal[order[k - 1]] + 1;
  }
  SourceLines out(sites.size());
  for (size_t id = 1; id < sites.size(); ++id) {
    const BugSite& s = sites[id];
    if (s.model_file == kModelOnly) {
      out[id] = {s.model_file, s.model_line, s.text};
      continue;
    }
    for (const BugLine& b : kBugLines)
      if (b.line && b.tree == tree && b.function == s.function && b.text == s.text &&
          b.ordinal == ordinal[id]) {
        out[id] = {std::string(b.file), b.line, std::string(b.code)};
        break;
      }
  }
  return out;
}

}  // namespace

std::string followed_tree(const Preset& preset) {
  const std::string& f = preset.follows;
  const size_t at = f.find(" at ");
  if (at == std::string::npos || f.find('/') > at || f.find(' ') < at) return "";
  return f.substr(0, at);
}

const SourceLines& bug_lines(const Preset& preset) {
  static std::mutex mu;
  static std::map<std::string, SourceLines> cache;
  std::lock_guard g(mu);
  const std::string tree = followed_tree(preset);
  auto it = cache.find(tree);
  if (it == cache.end()) it = cache.emplace(tree, lines_of(tree)).first;
  return it->second;
}

}  // namespace pagesim::kernel
