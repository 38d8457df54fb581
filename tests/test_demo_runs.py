"""Every demo protects its runs: a used --out needs --resume or --overwrite, one run per --out at a time,
bad flag values stop with a one-line usage error, a resume keeps the run's identity, --minutes stops promptly.

Cheap by design: the refusals happen before any training, and the runs that do train take a step or two.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from minigan import runs
from minigan.runs.folder import LOCK
from mnist_or_skip import load_mnist_or_skip
from load_script import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMOS = ("gaussian_1d", "mixture_2d", "mnist_mlp", "mnist_dcgan", "mnist_dcgan_torch", "mode_collapse",
         "train_classifier", "semi_supervised_mnist")
PARSE = {"mode_collapse": "parse"}  # the function that reads the command line, where it is not parse_args
BAD_VALUES = ("-1", "nan", "inf", "abc")  # none is a valid value of any typed flag of any demo


def load(name):
    return load_script(f"demos/{name}.py", f"{name}_under_test")


@pytest.fixture(scope="module")
def demos():
    return {name: load(name) for name in DEMOS}


def parser_of(demo, name, monkeypatch, tmp_path):
    """The demo's ArgumentParser, caught as the demo builds it from runs.demo_parser."""
    made = []

    def catching(*args, **kwargs):
        made.append(runs.cli.demo_parser(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(runs, "demo_parser", catching)
    getattr(demo, PARSE.get(name, "parse_args"))(["--out", str(tmp_path)])
    return made[-1]


def typed_flags(parser):
    """Each flag whose value has a type or a set of choices, by its first option string."""
    return [a.option_strings[-1] if a.option_strings[0] == "--batch-size" else a.option_strings[0]
            for a in parser._actions if a.option_strings and (a.type is not None or a.choices is not None)]


@pytest.mark.parametrize("name", DEMOS)
def test_every_typed_flag_refuses_bad_values_with_one_line(name, demos, monkeypatch, tmp_path, capsys):
    demo = demos[name]
    parse = getattr(demo, PARSE.get(name, "parse_args"))
    flags = typed_flags(parser_of(demo, name, monkeypatch, tmp_path))
    assert {"--steps", "--seed", "--backend", "--m"} <= set(flags)
    for flag in flags:
        for value in BAD_VALUES:
            with pytest.raises(SystemExit) as stop:
                parse(["--out", str(tmp_path), flag, value])
            err = capsys.readouterr().err
            assert stop.value.code == 2, (flag, value)
            lines = [line for line in err.splitlines() if "error:" in line]
            assert len(lines) == 1 and "error: argument " in lines[0] and flag in lines[0], (flag, value, err)
            assert "Traceback" not in err


@pytest.mark.parametrize("flag, value", [("--checkpoint-every", "0"), ("--batch-size", "0"), ("--seed", "-1"),
                                         ("--lr-decay", "inf"), ("--d-loss-scale", "-1"), ("--d-loss-scale", "nan"),
                                         ("--train-size", "0"), ("--minutes", "0"), ("--anneal", "5:nan")])
def test_mnist_mlp_refuses_the_values_that_used_to_crash_or_pass(flag, value, demos, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        demos["mnist_mlp"].parse_args(["--out", str(tmp_path), flag, value])
    assert stop.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--subset", "0"), ("--checkpoint-every", "0"), ("--m", "0")])
def test_dcgan_refuses_a_zero_size(flag, value, demos, tmp_path, capsys):
    with pytest.raises(SystemExit):
        demos["mnist_dcgan"].parse_args(["--out", str(tmp_path), flag, value])
    err = capsys.readouterr().err
    assert "error: argument " in err and flag in err and "expected an integer > 0, got '0'" in err


@pytest.mark.parametrize("name", DEMOS)
def test_a_used_folder_is_refused_without_resume_or_overwrite(name, demos, tmp_path):
    """Refused before any work, naming the way out, the earlier run's files untouched and no lock left."""
    (tmp_path / "metrics.json").write_text('{"from": "an earlier run"}')
    with pytest.raises(runs.RunError, match="already holds a run .*--overwrite"):
        demos[name].main(["--out", str(tmp_path)])
    assert (tmp_path / "metrics.json").read_text() == '{"from": "an earlier run"}'
    assert not (tmp_path / LOCK).exists()


def test_a_refused_run_prints_one_line_and_exits_2(tmp_path):
    """As a user runs it: the refusal is argparse's kind of error, status 2 and one line, no traceback."""
    (tmp_path / "metrics.json").write_text("{}")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "demos", "mixture_2d.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("mixture_2d.py: error: ") and "already holds a run" in done.stderr


def test_two_runs_on_one_out(tmp_path):
    """The second run on a busy --out is refused, naming the first's pid; once the first is killed, its
    stale lock is taken over with a warning."""
    out = str(tmp_path / "run")
    cmd = [sys.executable, os.path.join(ROOT, "demos", "gaussian_1d.py"), "--out", out, "--no-progress"]
    first = subprocess.Popen(cmd + ["--steps", "1000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             cwd=ROOT)
    try:
        lock = os.path.join(out, LOCK)
        for _ in range(600):  # the lock appears once the first run has parsed its flags
            if os.path.exists(lock) and open(lock).read().strip():
                break
            time.sleep(0.05)
        assert open(lock).read().strip() == str(first.pid)
        second = subprocess.run(cmd + ["--steps", "1"], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert second.returncode == 2 and f"in use by another run (pid {first.pid}" in second.stderr
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert open(lock).read().strip() == str(first.pid)  # a killed run cannot clean up
    with pytest.warns(UserWarning, match=f"pid {first.pid}"):
        with runs.RunFolder(out, "gaussian_1d", overwrite=True):
            pass


def mnist_or_skip():
    load_mnist_or_skip()  # skips only when MNIST is not installed (tests/mnist_or_skip.py)


SMOKE = ["--train-size", "300", "--n-samples", "100", "--n-valid", "100", "--n-test", "100", "--curve-samples", "100",
         "--no-figures", "--no-average"]


def test_mnist_mlp_minutes_stops_at_the_next_iteration_with_a_checkpoint(demos, tmp_path):
    mnist_or_skip()
    out = str(tmp_path / "run")
    t0 = time.time()
    result = demos["mnist_mlp"].main(["--out", out, "--steps", "1000", "--checkpoint-every", "1000",
                                      "--minutes", "0.0001", *SMOKE])  # 6 ms: less than one iteration
    assert result["steps"] == 1
    from minigan import checkpoint
    assert checkpoint.load(os.path.join(out, runs.CHECKPOINT))["step"] == 1
    assert time.time() - t0 < 120


def test_mnist_mlp_resume_refuses_another_seed_batch_size_or_subset(demos, tmp_path):
    mnist_or_skip()
    demo, out = demos["mnist_mlp"], str(tmp_path / "run")
    demo.main(["--out", out, "--steps", "1", "--seed", "4", "--checkpoint-every", "1", *SMOKE])
    again = SMOKE[2:-1]  # the same sizes without --train-size (given below) and --no-average (a new run's flag)
    for flag, value, saved in (("--seed", "0", "--seed 4"), ("--batch-size", "50", "--batch-size 100"),
                               ("--train-size", "200", "--train-size 300")):
        with pytest.raises(runs.RunError, match=saved):
            demo.main(["--out", out, "--steps", "2", "--resume", flag, value, *again])
    resumed = demo.main(["--out", out, "--steps", "2", "--resume", *again])
    assert (resumed["steps"], resumed["seed"], resumed["train_size"]) == (2, 4, 300)
    progress = os.path.join(out, "progress.json")
    with open(progress, "r+") as f:  # a progress.json cut short (a full disk, say)
        f.truncate(10)
    with pytest.raises(runs.RunError, match="cannot read .*progress.json"):
        demo.main(["--out", out, "--steps", "3", "--resume", *again])


def test_dcgan_resume_refuses_another_batch_size_and_keeps_its_seed(demos, tmp_path):
    mnist_or_skip()
    demo, out = demos["mnist_dcgan"], str(tmp_path / "run")
    smoke = ["--subset", "128", "--n-eval", "20", "--sample-every", "1", "--no-progress",
             "--classifier", str(tmp_path / "absent.npz")]
    demo.main(["--out", out, "--steps", "1", "--m", "16", "--seed", "2", *smoke])
    with pytest.raises(runs.RunError, match="--batch-size 16; resuming it with 8"):
        demo.main(["--out", out, "--steps", "2", "--resume", "--m", "8", *smoke])
    with pytest.raises(runs.RunError, match="--conditional False"):
        demo.main(["--out", out, "--steps", "2", "--resume", "--conditional", *smoke])
    resumed = demo.main(["--out", out, "--steps", "2", "--resume", *smoke])
    assert (resumed["steps"], resumed["m"], resumed["seed"]) == (2, 16, 2)


def test_mnist_mlp_resumes_a_checkpoint_saved_before_identities_from_its_progress_json(demos, tmp_path):
    """Runs made before the identity was stored kept their objective in progress.json: a resume reads it there."""
    mnist_or_skip()
    demo, out = demos["mnist_mlp"], str(tmp_path / "run")
    demo.main(["--out", out, "--steps", "1", "--noise", "gaussian", *SMOKE])
    args = demo.parse_args(["--out", out, "--noise", "gaussian", *SMOKE])
    gan, _ = demo.build(args, demo.to_unit(load_mnist_or_skip()["train"].images[:300]))
    path = os.path.join(out, runs.CHECKPOINT)
    gan.load_checkpoint(path)
    gan.identity = {}  # what such a checkpoint holds
    gan.save_checkpoint(path)
    runs.write_json(os.path.join(out, "progress.json"), {"noise": "gaussian", "parzen_curve": [], "train_seconds": 1.0,
                                                         "lr_decay": [{"from_step": 0, "factor": 1.000004},
                                                                      {"from_step": 5, "factor": 1.1}]})
    with pytest.raises(runs.RunError, match="--noise gaussian"):
        demo.main(["--out", out, "--steps", "2", "--resume", "--noise", "uniform", *SMOKE[:-1]])
    resumed = demo.main(["--out", out, "--steps", "2", "--resume", *SMOKE[:-1]])
    assert resumed["noise"] == "gaussian" and resumed["steps"] == 2
    assert resumed["lr_decay"] == [{"from_step": 0, "factor": 1.000004}]  # the segment after iteration 1 dropped


@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_dcgan", "train_classifier", "semi_supervised_mnist"])
def test_a_missing_data_dir_is_one_line_naming_it(name, demos, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        runs.run_main(demos[name].main, ["--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "absent")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and f"{tmp_path / 'absent'} is not a folder" in err
    assert not (tmp_path / "run" / LOCK).exists()
