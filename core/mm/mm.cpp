#include "mm/mm.h"

#include <algorithm>

namespace pagesim::mm {

const char* stat_name(Stat s) {
  static const char* const names[] = {
      "nr_free_pages",          "nr_inactive_anon",      "nr_active_anon",
      "nr_inactive_file",       "nr_active_file",        "nr_isolated_anon",
      "nr_isolated_file",
      "nr_zspages",             "nr_balloon_pages",      "pgmigrate_success",
      "pgmigrate_fail",         "compact_migrate_scanned", "compact_free_scanned",
      "compact_isolated",       "compact_stall",         "compact_fail",
      "compact_success",        "compact_daemon_wake",   "pageoutrun",
      "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
      "slabs_scanned"};
  static_assert(sizeof(names) / sizeof(names[0]) == size_t(Stat::Count_));
  return names[size_t(s)];
}

Zone& Mm::zone_of(Pfn pfn) {
  for (auto& z : zones)
    if (z.contains(pfn)) return z;
  throw UsageError("pfn " + std::to_string(pfn) + " is outside every zone");
}

uint32_t Mm::new_mapping(std::string name, const AddressSpaceOps* a_ops, uint64_t private_data) {
  if (mappings.empty()) mappings.push_back({"(null)", nullptr, 0, {}});
  mappings.push_back({std::move(name), a_ops, private_data, {}});
  kasan_alloc(mappings.back().life);
  return uint32_t(mappings.size() - 1);
}

uint32_t Mm::get_private_list(const char* name) {
  if (spare_lists.empty()) return new_list(*this, name);
  const uint32_t l = spare_lists.back();
  spare_lists.pop_back();
  lists[l].name_id = intern(name);
  return l;
}

void Mm::put_private_list(uint32_t list) {
  if (lists[list].count) throw UsageError("put_private_list: list " + lists[list].name() + " is not empty");
  spare_lists.push_back(list);
}

}  // namespace pagesim::mm
