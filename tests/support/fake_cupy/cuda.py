"""cupy.cuda's few entry points that minigan and its benchmarks touch: one pretend device."""
from __future__ import annotations

import types


def _get_device_count() -> int:
    return 1


runtime = types.SimpleNamespace(
    getDeviceCount=_get_device_count,
    getDeviceProperties=lambda device: {"name": b"fake_cupy stand-in (NumPy on the host)", "totalGlobalMem": 0},
    runtimeGetVersion=lambda: 0,
    driverGetVersion=lambda: 0,
)


class Device:
    """A device handle; synchronising does nothing because nothing runs asynchronously here."""

    def __init__(self, device=0):
        self.id = int(device)

    def synchronize(self) -> None:
        return None


class Stream:
    def synchronize(self) -> None:
        return None


Stream.null = Stream()


def get_current_stream():
    return Stream.null
