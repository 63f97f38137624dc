"""v3 series: compaction isolates a sub-page of a zspage that zs_malloc is still building.

Chulmin Kim, 19 Apr 2016, on v3 13/16 (linux-mm archive id 46166037603): "When there is
alloc_zspage(), which is not protected by any lock, in-flight, a migrate context can
isolate the zs subpage which is being initiated by alloc_zspage(). We detected VM_BUG_ON
during remove_zspage()". In v3 (15/16) init_zspage marks each page movable
(trylock_page, __SetPageMovable, unlock_page) at the top of its loop, inside alloc_zspage,
before zs_malloc has recorded the zspage's class and fullness in the first page. A migrate
context that finds one of those pages calls zs_page_isolate, which reads the still-zero
metadata (class 0, fullness 0 = ZS_ALMOST_FULL in v3's enum) and removes the zspage from
class 0's empty list: VM_BUG_ON in remove_zspage. 4.8 marks the pages movable only once the
zspage is set up and listed ("We completely set up zspage so mark them as movable",
zs_malloc).

Buggy preset: movable-v3. Fixed: v4.8 (named fix zs-movable-after-setup).
"""

import pagesim as ps


@ps.scenario(kernel="movable-v3", cpus=3, pages=1024)
def alloc_zspage_isolate(k):
    """zs_malloc builds a zspage; compaction isolates its 2nd page as soon as it is movable."""
    pool = k.zsmalloc()
    handle, after = k.probe(pool.malloc, 3000)  # the pages zs_malloc will take
    T = pool.pages_of(handle, state=after)[1]
    m = k.cpu(1).run(pool.malloc, 3000, name="zs_malloc")
    c = k.cpu(2).run(k.compaction.isolate, T, name="compaction")
    return ps.script(m.until("unlock_page", T), c, m)


def test_v3_bugs_in_remove_zspage():
    run = alloc_zspage_isolate.run()
    assert run.bug is not None, run.report()
    assert run.bug.function == "remove_zspage"
    assert run.bug.task == "compaction"
    assert run.bug.backtrace[0] == "zs_page_isolate"


def test_v48_same_script_is_clean():
    run = alloc_zspage_isolate.run(kernel="v4.8")
    assert run.ok, run.report()


def test_the_single_fix_closes_it_on_v3():
    run = alloc_zspage_isolate.run(fixes={"zs-movable-after-setup": True})
    assert run.bug is None, run.report()


def test_found_without_the_script_and_v48_clean_in_every_schedule():
    bad = alloc_zspage_isolate.explore(strategy="dfs", executions=100_000, preemption_bound=1)
    assert bad.sometimes("bug:remove_zspage"), bad
    good = alloc_zspage_isolate.explore(kernel="v4.8", strategy="dfs", executions=100_000,
                                        preemption_bound=1)
    assert good.exhausted and good.never("bug") and good.never("oops"), good
