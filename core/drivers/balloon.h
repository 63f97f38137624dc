// The virtio balloon of Linux 4.8: mm/balloon_compaction.c (the balloon page list, made
// movable through the non-LRU movable page interface by b1123ea6d3b3 "mm: balloon: use
// general non-lru movable page feature"; before it, 4.7's own hooks) and the parts of drivers/virtio/virtio_balloon.c
// that inflate, deflate and migrate balloon pages, with the host's view of the balloon.
//
// Lock order (4.8): balloon_lock (mutex) -> page lock -> pages_lock (spinlock). The VM
// holds the page lock around isolate_page / migratepage / putback_page, so the driver
// only ever trylocks a page while holding pages_lock (balloon_page_dequeue).
#pragma once
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/sync.h"
#include "mm/mm.h"

namespace pagesim::mm {
struct PageCensus;
}  // namespace pagesim::mm

namespace pagesim::drivers {

class Drivers;

// Object classes of the balloon (kBalloonBase .. +3), for scheduling points and reports.
inline constexpr uint8_t kBalloonPagesLockClass = objclass::kBalloonBase + 0;  // pages_lock
inline constexpr uint8_t kBalloonLockClass = objclass::kBalloonBase + 1;       // balloon_lock
inline constexpr uint8_t kBalloonVqClass = objclass::kBalloonBase + 2;         // virtqueues
inline constexpr uint8_t kBalloonDevClass = objclass::kBalloonBase + 3;        // balloon_dev_info
inline constexpr uint64_t kVbPfns = 1;  // make_obj(kBalloonDevClass, kVbPfns): vb->pfns, vb->num_pfns
// balloon_dev_info's isolated_pages, and vb->num_pages where it is read without balloon_lock.
inline ObjId balloon_obj() { return make_obj(kBalloonDevClass, 0); }

// page_private() of a balloon page: the balloon device (the model has one; 0 is NULL).
inline constexpr uint64_t kBalloonDevId = 1;
// VIRTIO_BALLOON_ARRAY_PFNS_MAX: fill_balloon / leak_balloon do one array worth at a time.
inline constexpr uint32_t VIRTIO_BALLOON_ARRAY_PFNS_MAX = 256;
// The host's round trip for one tell_host (virtqueue kick until balloon_ack), simulated ns.
inline constexpr Nanos kTellHostNs = 2000;
// "Out of puff! Can't get 1 pages": fill_balloon sleeps at least 1/5 of a second.
inline constexpr Nanos kOutOfPuffSleepNs = 200'000'000;

// struct balloon_dev_info (include/linux/balloon_compaction.h, 4.8).
struct balloon_dev_info {
  uint64_t isolated_pages = 0;   // pages isolated by the VM (off `pages`, on a VM list)
  SpinLock pages_lock;           // protects pages and isolated_pages (irqsave in the kernel)
  uint32_t pages = mm::kNoList;  // the balloon page list, threaded through page->lru
  // b->migratepage: the driver's callback (virtballoon_migratepage).
  int (*migratepage)(mm::Mm&, balloon_dev_info&, mm::Pfn newpage, mm::Pfn page,
                     mm::MigrateMode) = nullptr;
  uint32_t mapping = 0;          // b->inode->i_mapping, a_ops = balloon_aops
};

// BALLOON_INFLATE, BALLOON_DEFLATE, BALLOON_MIGRATE vm events (CONFIG_BALLOON_COMPACTION).
enum BalloonEvent : uint8_t { BALLOON_INFLATE, BALLOON_DEFLATE, BALLOON_MIGRATE, NR_BALLOON_EVENTS };

// virtballoon_oom_notify's count (OOM_VBALLOON_DEFAULT_PAGES, VIRTIO_BALLOON_OOM_NR_PAGES).
inline constexpr uint64_t kOomPages = 256;

// The virtio_balloon fields of the model (struct virtio_balloon subset).
struct virtio_balloon {
  Mutex balloon_lock;            // serialises fill, leak and migration (trylock there)
  uint32_t num_pages = 0;        // pages the guest has given to the host
  std::vector<mm::Pfn> pfns;     // vb->pfns[0 .. num_pfns): the array tell_host sends
};

// The host side of the device: which guest pfns the host thinks are in the balloon (it
// may reclaim their backing memory), and protocol errors it saw.
struct BalloonHost {
  std::set<mm::Pfn> inflated;
  std::vector<std::string> errors;  // "pfn 12 inflated twice", "pfn 7 deflated but not inflated"
  uint64_t inflate_msgs = 0;
  uint64_t deflate_msgs = 0;
};

struct Balloon {
  bool present = false;          // balloon_init() has run (virtballoon_probe)
  balloon_dev_info vb_dev_info;
  virtio_balloon vb;
  BalloonHost host;
  std::array<uint64_t, NR_BALLOON_EVENTS> events{};
};

// ---- mm/balloon_compaction.c and include/linux/balloon_compaction.h ----

void balloon_devinfo_init(balloon_dev_info& b);
// balloon_page_insert: caller holds the page lock and pages_lock.
void balloon_page_insert(mm::Mm& mm, balloon_dev_info& b, mm::Pfn page);
// balloon_page_delete: caller holds the page lock (and pages_lock, except in migration);
// list_del only if !PageIsolated: an isolated page's lru belongs to the VM.
void balloon_page_delete(mm::Mm& mm, mm::Pfn page);
// balloon_page_alloc: a page for the balloon (kNoPfn on failure); balloon_page_enqueue
// puts it in the balloon (c7cdff0e8647). Before that commit balloon_page_enqueue(b)
// allocated the page itself: balloon_page_alloc_enqueue, kNoPfn on failure.
mm::Pfn balloon_page_alloc(mm::Mm& mm);
void balloon_page_enqueue(mm::Mm& mm, balloon_dev_info& b, mm::Pfn page);
mm::Pfn balloon_page_alloc_enqueue(mm::Mm& mm, balloon_dev_info& b);
// balloon_page_dequeue: takes a page out of the balloon; kNoPfn if none could be taken.
// With Fix::BalloonDequeueUnderLock the walk holds pages_lock; without it the walk is the
// pre-fix one (pages_lock only around balloon_page_delete) and can follow a poisoned lru.
mm::Pfn balloon_page_dequeue(mm::Mm& mm, balloon_dev_info& b);
// The balloon_aops callbacks.
bool balloon_page_isolate(mm::Mm& mm, mm::Pfn page, mm::isolate_mode_t mode);
void balloon_page_putback(mm::Mm& mm, mm::Pfn page);
int balloon_page_migrate(mm::Mm& mm, uint32_t mapping, mm::Pfn newpage, mm::Pfn page,
                         mm::MigrateMode mode);
extern const mm::AddressSpaceOps balloon_aops;
// Before b1123ea6d3b3: balloon_page_isolate (get_page_unless_zero, trylock_page, then
// PagePrivate cleared under pages_lock), balloon_page_putback (under lock_page) and
// balloon_page_migrate, which compaction and migration call by name (Mm::balloon_hooks).
extern const mm::BalloonHooks balloon_compaction_hooks;

// ---- drivers/virtio/virtio_balloon.c ----

// virtballoon_probe: creates the balloon device (the balloon-kvm inode and its mapping).
// Throws UsageError if it exists already.
void virtballoon_probe(mm::Mm& mm);
// tell_host(vb, inflate_vq / deflate_vq) with vb->pfns: the host updates its view.
void tell_host(mm::Mm& mm, bool inflate);
// fill_balloon / leak_balloon: at most VIRTIO_BALLOON_ARRAY_PFNS_MAX pages per call;
// return how many pages were inflated / deflated.
uint32_t fill_balloon(mm::Mm& mm, uint64_t num);
uint32_t leak_balloon(mm::Mm& mm, uint64_t num);
// leak_balloon of one page, returning which page left the balloon (kNoPfn: none).
mm::Pfn leak_balloon_one(mm::Mm& mm);
// Whether the balloon deflates under memory pressure through its shrinker (71994620bb25,
// until da10329cb057 went back to the OOM notifier, virtballoon_oom_notify).
inline bool deflates_through_shrinker(const mm::Mm& mm) {
  return mm.cfg.has(Fix::BalloonShrinker) && !mm.cfg.has(Fix::BalloonOomNotifier);
}
// virtio_balloon_shrinker_scan (71994620bb25, 4.19 to 5.6) with sc->nr_to_scan: leak_balloon
// in a loop until nr_to_scan pages or an empty balloon; returns the pages freed.
uint64_t virtio_balloon_shrinker_scan(mm::Mm& mm, uint64_t nr_to_scan);
// b->migratepage of virtio_balloon.
int virtballoon_migratepage(mm::Mm& mm, balloon_dev_info& b, mm::Pfn newpage, mm::Pfn page,
                            mm::MigrateMode mode);

// ---- checks ----

// Pages on the balloon list, in list order.
std::vector<mm::Pfn> balloon_pages(const Drivers& d);
// Consistency of a quiescent balloon (no task running): every page on the list is a
// balloon page of this device, isolated_pages matches the pages off the list, num_pages
// matches list + isolated, the host's view is exactly the balloon pages (a pfn the host
// thinks is inflated but the guest uses is data corruption), NR_BALLOON_PAGES counts the
// PG_balloon pages, and the host saw no protocol error. Empty: consistent. `census`: the
// teardown's census of mem_map, to look for PG_balloon pages among its pages only (null:
// every page).
std::vector<std::string> balloon_check(const Drivers& d, const mm::PageCensus* census = nullptr);

}  // namespace pagesim::drivers
