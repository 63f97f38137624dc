#include "kernel/entry.h"

#include <algorithm>

#include "mm/compaction.h"
#include "mm/current.h"
#include "mm/lru.h"
#include "mm/page_ops.h"

namespace pagesim::kernel {
namespace {

using Args = std::span<const int64_t>;

int nargs(const char* args) {
  std::string_view s(args);
  if (s.empty()) return 0;
  return int(std::count(s.begin(), s.end(), ',')) + 1;
}

uint32_t pid_arg(const Kernel& k, int64_t v) {
  if (v < 0 || size_t(v) >= k.processes.size())
    throw UsageError("no process " + std::to_string(v));
  return uint32_t(v);
}

mm::MigrateMode mode_arg(int64_t v) {
  if (v < 0 || v > 2) throw UsageError("migrate mode must be 0 (async), 1 (sync-light) or 2 (sync)");
  return mm::MigrateMode(v);
}

std::vector<EntryPoint> build() {
  std::vector<EntryPoint> v = {
      {"compact_memory", "", "compact every zone fully, synchronously (/proc/sys/vm/compact_memory)",
       [](Kernel& k, Args) -> int64_t {
         mm::compact_memory(k, mm::MigrateMode::Sync);
         return 0;
       }},
      {"compact_range", "start, end, mode",
       "a compaction context on [start, end): isolate there, migrate to free pages from the "
       "zone's end; returns pages not migrated",
       [](Kernel& k, Args a) -> int64_t {
         const mm::Pfn s = pfn_arg(k, a[0]);
         if (a[1] <= a[0] || a[1] > int64_t(k.pages.size())) throw UsageError("bad end pfn");
         return mm::compact_range(k, s, mm::Pfn(a[1]), mode_arg(a[2]));
       }},
      {"alloc_contig_range", "start, end",
       "alloc_contig_range's migration of [start, end) (__alloc_contig_migrate_range): "
       "returns 0 or -EINTR, -EBUSY, -ENOMEM",
       [](Kernel& k, Args a) -> int64_t {
         const mm::Pfn s = pfn_arg(k, a[0]);
         if (a[1] <= a[0] || a[1] > int64_t(k.pages.size())) throw UsageError("bad end pfn");
         if (&k.zone_of(s) != &k.zone_of(mm::Pfn(a[1] - 1)))
           throw UsageError("alloc_contig_range: [start, end) must lie in one zone");
         return mm::alloc_contig_migrate_range(k, s, mm::Pfn(a[1]));
       }},
      {"compact_page", "pfn",
       "a synchronous compaction context aimed at one page (isolate it, migrate it)",
       [](Kernel& k, Args a) -> int64_t {
         const mm::Pfn p = pfn_arg(k, a[0]);
         return mm::compact_range(k, p, p + 1, mm::MigrateMode::Sync);
       }},
      {"try_to_compact_pages", "order", "direct compaction for a failed allocation of this order",
       [](Kernel& k, Args a) -> int64_t {
         if (a[0] < 0 || a[0] >= mm::MAX_ORDER) throw UsageError("order out of range");
         mm::MemallocScope memalloc;  // as its one caller, __alloc_pages_direct_compact
         const mm::gfp_t gfp = mm::GFP_KERNEL | mm::__GFP_MOVABLE;
         return int64_t(mm::try_to_compact_pages(k, gfp, unsigned(a[0]),
                                                  mm::gfp_to_alloc_flags(k, gfp),
                                                  mm::DEF_COMPACT_PRIORITY));
       }},
      {"alloc_pages", "order, gfp", "alloc_pages(gfp, order): the pfn, or -1",
       [](Kernel& k, Args a) -> int64_t {
         if (a[0] < 0 || a[0] >= mm::MAX_ORDER) throw UsageError("order out of range");
         const mm::Pfn p = mm::alloc_pages(k, gfp_arg(a[1]), unsigned(a[0]), mm::Owner::Kernel);
         return p == mm::kNoPfn ? -1 : int64_t(p);
       }},
      {"free_pages", "pfn, order", "__free_pages(page, order)",
       [](Kernel& k, Args a) -> int64_t {
         if (a[1] < 0 || a[1] >= mm::MAX_ORDER) throw UsageError("order out of range");
         mm::__free_pages(k, pfn_arg(k, a[0]), unsigned(a[1]));
         return 0;
       }},
      {"fault_in", "pid, npages", "the process faults in anonymous pages; returns how many",
       [](Kernel& k, Args a) -> int64_t {
         return mm::process_fault_in(k, pid_arg(k, a[0]), u32_arg("npages", a[1]));
       }},
      {"unmap", "pid, vpage", "the process unmaps one page (munmap)",
       [](Kernel& k, Args a) -> int64_t {
         mm::process_unmap(k, pid_arg(k, a[0]), u32_arg("vpage", a[1]));
         return 0;
       }},
      {"exit", "pid", "the process exits (exit_mmap)",
       [](Kernel& k, Args a) -> int64_t {
         mm::process_exit(k, pid_arg(k, a[0]));
         return 0;
       }},
      {"isolate_movable_page", "pfn",
       "isolate_movable_page(page, 0) alone; returns 1 if isolated (the page is then off every "
       "list and needs putback_movable_page)",
       [](Kernel& k, Args a) -> int64_t { return mm::isolate_movable_page(k, pfn_arg(k, a[0]), 0); }},
      {"get_page", "pfn", "take a reference",
       [](Kernel& k, Args a) -> int64_t {
         mm::get_page(k, pfn_arg(k, a[0]));
         return 0;
       }},
      {"put_page", "pfn", "drop a reference (the last one frees the page)",
       [](Kernel& k, Args a) -> int64_t {
         mm::put_page(k, pfn_arg(k, a[0]));
         return 0;
       }},
      {"lock_page", "pfn", "lock_page (sleeps while another context holds it)",
       [](Kernel& k, Args a) -> int64_t {
         mm::lock_page(k, pfn_arg(k, a[0]));
         return 0;
       }},
      {"unlock_page", "pfn", "unlock_page",
       [](Kernel& k, Args a) -> int64_t {
         mm::unlock_page(k, pfn_arg(k, a[0]));
         return 0;
       }},
  };
  for (auto* more : {&zsmalloc_entries, &zram_entries, &balloon_entries, &test_driver_entries,
                      &z3fold_entries})
    for (const auto& e : (*more)()) v.push_back(e);
  std::sort(v.begin(), v.end(),
            [](const EntryPoint& a, const EntryPoint& b) { return std::string_view(a.name) < b.name; });
  return v;
}

}  // namespace

mm::Pfn pfn_arg(const Kernel& k, int64_t v) {
  if (v < 0 || uint64_t(v) >= k.pages.size())  // compared as 64 bits: 2^32 + k is not k
    throw UsageError("pfn " + std::to_string(v) + " out of range (the machine has " +
                     std::to_string(k.pages.size()) + " pages)");
  return mm::Pfn(v);
}

// A value of a 32-bit kernel argument (a virtual page, a count): never truncated.
uint32_t u32_arg(const char* what, int64_t v) {
  if (v < 0 || v > int64_t(UINT32_MAX))
    throw UsageError(std::string(what) + " must be 0..2^32-1, got " + std::to_string(v));
  return uint32_t(v);
}

mm::gfp_t gfp_arg(int64_t v) {
  if (v < 0 || (uint64_t(v) & ~uint64_t(mm::__GFP_BITS_MASK)))
    throw UsageError("gfp " + std::to_string(v) + " has bits outside __GFP_BITS_MASK");
  return mm::gfp_t(v);
}

const std::vector<EntryPoint>& entry_points() {
  static const std::vector<EntryPoint> v = build();
  return v;
}

const EntryPoint& find_entry(std::string_view name) {
  std::vector<std::string> names;
  for (const auto& e : entry_points()) {
    if (name == e.name) return e;
    names.push_back(e.name);
  }
  throw UsageError("unknown kernel entry point '" + std::string(name) + "'" +
                   did_you_mean(name, names) + " (known: " + join_names(names) + ")");
}

std::string_view arg_name(const EntryPoint& e, size_t i) {
  std::string_view rest = e.args;
  for (; i && !rest.empty(); --i) {
    const size_t comma = rest.find(',');
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  std::string_view name = rest.substr(0, rest.find(','));
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  return name;
}

int64_t call_entry(Kernel& k, const EntryPoint& e, std::span<const int64_t> args) {
  if (int(args.size()) != nargs(e.args))
    throw UsageError(std::string(e.name) + " takes " + std::to_string(nargs(e.args)) +
                     " argument(s) (" + e.args + "), got " + std::to_string(args.size()));
  return e.fn(k, args);
}

}  // namespace pagesim::kernel
