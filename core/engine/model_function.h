// The model functions: every kernel function the model names with MODEL_FUNC. Each call
// site registers its name when the library loads, so the list is complete before any run
// and a breakpoint or outcome key naming a function that does not exist is caught when it
// is typed, not after a long exploration that never stopped there.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagesim {

struct ModelFunction {
  std::string name;  // "zs_page_isolate"
  std::string file;  // the model file that defines it: "core/drivers/zsmalloc.cpp"
};

// Sorted by name, one entry per name.
const std::vector<ModelFunction>& model_functions();
const ModelFunction* find_model_function(std::string_view name);
// Called once per MODEL_FUNC name at load time; returns the name's interned id.
uint32_t register_model_function(const char* name, const char* file);
// The functions an outcome can name (oops:<function>, bug:<function>): the model functions
// and the places that report without a frame of their own (REPORT_FUNC), sorted.
std::vector<std::string> outcome_functions();
const char* register_report_function(const char* name);

// The model's variants of one kernel function carry the version they follow; reports
// name the kernel's: zs_page_migrate_v3, _47 and _517 are zs_page_migrate.
std::string kernel_function(std::string_view name);
// "…/core/drivers/zsmalloc.cpp" -> "core/drivers/zsmalloc.cpp"
std::string model_source_path(std::string_view path);

// The names among `known` closest to `name` (typos, a missing prefix), best first.
std::vector<std::string> near_matches(std::string_view name, const std::vector<std::string>& known,
                                      size_t max = 3);
// " (did you mean 'a' or 'b'?)", or "" when nothing is close.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& known);
// "a, b, c"
std::string join_names(const std::vector<std::string>& names, std::string_view sep = ", ");

namespace detail {
// A string literal as a template argument: MODEL_FUNC's name and file.
template <size_t N>
struct Literal {
  char s[N];
  constexpr Literal(const char (&v)[N]) { std::copy_n(v, N, s); }
};
// One per MODEL_FUNC name and file: initialised when the library loads.
template <Literal Name, Literal File>
struct ModelFunctionId {
  static inline const uint32_t id = register_model_function(Name.s, File.s);
};
template <Literal Name>
struct ReportFunction {
  static inline const char* const name = register_report_function(Name.s);
};
}  // namespace detail

}  // namespace pagesim

// The function a BUG or WARN names: REPORT_FUNC("remove_zspage"), or the enclosing
// function; registered when the library loads, so outcome keys can be checked.
#define REPORT_FUNC(literal) (::pagesim::detail::ReportFunction<literal>::name)
#define REPORT_FUNC_HERE()                                                            \
  (::pagesim::detail::ReportFunction<::pagesim::detail::Literal<sizeof(__func__)>(  \
       __func__)>::name)
