// Kernel entry points a task can run: what a scenario puts on a CPU ("compact_range",
// "zs_free", ...), by name, with integer arguments. Each runs model code in the calling
// task (or directly, in set-up code) and returns an integer result.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kernel/kernel.h"

namespace pagesim::kernel {

struct EntryPoint {
  const char* name;
  const char* args;  // "start, end"
  const char* doc;   // one line
  int64_t (*fn)(Kernel&, std::span<const int64_t>);
};

const std::vector<EntryPoint>& entry_points();
// Each driver's entry points (kernel/entries_<driver>.cpp).
std::vector<EntryPoint> zsmalloc_entries();
std::vector<EntryPoint> zram_entries();
std::vector<EntryPoint> balloon_entries();
std::vector<EntryPoint> test_driver_entries();
std::vector<EntryPoint> z3fold_entries();
// Arguments as the entry points take them, range-checked as 64-bit values (2^32 + k is
// never taken as k): UsageError otherwise.
mm::Pfn pfn_arg(const Kernel& k, int64_t v);
uint32_t u32_arg(const char* what, int64_t v);
mm::gfp_t gfp_arg(int64_t v);  // within __GFP_BITS_MASK

// Throws UsageError naming the known entry points.
const EntryPoint& find_entry(std::string_view name);
// Checks the argument count, then runs the entry point.
int64_t call_entry(Kernel& k, const EntryPoint& e, std::span<const int64_t> args);
// The name of argument i in e.args ("start, end": 1 is "end"); empty past the last.
std::string_view arg_name(const EntryPoint& e, size_t i);

}  // namespace pagesim::kernel
