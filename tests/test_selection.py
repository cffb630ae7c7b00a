"""Variant acceptance and preference (contract §2.4, §2.5) with hand-built environments.

Only :func:`test_detect_on_this_machine` looks at the real process; every other test builds an
:class:`Environment` by hand, so nothing here patches torch and the whole file runs in well under
a second.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import List, Optional, Sequence

import pytest

from kernels.selection import (
    Environment,
    VariantAccepted,
    VariantRejected,
    best_variant,
    evaluate_variants,
    explain,
    preference_key,
)
from kernels.variants import ArchVariant, NoarchVariant, parse_variant

# --------------------------------------------------------------------------- environments

CPU = Environment(
    torch_version=(2, 13), cxx11_abi=True, backend="cpu", backend_version=None,
    cpu="x86_64", os="linux",
)
CUDA130 = dataclasses.replace(CPU, backend="cuda", backend_version=(13, 0))
CUDA128 = dataclasses.replace(CPU, backend="cuda", backend_version=(12, 8))
ROCM71 = dataclasses.replace(CPU, backend="rocm", backend_version=(7, 1))
XPU = dataclasses.replace(CPU, backend="xpu", backend_version=(2026, 0))
CANN = dataclasses.replace(CPU, backend="cann", backend_version=(8, 0))
MAC26 = Environment(
    torch_version=(2, 12), cxx11_abi=None, backend="metal", backend_version=None,
    cpu="aarch64", os="darwin", macos_version=(26, 0),
)
MAC15 = dataclasses.replace(MAC26, macos_version=(15, 4))
WINDOWS = Environment(
    torch_version=(2, 10), cxx11_abi=None, backend="cuda", backend_version=(12, 8),
    cpu="x86_64", os="windows",
)
FREE_THREADED = dataclasses.replace(CUDA130, free_threaded=True)
NO_TORCH = Environment(
    torch_version=None, cxx11_abi=None, backend="cpu", backend_version=None,
    cpu="x86_64", os="linux",
)
TVM = dataclasses.replace(CUDA130, tvm_ffi_version=(0, 1))

#: The contract's sample names plus a few of the required set (§2.3, §13).
SAMPLES = [
    "torch212-cxx11-cu130-x86_64-linux",
    "torch213-cxx11-rocm72-x86_64-linux",
    "torch212-metal-aarch64-darwin",
    "torch210-cu128-x86_64-windows",
    "torch-cuda",
    "torch-universal",
    "torch-stable-abi210-cu130-x86_64-linux",
    "torch213-cxx11-cu130-x86_64-linux",
    "torch213-cxx11-cpu-x86_64-linux",
    "torch-cpu",
]


def names(decisions) -> List[str]:
    return [d.variant_str for d in decisions]


def accepted(decisions) -> List[str]:
    return [d.variant_str for d in decisions if isinstance(d, VariantAccepted)]


def reason(name: str, env: Environment, backend: Optional[str] = None) -> str:
    """The rejection reason of one variant (fails if it is accepted)."""
    (decision,) = evaluate_variants([name], env, backend)
    assert isinstance(decision, VariantRejected), f"{name} unexpectedly accepted"
    return decision.reason


def is_accepted(name: str, env: Environment, backend: Optional[str] = None) -> bool:
    (decision,) = evaluate_variants([name], env, backend)
    return isinstance(decision, VariantAccepted)


# --------------------------------------------------------------------------- sample names


def test_samples_on_cpu():
    decisions = evaluate_variants(SAMPLES, CPU)
    assert accepted(decisions) == ["torch213-cxx11-cpu-x86_64-linux", "torch-cpu", "torch-universal"]
    assert best_variant(decisions) == parse_variant("torch213-cxx11-cpu-x86_64-linux")


def test_samples_on_cuda130():
    decisions = evaluate_variants(SAMPLES, CUDA130)
    assert accepted(decisions) == [
        "torch-stable-abi210-cu130-x86_64-linux",
        "torch213-cxx11-cu130-x86_64-linux",
        "torch-cuda",
        "torch-universal",
    ]
    # Rejected ones follow, in input order.
    assert names(decisions)[4:] == [
        "torch212-cxx11-cu130-x86_64-linux",
        "torch213-cxx11-rocm72-x86_64-linux",
        "torch212-metal-aarch64-darwin",
        "torch210-cu128-x86_64-windows",
        "torch213-cxx11-cpu-x86_64-linux",
        "torch-cpu",
    ]


def test_samples_on_cuda128():
    decisions = evaluate_variants(SAMPLES, CUDA128)
    assert accepted(decisions) == ["torch-cuda", "torch-universal"]
    assert reason("torch213-cxx11-cu130-x86_64-linux", CUDA128) == (
        "CUDA 13.0 needs CUDA 13.x, this system has CUDA 12.8"
    )


def test_samples_on_rocm71():
    decisions = evaluate_variants(SAMPLES, ROCM71)
    assert accepted(decisions) == ["torch-universal"]
    assert is_accepted("torch213-cxx11-rocm71-x86_64-linux", ROCM71)
    assert is_accepted("torch-rocm", ROCM71)


def test_samples_on_mac():
    assert accepted(evaluate_variants(SAMPLES, MAC26)) == [
        "torch212-metal-aarch64-darwin", "torch-universal",
    ]
    assert accepted(evaluate_variants(SAMPLES, MAC15)) == ["torch-universal"]
    assert is_accepted("torch-metal", MAC15)  # noarch variants have no macOS floor


def test_samples_on_windows():
    assert accepted(evaluate_variants(SAMPLES, WINDOWS)) == [
        "torch210-cu128-x86_64-windows", "torch-cuda", "torch-universal",
    ]


def test_free_threaded_rejects_every_arch_variant():
    decisions = evaluate_variants(SAMPLES, FREE_THREADED)
    assert accepted(decisions) == ["torch-cuda", "torch-universal"]
    for d in decisions:
        if isinstance(d, VariantRejected) and isinstance(d.variant, ArchVariant):
            assert "free-threaded Python before 3.15" in d.reason


def test_decisions_carry_parsed_variants():
    decisions = evaluate_variants(["torch-cuda", "torch212-cxx11-cu130-x86_64-linux"], CUDA130)
    assert decisions[0] == VariantAccepted(NoarchVariant("cuda"))
    assert isinstance(decisions[1].variant, ArchVariant)
    assert decisions[1].variant.framework_version == (2, 12)


def test_parsed_variants_are_accepted_as_input():
    decisions = evaluate_variants([parse_variant("torch-cpu")], CPU)
    assert decisions == [VariantAccepted(NoarchVariant("cpu"))]


def test_empty_input():
    assert evaluate_variants([], CPU) == []
    assert best_variant([]) is None


# --------------------------------------------------------------------------- acceptance rules


@pytest.mark.parametrize(
    "name, env, expected",
    [
        # CUDA: same major, variant minor <= system minor.
        ("torch213-cxx11-cu130-x86_64-linux", CUDA130, True),
        ("torch213-cxx11-cu126-x86_64-linux", CUDA128, True),
        ("torch213-cxx11-cu128-x86_64-linux", CUDA128, True),
        ("torch213-cxx11-cu129-x86_64-linux", CUDA128, False),
        ("torch213-cxx11-cu126-x86_64-linux", CUDA130, False),
        ("torch213-cxx11-cu132-x86_64-linux", CUDA130, False),
        # ROCm / XPU / CANN: exact.
        ("torch213-cxx11-rocm71-x86_64-linux", ROCM71, True),
        ("torch213-cxx11-rocm72-x86_64-linux", ROCM71, False),
        ("torch213-cxx11-rocm70-x86_64-linux", ROCM71, False),
        ("torch213-cxx11-xpu20260-x86_64-linux", XPU, True),
        ("torch213-cxx11-xpu20253-x86_64-linux", XPU, False),
        ("torch213-cxx11-cann80-x86_64-linux", CANN, True),
        ("torch213-cxx11-cann81-x86_64-linux", CANN, False),
        # Torch version and C++ ABI.
        ("torch213-cpu-x86_64-linux", CPU, True),
        ("torch213-cxx98-cpu-x86_64-linux", CPU, False),
        ("torch212-cxx11-cpu-x86_64-linux", CPU, False),
        ("torch214-cxx11-cpu-x86_64-linux", CPU, False),
        # Stable ABI: version <= installed torch.
        ("torch-stable-abi210-cpu-x86_64-linux", CPU, True),
        ("torch-stable-abi213-cpu-x86_64-linux", CPU, True),
        ("torch-stable-abi214-cpu-x86_64-linux", CPU, False),
        ("torch-stable-abi29-cu130-x86_64-linux", CUDA130, True),
        # tvm-ffi: exact M.m.
        ("tvm-ffi01-cu130-x86_64-linux", TVM, True),
        ("tvm-ffi02-cu130-x86_64-linux", TVM, False),
        ("tvm-ffi01-cu130-x86_64-linux", CUDA130, False),
        # Platform.
        ("torch213-cxx11-cpu-aarch64-linux", CPU, False),
        ("torch213-cpu-x86_64-darwin", CPU, False),
        # Noarch.
        ("torch-npu", CANN, True),
        ("torch-cpu", CANN, False),
        ("torch-universal", NO_TORCH, True),
        ("torch-xpu", XPU, True),
        ("torch-tpu", dataclasses.replace(CPU, backend="tpu"), True),
        ("torch213-cxx11-tpu-x86_64-linux", dataclasses.replace(CPU, backend="tpu"), True),
        ("torch213-cxx11-neuron-x86_64-linux", dataclasses.replace(CPU, backend="neuron"), True),
    ],
)
def test_acceptance(name: str, env: Environment, expected: bool):
    assert is_accepted(name, env) is expected


def test_cuda_variant_minor_may_be_older_than_system():
    newer_system = dataclasses.replace(CUDA130, backend_version=(13, 2))
    decisions = evaluate_variants(
        ["torch213-cxx11-cu130-x86_64-linux", "torch213-cxx11-cu132-x86_64-linux"], newer_system
    )
    assert accepted(decisions) == [
        "torch213-cxx11-cu132-x86_64-linux", "torch213-cxx11-cu130-x86_64-linux",
    ]


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    "name, env, expected",
    [
        ("torch212-cxx11-cu130-x86_64-linux", CUDA130, "built for torch 2.12, this is torch 2.13"),
        ("torch212-cxx11-cpu-x86_64-linux", NO_TORCH, "built for torch 2.12, torch is not installed"),
        (
            "torch213-cxx11-cu132-x86_64-linux", CUDA130,
            "CUDA 13.2 is newer than this system's CUDA 13.0",
        ),
        (
            "torch213-cxx11-cu126-x86_64-linux", CUDA130,
            "CUDA 12.6 needs CUDA 12.x, this system has CUDA 13.0",
        ),
        (
            "torch213-cxx11-cu130-x86_64-linux",
            dataclasses.replace(CUDA130, backend_version=None),
            "CUDA 13.0 needs a known CUDA version, this system's is unknown",
        ),
        (
            "torch213-cxx11-rocm72-x86_64-linux", ROCM71,
            "built for ROCm 7.2, this system has ROCm 7.1",
        ),
        (
            "torch213-cxx11-xpu20253-x86_64-linux", XPU,
            "built for XPU 2025.3, this system has XPU 2026.0",
        ),
        (
            "torch213-cxx11-cann81-x86_64-linux", CANN,
            "built for CANN 8.1, this system has CANN 8.0",
        ),
        (
            "torch213-cxx11-cpu-x86_64-linux",
            dataclasses.replace(CPU, cxx11_abi=False),
            "needs the C++11 ABI (cxx11), this torch uses the pre-C++11 ABI (cxx98)",
        ),
        (
            "torch213-cxx98-cpu-x86_64-linux", CPU,
            "needs the pre-C++11 ABI (cxx98), this torch uses the C++11 ABI (cxx11)",
        ),
        (
            "torch213-cxx11-cpu-x86_64-linux",
            dataclasses.replace(CPU, cxx11_abi=None),
            "needs the C++11 ABI (cxx11), the C++ ABI of this torch is unknown",
        ),
        (
            "torch-stable-abi214-cu130-x86_64-linux", CUDA130,
            "needs torch 2.14 or newer (stable ABI 2.14), this is torch 2.13",
        ),
        (
            "torch-stable-abi210-cpu-x86_64-linux", NO_TORCH,
            "needs torch 2.10 or newer (stable ABI), torch is not installed",
        ),
        (
            "tvm-ffi01-cu130-x86_64-linux", CUDA130,
            "built for tvm-ffi 0.1, tvm-ffi is not installed (pip install 'apache-tvm-ffi==0.1.*')",
        ),
        ("tvm-ffi02-cu130-x86_64-linux", TVM, "built for tvm-ffi 0.2, this is tvm-ffi 0.1"),
        ("torch213-cxx11-cpu-aarch64-linux", CPU, "for aarch64-linux, this is x86_64-linux"),
        ("torch212-metal-aarch64-darwin", CPU, "for aarch64-darwin, this is x86_64-linux"),
        ("torch210-cu128-x86_64-windows", CUDA128, "for x86_64-windows, this is x86_64-linux"),
        (
            "torch212-metal-aarch64-darwin", MAC15,
            "Metal kernels need macOS 26.0 or newer, this is macOS 15.4",
        ),
        (
            "torch212-metal-aarch64-darwin",
            dataclasses.replace(MAC26, macos_version=None),
            "Metal kernels need macOS 26.0 or newer, the macOS version is unknown",
        ),
        ("torch213-cxx11-cu130-x86_64-linux", CPU, "built for cu130, selected backend is cpu"),
        (
            "torch213-cxx11-rocm71-x86_64-linux", CUDA130,
            "built for rocm71, selected backend is CUDA 13.0",
        ),
        ("torch213-cxx11-cpu-x86_64-linux", CUDA130, "built for cpu, selected backend is CUDA 13.0"),
        ("torch-cuda", CPU, "noarch variant for cuda, selected backend is cpu"),
        ("torch-cpu", CUDA130, "noarch variant for cpu, selected backend is cuda"),
        ("torch-npu", CUDA130, "noarch variant for npu, selected backend is cuda"),
        (
            "torch213-cxx11-cu130-x86_64-linux", FREE_THREADED,
            "arch variants need the abi3 stable ABI, "
            "which free-threaded Python before 3.15 cannot load",
        ),
    ],
)
def test_rejection_reason(name: str, env: Environment, expected: str):
    assert reason(name, env) == expected


@pytest.mark.parametrize(
    "name",
    ["build", "torch", "torch-foo", "torch213-cu130", "torch213-cxx11-cu130-riscv64-linux",
     "torch213-cxx11-gpu-x86_64-linux", "torch-stable-abi210-cxx11-cu130-x86_64-linux", ""],
)
def test_unparsable_names_are_rejected_as_strings(name: str):
    (decision,) = evaluate_variants([name], CPU)
    assert isinstance(decision, VariantRejected)
    assert decision.variant == name and decision.variant_str == name
    assert decision.reason.startswith("not a variant name (")


def test_unparsable_name_reason_is_specific():
    assert reason("torch-stable-abi210-cxx11-cu130-x86_64-linux", CPU) == (
        "not a variant name (only torch variants carry a C++ ABI tag)"
    )
    assert "torch213-cxx11-cpu-x86_64-linux" in reason("README.md", CPU)


def test_non_canonical_names_are_rejected():
    # `torch-cann` parses as the CANN backend, whose noarch directory is `torch-npu`: a decision
    # must keep naming the directory it came from, so the spelling is rejected.
    (decision,) = evaluate_variants(["torch-cann"], CANN)
    assert decision == VariantRejected(
        "torch-cann", "not a canonical variant name: this runtime spells it torch-npu"
    )


def test_reasons_are_one_line():
    envs = [CPU, CUDA130, CUDA128, ROCM71, MAC15, FREE_THREADED, NO_TORCH]
    for env in envs:
        for d in evaluate_variants(SAMPLES + ["junk"], env):
            if isinstance(d, VariantRejected):
                assert d.reason and "\n" not in d.reason


# --------------------------------------------------------------------------- preference


def order(variant_names: Sequence[str], env: Environment) -> List[str]:
    decisions = evaluate_variants(variant_names, env)
    assert all(isinstance(d, VariantAccepted) for d in decisions), explain(decisions, env)
    return names(decisions)


def test_stable_abi_before_torch_before_noarch_before_universal():
    assert order(
        ["torch-universal", "torch-cuda", "torch213-cxx11-cu130-x86_64-linux",
         "torch-stable-abi210-cu130-x86_64-linux"],
        CUDA130,
    ) == [
        "torch-stable-abi210-cu130-x86_64-linux",
        "torch213-cxx11-cu130-x86_64-linux",
        "torch-cuda",
        "torch-universal",
    ]


def test_stable_abi_newest_abi_first_then_highest_backend_minor():
    env = dataclasses.replace(CUDA130, backend_version=(13, 2))
    assert order(
        ["torch-stable-abi29-cu132-x86_64-linux", "torch-stable-abi210-cu130-x86_64-linux",
         "torch-stable-abi210-cu132-x86_64-linux", "torch-stable-abi211-cu130-x86_64-linux"],
        env,
    ) == [
        "torch-stable-abi211-cu130-x86_64-linux",
        "torch-stable-abi210-cu132-x86_64-linux",
        "torch-stable-abi210-cu130-x86_64-linux",
        "torch-stable-abi29-cu132-x86_64-linux",
    ]


def test_torch_tagless_before_tagged_then_highest_backend_minor():
    env = dataclasses.replace(CUDA130, backend_version=(13, 2))
    assert order(
        ["torch213-cxx11-cu132-x86_64-linux", "torch213-cu130-x86_64-linux",
         "torch213-cxx11-cu130-x86_64-linux", "torch213-cu132-x86_64-linux"],
        env,
    ) == [
        "torch213-cu132-x86_64-linux",
        "torch213-cu130-x86_64-linux",
        "torch213-cxx11-cu132-x86_64-linux",
        "torch213-cxx11-cu130-x86_64-linux",
    ]


def test_cuda_highest_minor_first():
    env = dataclasses.replace(CUDA128, backend_version=(12, 9))
    assert order(
        ["torch213-cxx11-cu126-x86_64-linux", "torch213-cxx11-cu129-x86_64-linux",
         "torch213-cxx11-cu128-x86_64-linux"],
        env,
    ) == [
        "torch213-cxx11-cu129-x86_64-linux",
        "torch213-cxx11-cu128-x86_64-linux",
        "torch213-cxx11-cu126-x86_64-linux",
    ]


def test_tvm_ffi_and_noarch_share_a_rank():
    env = dataclasses.replace(TVM, backend_version=(13, 2))
    # tvm-ffi cu130 ranks like noarch (minor 0): ties keep input order.
    assert order(["torch-cuda", "tvm-ffi01-cu130-x86_64-linux"], env) == [
        "torch-cuda", "tvm-ffi01-cu130-x86_64-linux",
    ]
    assert order(["tvm-ffi01-cu130-x86_64-linux", "torch-cuda"], env) == [
        "tvm-ffi01-cu130-x86_64-linux", "torch-cuda",
    ]
    # A higher minor ranks first.
    assert order(["torch-cuda", "tvm-ffi01-cu130-x86_64-linux", "tvm-ffi01-cu132-x86_64-linux"],
                 env) == [
        "tvm-ffi01-cu132-x86_64-linux", "torch-cuda", "tvm-ffi01-cu130-x86_64-linux",
    ]


def test_tvm_ffi_after_torch_arch_and_universal_last():
    assert order(
        ["torch-universal", "tvm-ffi01-cu130-x86_64-linux", "torch213-cxx11-cu130-x86_64-linux"],
        TVM,
    ) == [
        "torch213-cxx11-cu130-x86_64-linux", "tvm-ffi01-cu130-x86_64-linux", "torch-universal",
    ]


def test_universal_is_last_even_listed_first():
    assert order(["torch-universal", "torch-cpu"], CPU) == ["torch-cpu", "torch-universal"]


def test_preference_key_ranks():
    keys = [preference_key(parse_variant(n)) for n in (
        "torch-stable-abi210-cpu-x86_64-linux", "torch213-cpu-x86_64-linux",
        "torch213-cxx11-cpu-x86_64-linux", "tvm-ffi01-cpu-x86_64-linux", "torch-universal",
    )]
    assert keys == sorted(keys)
    assert preference_key(parse_variant("tvm-ffi01-cpu-x86_64-linux")) == preference_key(
        NoarchVariant("cpu")
    )


def test_best_variant_does_not_need_sorted_input():
    decisions = [
        VariantRejected("junk", "not a variant name"),
        VariantAccepted(NoarchVariant("universal")),
        VariantAccepted(parse_variant("torch213-cxx11-cpu-x86_64-linux")),
    ]
    assert best_variant(decisions) == parse_variant("torch213-cxx11-cpu-x86_64-linux")
    assert best_variant([VariantRejected("junk", "x")]) is None


# --------------------------------------------------------------------------- backend=


def test_backend_cpu_on_cuda_machine_picks_cpu_variants():
    decisions = evaluate_variants(SAMPLES, CUDA130, backend="cpu")
    assert accepted(decisions) == ["torch213-cxx11-cpu-x86_64-linux", "torch-cpu", "torch-universal"]
    assert reason("torch213-cxx11-cu130-x86_64-linux", CUDA130, backend="cpu") == (
        "built for cu130, selected backend is cpu"
    )
    assert reason("torch-cuda", CUDA130, backend="cpu") == (
        "noarch variant for cuda, selected backend is cpu"
    )


def test_backend_equal_to_detected_is_the_default():
    assert evaluate_variants(SAMPLES, CUDA130, backend="cuda") == evaluate_variants(SAMPLES, CUDA130)
    assert evaluate_variants(SAMPLES, CPU, backend="cpu") == evaluate_variants(SAMPLES, CPU)


@pytest.mark.parametrize(
    "env, backend, message",
    [
        (CUDA130, "rocm", "invalid backend 'rocm': this system supports only cpu and cuda"),
        (CUDA130, "metal", "invalid backend 'metal': this system supports only cpu and cuda"),
        (CPU, "cuda", "invalid backend 'cuda': this system supports only cpu"),
        (ROCM71, "gpu", "invalid backend 'gpu': this system supports only cpu and rocm"),
    ],
)
def test_backend_override_is_limited(env: Environment, backend: str, message: str):
    with pytest.raises(ValueError) as info:
        evaluate_variants(["torch-cpu"], env, backend=backend)
    assert str(info.value) == message


# --------------------------------------------------------------------------- explain


def test_explain_cpu():
    decisions = evaluate_variants(
        ["torch212-cxx11-cu130-x86_64-linux", "torch-cpu", "torch213-cxx11-cpu-x86_64-linux"], CPU
    )
    assert explain(decisions, CPU) == "\n".join([
        "environment: torch 2.13 cxx11, cpu, x86_64-linux",
        "  ✅ torch213-cxx11-cpu-x86_64-linux: accepted (preferred)",
        "  ✅ torch-cpu: accepted",
        "  ❌ torch212-cxx11-cu130-x86_64-linux: built for torch 2.12, this is torch 2.13",
    ])


def test_explain_nothing_matches():
    decisions = evaluate_variants(["torch-cuda", "junk"], NO_TORCH)
    text = explain(decisions, NO_TORCH)
    lines = text.splitlines()
    assert lines[0] == "environment: torch not installed, cpu, x86_64-linux"
    assert lines[1] == "  ❌ torch-cuda: noarch variant for cuda, selected backend is cpu"
    assert lines[2].startswith("  ❌ junk: not a variant name (")
    assert "✅" not in text and "preferred" not in text


def test_explain_environment_lines():
    assert CUDA130.describe() == "torch 2.13 cxx11, CUDA 13.0, x86_64-linux"
    assert ROCM71.describe() == "torch 2.13 cxx11, ROCm 7.1, x86_64-linux"
    assert MAC15.describe() == "torch 2.12, metal, aarch64-darwin, macOS 15.4"
    assert TVM.describe() == "torch 2.13 cxx11, tvm-ffi 0.1, CUDA 13.0, x86_64-linux"
    assert dataclasses.replace(CPU, cxx11_abi=False).describe() == (
        "torch 2.13 cxx98, cpu, x86_64-linux"
    )
    assert FREE_THREADED.describe() == (
        "torch 2.13 cxx11, CUDA 13.0, x86_64-linux, free-threaded Python"
    )


def test_explain_with_selected_backend():
    decisions = evaluate_variants(["torch-cuda", "torch-cpu"], CUDA130, backend="cpu")
    assert explain(decisions, CUDA130, backend="cpu").splitlines() == [
        "environment: torch 2.13 cxx11, cpu (selected; detected CUDA 13.0), x86_64-linux",
        "  ✅ torch-cpu: accepted (preferred)",
        "  ❌ torch-cuda: noarch variant for cuda, selected backend is cpu",
    ]


def test_explain_empty():
    assert explain([], CPU).splitlines() == [
        "environment: torch 2.13 cxx11, cpu, x86_64-linux", "  (no variants)",
    ]


def test_explain_marks_one_preferred_with_duplicates():
    decisions = evaluate_variants(["torch-cpu", "torch-cpu"], CPU)
    assert explain(decisions, CPU).count("(preferred)") == 1


# --------------------------------------------------------------------------- detection


@pytest.mark.filterwarnings("ignore:Failed to initialize NumPy")
def test_detect_on_this_machine():
    env = Environment.detect()
    assert env.torch_version == (2, 13)
    assert env.backend == "cpu" and env.backend_version is None
    assert env.os == "linux" and env.cpu in ("x86_64", "aarch64")
    assert env.cxx11_abi in (True, False)
    assert env.free_threaded is False and env.macos_version is None
    assert best_variant(
        evaluate_variants([f"torch213-cxx11-cpu-{env.platform}", f"torch213-cpu-{env.platform}"],
                          dataclasses.replace(env, cxx11_abi=True))
    ) == parse_variant(f"torch213-cpu-{env.platform}")


def test_environment_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CPU.backend = "cuda"  # type: ignore[misc]


def test_import_does_not_import_torch():
    code = "import sys, kernels.selection; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
