"""The device array: a NumPy array behind CuPy's host/device rules."""
from __future__ import annotations

import numbers

import numpy

from ._transfers import transfers

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")


def _host_operand_error(where, a):
    return TypeError(f"fake_cupy {where}: unsupported type {type(a).__name__} with shape {a.shape} "
                     "(a host array as an operand of a device op); move it with cupy.asarray first")


def unwrap(obj, where, strict=True):
    """The NumPy arrays behind device arrays, through lists, tuples and dicts.

    strict: a host numpy.ndarray of ndim >= 1 is refused, as CuPy refuses host operands.
    """
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, numpy.ndarray):
        if strict and obj.ndim > 0:
            raise _host_operand_error(where, obj)
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(unwrap(o, where, strict) for o in obj)
    if isinstance(obj, dict):
        return {k: unwrap(v, where, strict) for k, v in obj.items()}
    return obj


def wrap(obj):
    """Device arrays for the NumPy arrays (and NumPy scalars, as 0-d arrays) in a result."""
    if isinstance(obj, numpy.ndarray):
        return ndarray._of(obj)
    if isinstance(obj, numpy.generic):
        return ndarray._of(numpy.asarray(obj))
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(wrap(o) for o in obj)
    if isinstance(obj, list):
        return [wrap(o) for o in obj]
    if hasattr(obj, "_fields"):  # namedtuple results (slogdet, eigh)
        return type(obj)(*(wrap(o) for o in obj))
    return obj


def wrap_function(fn, name):
    """A device version of a NumPy function: device inputs only, device outputs."""

    def device_fn(*args, **kwargs):
        return wrap(fn(*unwrap(args, name), **unwrap(kwargs, name)))

    device_fn.__name__ = name
    device_fn.__doc__ = f"{name} on device arrays (a host array argument is refused)."
    return device_fn


def _index(key):
    """A NumPy index from a device index; a host index array is allowed (CuPy copies it over)."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, numpy.ndarray) and key.ndim > 0:
        transfers.record("h2d")
    elif isinstance(key, list):
        transfers.record("h2d")
    return key


def _operand(x, where):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, numpy.ndarray):
        if x.ndim > 0:
            raise _host_operand_error(where, x)
        return x
    if isinstance(x, (numbers.Number, numpy.generic)):
        return x
    return NotImplemented


def _binary(ufunc, reflected=False):
    def op(self, other):
        o = _operand(other, ufunc.__name__)
        if o is NotImplemented:
            return NotImplemented
        return wrap(ufunc(o, self._a) if reflected else ufunc(self._a, o))

    return op


def _inplace(ufunc):
    def op(self, other):
        o = _operand(other, ufunc.__name__)
        if o is NotImplemented:
            return NotImplemented
        ufunc(self._a, o, out=self._a)
        return self

    return op


# Methods of cupy.ndarray that return arrays (or Python numbers from the shape alone).
_ARRAY_METHODS = {
    "all", "any", "argmax", "argmin", "argsort", "astype", "clip", "conj", "copy", "cumsum", "diagonal",
    "dot", "flatten", "max", "mean", "min", "nonzero", "prod", "ravel", "repeat", "reshape", "round",
    "sort", "squeeze", "std", "sum", "swapaxes", "take", "trace", "transpose", "var", "view",
}
_PLAIN_ATTRIBUTES = {"shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides"}


class Flags:
    """cupy.ndarray.flags: read-only C_CONTIGUOUS, F_CONTIGUOUS and OWNDATA (NumPy's WRITEABLE, ALIGNED: absent)."""

    __slots__ = ("_c", "_f", "_own")

    def __init__(self, a):
        self._c, self._f, self._own = bool(a.flags.c_contiguous), bool(a.flags.f_contiguous), bool(a.flags.owndata)

    c_contiguous = property(lambda self: self._c)
    f_contiguous = property(lambda self: self._f)
    owndata = property(lambda self: self._own)

    def __getitem__(self, name):
        keys = {"C_CONTIGUOUS": self._c, "F_CONTIGUOUS": self._f, "OWNDATA": self._own}
        if name not in keys:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return keys[name]


class ndarray:  # CuPy's spelling
    """A device array. Not a numpy.ndarray: NumPy cannot read it without ``.get()``."""

    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, shape, dtype=float):
        self._a = numpy.empty(shape, dtype=dtype)

    @classmethod
    def _of(cls, a):
        out = cls.__new__(cls)
        out._a = a
        return out

    # -- no implicit trip to the host ----------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(_IMPLICIT)

    def get(self, stream=None, order="C", out=None):
        """The host copy (a device-to-host transfer)."""
        transfers.record("d2h")
        return numpy.array(self._a, order=order, copy=True)

    def item(self):
        transfers.record("d2h")
        return self._a.item()

    def tolist(self):
        transfers.record("d2h")
        return self._a.tolist()

    def __float__(self):
        transfers.record("d2h")
        return float(self._a)

    def __int__(self):
        transfers.record("d2h")
        return int(self._a)

    def __bool__(self):
        transfers.record("d2h")
        return bool(self._a)

    def __repr__(self):
        transfers.record("d2h")
        return repr(self._a).replace("array(", "fake_cupy.array(", 1)

    def __str__(self):
        transfers.record("d2h")
        return str(self._a)

    def __format__(self, spec):
        transfers.record("d2h")
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    # -- NumPy's protocols: compute here, refuse host operands ---------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"{ufunc.__name__}.{method}" if method != "__call__" else ufunc.__name__
        for x in inputs:
            if not isinstance(x, (ndarray, numpy.ndarray, numbers.Number, numpy.generic, tuple, list, slice)):
                return NotImplemented  # e.g. a minigan Tensor: let its own operator run
        if method == "at":
            target, index, *rest = inputs
            ufunc.at(unwrap(target, where), _index(index), *unwrap(tuple(rest), where))
            return None
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(unwrap(o, where) for o in out)
        result = getattr(ufunc, method)(*unwrap(inputs, where), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        return wrap(func(*unwrap(args, func.__name__), **unwrap(kwargs, func.__name__)))

    # -- attributes ------------------------------------------------------------------------------
    def __getattr__(self, name):
        if name in _PLAIN_ATTRIBUTES:
            return getattr(self._a, name)
        if name in _ARRAY_METHODS:
            method = getattr(self._a, name)

            def device_method(*args, **kwargs):
                out = kwargs.get("out")
                result = method(*unwrap(args, name), **unwrap(kwargs, name))
                return out if out is not None else wrap(result)

            return device_method
        raise AttributeError(f"fake_cupy.ndarray has no attribute {name!r}")

    @property
    def flags(self):
        return Flags(self._a)

    @property
    def T(self):  # NumPy's name
        return ndarray._of(self._a.T)

    def fill(self, value):
        self._a.fill(_operand(value, "fill"))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (wrap(row) for row in self._a)

    def __getitem__(self, key):
        return wrap(self._a[_index(key)])

    def __setitem__(self, key, value):
        if isinstance(value, numpy.ndarray) and value.ndim > 0:
            raise TypeError(f"fake_cupy: cannot assign a host numpy.ndarray {value.shape} into a device array "
                            "(dev[...] = host); move it with cupy.asarray first")
        if isinstance(value, (list, tuple)):
            raise TypeError("fake_cupy: cannot assign a Python sequence into a device array; use cupy.asarray")
        self._a[_index(key)] = _operand(value, "setitem") if not isinstance(value, ndarray) else value._a

    __hash__ = None

    # -- operators -------------------------------------------------------------------------------
    __add__, __radd__, __iadd__ = _binary(numpy.add), _binary(numpy.add, True), _inplace(numpy.add)
    __sub__, __rsub__, __isub__ = _binary(numpy.subtract), _binary(numpy.subtract, True), _inplace(numpy.subtract)
    __mul__, __rmul__, __imul__ = _binary(numpy.multiply), _binary(numpy.multiply, True), _inplace(numpy.multiply)
    __truediv__, __rtruediv__ = _binary(numpy.true_divide), _binary(numpy.true_divide, True)
    __itruediv__ = _inplace(numpy.true_divide)
    __floordiv__, __rfloordiv__ = _binary(numpy.floor_divide), _binary(numpy.floor_divide, True)
    __mod__, __rmod__ = _binary(numpy.remainder), _binary(numpy.remainder, True)
    __pow__, __rpow__, __ipow__ = _binary(numpy.power), _binary(numpy.power, True), _inplace(numpy.power)
    __matmul__, __rmatmul__ = _binary(numpy.matmul), _binary(numpy.matmul, True)
    __and__, __rand__ = _binary(numpy.bitwise_and), _binary(numpy.bitwise_and, True)
    __iand__ = _inplace(numpy.bitwise_and)
    __or__, __ror__, __ior__ = _binary(numpy.bitwise_or), _binary(numpy.bitwise_or, True), _inplace(numpy.bitwise_or)
    __xor__, __rxor__ = _binary(numpy.bitwise_xor), _binary(numpy.bitwise_xor, True)
    __lt__, __le__ = _binary(numpy.less), _binary(numpy.less_equal)
    __gt__, __ge__ = _binary(numpy.greater), _binary(numpy.greater_equal)
    __eq__, __ne__ = _binary(numpy.equal), _binary(numpy.not_equal)

    def __neg__(self):
        return ndarray._of(-self._a)

    def __pos__(self):
        return ndarray._of(+self._a)

    def __abs__(self):
        return ndarray._of(abs(self._a))

    def __invert__(self):
        return ndarray._of(~self._a)
