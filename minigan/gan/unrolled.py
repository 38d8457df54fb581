"""Unrolled GANs (Metz, Poole, Pfau and Sohl-Dickstein 2016, "Unrolled Generative Adversarial Networks").

G's loss is evaluated not against today's D but against the D that K steps of D's own
optimiser would produce, with G's parameters held inside those steps:

    theta_D^0 = theta_D
    theta_D^{k+1} = theta_D^k + eta(k) * grad_{theta_D} V(theta_D^k, theta_G)      (k = 0 .. K-1)
    f_K(theta_G, theta_D) = J_G(D(G(z; theta_G); theta_D^K))

and G descends d f_K / d theta_G, the *total* derivative: theta_D^K depends on theta_G through
every unrolled step, and back-propagating through those steps (paper, eq. 12) gives G the term

    d f_K / d theta_G = df_K/dtheta_G (D fixed) + df_K/dtheta_D^K  d theta_D^K / d theta_G

that says "if you put all your samples on one mode, D will have moved there in K steps".
That term is what discourages collapse. K = 0 is the ordinary GAN. D's own update is unchanged:
D first takes its ordinary step of Algorithm 1 on fresh minibatches, then G unrolls K further
steps from that updated D (on a minibatch of their own) and descends f_K. Only G looks ahead.

minigan differentiates through the unrolled steps with ``grad(..., create_graph=True)``: each
step's gradient is itself a differentiable function of theta_D^k and theta_G, so the update
theta_D^{k+1} = theta_D^k - eta g_k is an ordinary expression in minigan ops. The two unrolled
rules below (:func:`sgd_unrolled_step`, :func:`adam_unrolled_step`) are the optimiser update
equations of minigan/optim written on Tensors instead of in place on arrays.

To evaluate D at theta_D^k without building a second network, :func:`parameters_replaced`
temporarily puts the Tensors theta_D^k where D's Parameters are (the idea of
torch.func.functional_call).
"""
from __future__ import annotations

import contextlib

from .. import functional as F
from ..autograd import Tensor, enable_grad, grad
from ..nn.module import Module
from ..optim import SGD, Adam
from .algorithm import GAN


@contextlib.contextmanager
def parameters_replaced(module, params, values):
    """Inside the block, ``module`` computes with ``values[i]`` wherever it used ``params[i]``.

    params: Parameters of ``module`` (e.g. an optimiser's list); values: Tensors of the same
    shapes (non-leaf Tensors are the point: they carry the graph of the unrolled steps).
    The module's own Parameters are put back on exit, even after an error.
    """
    if not isinstance(module, Module):
        raise TypeError(f"parameters_replaced: module must be a minigan.nn.Module, got {type(module).__name__}")
    if len(params) != len(values):
        raise ValueError(f"parameters_replaced: {len(params)} parameters but {len(values)} values")
    swap = {}
    for i, (p, v) in enumerate(zip(params, values)):
        if not isinstance(v, Tensor) or v.shape != p.shape:
            raise ValueError(f"parameters_replaced: value {i} must be a Tensor of shape {p.shape}, got "
                             f"{getattr(v, 'shape', type(v).__name__)}")
        swap[id(p)] = v
    slots = [(m._parameters, name, p) for m in module.modules()
             for name, p in m._parameters.items() if p is not None and id(p) in swap]
    if len({id(p) for _, _, p in slots}) != len(swap):
        raise ValueError("parameters_replaced: some of the parameters do not belong to the module")
    try:
        for registry, name, p in slots:
            registry[name] = swap[id(p)]  # bypasses Module.__setattr__, which accepts only Parameters
        yield module
    finally:
        for registry, name, p in slots:
            registry[name] = p


# -- the optimiser steps, written on Tensors so that they can be differentiated ----------------------
def sgd_unrolled_step(params, grads, lr):
    """theta <- theta - eta g for each parameter: plain gradient descent (minigan.optim.SGD without momentum).

    d theta_new / d theta = I - eta d g / d theta: through g, the Hessian of D's loss enters
    G's gradient (the reason K unrolled steps cost about 2K backward passes).
    """
    return [p - lr * g for p, g in zip(params, grads)]


def adam_unrolled_step(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step (minigan/optim/adam.py) on Tensors: returns (new params, new state).

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   t <- t + 1
        theta <- theta - eta m_hat / sqrt(v_hat + eps^2),   m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)

    state: a list of (m, v, t) per parameter. The one change from Adam proper: the denominator
    sqrt(v_hat + eps^2) instead of sqrt(v_hat) + eps. Both are within eps of each other, but
    d sqrt(v)/dv = 1/(2 sqrt v) is infinite at v = 0, which a coordinate with a zero gradient
    reaches; the smoothed form keeps the derivative finite (and the unrolled gradient free of nan).
    """
    b1, b2 = betas
    new_params, new_state = [], []
    for p, g, (m, v, t) in zip(params, grads, state):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * (g * g)
        t = t + 1
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        new_params.append(p - lr * m_hat / F.sqrt(v_hat + eps**2))
        new_state.append((m, v, t))
    return new_params, new_state


def _adam_state(opt):
    """The real optimiser's (m, v, t) per parameter, as constants: the unrolled steps continue from them."""
    state = []
    for i, p in enumerate(opt.params):
        s = opt.state.get(i)
        if s:
            state.append((Tensor(s["exp_avg"].copy()), Tensor(s["exp_avg_sq"].copy()), int(s["step"])))
        else:
            xp_zero = p.data * 0
            state.append((Tensor(xp_zero), Tensor(xp_zero.copy()), 0))
    return state


class UnrolledGAN(GAN):
    """Algorithm 1 whose generator step sees D unrolled ``unroll_steps`` (K) optimiser steps ahead.

        gan = UnrolledGAN(G, D, opt_D, opt_G, sample_z, sample_data, generator=gen, unroll_steps=5)

    Everything else is :class:`minigan.gan.algorithm.GAN` (k D steps, losses by name, checkpoints).
    D must be a minigan.nn.Module (its Parameters are swapped for the unrolled Tensors) and opt_D
    an SGD without momentum or an Adam: the unrolled steps use opt_D's rule and its current
    hyper-parameters, starting from its current state (Adam's moments), as the paper does. The
    K unrolled steps use one minibatch of x and one of z, shared with G's loss (a choice that keeps
    the surrogate cheap; the paper's 2-D code may draw fresh ones); the real D is left untouched.
    """

    def __init__(self, G, D, opt_D, opt_G, sample_z, sample_data, *, generator, unroll_steps=5, **kwargs):
        super().__init__(G, D, opt_D, opt_G, sample_z, sample_data, generator=generator, **kwargs)
        if int(unroll_steps) != unroll_steps or unroll_steps < 0:
            raise ValueError(f"UnrolledGAN: unroll_steps (K) must be a non-negative integer, got {unroll_steps!r}")
        if not isinstance(D, Module):
            raise TypeError(f"UnrolledGAN: D must be a minigan.nn.Module (its parameters are unrolled), "
                            f"got {type(D).__name__}")
        if isinstance(opt_D, SGD):
            if opt_D.momentum != 0 or opt_D.weight_decay != 0:
                raise ValueError("UnrolledGAN: an SGD opt_D is unrolled as plain gradient descent; "
                                 f"got momentum={opt_D.momentum}, weight_decay={opt_D.weight_decay}")
        elif isinstance(opt_D, Adam):
            if opt_D.weight_decay != 0:
                raise ValueError(f"UnrolledGAN: Adam's weight_decay is not unrolled, got {opt_D.weight_decay}")
        else:
            raise TypeError(f"UnrolledGAN: opt_D must be minigan.optim.SGD or Adam, got {type(opt_D).__name__}")
        if self.simultaneous:
            raise ValueError("UnrolledGAN: the simultaneous variant has no separate G step to unroll for")
        self.unroll_steps = int(unroll_steps)

    def unrolled_parameters(self, fake, x):
        """theta_D^K as Tensors: K steps of opt_D's rule on J_D(D(x), D(fake)), differentiable in fake.

        Gradients are recorded even inside no_grad (where f_K is only evaluated, e.g. by a finite
        difference): without them there would be no unrolled steps to take.
        """
        params = list(self.opt_D.params)
        state = _adam_state(self.opt_D) if isinstance(self.opt_D, Adam) else None
        with enable_grad():
            for _ in range(self.unroll_steps):
                with parameters_replaced(self.D, self.opt_D.params, params):
                    loss = self.d_loss(self.D(x), self.D(fake))
                grads = grad(loss, params, create_graph=True, allow_unused=True)
                grads = [g if g is not None else p * 0 for p, g in zip(params, grads)]
                if state is not None:
                    params, state = adam_unrolled_step(params, grads, state, self.opt_D.lr, self.opt_D.betas,
                                                       self.opt_D.eps)
                else:
                    params = sgd_unrolled_step(params, grads, self.opt_D.lr)
        return params

    def unrolled_g_loss(self, z, x):
        """f_K = J_G(D(G(z); theta_D^K)): the surrogate loss whose gradient G descends."""
        fake = self.G(z)
        params = self.unrolled_parameters(fake, x)
        with parameters_replaced(self.D, self.opt_D.params, params):
            return self.g_loss(self.D(fake))

    def _g_step(self) -> dict:
        """G descends d f_K / d theta_G, differentiated through the K unrolled steps of D."""
        if self.unroll_steps == 0:
            return super()._g_step()
        z = self.sample_z(self.generator, self.m)
        x = self.sample_data(self.generator, self.m)
        loss = self.unrolled_g_loss(z, x)
        grads = grad(loss, self.opt_G.params, allow_unused=True)  # G's gradient only; D's .grad is untouched
        for p, g in zip(self.opt_G.params, grads):
            p.grad = g
        self.opt_G.step()
        self._after_update(self.opt_G)
        return {"g_loss": loss.detach()}

    def config(self) -> dict:
        return {**super().config(), "unroll_steps": self.unroll_steps}


__all__ = ["UnrolledGAN", "parameters_replaced", "sgd_unrolled_step", "adam_unrolled_step"]
