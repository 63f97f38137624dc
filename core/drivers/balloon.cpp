#include "drivers/balloon.h"

#include <algorithm>
#include <cstdio>

#include "drivers/drivers.h"
#include "mm/invariants.h"
#include "mm/migrate.h"
#include "mm/page_alloc.h"
#include "mm/kswapd.h"
#include "mm/page_ops.h"
#include "mm/shrinker.h"

namespace pagesim::drivers {

using namespace pagesim::mm;

namespace {

std::string lock_label(uint64_t, const World*) { return "balloon pages_lock"; }
std::string mutex_label(uint64_t, const World*) { return "virtio_balloon balloon_lock"; }
std::string vq_label(uint64_t i, const World*) {
  return i == 0 ? "virtio_balloon inflate_vq" : "virtio_balloon deflate_vq";
}
std::string dev_label(uint64_t i, const World*) {
  return i == kVbPfns ? "vb->pfns" : "balloon_dev_info";
}

const bool registered = [] {
  register_obj_class(kBalloonPagesLockClass, "balloon pages_lock", lock_label);
  register_obj_class(kBalloonLockClass, "balloon_lock", mutex_label);
  register_obj_class(kBalloonVqClass, "virtqueue", vq_label);
  register_obj_class(kBalloonDevClass, "balloon_dev_info", dev_label);
  return true;
}();

bool vm_owns_isolated(const Mm& mm) { return mm.cfg.has(Fix::VmOwnsPgIsolated); }

// balloon_mapping_gfp_mask() with CONFIG_BALLOON_COMPACTION: GFP_HIGHUSER_MOVABLE.
constexpr gfp_t balloon_gfp = GFP_HIGHUSER_MOVABLE | __GFP_NOMEMALLOC | __GFP_NORETRY;

void set_page_private(Mm& mm, Pfn page, uint64_t v, uint32_t line = here()) {
  sched(Op::Write, Access::Write, page_obj(page), line);
  mm.page(page).private_ = v;
}

uint64_t page_private(Mm& mm, Pfn page, uint32_t line = here()) {
  sched(Op::Read, Access::Read, page_obj(page), line);
  return mm.page(page).private_;
}

// balloon_page_device(page): the balloon_dev_info that page->private points to. A page
// that is no longer (or not) a balloon page has private == NULL.
balloon_dev_info& balloon_page_device(Mm& mm, Pfn page) {
  if (page_private(mm, page) != kBalloonDevId)
    null_deref("balloon_page_device(page)->pages_lock", 0x8);
  return drivers_of(mm).balloon.vb_dev_info;
}

// __SetPageBalloon / __ClearPageBalloon. 4.8 keeps the type in _mapcount
// (PAGE_BALLOON_MAPCOUNT_VALUE); the model uses PG_balloon. NR_BALLOON_PAGES is the model's
// count of balloon pages (4.8 itself only counts BALLOON_* vm events).
void __SetPageBalloon(Mm& mm, Pfn page) {
  VM_BUG_ON_PAGE(mm, mm.page(page).mapcount != -1 || (mm.page(page).flags & (1ull << PG_balloon)),
                 page, "atomic_read(&page->_mapcount) != -1");
  SetPageFlag(mm, page, PG_balloon);
  mm.stat(Stat::NR_BALLOON_PAGES)++;
}

void __ClearPageBalloon(Mm& mm, Pfn page) {
  VM_BUG_ON_PAGE(mm, !(mm.page(page).flags & (1ull << PG_balloon)), page, "!PageBalloon(page)");
  ClearPageFlag(mm, page, PG_balloon);
  mm.stat(Stat::NR_BALLOON_PAGES)--;
}

// A position of list_for_each_entry_safe(page, tmp, &b->pages, lru): a page, the list
// head (the end of the walk), LIST_POISON1 (what list_del left in page->lru.next), or
// the head of another list (page->lru was re-linked onto a list that is not b->pages).
struct LruCursor {
  enum Kind : uint8_t { Page, Head, Poison, Foreign } kind;
  Pfn pfn = kNoPfn;
  uint32_t list = kNoList;
};

// list_first_entry(&b->pages): reads the head's next pointer.
LruCursor list_first(Mm& mm, uint32_t head, uint32_t line) {
  sched(Op::Read, Access::Read, list_obj(head), line);
  const Pfn first = mm.lists[head].first;
  return first == kNoPfn ? LruCursor{LruCursor::Head} : LruCursor{LruCursor::Page, first};
}

// list_next_entry(pos, lru): reads pos->lru.next. This is where a walk that raced with a
// list_del dereferences LIST_POISON1.
LruCursor lru_next(Mm& mm, const LruCursor& pos, uint32_t head, uint32_t line) {
  if (pos.kind == LruCursor::Poison)
    OOPS("unable to handle kernel paging request at dead000000000100",
         {"list_for_each_entry_safe over b_dev_info->pages followed page->lru.next == "
          "LIST_POISON1 of a page list_del'ed under it (the walk does not hold pages_lock)"});
  if (pos.kind == LruCursor::Foreign)
    OOPS("general protection fault: list walk left b_dev_info->pages",
         {"page->lru.next led to the head of list '" + mm.lists[pos.list].name() +
          "', which the walk takes for a struct page (the walk does not hold pages_lock)"});
  sched(Op::Read, Access::Read, page_obj(pos.pfn), line);
  const mm::Page& p = mm.page(pos.pfn);
  if (p.list == kPoisonList) return {LruCursor::Poison};
  if (p.list == kNoList) return {LruCursor::Page, pos.pfn};  // INIT_LIST_HEAD: points to itself
  if (p.lru_next != kNoPfn) return {LruCursor::Page, p.lru_next};
  if (p.list == head) return {LruCursor::Head};
  return {LruCursor::Foreign, kNoPfn, p.list};
}

// The first page on `list` whose lock another holds (kNoPfn: none), as the next dequeue
// would find it: a look at the model's state, no scheduling point.
Pfn first_locked_page(const Mm& mm, uint32_t list) {
  for (Pfn p = mm.lists[list].first; p != kNoPfn; p = mm.page(p).lru_next)
    if (mm.page(p).flags & (1ull << PG_locked)) return p;
  return kNoPfn;
}

Balloon& the_balloon(Mm& mm) {
  Balloon& bl = drivers_of(mm).balloon;
  if (!bl.present) throw UsageError("the balloon device does not exist (call balloon_init first)");
  return bl;
}

}  // namespace

const AddressSpaceOps balloon_aops = {"balloon_aops", balloon_page_isolate, balloon_page_migrate,
                                      balloon_page_putback};

// ---- mm/balloon_compaction.c ----

void balloon_devinfo_init(balloon_dev_info& b) {
  b.isolated_pages = 0;
  b.pages_lock = SpinLock{make_obj(kBalloonPagesLockClass, 0), kNoTask};
  b.migratepage = nullptr;
  b.mapping = 0;
}

void balloon_page_insert(Mm& mm, balloon_dev_info& b, Pfn page) {
  MODEL_FUNC("balloon_page_insert");
  __SetPageBalloon(mm, page);
  if (balloon_has_own_hooks(mm))
    SetPageFlag(mm, page, PG_private);  // SetPagePrivate: on the list, not isolated
  else
    __SetPageMovable(mm, page, b.mapping);
  set_page_private(mm, page, kBalloonDevId);
  list_add(mm, page, b.pages, here());
  wake_up(balloon_obj());  // a shrinker waiting for a page to deflate looks again
}

void balloon_page_delete(Mm& mm, Pfn page) {
  MODEL_FUNC("balloon_page_delete");
  __ClearPageBalloon(mm, page);
  if (balloon_has_own_hooks(mm)) {
    set_page_private(mm, page, 0);
    // Only a page not isolated (PagePrivate) is on the list.
    if (PagePrivate(mm, page)) {
      ClearPageFlag(mm, page, PG_private);
      list_del(mm, page, here());
    }
    return;
  }
  __ClearPageMovable(mm, page);
  set_page_private(mm, page, 0);
  // No touch page.lru field once @page has been isolated because VM is using the field.
  if (!PageIsolated(mm, page)) list_del(mm, page, here());
}

Pfn balloon_page_alloc(Mm& mm) {
  MODEL_FUNC("balloon_page_alloc");
  return alloc_pages(mm, balloon_gfp, 0, Owner::Balloon);
}

namespace {

// Block others from accessing the page when we get around to establishing additional
// references. We should be the only one holding a reference to the page at this point.
// `function` is the caller, whose source has the BUG_ON.
void balloon_trylock_new_page(Mm& mm, Pfn page, const char* function, uint32_t site) {
  if (!trylock_page(mm, page)) BUG(function, site, {dump_page(mm, page)});
}

// balloon_page_enqueue_one (418a3ab1e778), called with pages_lock held. As 418a3ab1e778
// merged it, it took the page off the caller's list: a page virtio's fill_balloon had
// already popped off its list was list_del'ed twice (Wei Wang's fix moved the list_del
// to balloon_page_list_enqueue).
void balloon_page_enqueue_one(Mm& mm, balloon_dev_info& b, Pfn page) {
  MODEL_FUNC("balloon_page_enqueue_one");
  balloon_trylock_new_page(mm, page, REPORT_FUNC("balloon_page_enqueue_one"),
                           BUG_SITE_IN("balloon_page_enqueue_one", "BUG_ON(!trylock_page(page))"));
  if (!mm.cfg.has(Fix::BalloonEnqueueNoDoubleDel)) list_del(mm, page, here());
  balloon_page_insert(mm, b, page);
  unlock_page(mm, page);
  drivers_of(mm).balloon.events[BALLOON_INFLATE]++;
}

// The page lock, then pages_lock (before 418a3ab1e778).
void enqueue_locked_page(Mm& mm, balloon_dev_info& b, Pfn page) {
  balloon_trylock_new_page(mm, page, REPORT_FUNC("balloon_page_enqueue"),
                           BUG_SITE_IN("balloon_page_enqueue", "BUG_ON(!trylock_page(page))"));
  spin_lock_irqsave(b.pages_lock);
  balloon_page_insert(mm, b, page);
  drivers_of(mm).balloon.events[BALLOON_INFLATE]++;
  spin_unlock_irqrestore(b.pages_lock);
  unlock_page(mm, page);
}

}  // namespace

void balloon_page_enqueue(Mm& mm, balloon_dev_info& b, Pfn page) {
  MODEL_FUNC("balloon_page_enqueue");
  if (!mm.cfg.has(Fix::BalloonListInterfaces)) return enqueue_locked_page(mm, b, page);
  spin_lock_irqsave(b.pages_lock);  // 418a3ab1e778: pages_lock, then the page lock
  balloon_page_enqueue_one(mm, b, page);
  spin_unlock_irqrestore(b.pages_lock);
}

Pfn balloon_page_alloc_enqueue(Mm& mm, balloon_dev_info& b) {
  MODEL_FUNC("balloon_page_enqueue");
  const Pfn page = alloc_pages(mm, balloon_gfp, 0, Owner::Balloon);
  if (page != kNoPfn) enqueue_locked_page(mm, b, page);
  return page;
}

Pfn balloon_page_dequeue(Mm& mm, balloon_dev_info& b) {
  MODEL_FUNC("balloon_page_dequeue");
  // Fix::BalloonDequeueUnderLock (upstream before 4.8; 4.8 has it): pages_lock covers the
  // whole walk, so compaction's balloon_page_isolate cannot list_del the cursor page
  // (poisoning its lru) while the walk holds it. Before the fix pages_lock was taken only
  // around balloon_page_delete, and the walk could follow LIST_POISON1.
  const bool walk_locked = mm.cfg.has(Fix::BalloonDequeueUnderLock);
  bool dequeued_page = false;
  Pfn page = kNoPfn;

  if (walk_locked) spin_lock_irqsave(b.pages_lock);
  // list_for_each_entry_safe(page, tmp, &b_dev_info->pages, lru)
  LruCursor pos = list_first(mm, b.pages, here());
  LruCursor tmp = pos.kind == LruCursor::Head ? pos : lru_next(mm, pos, b.pages, here());
  for (; pos.kind != LruCursor::Head;
       pos = tmp, tmp = tmp.kind == LruCursor::Head ? tmp : lru_next(mm, tmp, b.pages, here())) {
    page = pos.pfn;
    // Block others from accessing the page while we get around establishing additional
    // references and preparing the page to be released by the balloon driver. The page
    // lock nests outside pages_lock elsewhere: only a trylock is possible here.
    if (!trylock_page(mm, page)) continue;
    // CONFIG_BALLOON_COMPACTION: raced with isolation.
    if (balloon_has_own_hooks(mm) ? !PagePrivate(mm, page) : PageIsolated(mm, page)) {
      unlock_page(mm, page);
      continue;
    }
    if (!walk_locked) spin_lock_irqsave(b.pages_lock);
    balloon_page_delete(mm, page);
    drivers_of(mm).balloon.events[BALLOON_DEFLATE]++;
    if (!walk_locked) spin_unlock_irqrestore(b.pages_lock);
    unlock_page(mm, page);
    dequeued_page = true;
    break;
  }
  if (walk_locked) spin_unlock_irqrestore(b.pages_lock);

  if (!dequeued_page) {
    // If we are unable to dequeue a balloon page because the page list is empty and there
    // are no isolated pages, then something went out of track and some balloon pages are
    // lost. BUG() here, otherwise the balloon driver may get stuck in an infinite loop
    // while attempting to release all its pages.
    spin_lock_irqsave(b.pages_lock);
    sched(Op::Read, Access::Read, balloon_obj(), here());
    if (list_empty(mm, b.pages) && !b.isolated_pages)
      BUG(REPORT_FUNC("balloon_page_dequeue"), BUG_SITE("BUG()"),
          {"list_empty(&b_dev_info->pages) && !b_dev_info->isolated_pages: balloon pages lost"});
    spin_unlock_irqrestore(b.pages_lock);
    page = kNoPfn;
  }
  return page;
}

bool balloon_page_isolate(Mm& mm, Pfn page, isolate_mode_t) {
  MODEL_FUNC("balloon_page_isolate");
  balloon_dev_info& b = balloon_page_device(mm, page);
  spin_lock_irqsave(b.pages_lock);
  list_del(mm, page, here());
  sched(Op::Write, Access::Write, balloon_obj(), here());
  b.isolated_pages++;
  // v3: the driver marked the page isolated itself (the VM does it from v4 on).
  if (!vm_owns_isolated(mm)) __SetPageIsolated(mm, page);
  spin_unlock_irqrestore(b.pages_lock);
  return true;
}

void balloon_page_putback(Mm& mm, Pfn page) {
  MODEL_FUNC("balloon_page_putback");
  balloon_dev_info& b = balloon_page_device(mm, page);
  spin_lock_irqsave(b.pages_lock);
  list_add(mm, page, b.pages, here());
  sched(Op::Write, Access::Write, balloon_obj(), here());
  b.isolated_pages--;
  if (!vm_owns_isolated(mm)) __ClearPageIsolated(mm, page);  // v3: the driver's flag
  spin_unlock_irqrestore(b.pages_lock);
  wake_up(balloon_obj());
}

// ---- mm/balloon_compaction.c before b1123ea6d3b3 (4.7): the VM's balloon hooks ----

namespace {

void __isolate_balloon_page(Mm& mm, Pfn page) {
  balloon_dev_info& b = balloon_page_device(mm, page);
  spin_lock_irqsave(b.pages_lock);
  ClearPageFlag(mm, page, PG_private);
  list_del(mm, page, here());
  sched(Op::Write, Access::Write, balloon_obj(), here());
  b.isolated_pages++;
  spin_unlock_irqrestore(b.pages_lock);
}

void __putback_balloon_page(Mm& mm, Pfn page) {
  balloon_dev_info& b = balloon_page_device(mm, page);
  spin_lock_irqsave(b.pages_lock);
  SetPageFlag(mm, page, PG_private);
  list_add(mm, page, b.pages, here());
  sched(Op::Write, Access::Write, balloon_obj(), here());
  b.isolated_pages--;
  spin_unlock_irqrestore(b.pages_lock);
  wake_up(balloon_obj());
}

// __isolate_lru_page() counterpart for a ballooned page.
bool balloon_page_isolate_47(Mm& mm, Pfn page) {
  MODEL_FUNC("balloon_page_isolate");
  // Avoid burning cycles with pages that are yet under __free_pages(), or just got freed
  // under us. If we win a race with a free, the put_page below releases the page.
  if (!get_page_unless_zero(mm, page)) return false;
  // Balloon pages are not isolated from LRU lists: concurrent compaction can race with
  // migration and with the driver releasing a page. The page lock keeps an isolated page
  // from being isolated again, and a page being released from being isolated.
  if (trylock_page(mm, page)) {
    // A ballooned page has PagePrivate set by default; clearing it stops concurrent
    // compaction from isolating an isolated page again.
    if (balloon_page_movable(mm, page)) {
      __isolate_balloon_page(mm, page);
      unlock_page(mm, page);
      return true;
    }
    unlock_page(mm, page);
  }
  put_page(mm, page);
  return false;
}

// putback_lru_page() counterpart for a ballooned page.
void balloon_page_putback_47(Mm& mm, Pfn page) {
  MODEL_FUNC("balloon_page_putback");
  // lock_page stabilizes the page and prevents races against concurrent isolation.
  lock_page(mm, page);
  if (PageBalloon(mm, page)) {
    __putback_balloon_page(mm, page);
    put_page(mm, page);  // drop the extra ref count taken for page isolation
  } else {
    WARN(REPORT_FUNC("balloon_page_putback"), BUG_SITE("WARN_ON(1)"),
         {dump_page(mm, page, "not movable balloon page")});
  }
  unlock_page(mm, page);
}

// move_to_new_page() counterpart for a ballooned page.
int balloon_page_migrate_47(Mm& mm, Pfn newpage, Pfn page, MigrateMode mode) {
  MODEL_FUNC("balloon_page_migrate");
  // balloon_page_device: NULL once the page left the balloon.
  const bool balloon = page_private(mm, page) == kBalloonDevId;
  VM_BUG_ON_PAGE(mm, !PageLocked(mm, page), page);
  VM_BUG_ON_PAGE(mm, !PageLocked(mm, newpage), newpage);
  if (!PageBalloon(mm, page)) {
    WARN(REPORT_FUNC("balloon_page_migrate"),
         BUG_SITE_IN("balloon_page_migrate", "WARN_ON(!__is_movable_balloon_page(page))"),
         {dump_page(mm, page, "not movable balloon page")});
    return -EAGAIN;
  }
  balloon_dev_info& b = drivers_of(mm).balloon.vb_dev_info;
  if (!balloon || !b.migratepage) return -EAGAIN;
  return b.migratepage(mm, b, newpage, page, mode);
}

}  // namespace

const BalloonHooks balloon_compaction_hooks = {balloon_page_isolate_47, balloon_page_putback_47,
                                               balloon_page_migrate_47};

// ---- balloon_aops (from b1123ea6d3b3 on) ----

// move_to_new_page calls this with both pages locked; the VM owns PG_isolated.
int balloon_page_migrate(Mm& mm, uint32_t, Pfn newpage, Pfn page, MigrateMode mode) {
  MODEL_FUNC("balloon_page_migrate");
  balloon_dev_info& balloon = balloon_page_device(mm, page);
  VM_BUG_ON_PAGE(mm, !PageLocked(mm, page), page);
  VM_BUG_ON_PAGE(mm, !PageLocked(mm, newpage), newpage);
  return balloon.migratepage(mm, balloon, newpage, page, mode);
}

// ---- drivers/virtio/virtio_balloon.c ----

namespace {
// The balloon's shrinker (71994620bb25): it counts the balloon's pages and deflates them.
// vb->num_free_page_blocks (free page hinting) is 0: the model's device offers no hinting.
const mm::ShrinkerOps virtio_balloon_shrinker_ops = {
    "virtio_balloon_shrinker",
    [](Mm& mm, uint64_t) -> uint64_t {  // virtio_balloon_shrinker_count
      MODEL_FUNC("virtio_balloon_shrinker_count");
      sched(Op::Read, Access::Read, balloon_obj(), here());
      return the_balloon(mm).vb.num_pages;  // / VIRTIO_BALLOON_PAGES_PER_PAGE (1)
    },
    [](Mm& mm, uint64_t, uint64_t nr_to_scan) { return virtio_balloon_shrinker_scan(mm, nr_to_scan); },
    mm::DEFAULT_SEEKS, 0};
}  // namespace

void virtballoon_probe(Mm& mm) {
  MODEL_FUNC("virtballoon_probe");
  Balloon& bl = drivers_of(mm).balloon;
  if (bl.present) throw UsageError("balloon_init: the balloon device exists already");
  bl = Balloon{};
  bl.present = true;
  bl.vb.balloon_lock = Mutex{make_obj(kBalloonLockClass, 0), kNoTask};
  balloon_dev_info& b = bl.vb_dev_info;
  balloon_devinfo_init(b);  // INIT_LIST_HEAD(&b->pages)
  b.pages = new_list(mm, "balloon pages");
  // CONFIG_BALLOON_COMPACTION: balloon_mnt = kern_mount(&balloon_fs) ("balloon-kvm"),
  // the inode from alloc_anon_inode with i_mapping->a_ops = &balloon_aops (since
  // b1123ea6d3b3; before it balloon pages had no mapping).
  b.migratepage = virtballoon_migratepage;
  if (!balloon_has_own_hooks(mm))
    b.mapping = mm.new_mapping("balloon-kvm", &balloon_aops, kBalloonDevId);
  // virtio_has_feature(VIRTIO_BALLOON_F_DEFLATE_ON_OOM): the model's device offers it.
  if (deflates_through_shrinker(mm)) mm::register_shrinker(mm, &virtio_balloon_shrinker_ops, 0);
}

// vb->num_pfns and vb->pfns: covered by balloon_lock since f68b992bbb47 (4.5). Before it,
// leak_balloon's release_pages_balloon read them after dropping the lock, so each access
// is a point where another CPU's fill or migration can come between.
void pfns_access(Mm& mm, Access rw, uint32_t line = here()) {
  if (!mm.cfg.has(Fix::BalloonReleaseUnderLock))
    sched(rw == Access::Read ? Op::Read : Op::Write, rw, make_obj(kBalloonDevClass, kVbPfns), line);
}

void tell_host(Mm& mm, bool inflate) {
  MODEL_FUNC("tell_host");
  Balloon& bl = drivers_of(mm).balloon;
  // virtqueue_add_outbuf(vq, vb->pfns) + virtqueue_kick(vq): the host reads the array.
  sched(Op::Write, Access::Write, make_obj(kBalloonVqClass, inflate ? 0 : 1), here());
  BalloonHost& host = bl.host;
  for (const Pfn p : bl.vb.pfns) {
    if (inflate) {
      if (!host.inflated.insert(p).second)
        host.errors.push_back("pfn " + std::to_string(p) + " inflated while already in the balloon");
    } else if (!host.inflated.erase(p)) {
      host.errors.push_back("pfn " + std::to_string(p) + " deflated but never inflated");
    }
  }
  ++(inflate ? host.inflate_msgs : host.deflate_msgs);
  // wait_event(vb->acked, virtqueue_get_buf(vq, &len)): until the host acks (balloon_ack).
  delay(kTellHostNs);
}

uint32_t fill_balloon(Mm& mm, uint64_t num) {
  MODEL_FUNC("fill_balloon");
  Balloon& bl = the_balloon(mm);
  virtio_balloon& vb = bl.vb;
  // We can only do one array worth at a time.
  num = std::min<uint64_t>(num, VIRTIO_BALLOON_ARRAY_PFNS_MAX);
  if (mm.cfg.has(Fix::BalloonAllocOutsideLock)) {
    // c7cdff0e8647: allocate first, without balloon_lock (the allocation may reclaim,
    // and the OOM notifier leaks the balloon under balloon_lock), then enqueue.
    const uint32_t pages = mm.get_private_list("pages");  // LIST_HEAD(pages)
    for (uint64_t num_pfns = 0; num_pfns < num; num_pfns++) {
      const Pfn page = balloon_page_alloc(mm);
      if (page == kNoPfn) {
        delay(kOutOfPuffSleepNs);  // "Out of puff! Can't get 1 pages"
        break;
      }
      list_add(mm, page, pages, here());  // balloon_page_push
    }
    mutex_lock(vb.balloon_lock);
    pfns_access(mm, Access::Write);
    vb.pfns.clear();
    while (!list_empty(mm, pages)) {  // balloon_page_pop
      const Pfn page = mm.lists[pages].first;
      list_del(mm, page, here());
      balloon_page_enqueue(mm, bl.vb_dev_info, page);
      pfns_access(mm, Access::Write);
      vb.pfns.push_back(page);  // set_page_pfns
      vb.num_pages += 1;        // VIRTIO_BALLOON_PAGES_PER_PAGE
      mm::kswapd_note_change(mm);  // what the shrinker counts
    }
    mm.put_private_list(pages);
  } else {
    mutex_lock(vb.balloon_lock);
    pfns_access(mm, Access::Write);
    vb.pfns.clear();  // vb->num_pfns = 0
    while (vb.pfns.size() < num) {
      const Pfn page = balloon_page_alloc_enqueue(mm, bl.vb_dev_info);
      if (page == kNoPfn) {
        // "Out of puff! Can't get 1 pages": sleep for at least 1/5 of a second before retry.
        delay(kOutOfPuffSleepNs);
        break;
      }
      pfns_access(mm, Access::Write);
      vb.pfns.push_back(page);  // set_page_pfns
      vb.num_pages += 1;        // VIRTIO_BALLOON_PAGES_PER_PAGE
      mm::kswapd_note_change(mm);  // what the shrinker counts
    }
  }
  const auto num_allocated_pages = uint32_t(vb.pfns.size());
  // Did we get any?
  if (!vb.pfns.empty()) tell_host(mm, true);
  mutex_unlock(vb.balloon_lock);
  return num_allocated_pages;
}

namespace {

uint32_t leak_balloon_pages(Mm& mm, uint64_t num, Pfn* first) {
  MODEL_FUNC("leak_balloon");
  Balloon& bl = the_balloon(mm);
  virtio_balloon& vb = bl.vb;
  num = std::min<uint64_t>(num, VIRTIO_BALLOON_ARRAY_PFNS_MAX);
  // 195a8c43e93d (4.13): the dequeued pages go on a local list through page->lru, and
  // release_pages_balloon frees them off it; before, it freed them by their pfns.
  const bool via_list = mm.cfg.has(Fix::BalloonDeflateViaList);
  const uint32_t pages = via_list ? mm.get_private_list("pages") : 0;
  mutex_lock(vb.balloon_lock);
  // We can't release more pages than taken (37cf99e08c6f; before it, a leak of more than
  // the balloon held, as the OOM notifier's fixed count asks, dequeued from an empty list).
  if (mm.cfg.has(Fix::BalloonLeakCapsNumPages)) num = std::min<uint64_t>(num, vb.num_pages);
  pfns_access(mm, Access::Write);
  vb.pfns.clear();  // vb->num_pfns = 0
  while (vb.pfns.size() < num) {
    const Pfn page = balloon_page_dequeue(mm, bl.vb_dev_info);
    if (page == kNoPfn) break;
    pfns_access(mm, Access::Write);
    vb.pfns.push_back(page);  // set_page_pfns
    if (via_list) list_add(mm, page, pages, here());
    vb.num_pages -= 1;
    mm::kswapd_note_change(mm);
  }
  const auto num_freed_pages = uint32_t(vb.pfns.size());
  if (num_freed_pages) wake_up(balloon_obj());  // vb->num_pages dropped
  if (first) *first = vb.pfns.empty() ? kNoPfn : vb.pfns.front();
  // With VIRTIO_BALLOON_F_MUST_TELL_HOST we *have* to tell the host before the pages go.
  if (!vb.pfns.empty()) tell_host(mm, false);
  // f68b992bbb47: release_pages_balloon under balloon_lock. Before it, the lock was dropped
  // first, and a fill could rewrite vb->pfns and vb->num_pfns under the release's loop.
  const bool release_locked = mm.cfg.has(Fix::BalloonReleaseUnderLock);
  if (!release_locked) mutex_unlock(vb.balloon_lock);
  {
    MODEL_FUNC("release_pages_balloon");
    if (via_list) {
      while (!list_empty(mm, pages)) {  // list_for_each_entry_safe
        const Pfn page = mm.lists[pages].first;
        list_del(mm, page, here());
        put_page(mm, page);  // balloon reference
      }
    } else {
      // Find pfns pointing at start of each page, get pages and free them.
      for (size_t i = 0;; ++i) {
        pfns_access(mm, Access::Read);  // i < vb->num_pfns, vb->pfns[i]
        if (i >= vb.pfns.size()) break;
        put_page(mm, vb.pfns[i]);  // balloon reference
      }
    }
  }
  if (release_locked) mutex_unlock(vb.balloon_lock);
  if (via_list) mm.put_private_list(pages);
  return num_freed_pages;
}

}  // namespace

uint32_t leak_balloon(Mm& mm, uint64_t num) { return leak_balloon_pages(mm, num, nullptr); }

uint64_t virtio_balloon_shrinker_scan(Mm& mm, uint64_t nr_to_scan) {
  MODEL_FUNC("virtio_balloon_shrinker_scan");
  const Balloon& bl = the_balloon(mm);
  const virtio_balloon& vb = bl.vb;
  // The fix's loop (shrink_balloon_pages) adds up what it freed against the request;
  // 71994620bb25's subtracted the running total from what was left on every pass.
  const bool counted = mm.cfg.has(Fix::BalloonShrinkerScanCount);
  uint64_t pages_to_free = nr_to_scan;  // VIRTIO_BALLOON_PAGES_PER_PAGE is 1 (4K pages)
  uint64_t pages_freed = 0;
  // One invocation of leak_balloon can deflate at most VIRTIO_BALLOON_ARRAY_PFNS_MAX
  // balloon pages, so we call it multiple times to deflate pages till reaching
  // pages_to_free.
  for (;;) {
    sched(Op::Read, Access::Read, balloon_obj(), here());  // vb->num_pages, unlocked
    if (!vb.num_pages || (counted ? pages_freed >= pages_to_free : !pages_to_free)) break;
    if (!counted) pages_to_free -= pages_freed;
    const uint64_t ask = counted ? pages_to_free - pages_freed : pages_to_free;
    const uint32_t freed = leak_balloon(mm, ask);
    pages_freed += freed;
    // A pass that freed nothing: every page left is isolated by compaction, or locked by
    // another on the list. When the next pass asks the same (the count stays, or it
    // wrapped and would take 2^64 / pages_freed passes to reach 0), the loop spins until
    // a page comes back to the list or the locked one is unlocked.
    const bool same_ask = counted || !pages_freed || pages_to_free > (uint64_t(1) << 63);
    if (!freed && ask && same_ask) {
      if (list_empty(mm, bl.vb_dev_info.pages))
        poll_spin(balloon_obj(), "virtio_balloon_shrinker_scan");
      else if (const Pfn locked = first_locked_page(mm, bl.vb_dev_info.pages); locked != kNoPfn)
        poll_spin(page_obj(locked), "virtio_balloon_shrinker_scan");
    }
  }
  return pages_freed;  // update_balloon_size(vb) tells the host's config: not modelled
}

Pfn leak_balloon_one(Mm& mm) {
  Pfn page = kNoPfn;
  leak_balloon_pages(mm, 1, &page);
  return page;
}

int virtballoon_migratepage(Mm& mm, balloon_dev_info& b, Pfn newpage, Pfn page, MigrateMode) {
  MODEL_FUNC("virtballoon_migratepage");
  // container_of(vb_dev_info, struct virtio_balloon, vb_dev_info)
  Balloon& bl = drivers_of(mm).balloon;
  virtio_balloon& vb = bl.vb;
  // In order to avoid lock contention while migrating pages concurrently to leak_balloon()
  // or fill_balloon() we just give up the balloon_lock this turn, as it is easier to retry
  // the page migration later. This also prevents fill_balloon() getting stuck in a mutex
  // recursion when it triggers memory compaction while inflating the balloon.
  if (!mutex_trylock(vb.balloon_lock)) return -EAGAIN;

  get_page(mm, newpage);  // balloon reference

  // balloon's page migration 1st step -- inflate "newpage"
  spin_lock_irqsave(b.pages_lock);
  balloon_page_insert(mm, b, newpage);
  sched(Op::Write, Access::Write, balloon_obj(), here());
  b.isolated_pages--;
  bl.events[BALLOON_MIGRATE]++;
  spin_unlock_irqrestore(b.pages_lock);
  pfns_access(mm, Access::Write);
  vb.pfns.assign(1, newpage);
  tell_host(mm, true);

  // balloon's page migration 2nd step -- deflate "page"
  balloon_page_delete(mm, page);  // isolated: page->lru stays the VM's
  // v3: the driver cleared the PG_isolated it had set (from v4 on the VM clears it).
  if (!balloon_has_own_hooks(mm) && !vm_owns_isolated(mm)) __ClearPageIsolated(mm, page);
  pfns_access(mm, Access::Write);
  vb.pfns.assign(1, page);
  tell_host(mm, false);

  mutex_unlock(vb.balloon_lock);
  put_page(mm, page);  // balloon reference
  return MIGRATEPAGE_SUCCESS;
}

// ---- checks ----

std::vector<Pfn> balloon_pages(const Drivers& d) {
  std::vector<Pfn> out;
  if (!d.balloon.present) return out;
  const uint32_t l = d.balloon.vb_dev_info.pages;
  for (Pfn p = d.lists[l].first; p != kNoPfn && out.size() <= d.pages.size(); p = d.page(p).lru_next)
    out.push_back(p);
  return out;
}

std::vector<std::string> balloon_check(const Drivers& d, const PageCensus* census) {
  std::vector<std::string> out;
  auto bad = [&](Pfn pfn, const std::string& what) {
    out.push_back("balloon: pfn " + std::to_string(pfn) + ": " + what);
  };
  // A PG_balloon page is never a clean free page: the census lists every one.
  int64_t pg_balloon = 0;
  for_each_census_page(d, census, [&](Pfn p) { pg_balloon += int64_t((d.page(p).flags >> PG_balloon) & 1); });
  if (pg_balloon != d.stats[size_t(Stat::NR_BALLOON_PAGES)])
    out.push_back("balloon: nr_balloon_pages is " +
                  std::to_string(d.stats[size_t(Stat::NR_BALLOON_PAGES)]) + " but " +
                  std::to_string(pg_balloon) + " pages are PageBalloon");
  const Balloon& bl = d.balloon;
  if (!bl.present) return out;
  const balloon_dev_info& b = bl.vb_dev_info;
  // v3 (no Fix::MovableMappingBit): page->mapping is the plain pointer, PG_movable a flag.
  // Before b1123ea6d3b3 balloon pages have no mapping, and a clear PagePrivate marks an
  // isolated one.
  const bool own_hooks = balloon_has_own_hooks(d);
  const uint64_t movable_mapping =
      own_hooks ? 0
                : mapping_value(b.mapping) |
                      (d.cfg.has(Fix::MovableMappingBit) ? PAGE_MAPPING_MOVABLE : 0);
  auto is_isolated = [&](const mm::Page& pg) {
    return own_hooks ? !(pg.flags & (1ull << PG_private)) : bool(pg.flags & (1ull << PG_isolated));
  };
  const char* isolated_name = own_hooks ? "without PagePrivate" : "PageIsolated";

  std::set<Pfn> on_list;
  for (const Pfn p : balloon_pages(d)) {
    on_list.insert(p);
    const mm::Page& pg = d.page(p);
    if (pg.list != b.pages) bad(p, "on the balloon list but its lru says " +
                                       (pg.list < d.lists.size() ? d.lists[pg.list].name() : "none"));
    if (!(pg.flags & (1ull << PG_balloon))) bad(p, "on the balloon list but not PageBalloon");
    if (pg.mapping != movable_mapping) bad(p, "on the balloon list but not movable in balloon-kvm");
    if (pg.private_ != kBalloonDevId) bad(p, "on the balloon list but page->private is not the device");
    if (is_isolated(pg)) bad(p, std::string("on the balloon list but ") + isolated_name);
    if (pg.refcount < 1) bad(p, "on the balloon list with refcount " + std::to_string(pg.refcount));
  }
  if (on_list.size() != d.lists[b.pages].count)
    out.push_back("balloon: the list count " + std::to_string(d.lists[b.pages].count) +
                  " differs from its " + std::to_string(on_list.size()) + " linked pages");

  // Balloon pages off the list: isolated by the VM (on a migration list).
  std::set<Pfn> balloon_set = on_list;
  uint64_t isolated = 0;
  for_each_census_page(d, census, [&](Pfn p) {
    const mm::Page& pg = d.page(p);
    // leak_balloon frees what it dequeues: a page that left the balloon stays referenced
    // only if its release never came (release_pages_balloon read other pfns).
    if (!(pg.flags & (1ull << PG_balloon)) && pg.owner == Owner::Balloon && pg.refcount > 0 &&
        !on_list.count(p))
      out.push_back(std::string(kLeak) + "balloon: pfn " + std::to_string(p) +
                    " left the balloon but was never freed");
    if (!(pg.flags & (1ull << PG_balloon)) || on_list.count(p)) return;
    if (own_hooks ? pg.private_ != kBalloonDevId : pg.mapping != movable_mapping) {
      bad(p, "PageBalloon but not a page of the balloon device");
      return;
    }
    balloon_set.insert(p);
    ++isolated;
    if (!is_isolated(pg))
      bad(p, std::string("a balloon page off the balloon list but not ") +
                 (own_hooks ? "clear of PagePrivate" : "PageIsolated"));
  });
  if (isolated != b.isolated_pages)
    out.push_back("balloon: isolated_pages is " + std::to_string(b.isolated_pages) + " but " +
                  std::to_string(isolated) + " balloon pages are off the list");
  if (bl.vb.num_pages != balloon_set.size())
    out.push_back("balloon: num_pages is " + std::to_string(bl.vb.num_pages) + " but the balloon holds " +
                  std::to_string(balloon_set.size()) + " pages");

  // The host's view must be exactly the balloon's pages.
  for (const Pfn p : bl.host.inflated) {
    if (balloon_set.count(p)) continue;
    if (p >= d.pages.size()) {
      bad(p, "the host thinks it is inflated but it is not a page of the machine");
      continue;
    }
    const mm::Page& pg = d.page(p);
    const bool free = pg.refcount == 0;
    bad(p, std::string("the host thinks it is inflated but the guest ") +
               (free ? "has it free (the host may discard memory the guest will reuse)"
                     : "uses it (data corruption: the host may discard it)"));
  }
  for (const Pfn p : balloon_set)
    if (!bl.host.inflated.count(p)) bad(p, "in the balloon but the host was never told");
  for (const auto& e : bl.host.errors) out.push_back("balloon host: " + e);
  return out;
}

}  // namespace pagesim::drivers
