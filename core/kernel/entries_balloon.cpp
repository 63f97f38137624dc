// Entry points of balloon (see kernel/entry.h).
#include "kernel/entry.h"

namespace pagesim::kernel {

std::vector<EntryPoint> balloon_entries() { return {}; }

}  // namespace pagesim::kernel
