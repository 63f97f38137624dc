// Python views of the zsmalloc driver state (pagesim._core).
#include "machine.h"
#include "py_common.h"

namespace pagesim::py_glue {

void register_zsmalloc(py::module_&) {}

}  // namespace pagesim::py_glue
