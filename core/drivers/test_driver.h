// A minimal driver with non-LRU movable pages: the "dummy driver as a misc device" of the
// v6 review thread (seed 003). It allocates pages, makes them movable in its own mapping,
// keeps them on its own list under its own lock, and implements isolate_page /
// migratepage / putback_page as the 4.8 contract (bda807d44454) asks. Options let a
// scenario turn it into a buggy driver (touches page->lru while isolated, sets
// PG_isolated itself, forgets __ClearPageMovable, ...) to see what the VM reports.
//
// It can also map one of its pages into a process's page table, as Anshuman Khandual's
// driver did (fops->mmap + vm_ops->fault). In 4.8 the non-LRU path of __unmap_and_move
// goes straight to move_to_new_page: no try_to_unmap, no migration entries, no
// remove_migration_ptes ("does this implementation support ... non LRU pages ... mapped as
// PTE into process page table?" -- "You're right. Unfortunately, it doesn't support right
// now"). Nothing on the isolation or migration path looks at page_mapcount for a non-LRU
// page either, so the migration succeeds and the process keeps mapping the OLD page:
//   * with a page-backed mapping (vm_insert_page / a fault handler: get_page, mapcount++)
//     the pte's reference keeps the old page allocated, orphaned: the driver's object now
//     lives on the new page, the process reads and writes the old one (stale mapping);
//   * with a raw pfn mapping (vm_insert_pfn / remap_pfn_range: no reference, no mapcount;
//     option MmapNoRef) the old page is freed by the migration while the process still
//     maps it: a use-after-free.
// test_driver_check() reports both.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/sync.h"
#include "mm/mm.h"

namespace pagesim::drivers {

class Drivers;

inline constexpr uint8_t kTestDriverLockClass = objclass::kTestDriverBase + 0;  // its spinlock
inline constexpr uint8_t kTestDriverDevClass = objclass::kTestDriverBase + 1;   // its state

// Options a scenario sets with test_driver_set(option, value). The numbers are part of
// the entry-point interface (Python: pagesim._core.TEST_DRIVER_OPTIONS).
enum class TestDriverOption : uint8_t {
  Busy,                   // migratepage returns -EAGAIN ("the driver is busy, retry soon")
  MigrateError,           // value v > 0: migratepage returns -v (permanent failure, e.g. EBUSY)
  RefuseIsolate,          // isolate_page returns false
  TouchLruWhileIsolated,  // BUG: list_del(&page->lru) of an isolated page (migratepage, release)
  SetPgIsolated,          // BUG: isolate_page sets PG_isolated itself (the v3 rule in 4.8)
  ForgetClearMovable,     // BUG: no __ClearPageMovable on the migrated or released page
  ForgetGetNewpage,       // BUG: migratepage does not take its reference on newpage
  MmapNoRef,              // test_driver_mmap maps a raw pfn: no get_page, no mapcount
  Count_
};
inline constexpr size_t kTestDriverOptionCount = size_t(TestDriverOption::Count_);
const char* test_driver_option_name(TestDriverOption o);

// One object of the driver: the data it keeps in a page.
struct TestDriverObject {
  mm::Pfn pfn = mm::kNoPfn;  // the page holding it now (migration moves it); kNoPfn: released
  uint32_t content = 0;      // what the driver last wrote there
  bool live() const { return pfn != mm::kNoPfn; }
};

// A process mapping of one object (test_driver_mmap).
struct TestDriverMmap {
  uint32_t object;  // index in objects
  uint32_t pid;
  uint32_t vpage;
  bool raw_pfn;     // mapped without a page reference (MmapNoRef)
};

struct TestDriver {
  bool present = false;                 // probed (the misc device registered)
  uint32_t mapping = 0;                 // its anon inode's mapping (a_ops test_driver_aops)
  SpinLock lock;                        // protects pages, objects, nr_isolated
  uint32_t pages = mm::kNoList;         // its pages that are not isolated, through page->lru
  std::vector<TestDriverObject> objects;  // by object id, released ones included
  std::vector<TestDriverMmap> mmaps;
  uint64_t nr_isolated = 0;             // its pages the VM holds isolated
  std::array<int64_t, kTestDriverOptionCount> options{};
  // Callbacks the VM made, and what they did.
  uint64_t isolate_calls = 0, migrate_calls = 0, putback_calls = 0;
  uint64_t migrated = 0, released = 0;
};

// Registers the misc device the first time (its mapping, list and lock).
void test_driver_probe(mm::Mm& mm);
// Allocates one page for a new object, fills it, puts it on the driver's list and makes it
// movable (under the page lock, once set up). kNoPfn when memory runs out.
mm::Pfn test_driver_alloc_page(mm::Mm& mm);
// Frees an object: finds its page (following it if migration moves it meanwhile), then
// __ClearPageMovable under the page lock and put_page. If the VM has the page isolated,
// the driver leaves page->lru alone and the VM's migration or put-back path finds a page
// that is no longer PageMovable. Throws UsageError if the object was released already.
void test_driver_release(mm::Mm& mm, uint32_t object);
// The driver writes new data into an object; returns the content token. Every process
// mapping of the object expects to see it.
uint32_t test_driver_write(mm::Mm& mm, uint32_t object);
// Maps an object's page into the process (one more virtual page); returns the vpage.
uint32_t test_driver_mmap(mm::Mm& mm, uint32_t object, uint32_t pid);

// The address_space_operations of the driver.
bool test_driver_isolate_page(mm::Mm& mm, mm::Pfn page, mm::isolate_mode_t mode);
int test_driver_migratepage(mm::Mm& mm, uint32_t mapping, mm::Pfn newpage, mm::Pfn page,
                            mm::MigrateMode mode);
void test_driver_putback_page(mm::Mm& mm, mm::Pfn page);
extern const mm::AddressSpaceOps test_driver_aops;

// The object whose page is pfn now, or -1.
int64_t test_driver_find(const Drivers& d, mm::Pfn pfn);
// The pages of the driver's objects, in allocation order.
std::vector<mm::Pfn> test_driver_pages(const Drivers& d);
// Consistency of a quiescent driver: each object's page is allocated, owned by the driver,
// movable in its mapping (or isolated) and holds what the driver wrote; the list plus the
// isolated pages are exactly the objects' pages; each process mapping points at the
// object's current page (4.8 leaves it on the old one: stale mapping, or use-after-free
// when the old page was freed). Empty: consistent.
std::vector<std::string> test_driver_check(const Drivers& d);

}  // namespace pagesim::drivers
