"""minigan.nn: the Module API (registration, names, modes, state_dict), the layers, and init.

Statistical tests on initialisers use bounds of 5 standard errors (CLT), which a correct
implementation misses with probability ~6e-7 per check, and the draws are seeded anyway.
"""
import math
from collections import OrderedDict

import numpy
import pytest

import minigan
import minigan.functional as F
from minigan import Generator, Tensor, nn
from minigan.nn import init

H = minigan.backend.as_numpy  # a host copy, for comparing with NumPy on any backend


def mlp(seed=0, dtype=numpy.float32):
    g = Generator(seed)
    return nn.Sequential(
        nn.Linear(4, 6, generator=g, dtype=dtype),
        nn.BatchNorm1d(6, dtype=dtype),
        nn.ReLU(),
        nn.Dropout(0.2, generator=g),
        nn.Maxout(6, 2, 3, generator=g, dtype=dtype),
        nn.Linear(2, 1, bias=False, generator=g, dtype=dtype),
    )


class TwoPart(nn.Module):
    """A user-defined module: a parameter of its own, a child, a buffer."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(numpy.ones(3, numpy.float32))
        self.body = mlp()
        self.register_buffer("steps", Tensor(numpy.zeros((), numpy.float32)))

    def forward(self, x):
        return self.body(x) * self.scale[0]


# -- Module: registration and names ---------------------------------------------------------

def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter(numpy.zeros(3, numpy.float32))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert not nn.Parameter(numpy.zeros(3), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    y = p * 2.0
    assert type(y) is Tensor  # results of ops are plain tensors


def test_named_parameters_order_and_names():
    m = TwoPart()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
                     "body.4.weight", "body.4.bias", "body.5.weight"]
    assert [p for p in m.parameters()][1] is m.body[0].weight
    assert [n for n, _ in m.named_buffers()] == ["steps", "body.1.running_mean", "body.1.running_var"]
    assert [type(c).__name__ for c in m.children()] == ["Sequential"]
    assert [type(c).__name__ for c in m.modules()][:3] == ["TwoPart", "Sequential", "Linear"]
    assert len(list(m.modules())) == 8
    assert [n for n, _ in m.body.named_parameters(recurse=False)] == []


def test_shared_parameters_are_listed_once():
    a = nn.Linear(3, 3, generator=Generator(0))
    b = nn.Linear(3, 3, generator=Generator(1))
    b.weight = a.weight  # tied weights
    net = nn.Sequential(a, b)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.bias"]


def test_setattr_rules():
    m = nn.Linear(2, 3, generator=Generator(0))
    with pytest.raises(TypeError, match="Linear.weight is a Parameter"):
        m.weight = Tensor(numpy.zeros((3, 2), numpy.float32))
    m.weight = nn.Parameter(numpy.zeros((3, 2), numpy.float32))  # replacing with a Parameter is fine
    assert numpy.all(m.weight.data == 0)
    m.note = "plain attribute"
    assert "note" not in dict(m.named_parameters())

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(numpy.zeros(1))

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
        Forgot()
    with pytest.raises(AttributeError, match="Linear has no attribute 'nothing'"):
        _ = m.nothing


def test_train_eval_propagate_to_every_descendant():
    m = TwoPart()
    assert all(s.training for s in m.modules())
    assert m.eval() is m
    assert not any(s.training for s in m.modules())
    m.train()
    assert all(s.training for s in m.modules())


def test_zero_grad_and_requires_grad_():
    m = mlp(dtype=numpy.float64)
    x = Generator(1).normal((5, 4), dtype=numpy.float64)
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not m(x).requires_grad
    m.requires_grad_(True)
    assert m(x).requires_grad


def test_call_is_forward(xp_backend):
    m = nn.Linear(3, 2, generator=Generator(0), dtype=numpy.float64)
    x = minigan.tensor(numpy.arange(6.0).reshape(2, 3))
    assert m(x).backend == xp_backend
    numpy.testing.assert_array_equal(H(m(x).data), H(m.forward(x).data))
    numpy.testing.assert_allclose(H(m(x).data), H(x.data) @ H(m.weight.data).T + H(m.bias.data), rtol=1e-15)


# -- state_dict -------------------------------------------------------------------------------

def test_state_dict_round_trip_is_exact_and_copies():
    a, b = mlp(seed=1), mlp(seed=2)
    x = Generator(3).normal((8, 4))
    a.train()(x)  # move a's running statistics away from their initial values
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                           "4.weight", "4.bias", "5.weight"]
    xp = minigan.backend.default_module()  # plain arrays of the modules' backend: numpy.ndarray on NumPy
    assert all(type(v) is xp.ndarray for v in state.values())
    assert not numpy.array_equal(H(a[0].weight.data), H(b[0].weight.data))
    result = b.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in b.state_dict().items():
        numpy.testing.assert_array_equal(H(v), H(state[k]))
    a.eval(), b.eval()
    numpy.testing.assert_array_equal(H(a(x).data), H(b(x).data))
    # the saved arrays are copies: training a further does not change them
    saved = H(state["0.weight"]).copy()
    a[0].weight.data += 1.0
    numpy.testing.assert_array_equal(H(state["0.weight"]), saved)
    # loading copies in place: the Parameter objects (which an optimizer holds) are kept
    w = b[0].weight
    b.load_state_dict(a.state_dict())
    assert b[0].weight is w
    numpy.testing.assert_array_equal(H(w.data), H(a[0].weight.data))


def test_load_state_dict_reports_every_problem_by_name():
    m = mlp()
    state = m.state_dict()
    before = {k: v.copy() for k, v in state.items()}
    del state["0.bias"]
    state["extra.weight"] = numpy.zeros(2, numpy.float32)
    state["4.weight"] = numpy.zeros((5, 6), numpy.float32)
    state["1.running_var"] = state["1.running_var"].astype(numpy.float64)
    m2 = mlp(seed=9)
    before2 = m2.state_dict()
    with pytest.raises(RuntimeError) as info:
        m2.load_state_dict(state)
    msg = str(info.value)
    assert "Sequential" in msg
    assert "missing key(s): 0.bias" in msg
    assert "unexpected key(s): extra.weight" in msg
    assert "4.weight: shape (5, 6) in state, (6, 6) in the module" in msg
    assert "1.running_var: dtype float64 in state, float32 in the module" in msg
    # nothing was changed by the failed load
    for k, v in m2.state_dict().items():
        numpy.testing.assert_array_equal(H(v), H(before2[k]))
    # strict=False tolerates missing and unexpected keys, never mismatches
    state["4.weight"] = before["4.weight"]
    state["1.running_var"] = before["1.running_var"]
    result = m2.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra.weight"]
    numpy.testing.assert_array_equal(H(m2[0].weight.data), H(before["0.weight"]))
    numpy.testing.assert_array_equal(H(m2[0].bias.data), H(before2["0.bias"]))


# -- repr -------------------------------------------------------------------------------------

def test_repr_is_nested_like_pytorch():
    assert repr(mlp()) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=6, bias=True)\n"
        "  (1): BatchNorm1d(6, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): ReLU()\n"
        "  (3): Dropout(p=0.2)\n"
        "  (4): Maxout(in_features=6, out_features=2, pieces=3, bias=True)\n"
        "  (5): Linear(in_features=2, out_features=1, bias=False)\n"
        ")"
    )
    nested = nn.Sequential(OrderedDict(body=nn.Sequential(nn.Tanh()), out=nn.Sigmoid()))
    assert repr(nested) == "Sequential(\n  (body): Sequential(\n    (0): Tanh()\n  )\n  (out): Sigmoid()\n)"


# -- containers -------------------------------------------------------------------------------

def test_sequential_indexing():
    m = mlp()
    assert len(m) == 6
    assert isinstance(m[0], nn.Linear) and m[-1] is m[5]
    head = m[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is m[1]
    assert [type(x).__name__ for x in m] == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Maxout", "Linear"]
    with pytest.raises(IndexError, match="out of range for 6 modules"):
        m[6]
    with pytest.raises(TypeError, match="not a minigan.nn.Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    m.append(nn.Sigmoid())
    assert len(m) == 7 and "6.weight" not in m.state_dict()


def test_module_list_registers_parameters():
    ml = nn.ModuleList([nn.Linear(2, 2, generator=Generator(0)) for _ in range(3)])
    assert len(list(ml.parameters())) == 6 and len(ml) == 3
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]


# -- layers -----------------------------------------------------------------------------------

def test_linear_dtype_and_errors():
    m = nn.Linear(3, 2, generator=Generator(0))
    assert m.weight.dtype == numpy.float32 and m.weight.shape == (2, 3) and m.bias.shape == (2,)
    assert m.weight.backend == minigan.default_backend()
    with pytest.raises(TypeError, match="input has dtype float64 but the weights are float32"):
        m(Tensor(numpy.ones((1, 3))))
    with pytest.raises(ValueError, match=r"expected input \(\.\.\., 3\), got shape \(1, 4\)"):
        m(Tensor(numpy.ones((1, 4), numpy.float32)))
    assert nn.Linear(3, 2, dtype=numpy.float64).weight.dtype == numpy.float64


def test_same_generator_seed_same_weights_and_none_means_fresh_entropy():
    a, b = nn.Linear(5, 4, generator=Generator(7)), nn.Linear(5, 4, generator=Generator(7))
    numpy.testing.assert_array_equal(H(a.weight.data), H(b.weight.data))
    numpy.testing.assert_array_equal(H(a.bias.data), H(b.bias.data))
    c, d = nn.Linear(5, 4), nn.Linear(5, 4)  # generator=None: OS entropy, differs every time
    assert not numpy.array_equal(H(c.weight.data), H(d.weight.data))


@pytest.mark.parametrize("cls,args", [(nn.BatchNorm1d, ((6, 3), (6, 3, 4))), (nn.BatchNorm2d, ((4, 3, 2, 2),))])
def test_batch_norm_modules(cls, args, xp_backend):
    rng = numpy.random.default_rng(0)
    bn = cls(3, momentum=0.5, dtype=numpy.float64)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var"]
    for shape in args:
        bn.reset_running_stats()
        x0 = rng.standard_normal(shape) + 2.0
        x = minigan.tensor(x0)
        axes = (0,) + tuple(range(2, len(shape)))
        y = bn(x)
        assert y.backend == xp_backend
        numpy.testing.assert_allclose(H(y.data).mean(axis=axes), 0.0, atol=1e-12)
        numpy.testing.assert_allclose(H(bn.running_mean.data), 0.5 * x0.mean(axis=axes), rtol=1e-12)
        numpy.testing.assert_allclose(H(bn.running_var.data), 0.5 + 0.5 * x0.var(axis=axes, ddof=1), rtol=1e-12)
        saved = {k: H(v) for k, v in bn.state_dict().items()}  # arrays on the module's backend, copied here
        bn.eval()
        y_eval = bn(x)
        for k, v in bn.state_dict().items():  # eval leaves the statistics alone
            numpy.testing.assert_array_equal(H(v), saved[k])
        bshape = (1, 3) + (1,) * (len(shape) - 2)
        expected = ((x0 - saved["running_mean"].reshape(bshape))
                    / numpy.sqrt(saved["running_var"].reshape(bshape) + 1e-5))
        numpy.testing.assert_allclose(H(y_eval.data), expected, rtol=1e-12)
        bn.train()
    with pytest.raises(ValueError, match=f"{cls.__name__}\\(3\\): expected input"):
        bn(minigan.tensor(numpy.ones((4, 5))))


def test_batch_norm_without_affine_or_running_stats():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.buffers()) == [] and bn.state_dict() == OrderedDict()
    x = Tensor(numpy.array([[1.0, 2.0], [3.0, 6.0]], numpy.float32))
    numpy.testing.assert_allclose(bn.eval()(x).data, [[-1, -1], [1, 1]], rtol=1e-5)  # batch stats even in eval


def test_dropout_module_train_and_eval(xp_backend):
    d = nn.Dropout(0.5, generator=Generator(0))
    x = minigan.ones((100,))
    y = d(x)
    assert y.backend == xp_backend
    assert set(numpy.unique(y.numpy()).tolist()) == {0.0, 2.0}
    assert d.eval()(x) is x


def test_maxout_module_is_linear_then_maxout(xp_backend):
    m = nn.Maxout(4, 3, 2, generator=Generator(0), dtype=numpy.float64)
    assert m.weight.shape == (6, 4) and m.bias.shape == (6,)
    x = minigan.tensor(numpy.random.default_rng(1).standard_normal((5, 4)))
    z = H(x.data) @ H(m.weight.data).T + H(m.bias.data)
    numpy.testing.assert_allclose(H(m(x).data), z.reshape(5, 3, 2).max(axis=-1), rtol=1e-15)
    minigan.gradcheck(lambda x, w, b: F.maxout(F.linear(x, w, b), 2),
                      [Tensor(x.data, requires_grad=True), Tensor(m.weight.data, requires_grad=True),
                       Tensor(m.bias.data, requires_grad=True)])


def test_activation_modules(xp_backend):
    x0 = numpy.array([-2.0, 0.5])
    x = minigan.tensor(x0)
    numpy.testing.assert_allclose(nn.ReLU()(x).numpy(), [0.0, 0.5])
    numpy.testing.assert_allclose(nn.LeakyReLU(0.2)(x).numpy(), [-0.4, 0.5])
    numpy.testing.assert_allclose(nn.LeakyReLU()(x).numpy(), [-0.02, 0.5])  # PyTorch's default slope
    numpy.testing.assert_allclose(nn.Tanh()(x).numpy(), numpy.tanh(x0))
    numpy.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + numpy.exp(-x0)))
    assert nn.Identity()(x) is x
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"


def test_flatten_unflatten(xp_backend):
    x = minigan.tensor(numpy.arange(24.0).reshape(2, 3, 2, 2), requires_grad=True)
    flat = nn.Flatten()(x)
    assert flat.shape == (2, 12)
    back = nn.Unflatten(1, (3, 2, 2))(flat)
    numpy.testing.assert_array_equal(back.numpy(), x.numpy())
    assert nn.Flatten(0, 1)(x).shape == (6, 2, 2)
    back.sum().backward()
    assert x.grad.backend == xp_backend
    numpy.testing.assert_array_equal(x.grad.numpy(), 1.0)
    with pytest.raises(ValueError, match=r"cannot split into \(5, 2\)"):
        nn.Unflatten(1, (5, 2))(flat)


def test_to_numpy_keeps_objects_and_unknown_backend_errors():
    m = mlp()
    params = list(m.parameters())
    assert m.to("numpy") is m
    assert all(a is b for a, b in zip(params, m.parameters()))
    with pytest.raises(minigan.BackendError, match="unknown backend 'tpu'"):
        m.to("tpu")


def test_to_cupy_moves_parameters_grads_and_buffers(xp_backend):
    with minigan.backend_scope("numpy"):  # built on the host, then moved
        m = mlp(dtype=numpy.float32)
    x = Generator(0).normal((4, 4), backend_name="numpy")
    m(x).sum().backward()
    w = m[0].weight
    m.to(xp_backend)
    assert m[0].weight is w and w.backend == xp_backend and w.grad.backend == xp_backend
    assert m[1].running_var.backend == xp_backend
    y = m(x.to(xp_backend))
    assert y.backend == xp_backend
    state = m.to("numpy").state_dict()
    assert all(type(v) is numpy.ndarray for v in state.values())


# -- init ------------------------------------------------------------------------------------

def _param(shape, dtype=numpy.float64):
    return nn.Parameter(numpy.zeros(shape, dtype))


def test_uniform_and_normal_statistics():
    n = 100 * 1000
    t = init.uniform_(_param((100, 1000)), -0.05, 0.05, generator=Generator(0))
    a = 0.05
    d = t.data.ravel()
    assert d.min() >= -a and d.max() <= a
    assert abs(d.mean()) < 5 * a / math.sqrt(3 * n)  # Var U(-a, a) = a^2 / 3
    # the sample second moment has std sqrt(Var X^2 / n) = sqrt(4 a^4 / 45 / n)
    assert abs((d ** 2).mean() - a * a / 3) < 5 * math.sqrt(4 * a ** 4 / 45 / n)
    t = init.normal_(_param((100, 1000)), 0.0, 0.02, generator=Generator(1))
    d, s = t.data.ravel(), 0.02
    assert abs(d.mean()) < 5 * s / math.sqrt(n)
    assert abs((d ** 2).mean() - s * s) < 5 * math.sqrt(2) * s * s / math.sqrt(n)  # Var X^2 = 2 s^4


@pytest.mark.parametrize("fn,shape,expected_var", [
    (init.xavier_uniform_, (200, 300), 2.0 / 500),
    (init.xavier_normal_, (200, 300), 2.0 / 500),
    (init.kaiming_uniform_, (200, 300), 2.0 / 300),   # gain^2 = 2 for leaky_relu with a = 0
    (init.kaiming_normal_, (200, 300), 2.0 / 300),
    (init.kaiming_normal_, (64, 3, 4, 4), 2.0 / 48),  # conv: fan_in = 3 * 4 * 4
])
def test_scaled_initialisers_have_their_variance(fn, shape, expected_var):
    t = fn(_param(shape), generator=Generator(5))
    d = t.data.ravel()
    n = d.size
    fourth = 9.0 / 5.0 if "uniform" in fn.__name__ else 3.0  # E X^4 / (Var X)^2: uniform 9/5, normal 3
    assert abs(d.mean()) < 5 * math.sqrt(expected_var / n)
    assert abs((d ** 2).mean() - expected_var) < 5 * expected_var * math.sqrt((fourth - 1) / n)
    if "uniform" in fn.__name__:
        b = math.sqrt(3 * expected_var)
        assert numpy.abs(d).max() <= b and numpy.abs(d).max() > b * (1 - 20 / n)


def test_default_layer_init_is_pytorchs():
    """W, b ~ U(+-1/sqrt(fan_in)) for Linear and Conv2d (kaiming_uniform with a = sqrt(5))."""
    lin = nn.Linear(400, 300, generator=Generator(0), dtype=numpy.float64)
    b = 1 / math.sqrt(400)
    for t in (lin.weight, lin.bias):
        d = t.data.ravel()
        assert numpy.abs(d).max() <= b
        assert numpy.abs(d).max() > b * (1 - 20 / d.size)
    d = lin.weight.data.ravel()
    assert abs(d.var() - b * b / 3) < 5 * (b * b / 3) * math.sqrt(0.8 / d.size)
    assert init.calculate_fan_in_and_fan_out(_param((8, 3, 4, 4))) == (48, 128)


def test_init_errors_and_fill():
    t = _param((3, 2))
    assert init.ones_(t) is t and numpy.all(t.data == 1)
    init.zeros_(t)
    assert numpy.all(t.data == 0)
    init.constant_(t, 0.5)
    assert numpy.all(t.data == 0.5)
    with pytest.raises(TypeError, match="minigan.Generator"):
        init.normal_(t, generator=numpy.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.xavier_uniform_(_param((3,)))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")
    t32 = init.normal_(_param((4,), numpy.float32), generator=Generator(0))
    assert t32.dtype == numpy.float32


# -- convolution layers (arithmetic in minigan/ops/conv.py, tested there) ----------------------

def test_conv_layers_shapes_init_and_repr():
    g = Generator(0)
    conv = nn.Conv2d(3, 8, 4, stride=2, padding=1, generator=g)
    deconv = nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1, generator=g)
    assert conv.weight.shape == (8, 3, 4, 4) and conv.bias.shape == (8,)
    assert deconv.weight.shape == (8, 3, 4, 4) and deconv.bias.shape == (3,)  # (in, out, kh, kw)
    x = g.normal((2, 3, 16, 12))
    h = conv(x)
    assert h.shape == (2, 8, 8, 6)  # (16 + 2 - 4) // 2 + 1 = 8
    assert deconv(h).shape == (2, 3, 16, 12)  # (8 - 1) 2 - 2 + 4 = 16
    assert nn.ConvTranspose2d(8, 3, 3, 2, 1, output_padding=1, generator=g)(h).shape == (2, 3, 16, 12)
    assert numpy.abs(conv.weight.data).max() <= 1 / math.sqrt(3 * 16)  # fan_in = in * kh * kw
    assert numpy.abs(deconv.bias.data).max() <= 1 / math.sqrt(3 * 16)  # PyTorch reads dim 1 as fan_in
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))"
    assert repr(nn.ConvTranspose2d(8, 3, 3, 2, 1, 1, bias=False)) == (
        "ConvTranspose2d(8, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), bias=False)")
    with pytest.raises(ValueError, match=r"expected input \(N, 3, H, W\), got shape \(2, 4, 5, 5\)"):
        conv(g.normal((2, 4, 5, 5)))
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(8, 3, 3, stride=1, output_padding=1)


def test_conv_layers_gradcheck():
    """Gradients flow through the layers to x (the ops' own weight gradients are tested with the ops)."""
    g = Generator(1)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, generator=g, dtype=numpy.float64)
    deconv = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, generator=g, dtype=numpy.float64)
    x = Tensor(g.normal((2, 2, 5, 4), dtype=numpy.float64).data, requires_grad=True)
    minigan.gradcheck(lambda x: deconv(F.leaky_relu(conv(x), 0.2)), [x])
    deconv(F.leaky_relu(conv(x), 0.2)).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape
               for p in list(conv.parameters()) + list(deconv.parameters()))
