// Kernel presets: a kernel version is a set of named fixes (mm/fixes.h) plus config
// options. A scenario starts from a preset and may flip single fixes.
#pragma once
#include <bitset>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mm/fixes.h"

namespace pagesim::kernel {

struct Preset {
  std::string name;   // "v4.8"
  std::string title;  // one line
  std::bitset<kFixCount> fixes;
  bool debug_vm;      // CONFIG_DEBUG_VM
  std::string base;     // the preset it is built from: its predecessor ("" for a root)
  std::string follows;  // the kernel tree and commit the model follows
  bool user;            // composed by define_preset
};

// The built-in presets, then those users composed (define_preset), in order. Elements
// never move: a reference to one stays valid.
const std::deque<Preset>& presets();
// Throws UsageError naming the known presets.
const Preset& find_preset(std::string_view name);
// Whether `preset` is `root` or built on it, through its bases (user presets included).
bool descends_from(std::string_view preset, std::string_view root);
// A user's preset: `base` with named fixes flipped, under a name of its own, usable
// wherever a preset name is. Defining the same name again with the same fixes returns the
// first definition (a module imported twice); anything else that reuses a name, an
// unknown base or fix, or flips that break a fix's dependency, is a UsageError.
const Preset& define_preset(const std::string& name, std::string_view base,
                            const std::map<std::string, bool>& flips);

// The fixes `fix` needs (a preset with it has them too).
std::vector<Fix> fix_needs(Fix fix);

// The later fix that removed `fix`'s code, if one did (c4549b871102 removed 701d678599d0's
// isolation count): where the later one is on, `fix` changes nothing.
std::optional<Fix> fix_removed_by(Fix fix);

// The preset's fixes with named ones flipped; throws UsageError for an unknown fix, a flip
// that breaks a fix's needs, or a flip of a fix whose code a fix left on removed.
std::bitset<kFixCount> resolve_fixes(const Preset& p, const std::map<std::string, bool>& flips);

// The model functions (engine/model_function.h) a kernel with these fixes has: those a
// fix brought in exist only with it (the non-LRU driver callbacks came with bda807d44454).
std::vector<std::string> model_function_names(const std::bitset<kFixCount>& fixes);
// The fix a model function needs, when `fixes` lacks it.
std::optional<Fix> missing_fix_for(const std::bitset<kFixCount>& fixes, std::string_view function);

}  // namespace pagesim::kernel
