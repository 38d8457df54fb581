"""Algorithm 1 of Goodfellow et al. (2014): minibatch stochastic gradient training of a GAN.

The paper's pseudocode, which ``GAN.train_step`` follows line by line:

    for number of training iterations do
        for k steps do
            Sample minibatch of m noise samples {z(1), ..., z(m)} from noise prior p_g(z).
            Sample minibatch of m examples {x(1), ..., x(m)} from data generating distribution p_data(x).
            Update the discriminator by ascending its stochastic gradient:
                grad_{theta_d} 1/m sum_i [ log D(x(i)) + log(1 - D(G(z(i)))) ].
        end for
        Sample minibatch of m noise samples {z(1), ..., z(m)} from noise prior p_g(z).
        Update the generator by descending its stochastic gradient:
            grad_{theta_g} 1/m sum_i log(1 - D(G(z(i)))).
    end for
    The gradient-based updates can use any standard gradient-based learning rule.
    We used momentum in our experiments.

"Ascending V" for D is descending ``losses.d_loss`` (= -V). G's loss is chosen by name:
"saturating" is the line above; the paper's experiments (and the default here) use
"non_saturating", -1/m sum_i log D(G(z(i))), which has the same fixed point but does not
saturate when D rejects G's samples (docs/05-theory.md). "lsgan" and "wgan" swap both
players' losses for their own family.

``simultaneous=True`` is the variant of the paper's own code (pylearn2): one minibatch of z
and one of x per iteration, both players' gradients computed from that same forward pass at
the same parameters, then both updated.

Everything random -- z, the data minibatches, dropout masks if D or G were built with the same
generator -- comes from one minigan.Generator, so a seed fixes a run; a checkpoint holds that
Generator's state with G, D, both optimizers, their schedules and the step counter, so a run
resumed from one continues exactly as if it had not stopped (tests/test_algorithm.py).
"""
from __future__ import annotations

import contextlib
import math
import os

import numpy

from .. import backend
from .. import checkpoint as ckpt
from .. import functional as F
from ..autograd import grad, no_grad
from ..random import Generator
from . import losses
from .divergence import FiniteWatch

METRICS = ("d_loss", "g_loss", "d_real", "d_fake")
PLAYER_OF = {"d_loss": "D", "d_real": "D", "d_fake": "D", "g_loss": "G"}  # in the order a step computes them


@contextlib.contextmanager
def _frozen(params):
    """Treat ``params`` as constants inside the block (G's step does not need D's weight gradients)."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad = False
    try:
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad = f


class GAN:
    """Two players and the rule that trains them: Algorithm 1.

        gan = GAN(G, D, opt_D, opt_G, sample_z, sample_data, generator=gen, k=1, m=64,
                  g_loss="non_saturating")
        gan.train(5000, on_step=log, on_sample=draw, sample_every=500,
                  checkpoint_path="run/ckpt.npz", checkpoint_every=1000)

    G, D: callables on Tensors (usually minigan.nn Modules); D returns one number per example
        of shape (m,) or (m, 1): a logit for the cross-entropy losses (D(x) = sigmoid(logit)),
        a raw score for "lsgan", "wgan", "ebgan".
    opt_D, opt_G: minigan.optim optimizers over D's and G's parameters.
    sample_z, sample_data: callables ``(generator, m) -> Tensor`` drawing m noise vectors from p_z
        and m examples from p_data (minigan/data/toy.py has some; MNIST plugs in the same way).
    generator: the run's minigan.Generator; every draw above takes it.
    k: discriminator steps per generator step. m: the minibatch size.
    g_loss: a name from losses.LOSSES ("non_saturating", "saturating"/"minimax",
        "maximum_likelihood", "lsgan", "wgan", "ebgan") or a function of D's outputs on G(z).
    d_loss: None for the discriminator loss that goes with ``g_loss``; or a function
        (real_out, fake_out) -> scalar. real_label: the target for real examples in the
        cross-entropy D loss (0.9 = one-sided label smoothing).
    simultaneous: update D and G from the same pair of minibatches (needs k = 1).
    schedules: minigan.optim schedules; each is stepped right after its own optimizer steps.
    averages: minigan.optim.ExponentialMovingAverage objects (an average of G's parameters,
        say), stepped like schedules and saved in checkpoints; training never reads them.
    clip_D: clip D's parameters to [-clip_D, clip_D] after each of its updates (WGAN).
    d_output: 'logit' or 'raw', how to report mean D(x); inferred from the loss's name.
    identity: a JSON-able dict of the settings that define the run (a demo's flags), saved in
        every checkpoint under "identity" so a resume can be checked against it
        (minigan/runs/identity.py); training never reads it.
    """

    def __init__(self, G, D, opt_D, opt_G, sample_z, sample_data, *, generator, k=1, m=64,
                 g_loss="non_saturating", d_loss=None, real_label=1.0, simultaneous=False,
                 schedules=(), averages=(), clip_D=None, d_output=None, identity=None):
        if not isinstance(generator, Generator):
            raise TypeError(f"GAN: generator must be a minigan.Generator (the run's one source of randomness), "
                            f"got {type(generator).__name__}")
        if int(k) != k or k < 1:
            raise ValueError(f"GAN: k (discriminator steps per generator step) must be a positive integer, got {k!r}")
        if int(m) != m or m < 1:
            raise ValueError(f"GAN: m (the minibatch size) must be a positive integer, got {m!r}")
        if simultaneous and k != 1:
            raise ValueError(f"GAN: the simultaneous variant updates D and G once each per iteration; got k={k}")
        for name, opt in (("opt_D", opt_D), ("opt_G", opt_G)):
            if not (callable(getattr(opt, "step", None)) and hasattr(opt, "params")):
                raise TypeError(f"GAN: {name} must be a minigan.optim optimizer, got {type(opt).__name__}")
        self.G, self.D, self.opt_D, self.opt_G = G, D, opt_D, opt_G
        self.sample_z, self.sample_data, self.generator = sample_z, sample_data, generator
        self.k, self.m, self.simultaneous = int(k), int(m), bool(simultaneous)
        self.real_label = float(real_label)
        self.clip_D = None if clip_D is None else float(clip_D)
        self.schedules = list(schedules)
        self.averages = list(averages)
        self.identity = dict(identity or {})

        if isinstance(g_loss, str):
            self.g_loss_name = losses.canonical_name(g_loss)
            self.g_loss = losses.generator_loss(self.g_loss_name)
            d_output = d_output or losses.output_kind(self.g_loss_name)
        elif callable(g_loss):
            self.g_loss_name = getattr(g_loss, "__name__", type(g_loss).__name__)
            self.g_loss = g_loss
            if d_loss is None:
                raise ValueError("GAN: with a custom g_loss function, also pass d_loss (the discriminator's loss)")
        else:
            raise TypeError(f"GAN: g_loss must be a loss name or a function, got {type(g_loss).__name__}")
        if d_loss is None:
            d_loss = losses.discriminator_loss(self.g_loss_name)
            if self.real_label != 1.0:
                if d_loss is not losses.d_loss:
                    raise ValueError(
                        f"GAN: real_label applies to the cross-entropy D loss, not to {self.g_loss_name!r}")
                d_loss = losses.discriminator_loss(self.g_loss_name, real_label=self.real_label)
        elif self.real_label != 1.0:
            raise ValueError("GAN: pass real_label only with the built-in cross-entropy D loss (d_loss=None)")
        self.d_loss = d_loss
        if d_output not in (None, "logit", "raw"):
            raise ValueError(f"GAN: d_output must be 'logit' or 'raw', got {d_output!r}")
        self.d_output = d_output or "logit"

        self.step = 0  # completed training iterations
        self._last_checkpoint = None  # the path of the last checkpoint train() saved or loaded
        self.history = {"step": [], **{name: [] for name in METRICS}}

    # -- the pieces of one iteration -------------------------------------------------------------
    def _mean_D(self, out):
        """Mean of D's output as a probability (sigmoid of a logit) or as the raw score (a 0-d Tensor)."""
        with no_grad():
            p = F.sigmoid(out) if self.d_output == "logit" else out
            return F.mean(p).detach()

    def _after_update(self, opt):
        for s in self.schedules + self.averages:
            if s.optimizer is opt:
                s.step()

    def _clip(self):
        if self.clip_D is not None:
            for p in self.opt_D.params:
                backend.array_module(p.data).clip(p.data, -self.clip_D, self.clip_D, out=p.data)

    def d_step(self) -> dict:
        """One discriminator update on fresh minibatches (the body of Algorithm 1's inner loop)."""
        return _read(self._d_step())

    def g_step(self) -> dict:
        """One generator update on m fresh noise samples, D held fixed."""
        return _read(self._g_step())

    def simultaneous_step(self) -> dict:
        """Both players from one pair of minibatches: gradients at the same (theta_d, theta_g), then both steps."""
        return _read(self._simultaneous_step())

    # The steps proper return their metrics as 0-d Tensors on the players' backend: on a GPU, reading
    # a number synchronises with the device, so train_step reads all four at once.
    def _d_step(self) -> dict:
        z = self.sample_z(self.generator, self.m)      # m noise samples from p_z
        x = self.sample_data(self.generator, self.m)   # m examples from p_data
        with no_grad():                                 # G is a constant in D's step
            fake = self.G(z)
        real_out, fake_out = self.D(x), self.D(fake)   # real and fake minibatches pass D separately
        loss = self.d_loss(real_out, fake_out)         # = -1/m sum [log D(x) + log(1 - D(G(z)))]
        self.opt_D.zero_grad()
        loss.backward()
        self.opt_D.step()                               # descend -V = ascend V
        self._clip()
        self._after_update(self.opt_D)
        return {"d_loss": loss.detach(), "d_real": self._mean_D(real_out), "d_fake": self._mean_D(fake_out)}

    def _g_step(self) -> dict:
        z = self.sample_z(self.generator, self.m)      # m fresh noise samples from p_z
        with _frozen(self.opt_D.params):                # D is a constant in G's step
            loss = self.g_loss(self.D(self.G(z)))      # e.g. -1/m sum log D(G(z)) (non-saturating)
            self.opt_G.zero_grad()
            loss.backward()
        self.opt_G.step()
        self._after_update(self.opt_G)
        return {"g_loss": loss.detach()}

    def _simultaneous_step(self) -> dict:
        z = self.sample_z(self.generator, self.m)
        x = self.sample_data(self.generator, self.m)
        real_out, fake_out = self.D(x), self.D(self.G(z))   # one forward pass serves both losses
        loss_D = self.d_loss(real_out, fake_out)
        loss_G = self.g_loss(fake_out)
        grads_D, grads_G = self.simultaneous_directions(loss_D, loss_G)
        for params, grads in ((self.opt_D.params, grads_D), (self.opt_G.params, grads_G)):
            for p, g in zip(params, grads):
                p.grad = g
        self.opt_D.step()
        self._clip()
        self._after_update(self.opt_D)
        self.opt_G.step()
        self._after_update(self.opt_G)
        return {"d_loss": loss_D.detach(), "g_loss": loss_G.detach(),
                "d_real": self._mean_D(real_out), "d_fake": self._mean_D(fake_out)}

    def simultaneous_directions(self, loss_D, loss_G):
        """What each optimiser of simultaneous_step steps along: (grad_{theta_d} J_D, grad_{theta_g} J_G).

        Both gradients are taken at the same point, before either player moves. A subclass that
        changes the update rule of the simultaneous game (consensus optimisation) overrides this;
        it returns two lists, one entry (a Tensor, or None for an unused parameter) per parameter.
        """
        grads_D = grad(loss_D, self.opt_D.params, retain_graph=True, allow_unused=True)
        grads_G = grad(loss_G, self.opt_G.params, allow_unused=True)
        return grads_D, grads_G

    def train_step(self) -> dict:
        """One training iteration: k D steps then one G step (or one simultaneous step).

        Returns {d_loss, g_loss, d_real, d_fake}: D's loss and mean D(x), mean D(G(z)) from its
        last minibatch (before that update), and G's loss from its step.
        """
        if self.simultaneous:
            metrics = self._simultaneous_step()
        else:
            for _ in range(self.k):                      # for k steps do
                metrics = self._d_step()                 #   update D on fresh minibatches
            metrics.update(self._g_step())               # update G on fresh noise
        metrics = _read(metrics)                         # one device-to-host read per iteration
        self.step += 1
        self.history["step"].append(self.step)
        for name in METRICS:
            self.history[name].append(metrics[name])
        return metrics

    # -- the loop ----------------------------------------------------------------------------
    def train(self, steps, *, on_step=None, on_sample=None, sample_every=None, checkpoint_path=None,
              checkpoint_every=None, progress=True, desc="GAN") -> dict:
        """Train until ``steps`` iterations are done in total (a resumed run continues from self.step).

        on_step(step, metrics): after every iteration (step counts completed iterations, from 1).
        on_sample(step, G): every ``sample_every`` iterations, to draw or log samples; G's
            train/eval mode is restored afterwards.
        checkpoint_path, checkpoint_every: save a checkpoint every that many iterations and at
            the end (see save_checkpoint).
        Divergence: every iteration's losses are checked for nan/inf (minigan/gan/divergence.py),
        and the parameters before every checkpoint; either raises DivergenceError naming the
        iteration, the player and the quantity, and no checkpoint is written with them, so the
        last finite one stays on disk.
        progress: show a tqdm progress bar. Returns the last iteration's metrics.
        """
        if int(steps) != steps or steps < 0:
            raise ValueError(f"GAN.train: steps (the total number of iterations) must be >= 0, got {steps!r}")
        if checkpoint_every is not None and checkpoint_path is None:
            raise ValueError("GAN.train: checkpoint_every needs a checkpoint_path")
        if on_sample is not None and not sample_every:
            raise ValueError("GAN.train: on_sample needs sample_every (call it every how many iterations?)")
        from tqdm.auto import tqdm

        metrics = {}
        watch = FiniteWatch(PLAYER_OF)  # every step's losses, read only where the loop reads anyway
        bar = tqdm(total=int(steps), initial=min(self.step, int(steps)), desc=desc, disable=not progress,
                   dynamic_ncols=True, leave=False)
        postfix_every = max(1, int(steps) // 200)
        try:
            while self.step < steps:
                metrics = self.train_step()
                step = self.step
                watch.observe(step, metrics)
                bar.update(1)
                if step % postfix_every == 0:
                    watch.check(self._last_checkpoint)
                    bar.set_postfix(d_loss=f"{metrics['d_loss']:.3f}", g_loss=f"{metrics['g_loss']:.3f}",
                                    D_x=f"{metrics['d_real']:.2f}", D_Gz=f"{metrics['d_fake']:.2f}", refresh=False)
                if on_step is not None:
                    on_step(step, metrics)
                if on_sample is not None and step % sample_every == 0:
                    watch.check(self._last_checkpoint)
                    was_training = getattr(self.G, "training", None)
                    on_sample(step, self.G)
                    if was_training is not None:
                        self.G.train(was_training)
                if checkpoint_every is not None and step % checkpoint_every == 0:
                    self._save_if_finite(watch, checkpoint_path)
        finally:
            bar.close()
        if checkpoint_path is not None:
            self._save_if_finite(watch, checkpoint_path)
        else:
            watch.check()
        return metrics

    def _save_if_finite(self, watch, path) -> None:
        """Save a checkpoint only if no loss was ever non-finite and every parameter is finite now;
        otherwise raise DivergenceError, leaving the last good checkpoint in place."""
        watch.check(self._last_checkpoint)
        named = [(player, name, p) for player, net, opt in (("D", self.D, self.opt_D), ("G", self.G, self.opt_G))
                 for name, p in _named_params(net, opt)]
        FiniteWatch.check_parameters(self.step, named, self._last_checkpoint)
        self.save_checkpoint(path)
        self._last_checkpoint = os.fspath(path)

    # -- checkpoints ---------------------------------------------------------------------------
    def config(self) -> dict:
        """The settings a resumed run must share with the run that saved the checkpoint."""
        return {"k": self.k, "m": self.m, "g_loss": self.g_loss_name, "simultaneous": self.simultaneous,
                "real_label": self.real_label, "clip_D": self.clip_D, "n_schedules": len(self.schedules)}

    def _objects(self) -> dict:
        objects = {"G": self.G, "D": self.D, "opt_D": self.opt_D, "opt_G": self.opt_G, "rng": self.generator}
        objects.update({f"schedule_{i}": s for i, s in enumerate(self.schedules)})
        objects.update({f"average_{i}": a for i, a in enumerate(self.averages)})
        return objects

    def save_checkpoint(self, path) -> None:
        """Write G, D, both optimizers, the schedules, the Generator's state, the step counter, the
        metric history, the config and the run's identity into one .npz (minigan/checkpoint.py: atomic,
        no pickle)."""
        history = {name: numpy.asarray(values, dtype=numpy.float64) for name, values in self.history.items()}
        ckpt.save(path, step=self.step, config=self.config(), history=history, identity=self.identity,
                  **self._objects())

    def load_checkpoint(self, path, *, start_missing_averages=False) -> int:
        """Restore everything save_checkpoint wrote, into this GAN's objects. Returns the step.

        Refuses (ValueError, nothing changed) a checkpoint saved with other settings (k, m, loss, ...).
        An average this GAN has and the checkpoint does not (averaging added to a resumed run) is
        an error, unless start_missing_averages: then it starts at the restored parameters.
        """
        saved = ckpt.load(path)
        mine = self.config()
        theirs = saved.get("config")
        if theirs != mine:
            diff = {key: (theirs.get(key) if isinstance(theirs, dict) else None, mine[key]) for key in mine
                    if not isinstance(theirs, dict) or theirs.get(key) != mine[key]}
            raise ValueError(f"GAN.load_checkpoint: {path} was saved with other settings (saved, here): {diff}")
        objects = self._objects()
        missing = [name for name in objects if name.startswith("average_") and name not in saved]
        if missing and not start_missing_averages:
            raise ValueError(f"GAN.load_checkpoint: {path} holds no {missing} (this GAN averages parameters that "
                             "run did not); pass start_missing_averages=True to start them from its parameters")
        rest = ckpt.restore(path, **{name: obj for name, obj in objects.items() if name not in missing})
        for name in missing:
            objects[name].reset()
        self._last_checkpoint = os.fspath(path)
        self.step = int(rest["step"])
        self.history = {name: [int(v) if name == "step" else float(v) for v in values]
                        for name, values in rest["history"].items()}
        return self.step


def _read(metrics: dict) -> dict:
    """The 0-d metric Tensors as Python floats, copied from the device in one transfer."""
    names = list(metrics)
    arrays = [metrics[n].data for n in names]
    xp = backend.array_module(*arrays)
    values = backend.as_numpy(xp.stack([a.astype(xp.float64) for a in arrays]))
    return {n: float(v) for n, v in zip(names, values)}


def _named_params(net, opt):
    """(name, parameter) pairs of a player: the Module's names when it has them, else indices in its optimizer."""
    named = getattr(net, "named_parameters", None)
    if callable(named):
        pairs = list(named())
        if pairs:
            return pairs
    return [(f"{i} of its optimizer", p) for i, p in enumerate(opt.params)]


def finite(metrics: dict) -> bool:
    """True when every metric is a finite number (a diverged run gives nan or inf)."""
    return all(math.isfinite(v) for v in metrics.values())
