"""Writes core/kernel/bug_lines.inc: where each BUG and WARN site of the model is in the
kernel tree each built-in preset follows, so a report reads "kernel BUG at
mm/zsmalloc.c:2034!" with the tree's own line.

A site is a kernel function and the kernel's text of its check
(``pagesim._core.bug_sites()``). In each tree the script finds the function's definition
in the files the model covers and the check in its body; a check the body has once serves
every model variant of it, and checks that repeat (zs_page_migrate's two ``BUG()``) are
matched in order. A function a macro defines (``__SetPageBuddy``) is found by its check,
when one ``#define`` of the tree has it. Where the tree has no such check the
table says so (line 0), and the report names the function instead.

The trees are the stored kernel mirrors (``/work/.mirror/<owner>+<name>/repo``, read
with git at the commit the preset names). Run it after adding a BUG or WARN site:

    python scripts/bug_lines.py            # rewrite the table
    python scripts/bug_lines.py --check    # exit 1 if it is not current
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

import pagesim._core as core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "core", "kernel", "bug_lines.inc")
MIRRORS = os.environ.get("PAGESIM_KERNEL_MIRRORS", "/work/.mirror")
# The files the model covers, where its checks are written.
FILES = [
    "mm/zsmalloc.c", "mm/migrate.c", "mm/compaction.c", "mm/page_alloc.c", "mm/internal.h",
    "mm/filemap.c", "mm/swap.c", "mm/balloon_compaction.c", "mm/vmscan.c",
    "include/linux/mm.h", "include/linux/page-flags.h", "include/linux/page_ref.h",
    "include/linux/pagemap.h", "include/linux/migrate.h", "include/linux/mm_inline.h",
    "include/linux/balloon_compaction.h", "drivers/virtio/virtio_balloon.c",
    "drivers/block/zram/zram_drv.c", "mm/z3fold.c",
]
MODEL_ONLY = "core/drivers/test_driver.cpp"  # pagesim's own driver: its lines are the model's
FOLLOWS = re.compile(r"^([\w.-]+)/([\w.-]+) at ([0-9a-f]{7,40})\b")


def trees() -> dict[str, tuple[str, str]]:
    """tree name -> (git dir, commit), for each built-in preset that follows a stored tree."""
    out = {}
    for p in core.presets():
        m = FOLLOWS.match(p["follows"])
        if p["user"] or not m:
            continue
        out[f"{m[1]}/{m[2]}"] = (os.path.join(MIRRORS, f"{m[1]}+{m[2]}", "repo"), m[3])
    return out


def read(git: str, commit: str, path: str) -> list[str] | None:
    r = subprocess.run(["git", "-C", git, "show", f"{commit}:{path}"], capture_output=True,
                       text=True, errors="replace", check=False)
    return r.stdout.splitlines() if r.returncode == 0 else None


def pattern(text: str) -> re.Pattern[str]:
    """The check as source spells it, spaces removed: VM_BUG_ON_PAGE(cond) is followed by
    the page argument; the others end where the text does."""
    flat = re.sub(r"\s+", "", text)
    if flat.startswith("VM_BUG_ON_PAGE("):
        flat = flat[:-1] + ","
    return re.compile(r"(?<![A-Za-z0-9_])" + re.escape(flat))


def matches(lines: list[str], start: int, end: int, pat: re.Pattern[str]) -> list[int]:
    """Line numbers (0-based) in lines[start:end] where `pat` starts; a check may span lines."""
    flat, at = [], []
    for i in range(start, end):
        s = re.sub(r"\s+", "", lines[i])
        flat.append(s)
        at.extend([i] * len(s))
    text = "".join(flat)
    return sorted({at[m.start()] for m in pat.finditer(text)})


def bodies(lines: list[str], function: str) -> list[tuple[int, int]]:
    """Each definition of `function` (a stub for one config, the real one for another):
    from its head to its closing brace."""
    head = re.compile(r"^[A-Za-z_].*\b" + re.escape(function) + r"\s*\(")
    out = []
    for i, line in enumerate(lines):
        if not head.match(line) or line.rstrip().endswith(";"):
            continue
        j = i
        while j < len(lines) and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
            j += 1
        if j == len(lines) or lines[j].rstrip().endswith(";"):
            continue
        if lines[j].count("{") == lines[j].count("}"):  # static void f(...) {}
            out.append((i, j + 1))
            continue
        for k in range(j, len(lines)):
            if lines[k].startswith("}"):
                out.append((i, k + 1))
                break
    return out


def uncommented(lines: list[str]) -> list[str]:
    """The source with its comments blanked, line for line ("BUG() here" in a comment is
    no check)."""
    text = "\n".join(lines)
    text = re.sub(r"/\*.*?\*/|//[^\n]*", lambda m: re.sub(r"[^\n]", " ", m[0]), text,
                  flags=re.DOTALL)
    return text.split("\n")


def code_at(lines: list[str], i: int) -> str:
    """The statement that starts at line i, on one line."""
    parts = []
    for line in lines[i:i + 4]:
        line = line.strip().rstrip("\\").strip()  # a line of a macro ends with a backslash
        parts.append(line)
        if line.endswith((";", "{", ")")) and " ".join(parts).count("(") <= \
                " ".join(parts).count(")"):
            break
    return " ".join(parts)


def locate(files: dict[str, list[str]], sites: list[dict]) -> dict[int, tuple[str, int, str]]:
    """site id -> (file, line, code) in one tree, for the sites it has."""
    found: dict[int, tuple[str, int, str]] = {}
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for s in sites:
        groups[s["function"], s["text"]].append(s)
    for (function, text), group in groups.items():
        group.sort(key=lambda s: (s["model_file"], s["model_line"]))
        pat = pattern(text)
        hits: list[tuple[str, int]] = []
        defined = False
        for path, lines in files.items():
            for span in bodies(lines, function):
                defined = True
                hits = [(path, i) for i in matches(lines, *span, pat)]
                if hits:
                    break
            if hits:
                break
        if not defined:  # a function a macro makes: its check, if one #define has it
            every = [(p, i) for p, lines in files.items()
                     for i in matches(lines, 0, len(lines), pat)
                     if lines[i].rstrip().endswith("\\")]
            hits = every if len(every) == 1 else []
        if len(hits) == 1:
            hits = hits * len(group)
        if len(hits) != len(group):
            continue  # repeats the model does not mirror one to one: not placed
        for s, (path, i) in zip(group, hits):
            found[s["id"]] = (path, i + 1, code_at(files[path], i))
    return found


def ordinals(sites: list[dict]) -> dict[int, int]:
    """site id -> its place among the sites of the same function and text, in model file
    and line order (as core/kernel/bug_lines.cpp counts them)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for s in sites:
        groups[s["function"], s["text"]].append(s)
    return {s["id"]: n for group in groups.values()
            for n, s in enumerate(sorted(group, key=lambda s: (s["model_file"], s["model_line"])))}


def c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def table() -> str:
    sites = [s for s in core.bug_sites() if s["model_file"] != MODEL_ONLY]
    ordinal = ordinals(sites)
    rows = []
    for tree, (git, commit) in sorted(trees().items()):
        if not os.path.isdir(git):
            sys.exit(f"bug_lines.py: no mirror of {tree} at {git}")
        source = {p: lines for p in FILES if (lines := read(git, commit, p)) is not None}
        found = locate({p: uncommented(lines) for p, lines in source.items()}, sites)
        for s in sites:
            path, line, code = found.get(s["id"], ("", 0, ""))
            rows.append(f"    {{{c_string(tree)}, {c_string(s['function'])}, "
                        f"{c_string(s['text'])}, {ordinal[s['id']]}, {c_string(path)}, {line}, "
                        f"{c_string(code)}}},")
    head = ("// Generated by scripts/bug_lines.py from the kernel trees the presets follow: do not\n"
            "// edit. {tree, function, text, ordinal, file, line, code}; line 0: the tree has no such\n"
            "// check. The ordinal tells apart sites of one function and text, in model order.\n")
    return head + "\n".join(rows) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the table is not current")
    args = ap.parse_args()
    text = table()
    if args.check:
        with open(OUT) as f:
            if f.read() != text:
                print(f"{OUT} is not current: run python scripts/bug_lines.py", file=sys.stderr)
                return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    placed = sum(1 for line in text.splitlines() if line.startswith("    {") and
                 not line.rstrip().endswith(', 0, ""},'))
    print(f"wrote {OUT}: {placed} sites placed in their trees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
