// zsmalloc: state and functions (being written this session; see drivers/drivers.h).
#pragma once

namespace pagesim::drivers {

struct Zsmalloc {};

}  // namespace pagesim::drivers
