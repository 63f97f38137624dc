"""5.2's z3fold_page_migrate copies the old header's list heads to the new page (Henry
Burns, Jul 2019; c92d2f38563d, 5.3).

Report: c92d2f38563d "mm/z3fold.c: reinitialize zhdr structs after migration" (5.3; linux-mm
archive id 16262050327): "z3fold_page_migrate() will memcpy the old zhdr into the new
zhdr. Since the old zhdr's list_head will be reinitialized, the new zhdr will point to the
old zhdr's list_head. ... zhdr contains fields that can't be directly coppied over (ex:
list_head, a circular linked list). We only need to initialize the linked lists in
new_zhdr, as z3fold_isolate_page() already ensures that these lists are empty. Additionally
it is possible that zhdr->work has been placed in a workqueue. In this case we shouldn't
migrate the page, as zhdr->work references zhdr as opposed to new_zhdr."

Compaction migrates P, a page with one object. z3fold_page_isolate took P off its
unbuddied list (its buddy list head links to itself); the memcpy gives the new page's
header a head that links to P's. The migration queues the new page's compaction and frees
P; the compaction's list_del_init of the new header's buddy writes into P's header.

- `v5.4` without c92d2f38563d: `uaf:do_compact_page` (KASAN, "Write of struct
  z3fold_header pfn P", freed by the migration's put_page).
- `v5.4`: the new header's lists are initialised, and a page whose work is pending is not
  migrated: dpor at preemption bound 2 exhausted clean.
"""

import pagesim as ps

PAGES: list[int] = []


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_migrate_copied_header(k):
    pool = k.z3fold()
    PAGES[:] = [pool.page_of(pool.alloc(1000))]
    k.cpu(0).run(k.compaction.page, PAGES[0], name="compact")


def test_the_new_pages_compaction_writes_into_the_old_page():
    run = z3fold_migrate_copied_header.run(fixes={"c92d2f38563d": False})
    assert [o.key for o in run.outcomes] == ["uaf:do_compact_page"], run.report()
    report = run.report()
    assert f"Write of struct z3fold_header pfn {PAGES[0]} by task kworker/0:z3fold compact" in report
    assert "put_page\n unmap_and_move\n migrate_pages" in report
    # The racy step: the migration finished (the page moved) before the compaction ran.
    funcs = [e["func"] for e in run.trace() if e["kind"] == "enter"]
    assert funcs.index("z3fold_page_migrate") < funcs.index("do_compact_page")


def test_fixed_under_exploration():
    ex = z3fold_migrate_copied_header.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
