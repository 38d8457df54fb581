"""Checkpoints: save and restore a whole training run in one .npz file, atomically, without pickle.

    from minigan import checkpoint
    checkpoint.save("run/ckpt.npz", G=G, D=D, opt_G=opt_G, opt_D=opt_D, lr_D=lr_D,
                    rng=gen, step=step, config=config)
    ...
    rest = checkpoint.restore("run/ckpt.npz", G=G, D=D, opt_G=opt_G, opt_D=opt_D, lr_D=lr_D, rng=gen)
    step, config = rest["step"], rest["config"]

What can be saved, each under the keyword name it is given:

* anything with ``state_dict()``/``load_state_dict()``: modules, optimizers, schedules,
  ``minigan.Generator`` (its state is JSON-able ints and strings);
* ``numpy.random.Generator`` and ``numpy.random.RandomState`` (their bit generator's state);
* plain values: None, bool, int, float, str, lists, tuples, dicts, NumPy arrays and scalars
  (a step counter, a config dict, a fixed batch of z for sample grids).

**The format** (version 1). One .npz (a zip of .npy files), readable with ``numpy.load``:

* every array is its own member, under a namespaced key: the object's name, then its path in
  the state, joined by "/" (``G/0.weight``, ``opt_D/state/0/momentum_buffer``);
* everything else is one JSON document, stored as a uint8 array under
  ``__minigan_checkpoint__``: ``{"format": "minigan-checkpoint", "version": 1, "objects": {...}}``,
  where each array appears as ``{"__minigan__": "array", "key": "G/0.weight"}``. Tuples and
  dicts with non-string keys (an optimizer's state, keyed by parameter index) are tagged the
  same way, so ``load`` returns exactly the Python values that were saved.

**Safety.** Loading uses ``numpy.load(allow_pickle=False)`` and ``json``: nothing in the file
is ever executed. A missing, empty, truncated, corrupt, foreign, wrong-version or
pickle-bearing (object-dtype) file raises ``CheckpointError`` naming the file and the problem.

**Atomic writes.** ``save`` writes to a temporary file in the target's directory, flushes and
fsyncs it, renames it over the target with ``os.replace`` (atomic on POSIX and Windows), then
fsyncs the directory so the rename itself survives a power cut. A crash at any point leaves
either the old checkpoint or the new one, never a mixture. docs/03-optimizers.md explains it.
The temporary name holds the writer's process id and a random part
(``.ckpt.npz.<pid>.<hex>.tmp``); a process killed mid-save leaves its temporary file behind,
and the next save of the same target removes those of processes that no longer run. If the
directory cannot be fsynced (a directory that is writable but not readable), the checkpoint
is already complete under its name: that is a warning, not an error.

**Depth.** Values nest at most ``MAX_DEPTH`` levels; deeper ones (in a file, or passed to
``save``) raise CheckpointError rather than exhausting Python's recursion limit.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import warnings
import zipfile

import numpy

from . import backend
from .autograd import Tensor

FORMAT = "minigan-checkpoint"
VERSION = 1
HEADER_KEY = "__minigan_checkpoint__"
TAG = "__minigan__"  # marks a JSON object that stands for an array, a tuple or a non-string-keyed dict
MAX_DEPTH = 100  # nesting levels of saved values; far beyond any state dict, far below the recursion limit


class CheckpointError(Exception):
    """A checkpoint file cannot be read (or restored), with the file and the reason."""


# -- encoding: Python values <-> JSON + arrays -------------------------------------------------
def _is_array(x) -> bool:
    return isinstance(x, numpy.ndarray) or backend.is_cupy_array(x) or backend.recognise_cupy_array(x)


def _new_key(path, arrays) -> str:
    key = "/".join(path)
    if key not in arrays and key != HEADER_KEY:
        return key
    n = 1  # two paths joined to the same string (a dict key containing "/"): keep both
    while f"{key}~{n}" in arrays:
        n += 1
    return f"{key}~{n}"


def _encode(x, path, arrays):
    """A JSON-able version of ``x``; its arrays go into ``arrays`` under keys made from ``path``."""
    where = "/".join(path)
    if len(path) > MAX_DEPTH:
        raise CheckpointError(f"checkpoint.save: {where[:200]}... is nested more than {MAX_DEPTH} levels deep")
    if isinstance(x, Tensor):
        raise TypeError(
            f"checkpoint.save: {where} is a minigan Tensor; save its array (tensor.numpy()) or keep it in a Module"
        )
    if isinstance(x, numpy.generic) or _is_array(x):  # before float: numpy.float64 is a float subclass
        a = backend.as_numpy(x) if _is_array(x) else numpy.asarray(x)
        if a.dtype.hasobject:
            raise TypeError(f"checkpoint.save: {where} is an object array; only numeric and string arrays can be saved")
        key = _new_key(path, arrays)
        arrays[key] = a
        return {TAG: "array" if _is_array(x) else "scalar", "key": key}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, tuple):
        return {TAG: "tuple", "items": [_encode(v, path + [str(i)], arrays) for i, v in enumerate(x)]}
    if isinstance(x, list):
        return [_encode(v, path + [str(i)], arrays) for i, v in enumerate(x)]
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x) and TAG not in x:
            return {k: _encode(v, path + [k], arrays) for k, v in x.items()}
        return {
            TAG: "dict",
            "items": [
                [_encode(k, path + [f"key{i}"], arrays), _encode(v, path + [str(k)], arrays)]
                for i, (k, v) in enumerate(x.items())
            ],
        }
    raise TypeError(
        f"checkpoint.save: {where} is a {type(x).__module__}.{type(x).__qualname__}, which a checkpoint cannot "
        "hold; expected numbers, strings, lists, tuples, dicts, arrays, or an object with state_dict()"
    )


def _decode(x, arrays, used, depth=0):
    if depth > MAX_DEPTH + 2:  # + 2: a tagged tuple or dict adds a level of JSON around its items
        raise ValueError(f"values nested more than {MAX_DEPTH} levels deep")
    depth += 1
    if isinstance(x, list):
        return [_decode(v, arrays, used, depth) for v in x]
    if not isinstance(x, dict):
        return x
    if TAG not in x:
        return {k: _decode(v, arrays, used, depth) for k, v in x.items()}
    tag = x[TAG]
    if tag in ("array", "scalar"):
        key = x.get("key")
        if key not in arrays:
            raise ValueError(f"the JSON header refers to array {key!r}, which the file does not contain")
        used.add(key)
        return arrays[key] if tag == "array" else arrays[key][()]
    if tag == "tuple":
        return tuple(_decode(v, arrays, used, depth) for v in x["items"])
    if tag == "dict":
        return {_hashable(_decode(k, arrays, used, depth)): _decode(v, arrays, used, depth) for k, v in x["items"]}
    raise ValueError(f"unknown tag {tag!r} in the JSON header")


def _hashable(k):
    if isinstance(k, list):
        return tuple(_hashable(v) for v in k)
    if isinstance(k, dict):
        raise ValueError("a dict key in the JSON header is itself a dict")
    return k


# -- what kind of object is it -----------------------------------------------------------------
def _kind(obj) -> str:
    if callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None)):
        return "state"
    if isinstance(obj, numpy.random.Generator):
        return "numpy_generator"
    if isinstance(obj, numpy.random.RandomState):
        return "numpy_random_state"
    return "value"


def _state_of(obj, kind):
    if kind == "state":
        return obj.state_dict()
    if kind == "numpy_generator":
        return obj.bit_generator.state
    if kind == "numpy_random_state":
        return obj.get_state(legacy=False)
    return obj


def _load_into(obj, kind, state):
    if kind == "state":
        obj.load_state_dict(state)
    elif kind == "numpy_generator":
        expected = type(obj.bit_generator).__name__
        if state.get("bit_generator") != expected:
            raise ValueError(f"the state is for bit generator {state.get('bit_generator')!r}, this one is {expected!r}")
        obj.bit_generator.state = state
    elif kind == "numpy_random_state":
        obj.set_state(state)


# -- writing -----------------------------------------------------------------------------------
def save(path, /, **objects) -> None:
    """Write every named object into one .npz checkpoint at ``path``, atomically.

    Keyword names become the namespaces of the file (``G=...`` -> arrays ``G/...``). Arrays
    on CuPy are copied to the host. Raises TypeError, naming the item, for anything that
    cannot be stored without pickle.
    """
    if not objects:
        raise ValueError("checkpoint.save: nothing to save; pass objects as keywords, e.g. save(path, G=G, step=step)")
    arrays = {}
    entries = {}
    for name, obj in objects.items():
        if name.startswith("__") or "/" in name:
            raise ValueError(f"checkpoint.save: object name {name!r} is reserved (no leading '__', no '/')")
        kind = _kind(obj)
        entries[name] = {
            "kind": kind,
            "type": f"{type(obj).__module__}.{type(obj).__qualname__}",
            "state": _encode(_state_of(obj, kind), [name], arrays),
        }
    header = {"format": FORMAT, "version": VERSION, "objects": entries}
    text = json.dumps(header, ensure_ascii=True, allow_nan=True)
    arrays[HEADER_KEY] = numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8)
    _atomic_write(os.fspath(path), arrays)


def _write_npz(f, arrays) -> None:
    """The .npz layout numpy.savez writes (a zip of .npy members), with pickling forbidden."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, a in arrays.items():
            with zf.open(key + ".npy", mode="w", force_zip64=True) as member:
                numpy.lib.format.write_array(member, a, allow_pickle=False)


def _atomic_write(path, arrays) -> None:
    """Temporary file in the same directory -> flush + fsync -> os.replace -> fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint.save: cannot write {path}: directory {directory} does not exist")
    _remove_stale_temporaries(directory, os.path.basename(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:  # a fresh name; O_EXCL makes sure we never write into someone else's file
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # 0o666 minus the umask, like an ordinary new file
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory) -> None:
    """Make the rename durable: a directory's entries are data too (POSIX only; Windows cannot open a directory).

    The checkpoint is complete and in place by now, so a directory that cannot be opened or
    fsynced only weakens the guarantee against a power cut: a warning, not an error.
    """
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as err:
        warnings.warn(f"checkpoint.save: the checkpoint was written, but directory {directory} could not be "
                      f"fsynced ({err}); a power cut now could lose the rename", RuntimeWarning, stacklevel=4)


def _process_alive(pid) -> bool:
    if pid == os.getpid():
        return False  # this process is not saving the same target right now: the file is from an earlier failure
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else (PermissionError), or we cannot tell
        return True
    return True


def _remove_stale_temporaries(directory, basename) -> None:
    """Delete the temporary files a killed save of this target left behind (their writer is gone)."""
    pattern = re.compile(re.escape(f".{basename}.") + r"(\d+)\.[0-9a-f]{12}\.tmp")
    try:
        names = os.listdir(directory)
    except OSError:
        return  # an unlistable directory: nothing we can clean, and the save itself may still work
    for name in names:
        match = pattern.fullmatch(name)
        if match and not _process_alive(int(match.group(1))):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass  # another save removed it first, or it is not ours to remove


# -- reading -----------------------------------------------------------------------------------
def _read(path) -> dict:
    """name -> (kind, type, decoded state) for every object in the file; CheckpointError on any problem."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if not magic:
        raise CheckpointError(f"{path}: the file is empty (an interrupted copy?), not a minigan checkpoint")
    if magic != b"PK\x03\x04":
        raise CheckpointError(
            f"{path}: not a minigan checkpoint: an .npz is a zip archive starting with b'PK\\x03\\x04', "
            f"this file starts with {magic!r}"
        )
    try:
        with numpy.load(path, allow_pickle=False) as npz:
            if HEADER_KEY not in npz.files:
                raise CheckpointError(
                    f"{path}: not a minigan checkpoint: the .npz has no {HEADER_KEY!r} entry "
                    f"(it holds {sorted(npz.files)[:5]}...)"
                )
            header = _parse_header(path, npz[HEADER_KEY])
            arrays = {}
            for key in npz.files:
                if key != HEADER_KEY:
                    arrays[key] = _read_array(path, npz, key)
    except CheckpointError:
        raise
    except Exception as err:  # BadZipFile, EOFError, zlib errors, bad .npy headers ...
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({type(err).__name__}: {err})") from err
    entries = {}
    used = set()
    try:
        for name, entry in header["objects"].items():
            entries[name] = (entry["kind"], entry.get("type", "?"), _decode(entry["state"], arrays, used))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path}: corrupt checkpoint header ({type(err).__name__}: {err})") from err
    return entries


def _parse_header(path, raw) -> dict:
    if raw.dtype != numpy.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path}: corrupt checkpoint: the header is a {raw.dtype} array of shape {raw.shape}")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{path}: corrupt checkpoint: the JSON header nests too deeply to parse") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{path}: corrupt checkpoint: the JSON header does not parse ({err})") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a minigan checkpoint: the header's format is not {FORMAT!r}")
    version = header.get("version")
    if version != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}; this minigan reads version {VERSION} only"
        )
    if not isinstance(header.get("objects"), dict):
        raise CheckpointError(f"{path}: corrupt checkpoint: the header has no 'objects' dict")
    return header


def _read_array(path, npz, key):
    try:
        return npz[key]
    except ValueError as err:
        if "pickle" in str(err) or "Object arrays" in str(err):
            raise CheckpointError(
                f"{path}: entry {key!r} is an object array, which only pickle can load; minigan checkpoints "
                "never contain pickled data, so this file was not written by minigan.checkpoint. Refusing to load it."
            ) from err
        raise


def load(path) -> dict:
    """Every object's saved state, by name: state dicts for modules/optimizers/schedules/generators,
    the values themselves for plain values. Arrays come back as NumPy arrays."""
    return {name: state for name, (_kind_, _type, state) in _read(path).items()}


def restore(path, /, **objects) -> dict:
    """Load the saved states into the given objects (by keyword name); return everything else.

    ``restore(path, G=G, opt_G=opt_G, rng=gen)`` calls ``G.load_state_dict(saved G)`` and so on,
    moving arrays onto each object's backend. Returns {name: value} for the entries not
    passed in (plain values such as ``step`` and ``config``). All or nothing: if any object
    refuses its state, those already restored are put back as they were and a
    CheckpointError names the object and the reason.
    """
    entries = _read(path)
    name_of_file = os.fspath(path)
    unknown = [n for n in objects if n not in entries]
    if unknown:
        raise CheckpointError(
            f"{name_of_file}: no object(s) named {unknown} in the checkpoint; it holds {sorted(entries)}"
        )
    kinds = {}
    for name, obj in objects.items():
        saved_kind, saved_type, _ = entries[name]
        kind = _kind(obj)
        if saved_kind == "value":
            raise CheckpointError(
                f"{name_of_file}: {name!r} was saved as a plain value ({saved_type}); restore() returns it, "
                "do not pass an object for it"
            )
        if kind != saved_kind:
            raise CheckpointError(
                f"{name_of_file}: {name!r} was saved from a {saved_type} ({saved_kind}), cannot load it into a "
                f"{type(obj).__module__}.{type(obj).__qualname__}"
            )
        kinds[name] = kind
    backups = {name: _state_of(obj, kinds[name]) for name, obj in objects.items()}
    touched = []
    for name, obj in objects.items():
        touched.append(name)
        try:
            _load_into(obj, kinds[name], entries[name][2])
        except Exception as err:
            for done in reversed(touched):  # put every touched object back as it was
                _load_into(objects[done], kinds[done], backups[done])
            raise CheckpointError(
                f"{name_of_file}: cannot restore {name!r} into {type(obj).__name__} ({err}); nothing was changed"
            ) from err
    return {name: state for name, (_k, _t, state) in entries.items() if name not in objects}
