// Python views of the balloon driver state (pagesim._core).
#include "machine.h"
#include "py_common.h"

namespace pagesim::py_glue {

void register_balloon(py::module_&) {}

}  // namespace pagesim::py_glue
