"""Module and Parameter: how a network holds its weights, as in PyTorch.

A Module is a function with state. Assigning attributes registers that state:

    self.weight = Parameter(...)   -> a parameter (trained by optimisers; in state_dict)
    self.register_buffer("running_mean", t) -> a buffer (not trained; in state_dict)
    self.fc = Linear(...)          -> a child module (its parameters are ours too, as "fc.weight")

From those three registries come parameters(), named_parameters(), buffers(), children(),
modules(), train()/eval(), to(backend), zero_grad(), state_dict() and load_state_dict().
Names are dotted paths ("0.weight", "main.3.running_var"), in registration order.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend
from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's trainable weight: requires_grad=True by default.

    It is an ordinary leaf Tensor otherwise; ops on it produce plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def new_parameter(shape, dtype):
    """A zero Parameter of that shape and dtype on the default backend, for a layer to initialise."""
    return Parameter(backend.default_module().zeros(tuple(shape), dtype=dtype))


def add_weight_and_bias(module, weight_shape, bias_size, dtype):
    """module.weight: a zero Parameter of weight_shape; module.bias: a zero one of (bias_size,), or
    None when bias_size is None. The layer then initialises them (its reset_parameters)."""
    module.weight = new_parameter(weight_shape, dtype)
    if bias_size is None:
        module.register_parameter("bias", None)
    else:
        module.bias = new_parameter((bias_size,), dtype)


def check_dtype(module, x):
    """Refuse an input whose dtype differs from the module's weights (NumPy would silently upcast)."""
    w = next(iter(module._parameters.values()), None)
    if w is not None and x.dtype != w.dtype:
        raise TypeError(
            f"{type(module).__name__}: input has dtype {x.dtype} but the weights are {w.dtype}; "
            f"cast the input with x.astype(...) or build the layer with dtype={w.dtype}"
        )


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and network. Subclasses set attributes in __init__ and define forward."""

    training: bool

    def __init__(self):
        # object.__setattr__ bypasses our own __setattr__, which needs these dicts to exist.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attribute {name!r}"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}.{name} is a Parameter; assign a Parameter (or None), "
                    f"not {type(value).__name__}. To change its values, write to .data"
                )
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}.{name} is a buffer; assign a Tensor, not {type(value).__name__}")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a submodule; assign a Module, not {type(value).__name__}")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):  # only called when normal lookup fails
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """Register state that is saved and moved with the module but not trained (e.g. running_mean)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got {type(tensor).__name__}")
        if "." in name or not name:
            raise KeyError(f"register_buffer: invalid buffer name {name!r}")
        self._forget(name)
        self._buffers[name] = tensor

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    # -- walking the tree ------------------------------------------------------------------
    def named_modules(self, prefix=""):
        """(name, module) for this module and every descendant, depth first, each once."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named(self, registry, prefix, recurse):
        seen = set()
        walk = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in walk:
            for k, t in getattr(m, registry).items():
                if t is None or id(t) in seen:  # a weight shared by two layers is listed once
                    continue
                seen.add(id(t))
                yield (f"{mname}.{k}" if mname else k), t

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs in registration order, shared parameters once."""
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes and housekeeping ------------------------------------------------------------
    def train(self, mode=True):
        """Training mode for this module and all descendants (batch norm uses batch statistics,
        dropout drops). Returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (running statistics, no dropout). Returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient before the next backward pass.

        set_to_none=True (PyTorch's default) sets ``.grad`` to None; False replaces an
        existing gradient by zeros of its shape (a new array: a gradient held elsewhere is kept).
        """
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(backend.array_module(p.grad.data).zeros_like(p.grad.data))

    def requires_grad_(self, flag=True):
        """Freeze (False) or unfreeze every parameter, e.g. D's while G takes its step."""
        for p in self.parameters():
            p.requires_grad = bool(flag)
        return self

    def to(self, backend_name):
        """Move parameters, their gradients and buffers to 'numpy' or 'cupy', in place. Returns self.

        The Parameter objects stay the same (only their .data is replaced), so an optimizer
        built before the move still holds them; its own state follows on its next step.
        """
        backend.module_for(backend_name)  # a clear error now if cupy is unusable
        for t in list(self.parameters()) + list(self.buffers()):
            t.data = backend.to_backend(t.data, backend_name)
            if t.grad is not None:
                t.grad = Tensor(backend.to_backend(t.grad.data, backend_name))
        return self

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # -- saving and loading ----------------------------------------------------------------
    def _named_state(self):
        """(name, Tensor) for parameters and buffers, module by module, each module's parameters
        before its buffers: PyTorch's order, so names line up with a torch state_dict."""
        seen = set()
        for mname, m in self.named_modules():
            for registry in (m._parameters, m._buffers):
                for k, t in registry.items():
                    if t is not None and id(t) not in seen:
                        seen.add(id(t))
                        yield (f"{mname}.{k}" if mname else k), t

    def state_dict(self):
        """OrderedDict name -> array copy, for every parameter and buffer (arrays on their own backend).

        Copies, so later training does not change a saved state. minigan/checkpoint.py writes
        these to .npz.
        """
        return OrderedDict((name, t.data.copy()) for name, t in self._named_state())

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` (name -> array) into the parameters and buffers, in place.

        Every problem is collected and reported at once, by name: keys this module has but
        ``state`` lacks (missing), keys ``state`` has but this module lacks (unexpected),
        and arrays whose shape or dtype differs from the module's. With strict=False
        missing and unexpected keys are allowed (and returned); mismatches never are.
        Nothing is changed unless everything fits. Returns (missing_keys, unexpected_keys).
        """
        own = OrderedDict(self._named_state())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched = []
        for k, t in own.items():
            if k not in state:
                continue
            v = state[k]
            v = v.data if isinstance(v, Tensor) else v
            shape, dtype = tuple(getattr(v, "shape", ())), getattr(v, "dtype", None)
            if shape != tuple(t.shape):
                mismatched.append(f"{k}: shape {shape} in state, {tuple(t.shape)} in the module")
            elif dtype != t.dtype:
                mismatched.append(f"{k}: dtype {dtype} in state, {t.dtype} in the module")
        problems = []
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(unexpected))
        if mismatched:
            problems.append("mismatched array(s): " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(
                f"load_state_dict: state does not fit {type(self).__name__}:\n  " + "\n  ".join(problems)
            )
        for k, t in own.items():
            if k in state:
                v = state[k]
                v = v.data if isinstance(v, Tensor) else v
                t.data[...] = backend.to_backend(v, t.backend)
        return IncompatibleKeys(missing, unexpected)

    # -- printing --------------------------------------------------------------------------
    def extra_repr(self):
        """The part inside the parentheses of this module's one-line description."""
        return ""

    def __repr__(self):
        children = [(k, m) for k, m in self._modules.items() if m is not None]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = [extra] if extra else []
        for k, m in children:
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({k}): {body}")
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another: Sequential(Linear(2, 8), ReLU(), Linear(8, 1)).

    Also accepts one OrderedDict of name -> module. Indexable (an int gives a module, a
    slice a new Sequential of the same modules), has len() and iterates over its modules.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                self.add_module(str(name), _check_module("Sequential", name, m))
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), _check_module("Sequential", i, m))

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        try:
            return items[index][1]
        except (IndexError, TypeError):
            raise IndexError(f"Sequential: index {index!r} out of range for {len(items)} modules") from None

    def append(self, module):
        self.add_module(str(len(self._modules)), _check_module("Sequential.append", len(self._modules), module))
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list would hide them)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), _check_module("ModuleList.append", len(self._modules), module))
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        return values[index]


def _check_module(where, name, m):
    if not isinstance(m, Module):
        raise TypeError(f"{where}: item {name!r} is a {type(m).__name__}, not a minigan.nn.Module")
    return m
