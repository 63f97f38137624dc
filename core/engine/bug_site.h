// Where a BUG or WARN is written: the kernel function and the kernel's own text of the
// check, so a report can name the line of the kernel tree a preset follows, as the
// kernel's does ("kernel BUG at mm/zsmalloc.c:1946!"). Every site registers when the
// library loads (like MODEL_FUNC), so the table of lines can be checked against them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model_function.h"

namespace pagesim {

struct BugSite {
  std::string function;    // the kernel function whose source has the check
  std::string text;        // the kernel's text: "VM_BUG_ON_PAGE(!PageIsolated(page))"
  std::string model_file;  // where the model checks it: "core/drivers/zsmalloc.cpp"
  uint32_t model_line = 0;
};

// A site in one kernel tree; `file` is empty where the tree has no such check.
struct SourceLine {
  std::string file;  // "mm/zsmalloc.c"
  uint32_t line = 0;
  std::string code;  // the tree's line, trimmed: "VM_BUG_ON_PAGE(!PageIsolated(page), page);"
};
// One tree's lines, by site id.
using SourceLines = std::vector<SourceLine>;

// By id; id 0 is no site.
std::vector<BugSite> bug_sites();
BugSite bug_site(uint32_t id);
uint32_t register_bug_site(const char* function, const char* text, const char* file,
                           uint32_t line);
// The model's C++ condition as the kernel writes it: "!mm::PageIsolated(mm, page)" ->
// "!PageIsolated(page)".
std::string kernel_text(std::string_view cxx);

namespace detail {
template <Literal Function, Literal Text, Literal File, uint32_t Line>
struct BugSiteId {
  static inline const uint32_t id = register_bug_site(Function.s, Text.s, File.s, Line);
};
}  // namespace detail

}  // namespace pagesim

// A site in the kernel function `function` (a string literal), with the kernel's `text`.
#define BUG_SITE_IN(function, text) \
  (::pagesim::detail::BugSiteId<function, text, __FILE__, __LINE__>::id)
// A site in the enclosing function, which has the kernel function's name.
#define BUG_SITE(text)                                                                  \
  (::pagesim::detail::BugSiteId<::pagesim::detail::Literal<sizeof(__func__)>(__func__), \
                                text, __FILE__, __LINE__>::id)
// The first argument, or `fallback` when there is none: an optional macro argument.
#define PAGESIM_FIRST_OR(fallback, ...) PAGESIM_FIRST_(__VA_ARGS__ __VA_OPT__(, ) fallback)
#define PAGESIM_FIRST_(first, ...) first
