"""Benchmarks of the rmsnorm-silu kernel: ``kernels benchmark <repo or directory>``."""

import torch
import torch.nn.functional as F

from kernels.benchmark import Benchmark


class RmsNormSiluBenchmark(Benchmark):
    seed = 0

    def setup(self):
        self.x = torch.randn(64, 1024, device=self.device)
        self.weight = torch.rand(1024, device=self.device) + 0.5

    def benchmark_silu_and_mul(self):
        self.out = self.kernel.silu_and_mul(self.x)

    def verify_silu_and_mul(self):
        return F.silu(self.x[..., :512]) * self.x[..., 512:]

    def benchmark_rms_norm(self):
        self.out = self.kernel.rms_norm(self.x, self.weight, 1e-6)

    def verify_rms_norm(self):
        return self.x * torch.rsqrt(self.x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight

    def setup_rms_norm_small(self):
        self.x = torch.randn(4, 128, device=self.device)
        self.weight = torch.ones(128, device=self.device)

    def benchmark_rms_norm_small(self):
        self.out = self.kernel.rms_norm(self.x, self.weight, 1e-6)
