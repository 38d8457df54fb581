"""demos/mnist_dcgan_seeds.py: the DCGAN on several seeds, one table of IS, FD (label accuracy) with mean and std."""
from __future__ import annotations

import json
import os

import numpy
import pytest

import minigan as mg
from demos.mnist_dcgan_recipe import samples_sha256
from load_script import load_script
from minigan.models.classifier import MNISTClassifier, save_classifier
from minigan.runs import seeds
from mnist_or_skip import load_mnist_or_skip


@pytest.fixture(scope="module")
def runner():
    return load_script("demos/mnist_dcgan_seeds.py", "mnist_dcgan_seeds_under_test")


def fake_run(folder, seed, IS, FD, last_IS, last_FD, accuracy=None, tamper=False):
    """A finished run's folder: metrics.json as demos/mnist_dcgan.py writes it, and its samples.npy."""
    os.makedirs(folder)
    samples = numpy.full((4, 1, 28, 28), seed / 10, dtype=numpy.float32)
    numpy.save(os.path.join(folder, "samples.npy"), samples + (1 if tamper else 0))
    reported = {"inception_score": IS, "inception_score_std": 0.1, "frechet_distance": FD,
                "frechet_distance_valid": FD + 1, "samples_sha256": samples_sha256(samples)}
    last = {"inception_score": last_IS, "inception_score_std": 0.2, "frechet_distance": last_FD,
            "frechet_distance_valid": last_FD + 1, "samples_sha256": "f" * 64}
    if accuracy is not None:
        reported["label_accuracy"], last["label_accuracy"] = accuracy, accuracy - 0.01
    metrics = {"seed": seed, "steps": 9000 + seed, "train_seconds": 3600.0,
               "scores": {"reported_G": "average of G, beta 0.999", "samples": reported,
                          "candidates": {"last iterate": last, "average of G, beta 0.999": reported}}}
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(metrics, f)


def test_table_gives_each_seed_the_mean_and_the_sample_std(runner, tmp_path):
    fake_run(tmp_path / "seed0", 0, 9.0, 20.0, 8.0, 30.0)
    fake_run(tmp_path / "seed1", 1, 9.5, 15.0, 8.5, 25.0)
    fake_run(tmp_path / "seed2", 2, 9.2, 18.5, 8.2, 28.0, tamper=True)  # samples.npy no longer what was scored
    table = runner.main(["--out", str(tmp_path), "--seeds", "0-2", "--collect-only"])
    assert [r["seed"] for r in table["rows"]] == [0, 1, 2]
    rep, last = table["reported_G"], table["last_iterate"]
    assert rep["inception_score"]["mean"] == pytest.approx((9.0 + 9.5 + 9.2) / 3)
    assert rep["inception_score"]["std"] == pytest.approx(numpy.std([9.0, 9.5, 9.2], ddof=1))
    assert rep["frechet_distance"]["std"] == pytest.approx(numpy.std([20.0, 15.0, 18.5], ddof=1))
    assert last["frechet_distance"]["mean"] == pytest.approx((30 + 25 + 28) / 3)
    assert "label_accuracy" not in rep
    assert [r["samples_npy_matches"] for r in table["rows"]] == [True, True, False]
    assert table["rows"][1]["metrics_sha256"] == seeds.file_sha256(tmp_path / "seed1" / "metrics.json")
    md = (tmp_path / "table.md").read_text()
    sha = table["rows"][0]["samples_sha256"][:12]
    assert f"| 0 | 9000 | average of G, beta 0.999 | 9.00 ± 0.10 | 20.0 | 8.00, 30.0 | {sha} |" in md
    assert "(samples.npy differs)" in md.splitlines()[4]
    assert "| mean ± std over 3 seeds | | | 9.23 ± 0.25 | 17.8 ± 2.6 | 8.23 ± 0.25, 27.7 ± 2.5 | |" in md
    assert json.loads((tmp_path / "table.json").read_text())["rows"][2]["frechet_distance"] == 18.5


def test_conditional_runs_get_the_label_accuracy(runner, tmp_path):
    fake_run(tmp_path / "seed3", 3, 9.6, 8.0, 9.5, 9.0, accuracy=0.99)
    fake_run(tmp_path / "seed4", 4, 9.7, 7.0, 9.6, 8.0, accuracy=0.995)
    table = runner.main(["--out", str(tmp_path), "--seeds", "3,4", "--collect-only"])
    assert table["reported_G"]["label_accuracy"]["mean"] == pytest.approx(0.9925)
    md = (tmp_path / "table.md").read_text()
    assert "| 99.00% |" in md and "| 99.25 ± 0.35% |" in md


def test_a_run_without_scores_is_refused_naming_its_file(runner, tmp_path):
    os.makedirs(tmp_path / "seed0")
    (tmp_path / "seed0" / "metrics.json").write_text(json.dumps({"seed": 0, "steps": 1, "scores": None}))
    with pytest.raises(runner.runs.RunError, match=r"seed0.metrics\.json holds no scores"):
        runner.main(["--out", str(tmp_path), "--seeds", "0", "--collect-only"])


def test_torch_runs_the_reference_script(runner, tmp_path):
    args = runner.parse_args(["--out", str(tmp_path), "--seeds", "1", "--torch", "--", "--steps", "5"])
    cmd = seeds.command(runner.DEMOS[args.torch], args, 1)
    assert cmd[1].endswith("mnist_dcgan_torch.py") and cmd[-2:] == ["--steps", "5"]
    assert runner.parse_args(["--out", "o", "--seeds", "1"]).torch is False


def test_steps_from_gives_each_seed_the_iterations_of_its_twin(runner, tmp_path):
    fake_run(tmp_path / "minigan" / "seed1", 1, 9.0, 20.0, 8.0, 30.0)
    args = runner.parse_args(["--out", str(tmp_path / "torch"), "--seeds", "1,2", "--torch", "--steps-from",
                              str(tmp_path / "minigan"), "--", "--steps", "5", "--width", "2"])
    extra = runner.steps_of(args.steps_from)
    cmd = seeds.command(runner.DEMOS[True], args, 1, extra(1))
    assert cmd[-4:] == ["--width", "2", "--steps", "9001"]  # after the shared flags, so it wins
    with pytest.raises(runner.runs.RunError, match=r"seed2.metrics\.json does not exist"):
        extra(2)


def test_runner_trains_a_seed_and_tabulates_it(runner, tmp_path):
    load_mnist_or_skip()
    clf = str(tmp_path / "clf.npz")
    save_classifier(clf, MNISTClassifier(generator=mg.Generator(0)), test_acc=0.1)
    table = runner.main(["--out", str(tmp_path / "runs"), "--seeds", "5", "--jobs", "1", "--", "--steps", "2",
                         "--subset", "128", "--m", "8", "--n-eval", "40", "--sample-every", "50", "--bn-batches", "2",
                         "--average-G", "0.5", "--classifier", clf])
    (row,) = table["rows"]
    with open(tmp_path / "runs" / "seed5" / "metrics.json") as f:
        m = json.load(f)
    assert row["seed"] == m["seed"] == 5 and row["steps"] == 2 and row["samples_npy_matches"]
    assert row["frechet_distance"] == m["scores"]["samples"]["frechet_distance"]
    assert row["last_iterate"]["frechet_distance"] == m["scores"]["candidates"]["last iterate"]["frechet_distance"]
