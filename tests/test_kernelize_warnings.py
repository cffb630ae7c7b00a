"""``kernelize`` reports a layer name without any mapping (likely a typo) as a WARNING on the
``kernels`` logger, once per name per process, naming the closest mapped names; a mapping that
exists but not for this device stays at INFO; ``use_fallback=False`` still raises."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from kernels import LocalLayerRepository, Mode, kernelize, register_kernel_mapping  # noqa: E402
from kernels import use_kernel_forward_from_hub, use_kernel_mapping  # noqa: E402
from kernels.layer.kernelize import _reset_unmapped_reports  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


@use_kernel_forward_from_hub("SiluAndMul")
class Act(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@use_kernel_forward_from_hub("ZzzUnrelated")
class Other(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 4), Act(), Act(), Other())


def repo() -> LocalLayerRepository:
    # Never loaded in these tests: lookups fail before loading.
    return LocalLayerRepository("/nonexistent/kernel", layer_name="SiluAndMul")


@pytest.fixture(autouse=True)
def _clean() -> None:
    register_kernel_mapping({}, inherit_mapping=False)
    _reset_unmapped_reports()
    yield
    register_kernel_mapping({}, inherit_mapping=False)
    _reset_unmapped_reports()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list:
    return [r.getMessage() for r in caplog.records if r.name == "kernels" and r.levelno == logging.WARNING]


def test_unmapped_name_warns_once_with_closest_names(caplog: pytest.LogCaptureFixture) -> None:
    m = model()
    with use_kernel_mapping({"SiluAndMull": {"cpu": repo()}, "RMSNorm": {"cpu": repo()}}):
        kernelize(m, mode=Mode.INFERENCE)
        kernelize(m, mode=Mode.INFERENCE)
    assert not any("forward" in vars(module) for module in m)
    assert warnings_of(caplog) == [
        "kernelize: no kernel mapping for layer 'SiluAndMul' (keeping its own forward); "
        "closest mapped names: 'SiluAndMull'",
        "kernelize: no kernel mapping for layer 'ZzzUnrelated' (keeping its own forward); "
        "no mapped name is close; mapped names: 'RMSNorm', 'SiluAndMull'",
    ]


def test_empty_mapping_is_named(caplog: pytest.LogCaptureFixture) -> None:
    kernelize(nn.Sequential(nn.Linear(4, 4), Act()), mode=Mode.INFERENCE)
    assert warnings_of(caplog) == [
        "kernelize: no kernel mapping for layer 'SiluAndMul' (keeping its own forward); the kernel mapping is empty"]


def test_mapped_for_another_device_stays_info(caplog: pytest.LogCaptureFixture) -> None:
    m = nn.Sequential(nn.Linear(4, 4), Act())
    with caplog.at_level(logging.INFO, logger="kernels"), use_kernel_mapping({"SiluAndMul": {"cuda": repo()}}):
        kernelize(m, mode=Mode.INFERENCE)
    assert warnings_of(caplog) == []
    assert any("has no entry for device type 'cpu'" in r.getMessage() and r.levelno == logging.INFO
               for r in caplog.records)


def test_use_fallback_false_still_raises(caplog: pytest.LogCaptureFixture) -> None:
    m = nn.Sequential(nn.Linear(4, 4), Act())
    with use_kernel_mapping({"SiluAndMull": {"cpu": repo()}}):
        for _ in range(2):
            with pytest.raises(ValueError, match=r"no kernel mapping for layer 'SiluAndMul'; register one with "
                                                 r"register_kernel_mapping or use_kernel_mapping .*"
                                                 r"use_fallback=False"):
                kernelize(m, mode=Mode.INFERENCE, use_fallback=False)
    assert warnings_of(caplog) == []


SCRIPT = textwrap.dedent("""
    import torch.nn as nn
    from kernels import LocalLayerRepository, Mode, kernelize, use_kernel_forward_from_hub, use_kernel_mapping

    @use_kernel_forward_from_hub("SiluAndMul")
    class Act(nn.Module):
        def forward(self, x):
            return x

    model = nn.Sequential(nn.Linear(4, 4), Act(), Act())
    mapping = {"SiluAndMull": {"cpu": LocalLayerRepository("/nonexistent", layer_name="SiluAndMul")}}
    with use_kernel_mapping(mapping):
        kernelize(model, mode=Mode.INFERENCE)
        kernelize(model, mode=Mode.INFERENCE)
    print("done")
""")


def test_warning_reaches_stderr_without_logging_setup() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "DISABLE_KERNEL_MAPPING")}
    env["PYTHONPATH"] = str(SRC)
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    expected = ("kernelize: no kernel mapping for layer 'SiluAndMul' (keeping its own forward); "
                "closest mapped names: 'SiluAndMull'")
    assert result.stderr.count(expected) == 1, result.stderr
    assert result.stderr.count("no kernel mapping for layer") == 1, result.stderr
