"""Checkpoints under faults: a save killed with SIGKILL, deep nesting, a directory that cannot be fsynced."""
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy
import pytest

from minigan import checkpoint
from minigan.checkpoint import CheckpointError
from minigan.data.safe_unpickle import UnsafePickleError, load_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A child that saves ``ckpt.npz`` over and over (8 MB each, so a kill often lands mid-write);
# with "pause" it stops inside its first write, after the data is in the temporary file.
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import numpy
    from minigan import checkpoint
    path, mode = sys.argv[2], sys.argv[3]
    if mode == "pause":
        write = checkpoint._write_npz
        def paused(f, arrays):
            write(f, arrays)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
        checkpoint._write_npz = paused
    payload = numpy.zeros(2_000_000, dtype=numpy.float32)
    step = 0
    print("started", flush=True)
    while True:
        step += 1
        payload[:] = step  # the array and the step counter must agree in whatever file is loaded
        checkpoint.save(path, step=step, payload=payload)
""")


def start_child(tmp_path, mode):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen([sys.executable, str(script), ROOT, str(tmp_path / "ckpt.npz"), mode],
                            stdout=subprocess.PIPE, text=True)


def temporaries(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(".ckpt.npz.") and n.endswith(".tmp"))


def test_a_save_killed_mid_write_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    child = start_child(tmp_path, "pause")
    try:
        assert child.stdout.readline() == "started\n"
        assert child.stdout.readline() == "writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    left = temporaries(tmp_path)
    assert len(left) == 1 and f".{child.pid}." in left[0]
    assert not (tmp_path / "ckpt.npz").exists()  # the name never pointed at the unfinished file
    checkpoint.save(tmp_path / "ckpt.npz", step=0)
    assert temporaries(tmp_path) == []
    assert checkpoint.load(tmp_path / "ckpt.npz")["step"] == 0


def test_a_temporary_of_a_running_writer_is_left_alone(tmp_path):
    alive = tmp_path / f".ckpt.npz.{os.getppid()}.{'a' * 12}.tmp"  # our parent process is running
    other_target = tmp_path / f".other.npz.999999999.{'b' * 12}.tmp"  # another target's file
    alive.write_bytes(b"partial")
    other_target.write_bytes(b"partial")
    checkpoint.save(tmp_path / "ckpt.npz", step=1)
    assert alive.exists() and other_target.exists()


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4])
def test_sigkill_at_any_moment_leaves_the_old_or_the_new_checkpoint_then_resume_works(tmp_path, delay):
    child = start_child(tmp_path, "loop")
    try:
        assert child.stdout.readline() == "started\n"
        deadline = time.time() + 30
        while not (tmp_path / "ckpt.npz").exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    saved = checkpoint.load(tmp_path / "ckpt.npz")
    assert saved["step"] >= 1
    numpy.testing.assert_array_equal(saved["payload"][[0, -1]], [saved["step"]] * 2)
    checkpoint.save(tmp_path / "ckpt.npz", step=saved["step"] + 1, payload=saved["payload"])  # the resumed run
    assert checkpoint.load(tmp_path / "ckpt.npz")["step"] == saved["step"] + 1
    assert temporaries(tmp_path) == []


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def test_saving_a_deeply_nested_value_is_a_checkpoint_error_not_a_recursion_error(tmp_path):
    with pytest.raises(CheckpointError, match=f"nested more than {checkpoint.MAX_DEPTH} levels"):
        checkpoint.save(tmp_path / "c.npz", config=nested(10_000))
    checkpoint.save(tmp_path / "c.npz", config=nested(50))  # a reasonable depth still works
    assert checkpoint.load(tmp_path / "c.npz")["config"] == nested(50)


def write_header(path, text):
    """A checkpoint whose JSON header is ``text`` (written as checkpoint.save would)."""
    checkpoint._write_npz(open(path, "wb"), {
        checkpoint.HEADER_KEY: numpy.frombuffer(text.encode(), dtype=numpy.uint8)})


@pytest.mark.parametrize("depth", [150, 100_000])
def test_loading_a_deeply_nested_header_is_a_checkpoint_error(tmp_path, depth):
    # 150: JSON parses, the decoder's own limit refuses it; 100,000: JSON's parser itself recurses too deep
    header = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "objects": {}}
    text = json.dumps(header)[:-2] + '"config": {"kind": "value", "state": ' + "[" * depth + "]" * depth + "}}}"
    path = tmp_path / "deep.npz"
    write_header(path, text)
    # matched on the reason, not on "nest" alone: tmp_path, which the message names, holds "nested"
    with pytest.raises(CheckpointError, match="nests too deeply|nested more than"):
        checkpoint.load(path)


def test_a_deeply_nested_pickle_is_an_unsafe_pickle_error():
    deep = pickle.dumps(nested(300), protocol=2)
    with pytest.raises(UnsafePickleError, match="nested more than 100 levels"):
        load_arrays(io.BytesIO(deep))
    very_deep = b"\x80\x02" + b"(" * 200_000 + b"t" * 200_000 + b"."  # tuples 200,000 deep, as opcodes
    with pytest.raises(UnsafePickleError):
        load_arrays(io.BytesIO(very_deep))


def test_a_directory_that_cannot_be_fsynced_is_a_warning_after_a_complete_write(tmp_path, monkeypatch):
    real_open = os.open
    folder = str(tmp_path)

    def refuse_directory(path, flags, *args, **kw):
        if os.fspath(path) == folder:  # as for a directory that is writable but not readable
            raise PermissionError(13, "Permission denied", folder)
        return real_open(path, flags, *args, **kw)
    monkeypatch.setattr(os, "open", refuse_directory)
    with pytest.warns(RuntimeWarning, match="was written, but directory .* could not be fsynced"):
        checkpoint.save(tmp_path / "c.npz", step=7)
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "c.npz")["step"] == 7
