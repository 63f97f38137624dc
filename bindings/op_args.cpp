// One-line errors for per-step ops called with arguments that do not match.
#include <string>
#include <vector>

#include "py_common.h"

namespace pagesim::py_glue {

void bad_op_args(const OpParams& p, const py::args& a, const py::kwargs& k) {
  const std::string fn(p.fn);
  const size_t n = p.names.size();
  if (a.size() > n && !p.variadic)
    throw UsageError(fn + ": takes " + (n == p.required ? "" : "at most ") + std::to_string(n) +
                     " argument" + (n == 1 ? "" : "s") + ", not " + std::to_string(a.size()));
  std::vector<bool> given(n);
  for (size_t i = 0; i < n && i < a.size(); ++i) given[i] = true;
  for (const auto& [key, value] : k) {
    const std::string name = py::str(key).cast<std::string>();
    size_t i = 0;
    while (i < n && name != p.names[i]) ++i;
    if (i == n) throw UsageError(fn + ": no argument named " + arg_repr(key));
    if (given[i]) throw UsageError(fn + ": " + name + " given twice");
    given[i] = true;
  }
  for (size_t i = 0; i < p.required; ++i)
    if (!given[i]) throw UsageError(fn + ": " + p.names[i] + " is missing");
  throw UsageError(fn + ": arguments do not match " + fn + "(" + std::to_string(n) + " parameters)");
}

}  // namespace pagesim::py_glue
