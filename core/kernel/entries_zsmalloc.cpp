// Entry points of zsmalloc (see kernel/entry.h).
#include "kernel/entry.h"

namespace pagesim::kernel {

std::vector<EntryPoint> zsmalloc_entries() { return {}; }

}  // namespace pagesim::kernel
