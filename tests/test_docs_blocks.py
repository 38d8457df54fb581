"""Every ```python block of README.md and docs/*.md runs as written.

Each block is one test, run in a fresh namespace from an empty temporary directory, so a block
cannot lean on another's variables or on files left by an earlier run. A block asserts its own
claims; this test only makes sure it runs.

Two ways out, both visible:
* a block that needs MNIST skips when, and only when, `load_mnist` raises DataNotFoundError
  (MNIST is not installed); any other exception fails the test;
* a block preceded by the line `<!-- no-run: REASON -->` is not run, and the test reports REASON.
  The reason may not be empty.
"""
import os
import re

import pytest

from minigan.data import DataNotFoundError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
NO_RUN = re.compile(r"<!--\s*no-run:(.*?)-->\s*$")


def documents():
    docs = os.path.join(ROOT, "docs")
    names = sorted(n for n in os.listdir(docs) if n.endswith(".md"))
    return ["README.md"] + [f"docs/{n}" for n in names]


def python_blocks(text):
    """(line number, code, no-run reason or None) for each ```python block of a Markdown text."""
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NO_RUN.search(before)
        reason = marker.group(1).strip() if marker else None
        blocks.append((line, match.group(1), reason))
    return blocks


def collect():
    cases = []
    for path in documents():
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            for line, code, reason in python_blocks(f.read()):
                cases.append(pytest.param(path, line, code, reason, id=f"{path}:{line}"))
    return cases


def run_block(path, line, code, reason):
    """Run one block; pytest.skip for a no-run marker or for missing MNIST, anything else propagates."""
    if reason is not None:
        assert reason, f"{path} line {line}: a no-run marker must say why (<!-- no-run: REASON -->)"
        pytest.skip(f"{path} line {line} is marked no-run: {reason}")
    compiled = compile("\n" * line + code, path, "exec")   # tracebacks point at the Markdown line
    try:
        exec(compiled, {"__name__": f"docs_block_{line}"})  # noqa: S102 - running the documents is the point
    except DataNotFoundError as error:
        pytest.skip(f"{path} line {line} needs MNIST, which is not installed: {error}")


@pytest.mark.parametrize("path, line, code, reason", collect())
def test_block_runs(path, line, code, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_block(path, line, code, reason)


def test_only_missing_mnist_and_marked_blocks_skip():
    missing = "from minigan.data import DataNotFoundError\nraise DataNotFoundError('no MNIST here')\n"
    with pytest.raises(pytest.skip.Exception, match="needs MNIST"):
        run_block("doc.md", 3, missing, None)
    with pytest.raises(pytest.skip.Exception, match="needs a GPU"):
        run_block("doc.md", 3, "raise SystemExit(1)\n", "needs a GPU")
    with pytest.raises(AssertionError, match="must say why"):
        run_block("doc.md", 3, "x = 1\n", "")
    with pytest.raises(ValueError):              # any other failure is a failure, not a skip
        run_block("doc.md", 3, "int('x')\n", None)
    with pytest.raises(ZeroDivisionError) as info:
        run_block("doc.md", 7, "a = 1\nb = a / 0\n", None)
    assert info.traceback[-1].lineno + 1 == 9    # 1-based Markdown line: fence at 7, code from 8


def test_the_extractor_finds_blocks_and_markers():
    text = ("intro\n```python\nx = 1\n```\n\n<!-- no-run: needs a GPU -->\n```python\ny = 2\n```\n"
            "```bash\nls\n```\n<!-- no-run: -->\n```python\nz = 3\n```\n")
    blocks = python_blocks(text)
    assert [(line, code) for line, code, _ in blocks] == [(2, "x = 1\n"), (7, "y = 2\n"), (14, "z = 3\n")]
    assert [reason for _, _, reason in blocks] == [None, "needs a GPU", ""]
    # the real documents: the README's first look and the chapters' examples are all collected
    counts = {path: 0 for path in documents()}
    for case in collect():
        counts[case.values[0]] += 1
    assert counts["README.md"] >= 1 and counts["docs/01-autograd.md"] >= 10
    assert sum(counts.values()) >= 20
