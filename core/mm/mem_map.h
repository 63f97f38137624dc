// mem_map: the struct pages of the world, by pfn. An execution writes only a handful of
// pages, so exploration's restore copies only those (engine/dirty_array.h); every write
// goes through write(pfn).
#pragma once
#include <type_traits>

#include "engine/dirty_array.h"
#include "mm/page.h"

namespace pagesim::mm {

static_assert(std::is_trivially_copyable_v<Page>);

using MemMap = DirtyArray<Page>;

}  // namespace pagesim::mm
