"""The planted bugs of tools/mutate.py: one plausible mistake per entry, each a one-line change.

Each Mutant names a file, the exact text to find there (it must occur exactly once, so a
line that appears twice carries a neighbouring line as context), the text that replaces it,
what the bug is, and the area of the engine it belongs to. ``first`` lists the test files
most likely to catch it; they run before the whole default suite only to save time.
``equivalent`` explains a mutant that changes nothing a test could observe.
"""
from __future__ import annotations

from dataclasses import dataclass

AREAS = ("ops", "conv", "batch norm", "optimizers", "losses", "Algorithm 1", "checkpoints", "data",
         "averaging", "gradcheck")


@dataclass(frozen=True)
class Mutant:
    name: str
    area: str
    path: str
    original: str
    replacement: str
    description: str
    first: tuple = ()
    equivalent: str = ""


OPS = ("tests/test_ops.py", "tests/test_layer_ops.py")
CONV = ("tests/test_conv.py",)
BN = ("tests/test_layer_ops.py", "tests/test_nn.py", "tests/test_torch_crosscheck_nn.py")
OPTIM = ("tests/test_optim.py", "tests/test_torch_crosscheck_optim.py")
LOSSES = ("tests/test_gan_losses.py", "tests/test_ops.py")
ALGO = ("tests/test_algorithm_replay.py", "tests/test_algorithm.py")
CKPT = ("tests/test_checkpoint.py",)
AVG = ("tests/test_averaging.py",)
GAPS = ("tests/test_mutation_gaps.py",)
TIES = ("tests/test_ties.py",)
PRECISION = ("tests/test_precision.py",)
GC = ("tests/test_gradcheck_rejects.py", "tests/test_gradcheck.py")

MUTANTS = (
    # -- ops ------------------------------------------------------------------------------------
    Mutant("div-grad-sign", "ops", "minigan/ops/arithmetic.py",
           "gb = sum_to(-gy * a / (b * b), b.shape)", "gb = sum_to(gy * a / (b * b), b.shape)",
           "Div's backward forgets the minus sign of d(a/b)/db = -a/b^2", OPS),
    Mutant("mul-grad-wrong-factor", "ops", "minigan/ops/arithmetic.py",
           "ga = sum_to(gy * b, a.shape)", "ga = sum_to(gy * a, a.shape)",
           "Mul's backward multiplies g by a instead of b for dL/da", OPS),
    Mutant("sub-grad-sign", "ops", "minigan/ops/arithmetic.py",
           "return sum_to(gy, a.shape), sum_to(-gy, b.shape)", "return sum_to(gy, a.shape), sum_to(gy, b.shape)",
           "Sub's backward gives b the gradient +g instead of -g", OPS),
    Mutant("log-grad-multiplies", "ops", "minigan/ops/arithmetic.py",
           "return gy / self.inputs[0]\n", "return gy * self.inputs[0]\n",
           "Log's backward multiplies by x instead of dividing", OPS),
    Mutant("square-grad-no-two", "ops", "minigan/ops/arithmetic.py",
           "return gy * x * 2.0", "return gy * x",
           "x**2's backward drops the factor 2", OPS),
    Mutant("maximum-tie-both-full", "ops", "minigan/ops/arithmetic.py",
           "share_a = _tie_share(a.data > b.data, a.data == b.data, gy.dtype)\n"
           "        return sum_to(gy * share_a, a.shape), sum_to(gy * (1.0 - share_a), b.shape)",
           "share_a = _tie_share(a.data > b.data, a.data == b.data, gy.dtype)\n"
           "        tie = Tensor((a.data == b.data).astype(gy.dtype)) / 2.0; "
           "return sum_to(gy * (share_a + tie), a.shape), sum_to(gy * (1.0 - share_a + tie), b.shape)",
           "maximum(a, b) at a tie a == b gives both inputs the full gradient (total 2g)", OPS + TIES),
    Mutant("max-reduction-ties-full", "ops", "minigan/ops/reductions.py",
           "share = Tensor(winners / winners.sum(axis=self.axes, keepdims=True))", "share = Tensor(winners)",
           "max/min reductions give every tied winner the full gradient instead of a share",
           TIES + OPS + ("tests/test_mnist_mlp.py",)),
    Mutant("mean-divides-by-n-minus-1", "ops", "minigan/ops/reductions.py",
           "return sum(x, axes, keepdims) * (1.0 / count)", "return sum(x, axes, keepdims) * (1.0 / (count - 1))",
           "mean divides by n - 1", OPS),
    Mutant("softplus-log-not-log1p", "ops", "minigan/ops/activations.py",
           "return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))",
           "return xp.maximum(x, 0) + xp.log(1 + xp.exp(-xp.abs(x)))",
           "softplus computes log(1 + e) instead of log1p(e): wrong in the far tail", PRECISION + OPS),
    Mutant("sigmoid-branches-swapped", "ops", "minigan/ops/activations.py",
           "xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))", "xp.where(x >= 0, e / (1.0 + e), 1.0 / (1.0 + e))",
           "the stable sigmoid's two branches are swapped (sigmoid(x) becomes sigmoid(-x))", OPS),
    Mutant("sigmoid-grad-plus", "ops", "minigan/ops/activations.py",
           "return gy * y * (1.0 - y)", "return gy * y * (1.0 + y)",
           "Sigmoid's backward uses y (1 + y) for y (1 - y)", OPS),
    Mutant("tanh-grad-not-squared", "ops", "minigan/ops/activations.py",
           "return gy * (1.0 - y * y)", "return gy * (1.0 - y)",
           "Tanh's backward uses 1 - y for 1 - y^2", OPS),
    Mutant("leaky-relu-grad-slope", "ops", "minigan/ops/activations.py",
           "factor *= 1.0 - self.slope", "factor *= 1.0 + self.slope",
           "LeakyReLU's backward gives 1 + 2s instead of 1 on the positive side", OPS),
    Mutant("log-sigmoid-grad-sign", "ops", "minigan/ops/activations.py",
           "return gy * sigmoid(-self.inputs[0])", "return gy * sigmoid(self.inputs[0])",
           "log_sigmoid's backward uses sigmoid(x) for sigmoid(-x)", OPS),
    Mutant("softmax-grad-unweighted-sum", "ops", "minigan/ops/activations.py",
           "return y * (gy - reduce_sum(gy * y, self.axis, keepdims=True))",
           "return y * (gy - reduce_sum(gy, self.axis, keepdims=True))",
           "Softmax's backward subtracts sum(g) instead of sum(g y)", OPS),
    Mutant("dropout-scale-by-p", "ops", "minigan/ops/layers.py",
           "keep * x.dtype.type(1.0 / (1.0 - p))", "keep * x.dtype.type(1.0 / p)",
           "dropout scales survivors by 1/p (a keep/drop probability mix-up) instead of 1/(1 - p)", OPS),
    Mutant("maxout-skips-last-piece", "ops", "minigan/ops/layers.py",
           "for k in range(1, x.shape[2]):\n            xp.maximum(y, x[:, :, k], out=y)",
           "for k in range(1, x.shape[2] - 1):\n            xp.maximum(y, x[:, :, k], out=y)",
           "maxout's forward loop stops one piece early (the last piece never wins)", OPS),
    Mutant("sqrt-grad-rewritten", "ops", "minigan/ops/arithmetic.py",
           "return gy / (self.output() * 2.0)", "return gy * 0.5 / self.output()",
           "Sqrt's backward written as g * 0.5 / y instead of g / (2 y)", OPS,
           equivalent="multiplying by 0.5 or 2 is exact in binary floating point, so (g * 0.5) / y and "
                      "g / (y * 2) both round the same real number once: the results are identical bit for "
                      "bit (barring overflow and underflow)"),
    # -- conv -----------------------------------------------------------------------------------
    Mutant("im2col-width-stride-uses-height", "conv", "minigan/ops/conv.py",
           "j:j + sw * (Wo - 1) + 1:sw, :]", "j:j + sw * (Wo - 1) + 1:sh, :]",
           "im2col steps along the width with the height's stride (wrong only for stride (sh, sw), sh != sw)",
           CONV),
    Mutant("col2im-overwrites-overlaps", "conv", "minigan/ops/conv.py",
           "j:j + sw * (W - 1) + 1:sw, :] += cols[:, i, j]", "j:j + sw * (W - 1) + 1:sw, :] = cols[:, i, j]",
           "col2im assigns where overlapping windows must add (transposed conv with kernel > stride)", CONV),
    Mutant("conv-transpose-crop-height-pad", "conv", "minigan/ops/conv.py",
           "full[:, ph:ph + Ho, pw:pw + Wo, :]", "full[:, ph:ph + Ho, ph:ph + Wo, :]",
           "conv_transpose2d crops the width by the height's padding (wrong only for padding (ph, pw), ph != pw)",
           CONV),
    Mutant("conv-output-padding-off", "conv", "minigan/ops/conv.py",
           "return tuple(x_shape[2 + a] - ((y_shape[2 + a] - 1) * stride[a] - 2 * padding[a] + w_shape[2 + a])",
           "return tuple(x_shape[2 + a] - ((y_shape[2 + a] - 1) * stride[a] - padding[a] + w_shape[2 + a])",
           "conv2d's input gradient uses padding once instead of twice when sizing output_padding", CONV),
    Mutant("conv-weight-second-derivative-halved", "conv", "minigan/ops/conv.py",
           "gg_g = Conv2d.apply(x, gg, stride=self.stride, padding=self.padding)",
           "gg_g = Conv2d.apply(x, gg, stride=self.stride, padding=self.padding) * 0.5",
           "conv2d_weight's second derivative with respect to g is halved (wrong only in gradients of gradients)",
           CONV),
    # -- batch norm -----------------------------------------------------------------------------
    Mutant("batchnorm-fast-backward-drops-eps", "batch norm", "minigan/ops/normalization.py",
           "gx *= gamma.data.reshape(shape) * self.inv_std",
           "gx *= gamma.data.reshape(shape) / (self.inv_std ** -2 - self.eps) ** 0.5",
           "batch norm's fast backward uses 1/sqrt(var) instead of 1/sqrt(var + eps)", GAPS + BN),
    Mutant("batchnorm-fast-backward-sum-g-unscaled", "batch norm", "minigan/ops/normalization.py",
           "gx -= sum_g / m", "gx -= sum_g",
           "batch norm's fast backward subtracts sum(g) instead of sum(g)/m", BN),
    Mutant("batchnorm-running-var-biased", "batch norm", "minigan/ops/normalization.py",
           "self.running_var += (r * m / (m - 1)) * var.reshape(-1)", "self.running_var += r * var.reshape(-1)",
           "the running variance averages the biased batch variance (PyTorch keeps the unbiased one)", BN),
    Mutant("batchnorm-momentum-flipped", "batch norm", "minigan/ops/normalization.py",
           "self.running_mean *= 1.0 - r", "self.running_mean *= r",
           "the running mean keeps r of its old value instead of 1 - r", BN),
    Mutant("batchnorm-eval-drops-eps", "batch norm", "minigan/ops/normalization.py",
           "inv_std = Tensor((1.0 / xp.sqrt(running_var + eps))", "inv_std = Tensor((1.0 / xp.sqrt(running_var))",
           "batch norm in evaluation mode divides by sqrt(running_var) without eps", BN),
    Mutant("batchnorm-recorded-backward-drops-term", "batch norm", "minigan/ops/normalization.py",
           "(gy * float(m) - sum_g - xhat * sum_gx)", "(gy * float(m) - sum_g)",
           "batch norm's recorded (create_graph) backward drops the xhat sum(g xhat) term", BN),
    # -- optimizers -----------------------------------------------------------------------------
    Mutant("sgd-nesterov-no-momentum-factor", "optimizers", "minigan/optim/sgd.py",
           "g = g + self.momentum * b if self.nesterov else b", "g = g + b if self.nesterov else b",
           "Nesterov SGD steps along g + b instead of g + mu b", OPTIM),
    Mutant("sgd-dampening-inverted", "optimizers", "minigan/optim/sgd.py",
           "(1 - self.dampening) * g", "self.dampening * g",
           "SGD's dampening weighs new gradients by tau instead of 1 - tau", OPTIM),
    Mutant("sgd-weight-decay-sign", "optimizers", "minigan/optim/sgd.py",
           "g = g + self.weight_decay * p", "g = g - self.weight_decay * p",
           "SGD's weight decay pushes parameters away from zero", OPTIM),
    Mutant("adam-no-bias-correction-v", "optimizers", "minigan/optim/adam.py",
           "v_hat = v / (1 - beta2**t)", "v_hat = v / (1 - beta2)",
           "Adam's second-moment bias correction uses 1 - beta2 instead of 1 - beta2^t", OPTIM),
    Mutant("adam-eps-inside-sqrt", "optimizers", "minigan/optim/adam.py",
           "(xp.sqrt(v_hat) + self.eps)", "xp.sqrt(v_hat + self.eps)",
           "Adam adds eps inside the square root instead of after it", OPTIM),
    Mutant("rmsprop-square-avg-not-squared", "optimizers", "minigan/optim/rmsprop.py",
           "s += (1 - self.alpha) * (g * g)", "s += (1 - self.alpha) * (g * abs(g))",
           "RMSprop's running average takes g|g| instead of g^2 (negative for negative gradients)", OPTIM),
    Mutant("rmsprop-momentum-scaled-by-lr", "optimizers", "minigan/optim/rmsprop.py",
           "b += u\n", "b += self.lr * u\n",
           "RMSprop with momentum scales the buffer update by lr, then again the step", OPTIM),
    Mutant("optimizer-load-aliases-state", "optimizers", "minigan/optim/optimizer.py",
           "k: (backend.to_backend(v, p.backend).copy() if hasattr(v, \"shape\") else v)",
           "k: (backend.to_backend(v, p.backend) if hasattr(v, \"shape\") else v)",
           "an optimizer's load_state_dict keeps the caller's arrays instead of copies: training then "
           "changes the saved state dict in place", GAPS + OPTIM),
    # -- losses ---------------------------------------------------------------------------------
    Mutant("bce-grad-sign", "losses", "minigan/ops/losses.py",
           "ga = gy * ((1.0 - t) * sigmoid(a) - t * sigmoid(-a))", "ga = gy * (t * sigmoid(-a) - (1.0 - t) * sigmoid(a))",
           "binary cross-entropy's backward gives t - sigmoid(a) for sigmoid(a) - t", LOSSES),
    Mutant("bce-log-not-log1p", "losses", "minigan/ops/losses.py",
           "+ xp.log1p(xp.exp(-xp.abs(a)))", "+ xp.log(1 + xp.exp(-xp.abs(a)))",
           "binary cross-entropy computes log(1 + e) instead of log1p(e): wrong in the far tail",
           PRECISION + LOSSES),
    Mutant("d-loss-ignores-real-label", "losses", "minigan/gan/losses.py",
           "F.binary_cross_entropy_with_logits(real, float(real_label))",
           "F.binary_cross_entropy_with_logits(real, 1.0)",
           "D's loss ignores real_label (one-sided label smoothing silently off)", LOSSES),
    Mutant("non-saturating-sign", "losses", "minigan/gan/losses.py",
           "return F.mean(F.softplus(-a))", "return F.mean(F.softplus(a))",
           "the non-saturating G loss uses softplus(a) = -log(1 - D) for softplus(-a) = -log D", LOSSES),
    Mutant("lsgan-d-real-target", "losses", "minigan/gan/losses.py",
           "0.5 * F.mean((real - b) ** 2)", "0.5 * F.mean((real - a) ** 2)",
           "LSGAN's D pulls real outputs to the fake target a instead of b", LOSSES),
    Mutant("wgan-critic-sign", "losses", "minigan/gan/losses.py",
           "return F.mean(fake) - F.mean(real)", "return F.mean(real) - F.mean(fake)",
           "the WGAN critic's loss has the wrong sign (it minimises the Wasserstein estimate)", LOSSES),
    # -- Algorithm 1 ----------------------------------------------------------------------------
    Mutant("g-ascends-its-loss", "Algorithm 1", "minigan/gan/algorithm.py",
           "            loss.backward()\n        self.opt_G.step()",
           "            (-loss).backward()\n        self.opt_G.step()",
           "GAN.g_step ascends G's loss instead of descending it", ALGO),
    Mutant("d-descends-v", "Algorithm 1", "minigan/gan/algorithm.py",
           "        loss.backward()\n        self.opt_D.step()",
           "        (-loss).backward()\n        self.opt_D.step()",
           "GAN.d_step ascends D's loss, i.e. descends V", ALGO),
    Mutant("default-g-loss-saturating", "Algorithm 1", "minigan/gan/algorithm.py",
           'g_loss="non_saturating", d_loss=None', 'g_loss="saturating", d_loss=None',
           "GAN's default G loss is the saturating one, not the paper's non-saturating choice", ALGO),
    Mutant("d-grads-not-zeroed", "Algorithm 1", "minigan/gan/algorithm.py",
           "        self.opt_D.zero_grad()\n        loss.backward()",
           "        loss.backward()",
           "GAN.d_step never zeroes D's gradients, so they accumulate over the k steps and iterations", ALGO),
    Mutant("k-loop-runs-once", "Algorithm 1", "minigan/gan/algorithm.py",
           "for _ in range(self.k):", "for _ in range(1):",
           "train_step takes one D step whatever k is", ALGO),
    Mutant("schedule-steps-wrong-optimizer", "Algorithm 1", "minigan/gan/algorithm.py",
           "if s.optimizer is opt:", "if s.optimizer is not opt:",
           "a schedule (or average) is stepped after the other player's update", ALGO + GAPS),
    Mutant("d-step-records-g-graph", "Algorithm 1", "minigan/gan/algorithm.py",
           "with no_grad():                                 # G is a constant in D's step",
           "with contextlib.nullcontext():                  # G is a constant in D's step",
           "D's step records G's forward pass, so D's loss also fills G's .grad", ALGO,
           equivalent="the gradients D's step leaves in G's parameters are discarded by g_step's "
                      "opt_G.zero_grad() before G's own backward pass, so no parameter changes; only "
                      "time and memory are wasted"),
    # -- checkpoints ----------------------------------------------------------------------------
    Mutant("checkpoint-scalar-as-array", "checkpoints", "minigan/checkpoint.py",
           'return arrays[key] if tag == "array" else arrays[key][()]', "return arrays[key]",
           "a saved NumPy scalar comes back as a 0-d array", CKPT),
    Mutant("checkpoint-tuple-as-list", "checkpoints", "minigan/checkpoint.py",
           'return tuple(_decode(v, arrays, used) for v in x["items"])',
           'return list(_decode(v, arrays, used) for v in x["items"])',
           "a saved tuple comes back as a list", CKPT),
    Mutant("checkpoint-allows-pickle", "checkpoints", "minigan/checkpoint.py",
           "with numpy.load(path, allow_pickle=False) as npz:", "with numpy.load(path, allow_pickle=True) as npz:",
           "checkpoint loading allows pickle, so a crafted file can run code", CKPT),
    Mutant("checkpoint-restore-no-rollback", "checkpoints", "minigan/checkpoint.py",
           "for done in reversed(touched):", "for done in reversed(touched[-1:]):",
           "a failed restore puts back only the object that failed, not those restored before it", CKPT),
    # -- data -----------------------------------------------------------------------------------
    Mutant("mnist-mlp-pixels-over-256", "data", "demos/mnist_mlp.py",
           "/ 255.0).reshape(len(images), -1)", "/ 256.0).reshape(len(images), -1)",
           "the MNIST MLP demo scales pixels by 1/256 (255 maps to 0.996, not 1.0)",
           ("tests/test_pixel_scaling.py", "tests/test_mnist_mlp.py", "tests/test_demos.py")),
    Mutant("classifier-pixels-over-128", "data", "minigan/models/classifier.py",
           "/ 127.5 - 1.0)[:, None]", "/ 128.0 - 1.0)[:, None]",
           "the [-1, 1] pixel map divides by 128 (255 maps to 0.992, not 1.0)",
           ("tests/test_classifier.py", "tests/test_data.py")),
    Mutant("ring-modes-overlap", "data", "minigan/data/toy.py",
           "t = 2.0 * math.pi * numpy.arange(n_modes) / n_modes",
           "t = 2.0 * math.pi * numpy.arange(n_modes) / (n_modes - 1)",
           "the ring's first and last modes coincide (angles 2 pi k / (n - 1))", ("tests/test_data.py",)),
    # -- averaging ------------------------------------------------------------------------------
    Mutant("ema-rate-is-beta", "averaging", "minigan/optim/averaging.py",
           "self._move_towards(1.0 - self.beta)", "self._move_towards(self.beta)",
           "the exponential average moves by beta instead of 1 - beta (it forgets almost at once)", AVG),
    Mutant("uniform-average-off-by-one", "averaging", "minigan/optim/averaging.py",
           "self._move_towards(1.0 / (self.updates + 2))", "self._move_towards(1.0 / (self.updates + 1))",
           "the uniform average drops theta_0 (rate 1/(n+1) instead of 1/(n+2))", AVG),
    Mutant("average-aliases-parameters", "averaging", "minigan/optim/averaging.py",
           "self.average = [p.data.copy() for p in self.params]", "self.average = [p.data for p in self.params]",
           "the average starts as the parameters' own arrays, so it moves with them", AVG),
    Mutant("average-load-forgets-updates", "averaging", "minigan/optim/averaging.py",
           'self.updates = int(state["updates"])', "self.updates = 0",
           "a loaded average forgets how many updates it had (a resumed uniform average restarts its rate)",
           AVG + CKPT),
    # -- gradcheck ------------------------------------------------------------------------------
    Mutant("gradcheck-sign-blind", "gradcheck", "minigan/gradcheck.py",
           "excess = numpy.abs(g - n) - (atol + rtol * numpy.abs(n))",
           "excess = numpy.abs(numpy.abs(g) - numpy.abs(n)) - (atol + rtol * numpy.abs(n))",
           "element-wise gradcheck compares |analytic| with |numerical|, blind to sign", GC),
    Mutant("gradcheck-directional-sign-blind", "gradcheck", "minigan/gradcheck.py",
           "if abs(a - numerical) > atol", "if abs(abs(a) - abs(numerical)) > atol",
           "directional gradcheck compares |<g, u>| with the numerical |slope|, blind to sign", GC),
    Mutant("gradcheck-passes-unless-all-fail", "gradcheck", "minigan/gradcheck.py",
           "if excess.size and excess.max() > 0:", "if excess.size and excess.min() > 0:",
           "gradcheck fails only when every element is wrong, so one wrong element passes", GC),
    Mutant("gradcheck-cotangent-all-ones", "gradcheck", "minigan/gradcheck.py",
           "cotangents = [rng.standard_normal(o.shape) for o in outs]",
           "cotangents = [numpy.ones(o.shape) for o in outs]",
           "gradcheck tests the gradient of a plain sum of outputs, where some Jacobian errors cancel",
           GAPS + GC),
    Mutant("gradgradcheck-cotangent-constant", "gradcheck", "minigan/gradcheck.py",
           "vs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]",
           "vs = [Tensor(rng.standard_normal(o.shape), requires_grad=False) for o in outs]",
           "gradgradcheck holds the output cotangent v constant, so how a backward uses g goes unchecked",
           GAPS + GC),
)
