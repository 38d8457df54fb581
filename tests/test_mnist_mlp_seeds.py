"""demos/mnist_mlp_seeds.py (several seeds, one table) and demos/mnist_mlp_diagnose.py (a run watched closely)."""
from __future__ import annotations

import json
import os

import numpy
import pytest

from load_script import load_script
from minigan.runs import seeds
from mnist_or_skip import load_mnist_or_skip

TINY = ["--steps", "6", "--train-size", "500", "--n-samples", "200", "--n-valid", "100", "--n-test", "200",
        "--curve-samples", "50", "--checkpoint-every", "3", "--no-figures"]


def seeds_script():
    return load_script("demos/mnist_mlp_seeds.py", "mnist_mlp_seeds_demo")


def diagnose_script():
    return load_script("demos/mnist_mlp_diagnose.py", "mnist_mlp_diagnose_demo")


def test_seed_list_reads_ranges_and_lists_and_refuses_repeats():
    s = seeds
    assert s.seed_list("10-14") == [10, 11, 12, 13, 14]
    assert s.seed_list("3,5,9") == [3, 5, 9]
    assert s.seed_list("1-2,7") == [1, 2, 7]
    for bad in ("", "a-b", "3,3", "5-4", "-1"):
        with pytest.raises(Exception, match="expected"):
            s.seed_list(bad)


def test_the_runner_sets_out_seed_and_resume_itself(tmp_path):
    s = seeds_script()
    for flag in ("--out", "--seed", "--resume", "--overwrite"):
        with pytest.raises(s.runs.RunError, match=flag):
            s.parse_args(["--out", str(tmp_path), "--seeds", "1", "--", flag, "x"])
        with pytest.raises(s.runs.RunError, match=flag):
            s.parse_args(["--out", str(tmp_path), "--seeds", "1", "--", f"{flag}=x"])
    assert s.parse_args(["--out", "o", "--seeds", "1", "--", "--seed-extra", "1"]).demo_flags == ["--seed-extra", "1"]


def fake_run(folder, seed, ll, last_ll, d_real, d_fake):
    os.makedirs(folder)
    numpy.save(os.path.join(folder, "samples.npy"), numpy.full((2, 3), ll))
    numpy.save(os.path.join(folder, "samples_last_iterate.npy"), numpy.full((2, 3), last_ll))
    metrics = {"seed": seed, "steps": 30000, "reported_G": "average of G, beta 0.9999", "parzen_ll": ll,
               "parzen_se": 2.0, "sigma": 0.17, "train_seconds_per_iter": 0.07, "game_lost_to_D_at": None,
               "last_500_mean": {"d_real": d_real, "d_fake": d_fake},
               "last_iterate": {"parzen_ll": last_ll, "parzen_se": 1.5, "sigma": 0.2,
                                "samples": "samples_last_iterate.npy"}}
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(metrics, f)


def test_table_gives_each_seed_the_mean_the_sample_std_and_marks_a_lost_game(tmp_path):
    s = seeds_script()
    fake_run(tmp_path / "seed1", 1, 220.0, 150.0, 0.7, 0.3)
    fake_run(tmp_path / "seed2", 2, 230.0, 160.0, 0.6, 0.35)
    fake_run(tmp_path / "seed3", 3, -300.0, -400.0, 0.999, 0.001)  # D won and kept winning
    table = s.main(["--out", str(tmp_path), "--seeds", "1-3", "--collect-only"])
    assert [r["lost"] for r in table["rows"]] == [False, False, True]
    assert table["lost"] == 1
    assert table["reported_G"]["mean"] == pytest.approx((220 + 230 - 300) / 3)
    assert table["reported_G"]["std"] == pytest.approx(numpy.std([220, 230, -300], ddof=1))
    assert table["last_iterate"]["mean"] == pytest.approx((150 + 160 - 400) / 3)
    rows = table["rows"]
    assert rows[0]["samples_sha256"] != rows[0]["last_iterate_samples_sha256"]  # each figure its own samples
    assert "| 3 | -300.0 ± 2.0 | -400.0 ± 1.5 | yes |" in (tmp_path / "table.md").read_text()
    assert json.loads((tmp_path / "table.json").read_text())["lost"] == 1


def test_runner_trains_every_seed_skips_finished_ones_and_tabulates(tmp_path):
    load_mnist_or_skip()
    s = seeds_script()
    table = s.main(["--out", str(tmp_path), "--seeds", "3,4", "--jobs", "2", "--", *TINY])
    assert [r["seed"] for r in table["rows"]] == [3, 4]
    for seed in (3, 4):
        with open(tmp_path / f"seed{seed}" / "metrics.json") as f:
            m = json.load(f)
        assert m["seed"] == seed and m["steps"] == 6
        row = table["rows"][[3, 4].index(seed)]
        assert row["parzen_ll"] == m["parzen_ll"] and row["last_iterate_ll"] == m.get("last_iterate", m)["parzen_ll"]
    assert table["rows"][0]["samples_sha256"] != table["rows"][1]["samples_sha256"]  # two seeds, two runs
    before = os.path.getmtime(tmp_path / "seed3" / "metrics.json")
    s.main(["--out", str(tmp_path), "--seeds", "3,4", "--", *TINY])  # finished seeds are not run again
    assert os.path.getmtime(tmp_path / "seed3" / "metrics.json") == before


def test_a_failed_seed_stops_the_runner_and_names_its_log(tmp_path):
    load_mnist_or_skip()
    s = seeds_script()
    with pytest.raises(s.runs.RunError, match=r"seed 5 failed .*seed5\.log"):
        s.main(["--out", str(tmp_path), "--seeds", "5", "--", *TINY, "--n-valid", "999999"])


def test_watching_a_run_does_not_change_it(tmp_path):
    """The probe draws its own z and runs D with dropout off, so the watched run is the demo's run."""
    mnist = load_mnist_or_skip()
    d = diagnose_script()
    args = d.parse_args(["--out", str(tmp_path), "--seed", "2", "--steps", "8", "--every", "4",
                         "--demo-flag=--train-size=500"])
    rows, watched, diverged_at = d.watch_run(args)
    assert diverged_at is None
    assert [r["step"] for r in rows] == [4, 8]
    assert all(r["grad_D"] > 0 and r["grad_G"] > 0 and 0 <= r["rejected"] <= 1 for r in rows)
    plain, _ = d.build(d.demo_args(args), d.to_unit(mnist["train"].images[:500]))
    plain.train(8, progress=False)
    assert plain.history == watched.history
    for a, b in zip(plain.G.parameters(), watched.G.parameters()):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(plain.D.parameters(), watched.D.parameters()):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
