"""minigan/runs: the demos' command line, one run per folder, the run's identity, the deadline, provenance."""
import argparse
import json
import os
import subprocess
import sys

import numpy
import pytest

import minigan as mg
from minigan import checkpoint, nn, optim, runs
from minigan.animate import training_gif
from minigan.data import toy
from minigan.gan.algorithm import GAN
from minigan.gan.divergence import DivergenceError
from minigan.runs.folder import LOCK


# -- value checks --------------------------------------------------------------------------------
@pytest.mark.parametrize("check, bad", [
    (runs.positive(int), ["0", "-1", "1.5", "x", ""]),
    (runs.positive(float), ["0", "-1", "nan", "inf", "-inf", "x"]),
    (runs.at_least(0), ["-1", "x", "nan"]),
    (runs.at_least(1.0, float), ["0.999", "inf", "nan"]),
    (runs.finite_float, ["inf", "nan", "x"]),
    (runs.unit_interval, ["1", "1.0", "-0.1", "nan", "x"]),
])
def test_value_checks_refuse_bad_values_with_what_was_expected(check, bad):
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=f"expected .*got {text!r}"):
            check(text)


def test_value_checks_accept_their_range():
    assert runs.positive(int)("3") == 3 and runs.positive(float)("1e-3") == 1e-3
    assert runs.at_least(0)("0") == 0 and runs.at_least(1.0, float)("1") == 1.0
    assert runs.unit_interval("0") == 0.0 and runs.unit_interval("0.9999") == 0.9999


def test_demo_parser_shares_flags_aliases_m_shows_defaults_and_records_what_was_given(capsys):
    ap = runs.demo_parser("A demo.\n\nMore.", example="python3 demos/x.py --out runs/x", steps=7, batch_size=5)
    args = runs.parse_explicit(ap, ["--out", "o", "--m", "4", "--seed=2"])
    assert (args.m, args.seed, args.steps, args.backend) == (4, 2, 7, "numpy")
    assert args.explicit == {"out", "m", "seed"}
    assert runs.parse_explicit(ap, ["--out", "o", "--batch-size", "9"]).m == 9
    with pytest.raises(SystemExit):
        ap.parse_args(["--out", "o", "--bat", "3"])  # no abbreviations: "given" must be exact
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        ap.parse_args(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "default: 7" in text and "python3 demos/x.py --out runs/x" in text and "--batch-size M, --m M" in text


def test_run_main_turns_a_run_error_into_one_line_and_status_2(capsys):
    def main(argv):
        raise runs.RunError("OUT is busy")

    with pytest.raises(SystemExit) as stop:
        runs.run_main(main, [])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip().endswith("error: OUT is busy")
    with pytest.raises(KeyError):  # a bug is not a usage error: it keeps its traceback
        runs.run_main(lambda argv: {}["x"], [])

    def damaged(argv):
        raise checkpoint.CheckpointError("runs/x/checkpoint.npz: truncated zip file")

    with pytest.raises(SystemExit) as stop:
        runs.run_main(damaged, [])
    assert stop.value.code == 2 and "error: runs/x/checkpoint.npz: truncated" in capsys.readouterr().err

    def diverged(argv):
        raise DivergenceError(412, "D", "d_loss", checkpoint="runs/x/checkpoint.npz")

    with pytest.raises(SystemExit) as stop:
        runs.run_main(diverged, [])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.count("\n") == 1
    assert "iteration 412" in err and "runs/x/checkpoint.npz" in err and "--resume" in err


# -- one run per folder ----------------------------------------------------------------------------
def test_a_folder_holding_a_run_needs_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    with runs.RunFolder(out, "demo") as run:
        assert (out / LOCK).read_text().strip() == str(os.getpid())
        runs.write_json(run.path("metrics.json"), {"x": 1})
        (out / runs.CHECKPOINT).write_bytes(b"...")
    assert not (out / LOCK).exists()  # released on leaving
    with pytest.raises(runs.RunError, match="already holds a run .*checkpoint.npz, metrics.json.*--resume"):
        runs.RunFolder(out, "demo").__enter__()
    assert not (out / LOCK).exists()  # a refused run leaves no lock behind
    with runs.RunFolder(out, "demo", resume=True):
        assert (out / "metrics.json").exists()
    with runs.RunFolder(out, "demo", overwrite=True):
        assert not (out / "metrics.json").exists() and not (out / runs.CHECKPOINT).exists()
    with pytest.raises(runs.RunError, match="give one"):
        runs.RunFolder(out, "demo", resume=True, overwrite=True)
    (out / "metrics.json").write_text("{}")
    with pytest.raises(runs.RunError, match="keeps no checkpoint.*--overwrite"):
        runs.RunFolder(out, "demo", resume=True, resumable=False).__enter__()


def test_an_out_that_cannot_be_a_folder_is_a_run_error(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(runs.RunError, match="--out .*a_file: cannot use it"):
        runs.RunFolder(tmp_path / "a_file", "demo").__enter__()
    with pytest.raises(runs.RunError, match="--out must name a folder"):
        runs.RunFolder("", "demo").__enter__()


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with runs.RunFolder(tmp_path, "demo"):
            raise ZeroDivisionError("a run that fails half-way")
    assert not (tmp_path / LOCK).exists()


def test_a_live_owner_keeps_the_folder_and_a_dead_one_loses_it(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK).write_text(f"{sleeper.pid}\n")
        with pytest.raises(runs.RunError, match=f"in use by another run \\(pid {sleeper.pid}"):
            runs.RunFolder(tmp_path, "demo").__enter__()
        assert (tmp_path / LOCK).read_text().strip() == str(sleeper.pid)  # the owner's lock is untouched
    finally:
        sleeper.kill()
        sleeper.wait()
    with pytest.warns(UserWarning, match=f"taking over .*pid {sleeper.pid}"):
        with runs.RunFolder(tmp_path, "demo"):
            assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
    (tmp_path / LOCK).write_text("")  # a run killed while writing its pid
    with pytest.warns(UserWarning, match="taking over"):
        with runs.RunFolder(tmp_path, "demo"):
            pass


def test_resume_reads_the_older_checkpoint_name(tmp_path):
    (tmp_path / "ckpt.npz").write_bytes(b"old")
    with runs.RunFolder(tmp_path, "demo", resume=True, legacy=("ckpt.npz",)) as run:
        assert run.checkpoint == str(tmp_path / "ckpt.npz")
    with pytest.raises(runs.RunError, match="ckpt.npz"):  # it also marks the folder as used
        runs.RunFolder(tmp_path, "demo", legacy=("ckpt.npz",)).__enter__()


def test_write_json_leaves_no_temporary_and_replaces_atomically(tmp_path):
    path = str(tmp_path / "progress.json")
    runs.write_json(path, {"a": 1})
    runs.write_json(path, {"a": 2})
    assert json.loads(open(path).read()) == {"a": 2}
    assert os.listdir(tmp_path) == ["progress.json"]
    with pytest.raises(TypeError):
        runs.write_json(path, {"a": object()})
    assert os.listdir(tmp_path) == ["progress.json"] and json.loads(open(path).read()) == {"a": 2}
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale, live = f"{path}.{int(dead.stdout)}.ab12cd34.tmp", f"{path}.{sleeper.pid}.ab12cd34.tmp"
        other = f"other.json.{int(dead.stdout)}.ab12cd34.tmp"
        for name in (stale, live, str(tmp_path / other)):
            open(name, "w").write("{")  # half-written by a killed writer, one still writing, another file's
        runs.write_json(path, {"a": 3})
        assert sorted(os.listdir(tmp_path)) == sorted(["progress.json", os.path.basename(live), other])
    finally:
        sleeper.kill()
        sleeper.wait()


# -- identity ----------------------------------------------------------------------------------
def tiny_gan(identity=None):
    gen = mg.Generator(0)
    G, D = nn.Linear(1, 1, generator=gen), nn.Linear(1, 1, generator=gen)
    return GAN(G, D, optim.SGD(D.parameters(), lr=0.1), optim.SGD(G.parameters(), lr=0.1), toy.NormalNoise(1),
               toy.Gaussian(0.0, 1.0), generator=gen, k=1, m=4, identity=identity)


def test_the_checkpoint_carries_the_runs_identity(tmp_path):
    path = str(tmp_path / runs.CHECKPOINT)
    gan = tiny_gan({"noise": "gaussian", "m": 4, "average_G": [{"beta": 0.9, "from_step": 0}]})
    gan.train(2, checkpoint_path=path, progress=False)
    assert runs.saved_identity(path) == {"noise": "gaussian", "m": 4, "average_G": [{"beta": 0.9, "from_step": 0}]}
    tiny_gan().save_checkpoint(path)
    assert runs.saved_identity(path) == {}
    assert tiny_gan().load_checkpoint(path) == 0


def test_resolve_identity_keeps_the_saved_settings_and_refuses_a_contradicting_flag():
    ap = runs.demo_parser("d", example="e", steps=1, batch_size=8)
    ap.add_argument("--noise", default="uniform")
    saved = {"seed": 3, "m": 16, "noise": "gaussian"}
    args = runs.parse_explicit(ap, ["--out", "o"])
    assert runs.resolve_identity(args, saved, ("seed", "m", "noise")) == saved
    assert (args.seed, args.m, args.noise) == (3, 16, "gaussian")
    args = runs.parse_explicit(ap, ["--out", "o", "--m", "16", "--steps", "9"])  # agreeing flags are fine
    assert runs.resolve_identity(args, saved, ("seed", "m", "noise"))["m"] == 16
    for argv, message in ((["--m", "8"], "--batch-size 16; resuming it with 8"),
                          (["--seed", "0"], "--seed 3"), (["--noise", "uniform"], "--noise gaussian")):
        with pytest.raises(runs.RunError, match=message):
            runs.resolve_identity(runs.parse_explicit(ap, ["--out", "o", *argv]), saved, ("seed", "m", "noise"))
    new = runs.parse_explicit(ap, ["--out", "o", "--m", "8"])
    assert runs.resolve_identity(new, {}, ("seed", "m")) == {"seed": 0, "m": 8}  # a new run: the flags


# -- deadline, provenance, GIF ----------------------------------------------------------------------
def test_deadline_stops_at_the_first_iteration_past_the_budget():
    now = [100.0]
    deadline = runs.Deadline(0.5, clock=lambda: now[0])  # 30 s
    deadline.check(1)
    now[0] = 129.9
    deadline.check(2)
    now[0] = 130.0
    with pytest.raises(runs.OutOfTime) as stop:
        deadline.check(3)
    assert stop.value.step == 3 and "0.5 min" in str(stop.value)
    runs.Deadline(None).check(10**9)  # no budget: never stops


def test_train_with_a_deadline_stops_at_once(tmp_path):
    gan, deadline = tiny_gan(), runs.Deadline(0.0)
    with pytest.raises(runs.OutOfTime):
        gan.train(1000, on_step=deadline.check, progress=False)
    assert gan.step == 1


def test_provenance_records_versions_commit_flags_and_command():
    ap = runs.demo_parser("d", example="e", steps=1, batch_size=8)
    args = runs.parse_explicit(ap, ["--out", "o", "--m", "3"])
    p = runs.provenance(args, ["--out", "o", "--m", "3"])
    assert p["minigan"] == mg.__version__ and p["numpy"] == numpy.__version__
    assert p["command"][1:] == ["--out", "o", "--m", "3"]
    assert p["hyperparameters"]["m"] == 3 and p["hyperparameters"]["steps"] == 1
    assert p["flags_given"] == ["m", "out"]
    assert p["git_commit"] is None or len(p["git_commit"].split("+")[0]) == 40
    json.dumps(p)  # metrics.json can hold it


def test_training_gif_has_one_frame_per_snapshot(tmp_path):
    from PIL import Image

    frames = [numpy.linspace(0, 1, 5) * k for k in range(4)]
    path = training_gif(str(tmp_path / "t.gif"), frames, lambda ax, f: ax.plot(f), figsize=(2, 2), dpi=30)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 4
    with pytest.raises(ValueError, match="no frames"):
        training_gif(str(tmp_path / "e.gif"), [], lambda ax, f: None)
