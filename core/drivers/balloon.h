// balloon: state and functions (being written this session; see drivers/drivers.h).
#pragma once

namespace pagesim::drivers {

struct Balloon {};

}  // namespace pagesim::drivers
