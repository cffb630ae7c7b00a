"""Benchmarks of a kernel: the :class:`Benchmark` base class that ``benchmarks/benchmark*.py``
scripts subclass, run by ``kernels benchmark`` (:mod:`kernels.benchmark_run`).

A script defines one or more subclasses; each method ``benchmark_<workload>`` is one timed
workload. Per workload the runner makes a fresh instance, sets :attr:`Benchmark.kernel` to
the loaded kernel, seeds the random generators with :attr:`Benchmark.seed` (when set), calls
``setup_<workload>()`` if the class has it (else :meth:`Benchmark.setup`), runs the warm-up
calls, then times each call. The workload stores its result in ``self.out`` (or returns it);
an optional ``verify_<workload>()`` returns a reference that must match ``self.out``
(``torch.allclose(atol=1e-2)``), else ``kernels benchmark`` exits with status 1.

Example ``benchmarks/benchmark.py``::

    import torch
    import torch.nn.functional as F

    from kernels.benchmark import Benchmark


    class SiluAndMulBenchmark(Benchmark):
        seed = 0

        def setup(self):
            self.x = torch.randn(256, 1024, device=self.device)

        def benchmark_silu_and_mul(self):
            self.out = self.kernel.silu_and_mul(self.x)

        def verify_silu_and_mul(self):
            d = self.x.shape[-1] // 2
            return F.silu(self.x[..., :d]) * self.x[..., d:]
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Optional

__all__ = ["Benchmark"]


class Benchmark:
    """Base class of kernel benchmarks (see the module documentation).

    Class attributes:
        seed: seed for ``torch``, ``random`` and CUDA before each workload's setup (None: no
            seeding).
        device: the device the workloads run on (``"cpu"``, ``"cuda"``, ...);
            ``kernels benchmark --device`` overrides it.

    Instance attributes:
        kernel: the kernel module under test.
        out: the result of the last workload call, compared with ``verify_<workload>()``.

    Example::

        >>> from kernels.benchmark import Benchmark
        >>> class Noop(Benchmark):
        ...     def benchmark_noop(self):
        ...         self.out = 1
        >>> bench = Noop(kernel=None)
        >>> bench.setup(); bench.benchmark_noop(); bench.out
        1
    """

    seed: Optional[int] = None
    device: str = "cpu"

    def __init__(self, kernel: Optional[ModuleType] = None) -> None:
        self.kernel: Any = kernel
        self.out: Any = None

    def setup(self) -> None:
        """Prepare inputs for the workloads without their own ``setup_<workload>``."""
