// Entry points of test_driver (see kernel/entry.h).
#include "kernel/entry.h"

namespace pagesim::kernel {

std::vector<EntryPoint> test_driver_entries() { return {}; }

}  // namespace pagesim::kernel
