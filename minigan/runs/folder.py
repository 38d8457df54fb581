"""One run per folder: a lock with the owner's pid, and no new run over an old one by accident.

    with RunFolder(args.out, "mnist_mlp", resume=args.resume, overwrite=args.overwrite) as run:
        ... run.checkpoint ... write_json(run.path("metrics.json"), metrics)

Entering a RunFolder

1. creates the folder and takes its lock, ``run.lock``, a file holding the owner's pid. The file is
   created with O_CREAT | O_EXCL, which the operating system grants to one process only. If it
   exists and its pid is alive, the run is refused: two runs writing one checkpoint would each
   silently replace the other's. If its pid is dead (a killed run), the lock is taken over with a
   warning naming that pid.
2. refuses a new run in a folder that holds one (its checkpoint, metrics.json or another record
   of the demo): ``--resume`` continues it, ``--overwrite`` deletes those records first.

Leaving it (normally or by an exception) removes the lock.
"""
from __future__ import annotations

import json
import os
import secrets
import warnings

from .cli import RunError

CHECKPOINT = "checkpoint.npz"  # every demo's checkpoint has this name
LOCK = "run.lock"


def _alive(pid) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        return True
    return True


def write_json(path, obj) -> None:
    """Write ``obj`` as JSON atomically: to a temporary file with a name of its own, then renamed over
    ``path``; a killed run leaves the old file or the new one, and two writers never share a temporary.

    The temporary's name holds the writer's pid, ``PATH.PID.RANDOM.tmp``: one left by a writer that
    was killed (its pid no longer running) is removed by the next write of the same ``path``."""
    tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _remove_stale_temporaries(path)


def _remove_stale_temporaries(path):
    directory, name = os.path.split(os.path.abspath(path))
    for other in os.listdir(directory):
        parts = other[len(name) + 1:].split(".") if other.startswith(name + ".") else []
        if len(parts) == 3 and parts[2] == "tmp" and parts[0].isdigit() and not _alive(int(parts[0])):
            try:
                os.remove(os.path.join(directory, other))
            except FileNotFoundError:  # another writer removed it first
                pass


class RunFolder:
    """The folder ``out`` of one run of ``demo``; see the module docstring.

    records: the files that say the folder holds a run (besides the checkpoint and metrics.json),
        deleted by --overwrite along with them; legacy: older names of the checkpoint, read on --resume.
    """

    def __init__(self, out, demo, *, resume=False, overwrite=False, resumable=True, records=(), legacy=()):
        if resume and overwrite:
            raise RunError("--resume continues the run in --out and --overwrite replaces it: give one")
        self.out, self.demo = str(out), demo
        self.resume, self.overwrite, self.resumable = bool(resume), bool(overwrite), bool(resumable)
        self.records = (CHECKPOINT, "metrics.json", *records, *legacy)
        self.legacy = tuple(legacy)
        self._locked = False

    def path(self, name) -> str:
        return os.path.join(self.out, name)

    @property
    def checkpoint(self) -> str:
        """Where this run's checkpoint is written (and read on --resume: an older name when only that exists)."""
        path = self.path(CHECKPOINT)
        if self.resume and not os.path.exists(path):
            return next((self.path(old) for old in self.legacy if os.path.exists(self.path(old))), path)
        return path

    def used(self) -> list:
        """The run records already in the folder."""
        return [name for name in self.records if os.path.exists(self.path(name))]

    # -- the lock ---------------------------------------------------------------------------------
    def _take_lock(self):
        lock = self.path(LOCK)
        for _ in range(2):  # a second try after removing a stale lock
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner(lock)
                if owner is not None and _alive(owner):
                    raise RunError(f"{self.out} is in use by another run (pid {owner}, in {lock}); wait for it "
                                   "to finish or give another --out (if no run is using it, delete the lock)") from None
                warnings.warn(f"{self.demo}: taking over {lock}, left by a run that is no longer running "
                              f"(pid {owner})", stacklevel=3)
                try:
                    os.remove(lock)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self._locked = True
            return
        raise RunError(f"{self.out}: could not take {lock}; another run is starting there")

    @staticmethod
    def _owner(lock):
        try:
            with open(lock) as f:
                return int(f.read().strip())
        except (OSError, ValueError):  # empty or half-written by a run killed while taking it: nobody owns it
            return None

    def release(self) -> None:
        if self._locked:
            self._locked = False
            try:
                os.remove(self.path(LOCK))
            except FileNotFoundError:
                pass

    # -- entering and leaving ---------------------------------------------------------------------
    def __enter__(self) -> RunFolder:
        if not self.out:
            raise RunError("--out must name a folder, got ''")
        try:
            os.makedirs(self.out, exist_ok=True)
        except OSError as e:  # a file of that name, no permission, a read-only disk
            raise RunError(f"--out {self.out}: cannot use it as the run's folder ({e.strerror or e})") from None
        self._take_lock()
        try:
            self._check_used()
        except BaseException:
            self.release()
            raise
        return self

    def _check_used(self):
        used = self.used()
        if not used:
            return
        if self.overwrite:
            for name in used:
                os.remove(self.path(name))
            print(f"{self.demo}: --overwrite: removed {', '.join(used)} from {self.out}", flush=True)
        elif not self.resume:
            keep = "--resume to continue it, " if self.resumable else ""
            raise RunError(f"{self.out} already holds a run ({', '.join(used)}); give {keep}--overwrite to replace "
                           "it, or another --out")
        elif not self.resumable:
            raise RunError(f"{self.demo} keeps no checkpoint, so --resume cannot continue the run in {self.out}; "
                           "give --overwrite to run it again")

    def __exit__(self, *exc) -> bool:
        self.release()
        return False
