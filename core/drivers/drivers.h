// The drivers' part of the world: the state of every driver that makes pages movable,
// on top of the memory model. Driver callbacks receive the Mm and reach their own state
// with drivers_of(mm), the model's container_of: every world is a Drivers (the Kernel).
#pragma once
#include <string_view>

#include "drivers/balloon.h"
#include "drivers/swap.h"
#include "drivers/test_driver.h"
#include "drivers/z3fold.h"
#include "drivers/zram.h"
#include "drivers/zsmalloc.h"
#include "mm/mm.h"

namespace pagesim::drivers {

// The drivers' teardown checks (zsmalloc_check and the others) return one line per
// problem. A problem that is memory nobody will free any more starts with kLeak: the
// kernel reports it as outcome kind leak, every other problem as invariant.
inline constexpr std::string_view kLeak = "leak: ";

class Drivers : public mm::Mm {
 public:
  Drivers() {
    balloon_hooks = &balloon_compaction_hooks;
    kasan_free_pages = z3fold_page_freed;
  }

  Zsmalloc zsmalloc;
  Zram zram;
  Balloon balloon;
  TestDriver test_driver;
  Z3fold z3fold;
};

inline Drivers& drivers_of(mm::Mm& mm) { return static_cast<Drivers&>(mm); }
inline const Drivers& drivers_of(const mm::Mm& mm) { return static_cast<const Drivers&>(mm); }

}  // namespace pagesim::drivers
