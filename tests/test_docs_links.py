"""Every link in README.md and docs/ leads somewhere: the file exists in the repository, and an
anchor (#...) names a heading of that file, spelled as GitHub spells heading anchors.

The docs cite a committed file for every number they quote; a link that resolves to nothing
would leave a number without its file.
"""
from __future__ import annotations

import functools
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.lru_cache(maxsize=None)
def anchors(path: pathlib.Path) -> frozenset[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return frozenset(slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*)$", text, re.M))


def links(path: pathlib.Path):
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    for m in LINK.finditer(text):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):  # http(s):, mailto: ... outside the repository
            continue
        yield text.count("\n", 0, m.start()) + 1, target


CASES = [(p, line, target) for p in PAGES for line, target in links(p)]


@pytest.mark.parametrize("page, line, target", CASES,
                         ids=[f"{p.relative_to(ROOT)}:{line}" for p, line, _ in CASES])
def test_link_resolves(page, line, target):
    file_part, _, anchor = target.partition("#")
    dest = (page.parent / file_part).resolve() if file_part else page
    assert dest.exists(), f"{page.relative_to(ROOT)}:{line}: {target} names no file"
    assert ROOT in dest.parents or dest == ROOT, f"{page.relative_to(ROOT)}:{line}: {target} leaves the repository"
    if anchor and dest.suffix == ".md":
        assert anchor in anchors(dest), f"{page.relative_to(ROOT)}:{line}: no heading #{anchor} in {dest.name}"


def test_the_checker_sees_a_broken_link_and_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title, here\n\nSee [x](missing.png) and [y](#a-title-here) and [z](#nowhere).\n")
    found = dict((t, line) for line, t in links(page))
    assert set(found) == {"missing.png", "#a-title-here", "#nowhere"}
    assert "a-title-here" in anchors(page) and "nowhere" not in anchors(page)
    assert slug("6.5 DCGAN and the conditional DCGAN") == "65-dcgan-and-the-conditional-dcgan"
