#include "drivers/test_driver.h"

#include "drivers/drivers.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"

namespace pagesim::drivers {

using namespace pagesim::mm;

namespace {

std::string lock_label(uint64_t, const World*) { return "test_driver lock"; }
std::string dev_label(uint64_t, const World*) { return "test_driver"; }

const bool registered = [] {
  register_obj_class(kTestDriverLockClass, "test_driver lock", lock_label);
  register_obj_class(kTestDriverDevClass, "test_driver", dev_label);
  return true;
}();

bool vm_owns_isolated(const Mm& mm) { return mm.cfg.has(Fix::VmOwnsPgIsolated); }

TestDriver& drv(Mm& mm) { return drivers_of(mm).test_driver; }

int64_t opt(const Mm& mm, TestDriverOption o) {
  return drivers_of(mm).test_driver.options[size_t(o)];
}

// The driver's object in page, looked up under the driver's lock; -1 if none.
int64_t find_object(const TestDriver& d, Pfn page) {
  if (page == kNoPfn) return -1;
  for (size_t i = 0; i < d.objects.size(); ++i)
    if (d.objects[i].pfn == page) return int64_t(i);
  return -1;
}

// A callback for a page the driver has no object for: a real driver would follow
// page->private into metadata it freed. The model reports the NULL dereference.
int64_t object_or_oops(const TestDriver& d, Pfn page) {
  const int64_t obj = find_object(d, page);
  if (obj < 0) null_deref("test_driver object of the page (released by the driver)", 0x10);
  return obj;
}

void copy_content(Mm& mm, Pfn newpage, Pfn page) {
  // copy_highpage(newpage, page)
  sched(Op::Read, Access::Read, page_obj(page), here());
  sched(Op::Write, Access::Write, page_obj(newpage), here());
  mm.page(newpage).content = mm.page(page).content;
}

}  // namespace

const char* test_driver_option_name(TestDriverOption o) {
  static const char* const names[] = {"busy",
                                      "migrate_error",
                                      "refuse_isolate",
                                      "touch_lru_while_isolated",
                                      "set_pg_isolated",
                                      "forget_clear_movable",
                                      "forget_get_newpage",
                                      "mmap_no_ref"};
  static_assert(sizeof(names) / sizeof(names[0]) == kTestDriverOptionCount);
  return size_t(o) < kTestDriverOptionCount ? names[size_t(o)] : "?";
}

const AddressSpaceOps test_driver_aops = {"test_driver_aops", test_driver_isolate_page,
                                          test_driver_migratepage, test_driver_putback_page};

void test_driver_probe(Mm& mm) {
  TestDriver& d = drv(mm);
  if (d.present) return;
  d.present = true;
  d.lock = SpinLock{make_obj(kTestDriverLockClass, 0), kNoTask};
  d.pages = new_list(mm, "test_driver pages");
  // Its own pseudo-fs inode: alloc_anon_inode, i_mapping->a_ops = &test_driver_aops.
  d.mapping = mm.new_mapping("test_driver", &test_driver_aops, 0);
}

Pfn test_driver_alloc_page(Mm& mm) {
  MODEL_FUNC("test_driver_alloc_page");
  test_driver_probe(mm);
  TestDriver& d = drv(mm);
  const Pfn page = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::TestDriver);
  if (page == kNoPfn) return kNoPfn;
  // A new page: nobody else takes its lock (isolate_movable_page peeks __PageMovable first).
  if (!trylock_page(mm, page))
    BUG(REPORT_FUNC("test_driver_alloc_page"), BUG_SITE("BUG_ON(!trylock_page(page))"),
        {dump_page(mm, page)});
  sched(Op::Write, Access::Write, page_obj(page), here());
  const uint32_t content = mm.next_content++;
  mm.page(page).content = content;
  spin_lock(d.lock);
  d.objects.push_back({page, content});
  list_add(mm, page, d.pages, here());
  spin_unlock(d.lock);
  // Completely set up: mark it movable, under the page lock as the contract asks.
  __SetPageMovable(mm, page, d.mapping);
  unlock_page(mm, page);
  return page;
}

namespace {

TestDriverObject& live_object(TestDriver& d, uint32_t object, const char* fn) {
  if (object >= d.objects.size() || !d.objects[object].live())
    throw UsageError(std::string(fn) + ": test driver object " + std::to_string(object) +
                     " does not exist (released already?)");
  return d.objects[object];
}

}  // namespace

void test_driver_release(Mm& mm, uint32_t object) {
  MODEL_FUNC("test_driver_release");
  TestDriver& d = drv(mm);
  for (;;) {
    spin_lock(d.lock);
    const Pfn page = live_object(d, object, "test_driver_release").pfn;
    get_page(mm, page);  // keep the page while sleeping on its lock
    spin_unlock(d.lock);
    lock_page(mm, page);
    spin_lock(d.lock);
    if (d.objects[object].pfn != page) {
      // Migrated (or released) meanwhile: follow the object.
      spin_unlock(d.lock);
      unlock_page(mm, page);
      put_page(mm, page);
      continue;
    }
    d.objects[object].pfn = kNoPfn;
    std::erase_if(d.mmaps, [&](const TestDriverMmap& m) { return m.object == object; });
    // An isolated page's lru belongs to the VM: leave it alone. The VM's migration or
    // put-back path will find the page no longer PageMovable and only clear PG_isolated.
    const bool isolated = PageIsolated(mm, page);
    if (!isolated || opt(mm, TestDriverOption::TouchLruWhileIsolated)) list_del(mm, page, here());
    if (isolated) d.nr_isolated--;
    d.released++;
    spin_unlock(d.lock);
    if (!vm_owns_isolated(mm)) {
      // v3 rule 5: "If a subsystem want to release isolated page, it should clear
      // PG_isolated but not PG_movable. Instead, VM will do it."
      if (!isolated && !opt(mm, TestDriverOption::ForgetClearMovable)) __ClearPageMovable(mm, page);
      __ClearPageIsolated(mm, page);
    } else if (!opt(mm, TestDriverOption::ForgetClearMovable)) {
      // Clear the flag via __ClearPageMovable under page_lock before releasing the page.
      __ClearPageMovable(mm, page);
    }
    unlock_page(mm, page);
    put_page(mm, page);  // ours
    put_page(mm, page);  // the driver's: frees the page unless the VM holds it isolated
    return;
  }
}

uint32_t test_driver_write(Mm& mm, uint32_t object) {
  MODEL_FUNC("test_driver_write");
  TestDriver& d = drv(mm);
  spin_lock(d.lock);
  TestDriverObject* o;
  try {
    o = &live_object(d, object, "test_driver_write");
  } catch (...) {
    spin_unlock(d.lock);
    throw;
  }
  const Pfn page = o->pfn;
  sched(Op::Write, Access::Write, page_obj(page), here());
  const uint32_t token = mm.next_content++;
  mm.page(page).content = token;
  o->content = token;
  // The object is shared memory: every process that maps it expects to read this.
  for (const auto& m : d.mmaps)
    if (m.object == object) mm.processes[m.pid].content[m.vpage] = token;
  spin_unlock(d.lock);
  return token;
}

uint32_t test_driver_mmap(Mm& mm, uint32_t object, uint32_t pid) {
  MODEL_FUNC("test_driver_mmap");
  TestDriver& d = drv(mm);
  if (pid >= mm.processes.size()) throw UsageError("test_driver_mmap: no process " + std::to_string(pid));
  spin_lock(d.lock);
  TestDriverObject* o;
  try {
    o = &live_object(d, object, "test_driver_mmap");
  } catch (...) {
    spin_unlock(d.lock);
    throw;
  }
  const Pfn page = o->pfn;
  const bool raw = opt(mm, TestDriverOption::MmapNoRef) != 0;
  if (!raw) {
    // vm_ops->fault hands the page to do_set_pte: the pte holds a reference and
    // page_add_file_rmap counts the mapping.
    get_page(mm, page);
    sched(Op::AtomicRmw, Access::Write, page_obj(page), here());
    ++mm.page(page).mapcount;
  }
  // vm_insert_pfn / remap_pfn_range (VM_PFNMAP): a special pte, no reference, no mapcount.
  Process& p = mm.processes[pid];
  const auto vpage = uint32_t(p.pte.size());
  p.pte.push_back(page);
  p.content.push_back(o->content);
  d.mmaps.push_back({object, pid, vpage, raw});
  spin_unlock(d.lock);
  return vpage;
}

// ---- address_space_operations ----

bool test_driver_isolate_page(Mm& mm, Pfn page, isolate_mode_t) {
  MODEL_FUNC("test_driver_isolate_page");
  TestDriver& d = drv(mm);
  d.isolate_calls++;
  VM_BUG_ON_PAGE(mm, !PageMovable(mm, page), page);
  if (vm_owns_isolated(mm)) VM_BUG_ON_PAGE(mm, PageIsolated(mm, page), page);
  if (opt(mm, TestDriverOption::RefuseIsolate)) return false;
  spin_lock(d.lock);
  object_or_oops(d, page);
  // Once isolated the VM uses page->lru: take the page off the driver's list now.
  list_del(mm, page, here());
  d.nr_isolated++;
  spin_unlock(d.lock);
  // v3: the driver marked the page isolated. In 4.8 doing so is a bug the VM warns about.
  if (!vm_owns_isolated(mm) || opt(mm, TestDriverOption::SetPgIsolated)) __SetPageIsolated(mm, page);
  return true;
}

int test_driver_migratepage(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page, MigrateMode) {
  MODEL_FUNC("test_driver_migratepage");
  TestDriver& d = drv(mm);
  d.migrate_calls++;
  VM_BUG_ON_PAGE(mm, !PageMovable(mm, page), page);
  if (vm_owns_isolated(mm)) VM_BUG_ON_PAGE(mm, !PageIsolated(mm, page), page);
  // -EAGAIN: "retry soon"; any other error: the VM gives up on the page for this run.
  if (opt(mm, TestDriverOption::Busy)) return -EAGAIN;
  if (const int64_t err = opt(mm, TestDriverOption::MigrateError); err > 0) return -int(err);

  spin_lock(d.lock);
  const int64_t obj = object_or_oops(d, page);
  // Move the content and set up newpage: movable in our mapping, on our list.
  copy_content(mm, newpage, page);
  __SetPageMovable(mm, newpage, mapping);
  list_add(mm, newpage, d.pages, here());
  d.objects[size_t(obj)].pfn = newpage;
  d.nr_isolated--;
  // The driver's own reference on its new page; __unmap_and_move drops the VM's.
  if (!opt(mm, TestDriverOption::ForgetGetNewpage)) get_page(mm, newpage);
  d.migrated++;
  spin_unlock(d.lock);

  // BUG option: the driver treats the old page as still on its list; page->lru is the VM's.
  if (opt(mm, TestDriverOption::TouchLruWhileIsolated)) list_del(mm, page, here());
  // Tell the VM the old page is no longer movable, under the page lock (the VM holds it).
  if (!opt(mm, TestDriverOption::ForgetClearMovable)) __ClearPageMovable(mm, page);
  if (!vm_owns_isolated(mm)) __ClearPageIsolated(mm, page);  // v3: the driver's flag
  put_page(mm, page);  // the driver's reference; the VM still holds its isolation reference
  return MIGRATEPAGE_SUCCESS;
}

void test_driver_putback_page(Mm& mm, Pfn page) {
  MODEL_FUNC("test_driver_putback_page");
  TestDriver& d = drv(mm);
  d.putback_calls++;
  VM_BUG_ON_PAGE(mm, !PageMovable(mm, page), page);
  if (vm_owns_isolated(mm)) VM_BUG_ON_PAGE(mm, !PageIsolated(mm, page), page);
  spin_lock(d.lock);
  object_or_oops(d, page);
  list_add(mm, page, d.pages, here());
  d.nr_isolated--;
  spin_unlock(d.lock);
  if (!vm_owns_isolated(mm)) __ClearPageIsolated(mm, page);  // v3: the driver's flag
}

// ---- views and checks ----

int64_t test_driver_find(const Drivers& d, Pfn pfn) {
  return find_object(d.test_driver, pfn);
}

std::vector<Pfn> test_driver_pages(const Drivers& d) {
  std::vector<Pfn> out;
  for (const auto& o : d.test_driver.objects)
    if (o.live()) out.push_back(o.pfn);
  return out;
}

std::vector<std::string> test_driver_check(const Drivers& d) {
  std::vector<std::string> out;
  const TestDriver& t = d.test_driver;
  if (!t.present) return out;
  uint64_t live = 0, isolated = 0;
  for (size_t i = 0; i < t.objects.size(); ++i) {
    const TestDriverObject& o = t.objects[i];
    if (!o.live()) continue;
    ++live;
    const auto who = [&] { return "test_driver: object " + std::to_string(i) + " at pfn " + std::to_string(o.pfn); };
    if (o.pfn >= d.pages.size()) {
      out.push_back(who() + ": not a page of the machine");
      continue;
    }
    const mm::Page& pg = d.page(o.pfn);
    if (pg.refcount <= 0 || pg.mapcount == PAGE_BUDDY_MAPCOUNT_VALUE) {
      out.push_back(who() + ": the page is free (use-after-free)");
      continue;
    }
    if (mapping_id(pg.mapping & ~PAGE_MAPPING_FLAGS) != t.mapping)
      out.push_back(who() + ": the page is not in the driver's mapping");
    if (pg.content != o.content)
      out.push_back(who() + ": the page holds content " + std::to_string(pg.content) +
                    " but the driver wrote " + std::to_string(o.content) + " (data corruption)");
    const bool iso = pg.flags & (1ull << PG_isolated);
    if (iso) ++isolated;
    if (!iso && pg.list != t.pages) out.push_back(who() + ": not isolated and not on the driver's list");
  }
  if (d.lists[t.pages].count + isolated != live)
    out.push_back("test_driver: " + std::to_string(d.lists[t.pages].count) + " pages on its list and " +
                  std::to_string(isolated) + " isolated, but " + std::to_string(live) + " objects");
  if (t.nr_isolated != isolated)
    out.push_back("test_driver: nr_isolated is " + std::to_string(t.nr_isolated) + " but " +
                  std::to_string(isolated) + " of its pages are isolated");
  for (const auto& m : t.mmaps) {
    const TestDriverObject& o = t.objects[m.object];
    if (!o.live() || m.pid >= d.processes.size()) continue;
    const Process& p = d.processes[m.pid];
    if (m.vpage >= p.pte.size() || p.pte[m.vpage] == kNoPfn || p.pte[m.vpage] == o.pfn) continue;
    const Pfn old = p.pte[m.vpage];
    const std::string where = "test_driver: process '" + p.name + "' vpage " + std::to_string(m.vpage) +
                              " maps pfn " + std::to_string(old) + " but object " +
                              std::to_string(m.object) + " is at pfn " + std::to_string(o.pfn);
    const bool freed = old < d.pages.size() &&
                       (d.page(old).refcount == 0 || d.page(old).mapcount == PAGE_BUDDY_MAPCOUNT_VALUE);
    out.push_back(where + (freed ? ": the mapped page is free (use-after-free: 4.8 migrated the "
                                   "PTE-mapped non-LRU page without unmapping it, and the raw pfn "
                                   "mapping held no reference)"
                                 : ": stale mapping (4.8 migrated the PTE-mapped non-LRU page "
                                   "without try_to_unmap / remove_migration_ptes)"));
  }
  return out;
}

}  // namespace pagesim::drivers
