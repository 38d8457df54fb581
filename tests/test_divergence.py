"""Divergence (minigan/gan/divergence.py): a run forced to nan stops with DivergenceError naming
the iteration, the player and the quantity, never saves non-finite values, and resumes from the
last finite checkpoint."""
import numpy
import pytest
from test_algorithm import make

import minigan as mg
from minigan import checkpoint
from minigan.gan import DivergenceError
from minigan.gan.divergence import FiniteWatch


def poison_data(gan, at_call):
    """Make the data sampler return nan on its ``at_call``-th call (1-based), as a corrupt batch would."""
    sample, calls = gan.sample_data, [0]

    def sampler(generator, m):
        calls[0] += 1
        x = sample(generator, m)
        return mg.tensor(numpy.full(x.shape, numpy.nan, dtype=x.dtype)) if calls[0] == at_call else x
    gan.sample_data = sampler


def all_finite(path):
    saved = checkpoint.load(path)
    return all(numpy.isfinite(a).all() for net in ("G", "D") for a in saved[net].values())


def test_nan_data_stops_the_run_and_keeps_the_last_finite_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    gan = make(seed=1)
    poison_data(gan, at_call=4)  # k = 1: one data minibatch per iteration, so iteration 4
    with pytest.raises(DivergenceError, match=r"iteration 4: D's d_loss is not finite") as info:
        gan.train(10, checkpoint_path=path, checkpoint_every=1, progress=False)
    assert (info.value.step, info.value.player, info.value.quantity) == (4, "D", "d_loss")
    assert info.value.checkpoint == str(path) and str(path) in str(info.value)
    assert checkpoint.load(path)["step"] == 3 and all_finite(path)

    resumed = make(seed=1)  # a fresh process: no poisoned batch this time
    assert resumed.load_checkpoint(path) == 3
    metrics = resumed.train(8, checkpoint_path=path, checkpoint_every=1, progress=False)
    assert resumed.step == 8 and all(numpy.isfinite(v) for v in metrics.values())
    assert checkpoint.load(path)["step"] == 8 and all_finite(path)


def test_a_non_finite_parameter_is_caught_before_the_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    gan = make(seed=2)
    first_g = next(iter(gan.G.named_parameters()))[0]

    def break_G(step, metrics):
        if step == 3:  # the losses of iteration 3 were finite; the parameters after it are not
            next(iter(gan.G.parameters())).data[0] = numpy.inf
    with pytest.raises(DivergenceError, match=rf"iteration 3: G's parameter {first_g} is not finite"):
        gan.train(6, on_step=break_G, checkpoint_path=path, checkpoint_every=1, progress=False)
    assert checkpoint.load(path)["step"] == 2 and all_finite(path)


def test_without_checkpoints_the_run_still_reports_divergence_at_the_end():
    gan = make(seed=3)
    poison_data(gan, at_call=2)
    with pytest.raises(DivergenceError, match="iteration 2: D's d_loss") as info:
        gan.train(3, progress=False)
    assert info.value.checkpoint is None and "no checkpoint was written" in str(info.value)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf * 0 in G's backward pass, as intended
def test_a_generator_loss_of_inf_names_G():
    gan = make(seed=4)
    loss = gan.g_loss
    gan.g_loss = lambda out: loss(out) * mg.tensor(numpy.float32(numpy.inf))
    with pytest.raises(DivergenceError, match="iteration 1: G's g_loss"):
        gan.train(1, progress=False)


def test_the_watch_keeps_the_first_finding_on_the_device_and_on_the_host():
    watch = FiniteWatch({"d_loss": "D", "g_loss": "G"})
    watch.observe(1, {"d_loss": numpy.float32(0.5), "g_loss": numpy.array(1.0, dtype=numpy.float32)})
    assert watch.first() is None
    watch.observe(2, {"d_loss": numpy.array(0.5), "g_loss": numpy.array(numpy.nan)})  # arrays: stays on device
    watch.observe(3, {"d_loss": numpy.array(numpy.inf), "g_loss": numpy.array(numpy.nan)})
    watch.observe(4, {"d_loss": float("nan"), "g_loss": 1.0})  # Python floats: checked on the host
    assert watch.first() == (2, "g_loss")
    with pytest.raises(DivergenceError, match="iteration 2: G's g_loss"):
        watch.check()
