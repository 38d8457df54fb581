"""demos/mnist_dcgan_torch.py, the PyTorch reference: minigan's networks and recipe, minigan's scores.

The twins are checked against minigan's models with copied weights (float32 forward in train mode:
sums of up to 6,272 products, so rounding stays near 1e-5 relative; 1e-4 is the tolerance), the
averaged G's batch-norm statistics against minigan.nn.recompute_running_stats on the same z, and
a two-iteration run writes the metrics.json the seeds runner reads.
"""
from __future__ import annotations

import json

import numpy
import pytest

import minigan as mg
from load_script import load_script
from minigan import nn
from minigan.models.classifier import MNISTClassifier, save_classifier
from minigan.models.dcgan import build_dcgan, channels_for
from mnist_or_skip import load_mnist_or_skip

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def reference():
    return load_script("demos/mnist_dcgan_torch.py", "mnist_dcgan_torch_under_test")


@pytest.mark.parametrize("n_classes, width", [(0, 2), (10, 0.5)])
def test_the_twins_are_minigan_s_networks(reference, n_classes, width):
    twins = reference.twins
    G, D = build_dcgan(mg.Generator(0), n_classes=n_classes, width_factor=width)
    G_t, D_t = twins.torch_dcgan(torch, n_classes, channels_for(width))
    for mine, theirs in ((G, G_t), (D, D_t)):
        assert sum(p.numel() for p in theirs.parameters()) == sum(int(p.size) for p in mine.parameters())
        twins.copy_weights(torch, mine, theirs)
    rng = numpy.random.default_rng(1)
    z = rng.standard_normal((6, 100), dtype=numpy.float32)
    y = numpy.array([0, 1, 2, 7, 8, 9])
    ours = G(mg.tensor(z), y)[0] if n_classes else G(mg.tensor(z))
    theirs = G_t((torch.from_numpy(z), torch.from_numpy(y))) if n_classes else G_t(torch.from_numpy(z))
    theirs = theirs[0] if n_classes else theirs
    numpy.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
    x = ours.numpy()
    d_ours = D(mg.tensor(x), y) if n_classes else D(mg.tensor(x))
    d_theirs = D_t((torch.from_numpy(x), torch.from_numpy(y))) if n_classes else D_t(torch.from_numpy(x))
    numpy.testing.assert_allclose(d_ours.numpy(), d_theirs.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_copy_weights_reads_minigan_s_weights_off_the_device(reference, stand_in):
    """A minigan model on CuPy (here the stand-in) reaches its twin by an explicit copy to the host."""
    G, _ = build_dcgan(mg.Generator(0), width_factor=0.5)
    assert G.fc.weight.backend == "cupy"
    G_t, _ = reference.twins.torch_dcgan(torch, 0, 32)
    reference.twins.copy_weights(torch, G, G_t)
    for name, p in G.named_parameters():
        theirs = dict(G_t.named_parameters())[name].detach().numpy()
        numpy.testing.assert_array_equal(theirs, p.numpy().reshape(theirs.shape), err_msg=name)


def test_dcgan_init_torch_draws_as_minigan_does(reference):
    G_t, _ = reference.twins.torch_dcgan(torch)
    torch.manual_seed(0)
    reference.twins.dcgan_init_torch(torch, G_t)
    w = G_t.fc.weight.detach().numpy()
    assert abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001  # 627,200 draws
    assert float(G_t.up1.bias.detach().abs().max()) == 0.0 and abs(float(G_t.bn0.weight.detach().mean()) - 1.0) < 0.002


def test_the_averaged_G_s_statistics_match_minigan_s(reference):
    """The same weights and the same z: PyTorch's cumulative statistics equal recompute_running_stats'."""
    G, _ = build_dcgan(mg.Generator(2), width_factor=0.5)
    G_t, _ = reference.twins.torch_dcgan(torch, 0, 32)
    reference.twins.copy_weights(torch, G, G_t)
    rng = numpy.random.default_rng(3)
    nn.recompute_running_stats(G, [mg.tensor(rng.standard_normal((16, 100), dtype=numpy.float32)) for _ in range(3)])
    averaged = reference.Average(G_t, beta=0.5).model(torch, numpy.random.default_rng(3), 16, False, n_batches=3)
    for name in ("bn0", "bn1"):
        for stat in ("running_mean", "running_var"):
            numpy.testing.assert_allclose(getattr(getattr(G, name), stat).numpy(),
                                          getattr(getattr(averaged, name), stat).numpy(), rtol=1e-4, atol=1e-6,
                                          err_msg=f"{name}.{stat}")
    assert averaged is not G_t and G_t.bn0.momentum == 0.1  # G's own copy untouched


def test_the_average_follows_G(reference):
    G_t, _ = reference.twins.torch_dcgan(torch, 0, 8)
    avg = reference.Average(G_t, beta=0.75)
    before = G_t.up2.weight.detach().clone()
    with torch.no_grad():
        G_t.up2.weight.add_(1.0)
    avg.step()
    i = [name for name, _ in G_t.named_parameters()].index("up2.weight")
    torch.testing.assert_close(avg.average[i], before + 0.25)  # 0.75 theta_0 + 0.25 (theta_0 + 1)
    torch.testing.assert_close(avg.average[i - 1], G_t.bn1.bias.detach())  # a parameter that did not move


def test_a_short_run_writes_the_demo_s_metrics(reference, tmp_path):
    load_mnist_or_skip()
    clf = str(tmp_path / "clf.npz")
    save_classifier(clf, MNISTClassifier(generator=mg.Generator(0)), test_acc=0.1)
    out = tmp_path / "run"
    m = reference.main(["--out", str(out), "--steps", "2", "--subset", "128", "--m", "8", "--n-eval", "40",
                        "--average-G", "0.5", "--real-label", "0.9", "--lr-G", "1e-4", "--bn-batches", "2",
                        "--classifier", clf])
    assert (m["steps"], m["real_label"], m["lr_G"], m["average_G"]) == (2, 0.9, 1e-4, 0.5)
    assert set(m["scores"]["candidates"]) == {"last iterate", "average of G, beta 0.5"}
    runner = load_script("demos/mnist_dcgan_seeds.py", "mnist_dcgan_seeds_for_torch")
    row = runner.seed_row(str(out))  # the seeds runner reads it as it reads minigan's
    assert row["samples_npy_matches"] and row["frechet_distance"] == m["scores"]["samples"]["frechet_distance"]
    assert json.loads((out / "metrics.json").read_text())["backend"].startswith("torch")
