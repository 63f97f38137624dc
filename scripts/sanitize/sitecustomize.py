"""Python start-up in the sanitizer runs (`make test-sanitize`), found through PYTHONPATH.

The directory this file is in holds the pagesim package: its sources (links to
bindings/pagesim) and the _core module built with ASan and UBSan. An editable install of
pagesim puts an import hook first in sys.meta_path, which would load the normal _core
instead: it is taken out, so that `import pagesim` finds this directory (PYTHONPATH comes
before site-packages). Subprocesses the tests start inherit PYTHONPATH, and so this too.
"""

import sys

sys.meta_path[:] = [
    f
    for f in sys.meta_path
    if not (type(f).__module__.startswith("_editable") and "pagesim" in type(f).__module__)
]
