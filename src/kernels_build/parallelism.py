"""How parallel a build runs: ninja's jobs, and nvcc's threads per CUDA file.

nvcc compiles the archs of one ``.cu`` file one after the other unless given ``--threads``;
for a kernel with few CUDA files that sequence is the whole critical path of the build. With
``kernels.nvcc-threads=auto`` (the default) each CUDA component's files get one nvcc thread
per arch (cicc and ptxas run once per arch; a ``+PTX`` copy adds no step), and CUDA compiles
share a ninja job pool sized so that CUDA compiles times threads stay within the job count
and the machine's memory (about :data:`MEMORY_PER_THREAD` per thread: cicc and ptxas on
template-heavy sources are large).

Within one arch, cicc's and ptxas's optimizations can run on several threads too (nvcc's
``--split-compile``, whose help promises "minimal (if any) impact" on the binary; the fatbins
we compared differed only in the option they record). A file compiled for one arch
(``kernels.cuda-capabilities=9.0``) needs that, and so do the last heavy templated files of a
big kernel, compiling while the other cores idle. It costs no CPU time (measured: the same
user time on 1 and 2 threads), so ``kernels.nvcc-split-compile=auto`` gives every CUDA file
up to :data:`MAX_SPLIT_COMPILE` such threads, as many as the memory left by the CUDA compiles
that can run at once holds; while all cores are busy the operating system shares them.
"""

from __future__ import annotations

import os
from typing import Optional

#: Memory budgeted per concurrent nvcc thread (bytes).
MEMORY_PER_THREAD = 2 << 30
#: The ninja job pool of CUDA compiles (CMake's JOB_POOL_COMPILE).
CUDA_JOB_POOL = "kernels_cuda"
#: Most ``--split-compile`` threads ``auto`` gives one CUDA file.
MAX_SPLIT_COMPILE = 4
#: The first nvcc with ``--split-compile``.
SPLIT_COMPILE_NVCC = (12, 0)


def build_jobs() -> int:
    """Parallel build jobs: ``CMAKE_BUILD_PARALLEL_LEVEL`` when set (as scikit-build-core and
    CMake read it), else the CPUs this process may use."""
    value = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def memory_threads(meminfo: str = "/proc/meminfo") -> Optional[int]:
    """How many nvcc threads the machine's memory holds (None when it cannot be read).

    Its total memory, not what is free at this moment: the threads and the split become nvcc
    options, and a compiler cache shared by many runners (sccache hashes the options) hits only
    when every runner of one machine type gets the same ones."""
    try:
        with open(meminfo, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return max(1, int(line.split()[1]) * 1024 // MEMORY_PER_THREAD)
    except (OSError, ValueError, IndexError):
        return None
    return None


def nvcc_threads(targets: int, setting: Optional[int], jobs: int, memory: Optional[int]) -> int:
    """Threads for one CUDA component's files: ``setting`` when given (1: sequential), else
    one per arch (``targets``), within ``jobs`` and ``memory`` (threads the memory holds).

    >>> nvcc_threads(3, None, jobs=16, memory=60), nvcc_threads(3, None, jobs=2, memory=60)
    (3, 2)
    >>> nvcc_threads(3, 1, jobs=16, memory=60), nvcc_threads(1, None, jobs=16, memory=None)
    (1, 1)
    """
    if setting is not None:
        return setting
    return max(1, min(targets, jobs, memory if memory is not None else jobs))


def cuda_pool_size(threads: int, jobs: int, memory: Optional[int]) -> int:
    """CUDA compiles at once, so that they times ``threads`` fit the jobs and the memory.

    >>> cuda_pool_size(3, jobs=16, memory=60), cuda_pool_size(4, jobs=16, memory=6)
    (5, 1)
    """
    budget = min(jobs, memory) if memory is not None else jobs
    return max(1, budget // max(1, threads))


def split_compile(threads: int, concurrent: int, setting: Optional[int], jobs: int,
                  memory: Optional[int]) -> int:
    """nvcc ``--split-compile`` threads for one CUDA component's files: ``setting`` when given
    (1: off), else up to :data:`MAX_SPLIT_COMPILE` and ``jobs``, within the memory (threads it
    holds, ``memory``) left by ``concurrent`` CUDA compiles of ``threads`` arch threads each.
    Without a memory figure, within ``jobs`` instead.

    >>> split_compile(1, 16, None, jobs=16, memory=60), split_compile(11, 1, None, jobs=16, memory=60)
    (3, 4)
    >>> split_compile(1, 2, None, jobs=2, memory=11), split_compile(3, 5, None, jobs=16, memory=None)
    (2, 1)
    >>> split_compile(1, 16, 1, jobs=16, memory=60), split_compile(1, 1, 8, jobs=2, memory=1)
    (1, 8)
    """
    if setting is not None:
        return setting
    budget = memory if memory is not None else jobs
    return max(1, min(MAX_SPLIT_COMPILE, jobs, budget // max(1, concurrent * threads)))
