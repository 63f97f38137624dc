// Entry points of the movable test driver (see kernel/entry.h and drivers/test_driver.h).
#include "drivers/test_driver.h"
#include "kernel/entry.h"

namespace pagesim::kernel {
namespace {

using Args = std::span<const int64_t>;
using drivers::TestDriverOption;

// The object whose page is pfn now.
uint32_t driver_object_arg(const Kernel& k, const char* fn, int64_t v) {
  if (v < 0 || uint64_t(v) >= k.pages.size())
    throw UsageError(std::string(fn) + ": pfn " + std::to_string(v) + " out of range (the machine has " +
                     std::to_string(k.pages.size()) + " pages)");
  if (drivers::test_driver_find(k, mm::Pfn(v)) < 0)
    throw UsageError(std::string(fn) + ": pfn " + std::to_string(v) +
                     " is not a test driver page (test_driver_alloc returns them; migration moves them)");
  return uint32_t(drivers::test_driver_find(k, mm::Pfn(v)));
}

std::string option_list() {
  std::string s;
  for (size_t i = 0; i < drivers::kTestDriverOptionCount; ++i)
    s += (s.empty() ? "" : ", ") + std::to_string(i) + " " + drivers::test_driver_option_name(TestDriverOption(i));
  return s;
}

}  // namespace

std::vector<EntryPoint> test_driver_entries() {
  return {
      {"test_driver_alloc", "n",
       "the movable test driver allocates n pages (one object each, movable in its mapping, on "
       "its list); returns the first pfn, or -1 if none could be allocated",
       [](Kernel& k, Args a) -> int64_t {
         if (a[0] < 1 || a[0] > int64_t(k.pages.size()))
           throw UsageError("test_driver_alloc: n must be between 1 and the machine's " +
                            std::to_string(k.pages.size()) + " pages, got " + std::to_string(a[0]));
         int64_t first = -1;
         for (int64_t i = 0; i < a[0]; ++i) {
           const mm::Pfn p = drivers::test_driver_alloc_page(k);
           if (p == mm::kNoPfn) break;
           if (first < 0) first = p;
         }
         return first;
       }},
      {"test_driver_release", "pfn",
       "the test driver frees its object at pfn (following it if migration moves it): "
       "__ClearPageMovable under the page lock, then put_page; also while the VM has the page "
       "isolated",
       [](Kernel& k, Args a) -> int64_t {
         drivers::test_driver_release(k, driver_object_arg(k, "test_driver_release", a[0]));
         return 0;
       }},
      {"test_driver_set", "option, value",
       "set a test driver option (0 busy, 1 migrate_error (errno), 2 refuse_isolate, 3 "
       "touch_lru_while_isolated, 4 set_pg_isolated, 5 forget_clear_movable, 6 forget_get_newpage, "
       "7 mmap_no_ref); returns the previous value",
       [](Kernel& k, Args a) -> int64_t {
         if (a[0] < 0 || a[0] >= int64_t(drivers::kTestDriverOptionCount))
           throw UsageError("test_driver_set: unknown option " + std::to_string(a[0]) + " (" +
                            option_list() + ")");
         const auto o = TestDriverOption(a[0]);
         const int64_t max = o == TestDriverOption::MigrateError ? 4095 : 1;
         if (a[1] < 0 || a[1] > max)
           throw UsageError(std::string("test_driver_set: ") + drivers::test_driver_option_name(o) +
                            " takes a value from 0 to " + std::to_string(max) + ", got " +
                            std::to_string(a[1]));
         drivers::test_driver_probe(k);
         const int64_t old = k.test_driver.options[size_t(o)];
         k.test_driver.options[size_t(o)] = a[1];
         return old;
       }},
      {"test_driver_mmap", "pfn, pid",
       "the test driver maps its page at pfn into the process (a new virtual page, as a fault "
       "handler would: get_page, mapcount++; a raw pfn with mmap_no_ref); returns the vpage",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t o = driver_object_arg(k, "test_driver_mmap", a[0]);
         if (a[1] < 0 || size_t(a[1]) >= k.processes.size())
           throw UsageError("test_driver_mmap: no process " + std::to_string(a[1]));
         return drivers::test_driver_mmap(k, o, uint32_t(a[1]));
       }},
      {"test_driver_write", "pfn",
       "the test driver writes new data into its object at pfn (processes mapping it expect to "
       "read it); returns the content token",
       [](Kernel& k, Args a) -> int64_t {
         return drivers::test_driver_write(k, driver_object_arg(k, "test_driver_write", a[0]));
       }},
  };
}

}  // namespace pagesim::kernel
