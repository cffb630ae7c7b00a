"""The CUDA GPUs visible at build time, for ``kernels.cuda-capabilities=native``.

Asked of the CUDA driver itself (``libcuda``, through ctypes), so ``CUDA_VISIBLE_DEVICES`` is
honoured and neither torch nor a toolkit is needed; ``nvidia-smi`` is the fallback where the
driver library cannot be loaded (it lists every GPU of the machine).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from functools import lru_cache
from typing import List, Optional, Tuple

# CUdevice_attribute values of the driver API (cuda.h).
_ATTR_CC_MAJOR = 75
_ATTR_CC_MINOR = 76


@lru_cache(maxsize=None)
def visible_cuda_capabilities() -> Tuple[str, ...]:
    """Compute capabilities of the visible GPUs, e.g. ``("9.0",)``: deduplicated, oldest first.

    Empty when no GPU is visible or no NVIDIA driver is installed; never raises. Asked once per
    process (the editable-install default and the ``native`` narrowing both need it).
    """
    found = _from_driver()
    if found is None:
        found = _from_nvidia_smi()
    unique = {(major, minor) for major, minor in found or ()}
    return tuple(f"{major}.{minor}" for major, minor in sorted(unique))


def _from_driver() -> Optional[List[Tuple[int, int]]]:
    """None when the driver cannot be asked (no libcuda); else one entry per visible GPU."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    try:
        if cuda.cuInit(0) != 0:
            return []  # e.g. CUDA_VISIBLE_DEVICES hides every GPU, or no GPU is present
        count = ctypes.c_int(0)
        if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return []
        capabilities = []
        for ordinal in range(count.value):
            device = ctypes.c_int(0)
            major, minor = ctypes.c_int(0), ctypes.c_int(0)
            if cuda.cuDeviceGet(ctypes.byref(device), ordinal) != 0:
                continue
            if cuda.cuDeviceGetAttribute(ctypes.byref(major), _ATTR_CC_MAJOR, device) != 0:
                continue
            if cuda.cuDeviceGetAttribute(ctypes.byref(minor), _ATTR_CC_MINOR, device) != 0:
                continue
            capabilities.append((major.value, minor.value))
        return capabilities
    except AttributeError:  # not a CUDA driver library after all
        return None


def _from_nvidia_smi() -> List[Tuple[int, int]]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    capabilities = []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    for index, line in enumerate(out.split()):
        if visible is not None and str(index) not in visible.split(","):
            continue
        major, _, minor = line.strip().partition(".")
        if major.isdigit() and minor.isdigit():
            capabilities.append((int(major), int(minor)))
    return capabilities
