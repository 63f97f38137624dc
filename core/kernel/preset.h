// Kernel presets: a kernel version is a set of named fixes (mm/fixes.h) plus config
// options. A scenario starts from a preset and may flip single fixes.
#pragma once
#include <bitset>
#include <string>
#include <string_view>
#include <vector>

#include "mm/fixes.h"

namespace pagesim::kernel {

struct Preset {
  const char* name;   // "v4.8"
  const char* title;  // one line
  std::bitset<kFixCount> fixes;
  bool debug_vm;      // CONFIG_DEBUG_VM
};

const std::vector<Preset>& presets();
// Throws UsageError naming the known presets.
const Preset& find_preset(std::string_view name);

}  // namespace pagesim::kernel
