"""Checkpoints: exact round trips of every kind of object, exact resume of an Algorithm-1 run,
and every way a file can be bad (each a CheckpointError naming the file and the problem)."""
import json
import os
import pathlib
import zipfile

import numpy
import pytest

import minigan
import minigan.functional as F
from minigan import backend, checkpoint, nn, optim
from minigan.checkpoint import CheckpointError
from minigan.data import toy
from minigan.gan.algorithm import GAN

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def assert_same(a, b, where="state"):
    """Deep equality with exact arrays (values, dtype, shape) and exact Python types."""
    if isinstance(a, numpy.ndarray) or backend.is_cupy_array(a):
        a, b = backend.as_numpy(a), backend.as_numpy(b)
        assert isinstance(b, numpy.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        numpy.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} vs {b!r}"


def trained_objects(seed=0):
    """A module with buffers, two optimizers with state, schedules, and random generators, all used."""
    gen = minigan.Generator(seed)
    net = nn.Sequential(nn.Linear(3, 4, generator=gen), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1, generator=gen))
    params = list(net.parameters())
    sgd = optim.SGD(params[:2], lr=0.1, momentum=0.5, nesterov=True)
    adam = optim.Adam(params[2:], lr=1e-3, betas=(0.5, 0.999))
    lr_s, mom_s = optim.paper_mnist_schedules(sgd, updates_per_epoch=2)
    for _ in range(3):
        x = gen.normal((8, 3))
        sgd.zero_grad()
        adam.zero_grad()
        (net(x) ** 2).mean().backward()
        sgd.step()
        adam.step()
        lr_s.step()
        mom_s.step()
    np_gen = numpy.random.default_rng(seed)
    np_gen.normal(size=5)
    legacy = numpy.random.RandomState(seed)
    legacy.normal(size=3)  # leaves a cached Gaussian in its state
    return dict(G=net, opt_sgd=sgd, opt_adam=adam, lr_s=lr_s, mom_s=mom_s, rng=gen, np_rng=np_gen, legacy=legacy)


CONFIG = {
    "k": 1, "batch_size": 100, "loss": "non-saturating", "betas": (0.5, 0.999), "nested": {"a": [1, 2.5, None]},
    "flag": True, "none": None, "inf": float("inf"), "nan": float("nan"), "big": 2**100, "neg_zero": -0.0,
    "by_index": {0: "first", 1: "second"}, "fixed_z": numpy.arange(6, dtype=numpy.float32).reshape(2, 3),
    "scalar": numpy.float16(1.5), "text": "z ~ N(0, I) ✓",
}


def test_round_trip_of_every_kind_of_object_is_exact(tmp_path):
    objs = trained_objects(0)
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, step=123, config=CONFIG, **objs)

    # load(): the saved states and values, exactly
    loaded = checkpoint.load(path)
    assert loaded["step"] == 123 and type(loaded["step"]) is int
    assert_same(CONFIG, loaded["config"], "config")
    assert_same(dict(objs["G"].state_dict()), loaded["G"], "G")
    for name in ("opt_sgd", "opt_adam", "lr_s", "mom_s", "rng"):
        assert_same(objs[name].state_dict(), loaded[name], name)
    assert loaded["np_rng"] == objs["np_rng"].bit_generator.state

    # restore(): into fresh objects made differently; they end up identical
    fresh = trained_objects(seed=99)
    rest = checkpoint.restore(path, **fresh)
    assert list(rest) == ["step", "config"]
    assert_same(dict(objs["G"].state_dict()), dict(fresh["G"].state_dict()), "G")
    for name in ("opt_sgd", "opt_adam", "lr_s", "mom_s", "rng"):
        assert_same(objs[name].state_dict(), fresh[name].state_dict(), name)
    assert (fresh["opt_sgd"].lr, fresh["opt_sgd"].momentum) == (objs["opt_sgd"].lr, objs["opt_sgd"].momentum)
    # the random generators continue with the same numbers
    numpy.testing.assert_array_equal(objs["rng"].normal((4,)).numpy(), fresh["rng"].normal((4,)).numpy())
    numpy.testing.assert_array_equal(objs["np_rng"].random(4), fresh["np_rng"].random(4))
    numpy.testing.assert_array_equal(objs["legacy"].normal(size=4), fresh["legacy"].normal(size=4))


def test_file_is_a_plain_npz_with_namespaced_keys(tmp_path):
    net = nn.Sequential(nn.Linear(2, 3, generator=minigan.Generator(0)))
    path = tmp_path / "c.npz"
    checkpoint.save(path, G=net, step=1)
    with numpy.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"G/0.weight", "G/0.bias", checkpoint.HEADER_KEY}
        numpy.testing.assert_array_equal(npz["G/0.weight"], net[0].weight.numpy())
        header = json.loads(npz[checkpoint.HEADER_KEY].tobytes())
    assert header["format"] == "minigan-checkpoint" and header["version"] == 1
    assert header["objects"]["step"] == {"kind": "value", "type": "builtins.int", "state": 1}
    assert header["objects"]["G"]["state"]["0.weight"] == {"__minigan__": "array", "key": "G/0.weight"}
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left behind


def test_names_path_and_objects_are_ordinary_object_names(tmp_path):
    checkpoint.save(tmp_path / "c.npz", path="run-1", objects=[1, 2])
    assert checkpoint.restore(tmp_path / "c.npz") == {"path": "run-1", "objects": [1, 2]}


def test_save_into_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*nowhere does not exist"):
        checkpoint.save(tmp_path / "nowhere" / "c.npz", step=1)


def test_saving_again_replaces_the_file(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, step=1)
    checkpoint.save(str(path), step=2)
    assert checkpoint.load(path) == {"step": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_arrays_are_restored_onto_the_backend_of_the_target(tmp_path, xp_backend):
    net = nn.Linear(3, 2, generator=minigan.Generator(0))
    opt = optim.Adam(net.parameters(), lr=0.1)
    (net(minigan.Generator(1).normal((4, 3))) ** 2).sum().backward()
    opt.step()
    checkpoint.save(tmp_path / "c.npz", G=net, opt=opt)
    net2 = nn.Linear(3, 2, generator=minigan.Generator(5))
    opt2 = optim.Adam(net2.parameters(), lr=0.1)
    checkpoint.restore(tmp_path / "c.npz", G=net2, opt=opt2)
    xp = backend.array_module(net2.weight.data)
    assert net2.weight.backend == xp_backend
    assert backend.array_module(opt2.state[0]["exp_avg"]) is xp
    numpy.testing.assert_array_equal(net2.weight.numpy(), net.weight.numpy())
    numpy.testing.assert_array_equal(
        backend.as_numpy(opt2.state[1]["exp_avg_sq"]), backend.as_numpy(opt.state[1]["exp_avg_sq"])
    )


# -- exact resume of Algorithm 1 ------------------------------------------------------------------
def make_gan(seed):
    gen = minigan.Generator(seed)
    G = nn.Sequential(nn.Linear(2, 16, generator=gen), nn.ReLU(), nn.Linear(16, 2, generator=gen))
    D = nn.Sequential(nn.Linear(2, 16, generator=gen), nn.LeakyReLU(0.2), nn.Linear(16, 1, generator=gen))
    opt_D = optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    opt_G = optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    lr_D, mom_D = optim.paper_mnist_schedules(opt_D, updates_per_epoch=4)
    return dict(G=G, D=D, opt_G=opt_G, opt_D=opt_D, lr_D=lr_D, mom_D=mom_D, rng=gen)


def algorithm1(objs, start, stop, k=1, m=16):
    """Algorithm 1 of the GAN paper: k steps on D, one on G (non-saturating), noise from the run's Generator."""
    G, D, opt_G, opt_D, rng = objs["G"], objs["D"], objs["opt_G"], objs["opt_D"], objs["rng"]
    for _ in range(start, stop):
        for _ in range(k):
            x = rng.normal((m, 2), mean=3.0, std=0.5)  # p_data: a Gaussian blob
            z = rng.normal((m, 2))
            opt_D.zero_grad()
            loss_D = (F.binary_cross_entropy_with_logits(D(x), 1.0)
                      + F.binary_cross_entropy_with_logits(D(G(z).detach()), 0.0))
            loss_D.backward()
            opt_D.step()
            objs["lr_D"].step()
            objs["mom_D"].step()
        z = rng.normal((m, 2))
        opt_G.zero_grad()
        F.binary_cross_entropy_with_logits(D(G(z)), 1.0).backward()
        opt_G.step()
    return stop


def test_algorithm1_resumes_exactly_from_a_checkpoint(tmp_path):
    straight = make_gan(0)
    algorithm1(straight, 0, 20)

    first = make_gan(0)
    step = algorithm1(first, 0, 9)
    checkpoint.save(tmp_path / "run.npz", step=step, config={"k": 1, "m": 16}, **first)
    del first  # a new process: everything rebuilt from scratch, with other initial weights

    second = make_gan(seed=12345)
    rest = checkpoint.restore(tmp_path / "run.npz", **second)
    assert rest == {"step": 9, "config": {"k": 1, "m": 16}}
    algorithm1(second, rest["step"], 20)

    for name in ("G", "D"):
        for (pname, a), (_, b) in zip(straight[name].named_parameters(), second[name].named_parameters()):
            numpy.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{name}.{pname}")
    assert second["opt_D"].lr == straight["opt_D"].lr and second["opt_D"].momentum == straight["opt_D"].momentum
    assert not numpy.array_equal(make_gan(0)["G"][0].weight.numpy(), second["G"][0].weight.numpy())  # it trained


# -- bad files ------------------------------------------------------------------------------------
@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.npz"
    checkpoint.save(path, G=nn.Linear(20, 30, generator=minigan.Generator(0)), step=5)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.npz: no such checkpoint file"):
        checkpoint.load(tmp_path / "nope.npz")


def test_directory_and_empty_file(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        checkpoint.load(tmp_path)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.npz: the file is empty"):
        checkpoint.load(tmp_path / "empty.npz")


@pytest.mark.parametrize("fraction", [0.9, 0.5, 0.02])
def test_truncated_file(good_file, fraction):
    data = good_file.read_bytes()
    good_file.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match=r"good\.npz: truncated or corrupt checkpoint"):
        checkpoint.load(good_file)


def test_flipped_bytes_inside_an_array_are_caught_by_the_zip_crc(good_file):
    data = bytearray(good_file.read_bytes())
    data[600:610] = bytes(b ^ 0xFF for b in data[600:610])  # inside G/weight's data
    good_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"good\.npz: truncated or corrupt checkpoint .*CRC"):
        checkpoint.load(good_file)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(numpy.random.default_rng(0).bytes(5000))
    with pytest.raises(CheckpointError, match=r"noise\.npz: not a minigan checkpoint: an \.npz is a zip archive"):
        checkpoint.load(path)


def test_foreign_npz_without_header(tmp_path):
    path = tmp_path / "foreign.npz"
    numpy.savez(path, weights=numpy.ones(3))
    with pytest.raises(CheckpointError, match=r"foreign\.npz: not a minigan checkpoint: the \.npz has no"):
        checkpoint.load(path)


def test_wrong_format_version(tmp_path, monkeypatch):
    path = tmp_path / "future.npz"
    monkeypatch.setattr(checkpoint, "VERSION", 2)
    checkpoint.save(path, step=1)
    monkeypatch.undo()
    expected = r"future\.npz: checkpoint format version 2; this minigan reads version 1 only"
    with pytest.raises(CheckpointError, match=expected):
        checkpoint.load(path)


def write_npz_with_header(path, header, **arrays):
    raw = numpy.frombuffer(json.dumps(header).encode(), dtype=numpy.uint8)
    numpy.savez(path, **{checkpoint.HEADER_KEY: raw}, **arrays)


def test_header_that_does_not_parse_or_points_nowhere(tmp_path):
    path = tmp_path / "bad.npz"
    numpy.savez(path, **{checkpoint.HEADER_KEY: numpy.frombuffer(b"{not json", dtype=numpy.uint8)})
    with pytest.raises(CheckpointError, match=r"bad\.npz: corrupt checkpoint: the JSON header does not parse"):
        checkpoint.load(path)
    header = {"format": "minigan-checkpoint", "version": 1,
              "objects": {"x": {"kind": "value", "state": {"__minigan__": "array", "key": "x"}}}}
    write_npz_with_header(path, header)
    with pytest.raises(CheckpointError, match=r"bad\.npz: corrupt checkpoint header .*refers to array 'x'"):
        checkpoint.load(path)


class _Tripwire:
    """Unpickling this would create a file: proof that code in a checkpoint ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_object_array_is_refused_without_running_its_pickle(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.npz"
    header = {"format": "minigan-checkpoint", "version": 1,
              "objects": {"x": {"kind": "value", "state": {"__minigan__": "array", "key": "x"}}}}
    payload = numpy.empty(1, dtype=object)
    payload[0] = _Tripwire(str(marker))
    write_npz_with_header(path, header, x=payload)
    with zipfile.ZipFile(path) as zf:  # the file really does hold a pickle
        assert b"touch" in zf.read("x.npy")
    with pytest.raises(CheckpointError, match=r"evil\.npz: entry 'x' is an object array, which only pickle can load"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="object array"):
        checkpoint.restore(path)
    assert not marker.exists()


def test_a_crash_during_save_leaves_the_previous_file_intact(good_file, monkeypatch):
    before = good_file.read_bytes()

    def crash_mid_write(f, arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpoint, "_write_npz", crash_mid_write)
    with pytest.raises(OSError, match="simulated"):
        checkpoint.save(good_file, G=nn.Linear(20, 30, generator=minigan.Generator(1)), step=6)
    assert good_file.read_bytes() == before
    assert sorted(p.name for p in good_file.parent.iterdir()) == ["good.npz"]  # temporary file removed
    assert checkpoint.load(good_file)["step"] == 5


def test_a_crash_at_the_rename_leaves_the_previous_file_intact(good_file, monkeypatch):
    before = good_file.read_bytes()

    def failing_replace(src, dst):
        raise KeyboardInterrupt  # the user pressed Ctrl-C at the worst moment

    monkeypatch.setattr(checkpoint.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(good_file, step=6)
    monkeypatch.undo()
    assert good_file.read_bytes() == before
    assert sorted(p.name for p in good_file.parent.iterdir()) == ["good.npz"]


def test_save_fsyncs_file_and_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    checkpoint.save(tmp_path / "c.npz", step=1)
    assert len(synced) == (2 if os.name == "posix" else 1)


# -- save and restore errors ----------------------------------------------------------------------
def test_save_refuses_what_it_cannot_store(tmp_path):
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError, match="config/w is a minigan Tensor"):
        checkpoint.save(path, config={"w": minigan.tensor([1.0])})
    with pytest.raises(TypeError, match=r"config/0 is a builtins\.object"):
        checkpoint.save(path, config=[object()])
    with pytest.raises(TypeError, match="x is an object array"):
        checkpoint.save(path, x=numpy.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="reserved"):
        checkpoint.save(path, **{"__minigan_checkpoint__": 1})
    with pytest.raises(ValueError, match="nothing to save"):
        checkpoint.save(path)
    assert not path.exists()


def test_restore_errors_and_all_or_nothing(good_file):
    expected = r"no object\(s\) named \['D'\] in the checkpoint; it holds \['G', 'step'\]"
    with pytest.raises(CheckpointError, match=expected):
        checkpoint.restore(good_file, D=nn.Linear(20, 30))
    with pytest.raises(CheckpointError, match="'step' was saved as a plain value"):
        checkpoint.restore(good_file, step=nn.Linear(20, 30))
    with pytest.raises(CheckpointError, match="cannot load it into a numpy.random"):
        checkpoint.restore(good_file, G=numpy.random.default_rng(0))

    # G fits, H does not: G must be left as it was.
    path = good_file.parent / "two.npz"
    checkpoint.save(path, G=nn.Linear(20, 30, generator=minigan.Generator(0)),
                    H=nn.Linear(2, 3, generator=minigan.Generator(0)))
    G, H = nn.Linear(20, 30, generator=minigan.Generator(7)), nn.Linear(2, 4, generator=minigan.Generator(7))
    G_before = G.weight.numpy().copy()
    expected = r"(?s)cannot restore 'H' into Linear .*shape \(3, 2\) in state, \(4, 2\)"
    with pytest.raises(CheckpointError, match=expected):
        checkpoint.restore(path, G=G, H=H)
    numpy.testing.assert_array_equal(G.weight.numpy(), G_before)


def _trained_gan(seed=0):
    gen = minigan.Generator(seed)
    G = nn.Sequential(nn.Linear(2, 8, generator=gen), nn.ReLU(), nn.Linear(8, 2, generator=gen))
    D = nn.Sequential(nn.Linear(2, 8, generator=gen), nn.LeakyReLU(0.2), nn.Linear(8, 1, generator=gen))
    opt_D = optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_G = optim.SGD(G.parameters(), lr=0.05, momentum=0.5)
    return GAN(G, D, opt_D, opt_G, toy.NormalNoise(2), toy.ring(), generator=gen, m=8,
               averages=[optim.ExponentialMovingAverage(opt_G, 0.9)])


@pytest.mark.parametrize("direction", ["save here, load on numpy", "save on numpy, load here"])
def test_a_checkpoint_moves_between_backends(tmp_path, xp_backend, direction):
    """Saved on one backend, loaded on the other: the same numbers, on the loading side's backend."""
    path = tmp_path / "run.npz"
    here = xp_backend
    save_on, load_on = (here, "numpy") if direction.startswith("save here") else ("numpy", here)
    with minigan.backend_scope(save_on):
        saved = _trained_gan()
        saved.train(3, checkpoint_path=path, progress=False)
    with minigan.backend_scope(load_on):
        loaded = _trained_gan(seed=1)
        assert loaded.load_checkpoint(path) == 3
        for a, b in zip(saved.G.parameters(), loaded.G.parameters()):
            assert b.backend == load_on
            numpy.testing.assert_array_equal(a.numpy(), b.numpy())
        for a, b in zip(saved.averages[0].average, loaded.averages[0].average):
            assert backend.backend_of(b) == load_on
            numpy.testing.assert_array_equal(backend.as_numpy(a), backend.as_numpy(b))
        loaded.train(5, progress=False)  # optimizer state and the average were placed where training runs
        assert all(p.backend == load_on for p in loaded.D.parameters())
