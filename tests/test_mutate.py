"""The mutation harness itself (tools/mutate.py): its list cannot go stale unnoticed, its table matches the docs.

Nothing here runs a mutant (that takes an hour); every check reads files or edits a scratch copy.
"""
import os
import shutil

import pytest
from load_script import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_tool():
    return load_script("tools/mutate.py", "minigan_tools_mutate")


mutate = _load_tool()
MUTANTS = mutate.MUTANTS
AREAS = mutate.sys.modules["mutants"].AREAS


def test_the_list_is_long_and_covers_every_area():
    assert len(MUTANTS) >= 45
    names = [m.name for m in MUTANTS]
    assert len(set(names)) == len(names), "two mutants share a name"
    assert {m.area for m in MUTANTS} == set(AREAS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_still_applies_to_this_tree(mutant):
    """Its original text occurs exactly once: an edit to the code that moves it fails here, by name."""
    mutate.check_applies(mutant, ROOT)
    assert mutant.replacement != mutant.original
    assert mutant.description.strip()
    for f in mutant.first:
        assert os.path.isfile(os.path.join(ROOT, f)), f"{mutant.name}: first test file {f} does not exist"


def test_apply_changes_only_the_original_text(tmp_path):
    m = next(m for m in MUTANTS if m.name == "d-descends-v")
    os.makedirs(tmp_path / os.path.dirname(m.path))
    shutil.copy(os.path.join(ROOT, m.path), tmp_path / m.path)
    before = (tmp_path / m.path).read_text()
    mutate.apply(m, str(tmp_path))
    after = (tmp_path / m.path).read_text()
    assert after == before.replace(m.original, m.replacement) and after != before
    with pytest.raises(mutate.StaleMutant, match="d-descends-v.*occurs 0 times"):
        mutate.apply(m, str(tmp_path))  # planted already: the original is gone


def test_a_stale_mutant_is_refused_by_name(tmp_path):
    (tmp_path / "f.py").write_text("x = 1\nx = 1\n")
    twice = mutate.Mutant("twice", "ops", "f.py", "x = 1", "x = 2", "twice")
    with pytest.raises(mutate.StaleMutant, match="'twice'.*occurs 2 times in f.py"):
        mutate.check_applies(twice, str(tmp_path))
    missing = mutate.Mutant("gone", "ops", "g.py", "x", "y", "gone")
    with pytest.raises(mutate.StaleMutant, match="'gone'.*g.py does not exist"):
        mutate.check_applies(missing, str(tmp_path))


def test_first_failure_reads_pytest_short_summary():
    out = ("F\n=== short test summary info ===\nFAILED tests/test_ops.py::test_x[mean] - assert 1 == 2\n"
           "ERROR tests/test_b.py::test_y\n!!! stopping after 1 failures !!!\n")
    assert mutate.first_failure(out) == "tests/test_ops.py::test_x[mean]"
    spaced = "FAILED tests/t.py::test_z[d_loss smoothed 0.9] - AssertionError: x - y\n"
    assert mutate.first_failure(spaced) == "tests/t.py::test_z[d_loss smoothed 0.9]"
    assert mutate.first_failure("FAILED tests/t.py::test_w\n") == "tests/t.py::test_w"
    assert mutate.first_failure("1 passed in 0.1s\n") == ""


def test_the_committed_table_covers_the_list_and_the_docs_show_it():
    table = mutate.load_table(os.path.join(ROOT, mutate.DEFAULT_TABLE))
    rows = {r["name"]: r for r in table["mutants"]}
    by_name = {m.name: m for m in MUTANTS}
    assert set(rows) == set(by_name), "rerun tools/mutate.py --only for the mutants added or removed"
    for name, r in rows.items():
        assert r["status"] in mutate.STATUSES, name
        assert (r["status"] == "killed") == bool(r["killed_by"]), name
        # a mutant explained as equivalent must not have been killed, or the explanation is wrong
        assert not (by_name[name].equivalent and r["status"] == "killed"), name
        assert r["original"] == by_name[name].original and r["replacement"] == by_name[name].replacement, (
            f"{name} changed since the table was made; rerun tools/mutate.py --only {name}")
    with open(os.path.join(ROOT, mutate.DEFAULT_DOC), encoding="utf-8") as f:
        doc = f.read()
    assert mutate.markdown(table) in doc, "run python3 tools/mutate.py --markdown to refresh the docs' table"
