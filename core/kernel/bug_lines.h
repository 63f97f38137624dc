// The line of each BUG and WARN site (engine/bug_site.h) in the kernel tree a preset
// follows, from the table scripts/bug_lines.py generates out of the stored trees.
#pragma once
#include <string>

#include "engine/bug_site.h"
#include "kernel/preset.h"

namespace pagesim::kernel {

// "squirrel20/linux-4.8.15" from "squirrel20/linux-4.8.15 at 4fdc4ec5...", or "" when the
// preset names no stored tree (movable-v3, a series of patches).
std::string followed_tree(const Preset& preset);
// By site id; a site the tree does not have has an empty file. pagesim's own test
// driver has no kernel source: its sites are the model's lines.
const SourceLines& bug_lines(const Preset& preset);

}  // namespace pagesim::kernel
