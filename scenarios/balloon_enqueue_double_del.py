"""balloon_page_enqueue_one list_dels a page fill_balloon already popped (Wei Wang, Jul 2019).

Report: "[PATCH v5 1/2] mm/balloon_compaction: avoid duplicate page removal" (Wei Wang,
18 Jul 2019, linux-mm archive id 36950307886; Fixes: 418a3ab1e778 "mm/balloon_compaction:
List interfaces", 5.3-rc1; in Linux 5.3-rc3): "A #GP is reported in the guest when
requesting balloon inflation via virtio-balloon." virtio-balloon's fill_balloon takes each page off its local list with balloon_page_pop()
and hands it to balloon_page_enqueue(); as 418a3ab1e778 merged it,
balloon_page_enqueue_one() took the page off the list again (`list_del(&page->lru)`), on a
list_head list_del had already poisoned: a general protection fault at the first inflation.
The fix moves that list_del to balloon_page_list_enqueue(), the caller that still has the
page on a list. Every 5.3 release has the fixed code (the bug lived from 5.3-rc1 to -rc3).
The fix's upstream commit id is not in the stored archive, so pagesim names it by its
title.

Buggy: v5.4 without the fix (`avoid-duplicate-page-removal` off), as 5.3-rc1 was: the oops
comes at the first page. Fixed: v5.4. Not a race: one task, one schedule on each side.
"""

import pagesim as ps

BUGGY = {"avoid-duplicate-page-removal": False}


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def balloon_enqueue_double_del(k):
    """The host asks the guest for 4 pages."""
    return ps.script(k.cpu(0).run(k.balloon().fill, 4, name="inflate"))


def test_without_the_fix_the_first_inflation_oopses_on_list_poison():
    run = balloon_enqueue_double_del.run(fixes=BUGGY)
    assert [o.key for o in run.outcomes] == ["oops:balloon_page_enqueue_one"], run.report()
    oops = run.outcomes[0]
    assert oops.task == "inflate"
    assert oops.message.startswith("list_del corruption: page pfn ")
    assert oops.message.endswith("has poisoned lru (LIST_POISON1 dead000000000100)")
    assert oops.backtrace[:3] == ["balloon_page_enqueue_one", "balloon_page_enqueue", "fill_balloon"]


def test_with_the_fix_the_inflation_is_clean():
    run = balloon_enqueue_double_del.run()
    assert run.ok, run.report()
    # Every page went through balloon_page_enqueue_one, the step that oopses without the fix.
    lines = [line.strip() for line in run.diagram(depth=3).splitlines()]
    assert lines.index("balloon_page_enqueue (x4)") + 1 == lines.index("balloon_page_enqueue_one")
    assert run.kernel.stats["nr_balloon_pages"] == 4


def test_under_exploration_each_side_has_its_one_outcome():
    buggy = balloon_enqueue_double_del.explore(strategy="dpor", fixes=BUGGY)
    assert buggy.exhausted and buggy.outcomes == {"oops:balloon_page_enqueue_one": 1}, buggy
    fixed = balloon_enqueue_double_del.explore(strategy="dpor")
    assert fixed.exhausted and fixed.outcomes == {"ok": 1}, fixed
