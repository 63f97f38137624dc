// Entry points of zram (see kernel/entry.h).
#include "kernel/entry.h"

namespace pagesim::kernel {

std::vector<EntryPoint> zram_entries() { return {}; }

}  // namespace pagesim::kernel
