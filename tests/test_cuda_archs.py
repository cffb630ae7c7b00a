"""Unit tests of kernels_build.cuda_archs: effective capabilities, -gencode flags, metadata archs.

No nvcc or GPU needed: the toolkit is described by its version and ``--list-gpu-arch`` bases.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import pytest

from kernels_build.cuda_archs import (
    Capability,
    default_capabilities,
    effective_capabilities,
    gencode_flags,
    metadata_archs,
)
from kernels_build.errors import ToolchainError

#: What nvcc 13.0 lists (compute_75 ... compute_121): no 7.0 or 7.2 any more.
NVCC13_SUPPORTED = ("7.5", "8.0", "8.6", "8.7", "8.8", "8.9", "9.0", "10.0", "10.3", "11.0", "12.0", "12.1")
#: nvcc 12.8 still lists 7.0, but nothing past 12.0 (no 11.0, 12.1).
NVCC128_SUPPORTED = ("5.0", "5.2", "6.0", "7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "10.1", "12.0")


def strs(caps: Sequence[Capability]) -> Tuple[str, ...]:
    return tuple(str(c) for c in caps)


# --------------------------------------------------------------------------- Capability


@pytest.mark.parametrize(
    "text, fields, compute",
    [
        ("8.0", (8, 0, "", False), "80"),
        ("9.0a", (9, 0, "a", False), "90a"),
        ("10.0f", (10, 0, "f", False), "100f"),
        ("12.0+PTX", (12, 0, "", True), "120"),
        ("10.3a+PTX", (10, 3, "a", True), "103a"),
    ],
)
def test_capability_parse_roundtrip(text: str, fields: tuple, compute: str) -> None:
    cap = Capability.parse(text)
    assert (cap.major, cap.minor, cap.suffix, cap.ptx) == fields
    assert cap.compute == compute
    assert str(cap) == text


@pytest.mark.parametrize("bad", ["8", "sm_80", "8.0b", "8.0+ptx", "9.0 a", ""])
def test_capability_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid CUDA capability"):
        Capability.parse(bad)


# --------------------------------------------------------------------------- default lists


def test_default_capabilities_by_toolkit() -> None:
    old = default_capabilities((12, 6))
    assert old == ("7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9", "9.0+PTX")
    assert default_capabilities((11, 8)) == old

    mid = default_capabilities((12, 8))
    assert mid == ("7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "10.1", "12.0+PTX")
    assert default_capabilities((12, 9)) == mid

    new = default_capabilities((13, 0))
    assert new == ("7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "11.0", "12.0", "12.1+PTX")
    assert default_capabilities((13, 2)) == new
    assert "7.0" not in new  # CUDA 13 dropped Volta


def test_every_default_entry_parses_and_only_the_last_has_ptx() -> None:
    for version in ((12, 6), (12, 8), (13, 0)):
        caps = [Capability.parse(c) for c in default_capabilities(version)]
        assert [c.ptx for c in caps] == [False] * (len(caps) - 1) + [True]
        assert caps == sorted(caps)


# --------------------------------------------------------------------------- effective_capabilities


def test_intersection_drops_unsupported_and_puts_ptx_on_newest() -> None:
    caps = effective_capabilities(["7.0", "8.0", "9.0a"], (13, 0), NVCC13_SUPPORTED, component="relu_cuda")
    assert strs(caps) == ("8.0", "9.0a+PTX")
    assert gencode_flags(caps) == (
        "-gencode=arch=compute_80,code=sm_80",
        "-gencode=arch=compute_90a,code=sm_90a",
        "-gencode=arch=compute_90a,code=compute_90a",
    )


def test_result_is_sorted_oldest_first_whatever_the_input_order() -> None:
    caps = effective_capabilities(["12.0", "8.0", "10.0f", "9.0"], (13, 0), NVCC13_SUPPORTED)
    assert strs(caps) == ("8.0", "9.0", "10.0f", "12.0+PTX")


def test_duplicates_collapse() -> None:
    caps = effective_capabilities(["8.0", "8.0", "9.0"], (13, 0), NVCC13_SUPPORTED)
    assert strs(caps) == ("8.0", "9.0+PTX")


def test_explicit_ptx_is_kept_besides_the_newest() -> None:
    caps = effective_capabilities(["8.0+PTX", "9.0"], (13, 0), NVCC13_SUPPORTED)
    assert strs(caps) == ("8.0+PTX", "9.0+PTX")
    assert gencode_flags(caps) == (
        "-gencode=arch=compute_80,code=sm_80",
        "-gencode=arch=compute_80,code=compute_80",
        "-gencode=arch=compute_90,code=sm_90",
        "-gencode=arch=compute_90,code=compute_90",
    )


def test_explicit_ptx_on_the_newest_is_not_doubled() -> None:
    caps = effective_capabilities(["8.0", "12.0+PTX"], (13, 0), NVCC13_SUPPORTED)
    assert strs(caps) == ("8.0", "12.0+PTX")
    flags = gencode_flags(caps)
    assert flags.count("-gencode=arch=compute_120,code=compute_120") == 1
    assert len(flags) == 3


def test_family_suffix_in_gencode() -> None:
    caps = effective_capabilities(["10.0f"], (13, 0), NVCC13_SUPPORTED)
    assert gencode_flags(caps) == (
        "-gencode=arch=compute_100f,code=sm_100f",
        "-gencode=arch=compute_100f,code=compute_100f",
    )


def test_default_list_is_intersected_with_the_toolkit() -> None:
    # nvcc 12.8's default list asks for 7.0 ... 12.0; this nvcc lacks 10.1.
    supported = tuple(c for c in NVCC128_SUPPORTED if c != "10.1")
    caps = effective_capabilities(None, (12, 8), supported)
    assert strs(caps) == ("7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "12.0+PTX")


def test_default_list_for_cuda13() -> None:
    caps = effective_capabilities(None, (13, 0), NVCC13_SUPPORTED)
    assert strs(caps) == ("7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "11.0", "12.0", "12.1+PTX")
    assert sum(c.ptx for c in caps) == 1


def test_default_list_ptx_moves_to_newest_supported() -> None:
    # A toolkit listing 12.0 but not 12.1: 12.1+PTX is dropped, 12.0 becomes the PTX target.
    supported = tuple(c for c in NVCC13_SUPPORTED if c != "12.1")
    caps = effective_capabilities(None, (13, 0), supported)
    assert strs(caps)[-1] == "12.0+PTX"
    assert "12.1" not in {c.base for c in caps}


def test_narrow_to_replaces_the_default_list() -> None:
    caps = effective_capabilities(None, (13, 0), NVCC13_SUPPORTED, narrow_to=["9.0"])
    assert strs(caps) == ("9.0+PTX",)
    caps = effective_capabilities(None, (13, 0), NVCC13_SUPPORTED, narrow_to=["8.0", "9.0a"])
    assert strs(caps) == ("8.0", "9.0a+PTX")


def test_narrow_to_narrows_an_explicit_list_by_base() -> None:
    caps = effective_capabilities(["8.0", "9.0a", "10.0"], (13, 0), NVCC13_SUPPORTED, narrow_to=["9.0"])
    # The explicit entry (with its suffix) survives; only its base has to match.
    assert strs(caps) == ("9.0a+PTX",)
    caps = effective_capabilities(["8.0", "9.0a", "10.0"], (13, 0), NVCC13_SUPPORTED, narrow_to=["8.0", "10.0+PTX"])
    assert strs(caps) == ("8.0", "10.0+PTX")


def test_narrow_to_outside_an_explicit_list_is_an_error() -> None:
    with pytest.raises(ToolchainError) as err:
        effective_capabilities(["8.0", "9.0"], (13, 0), NVCC13_SUPPORTED, narrow_to=["12.0"], component="k")
    assert "kernel.k.cuda-capabilities" in str(err.value)


def test_empty_intersection_names_component_and_supported_list() -> None:
    with pytest.raises(ToolchainError) as err:
        effective_capabilities(["7.0", "7.2"], (13, 0), NVCC13_SUPPORTED, component="relu_cuda")
    message = str(err.value)
    assert "kernel.relu_cuda.cuda-capabilities" in message
    assert "7.0, 7.2" in message  # what was asked for
    assert "nvcc 13.0" in message
    # The supported list, in numeric order (10.0 after 9.0, not after 8.9's string order).
    assert "7.5, 8.0, 8.6, 8.7, 8.8, 8.9, 9.0, 10.0, 10.3, 11.0, 12.0, 12.1" in message


def test_empty_intersection_without_component() -> None:
    with pytest.raises(ToolchainError, match=r"^cuda-capabilities: none of 9\.0"):
        effective_capabilities(["9.0"], (12, 0), ("7.0", "8.0"))


# --------------------------------------------------------------------------- metadata_archs


def test_metadata_archs_are_string_sorted() -> None:
    caps = [Capability.parse(c) for c in ("9.0+PTX", "8.0", "10.0")]
    assert metadata_archs(caps) == ("10.0", "8.0", "9.0+PTX")


def test_metadata_archs_union_of_components_deduplicated() -> None:
    a = effective_capabilities(["8.0", "9.0"], (13, 0), NVCC13_SUPPORTED)
    b = effective_capabilities(["8.0", "10.0", "12.0"], (13, 0), NVCC13_SUPPORTED)
    archs = metadata_archs([*a, *b])
    # 9.0 carries PTX in component a only; metadata lists what was built, as written.
    assert archs == ("10.0", "12.0+PTX", "8.0", "9.0+PTX")
    assert list(archs) == sorted(archs)


def test_metadata_archs_accepts_a_generator_and_empty() -> None:
    assert metadata_archs(c for c in ()) == ()
    assert metadata_archs(Capability.parse(c) for c in ("9.0a", "9.0a")) == ("9.0a",)


def test_narrowing_that_leaves_no_arch_names_kernel_declared_and_narrowing() -> None:
    with pytest.raises(ToolchainError) as err:
        effective_capabilities(["10.0"], (13, 0), NVCC13_SUPPORTED, narrow_to=["9.0"], component="blackwell_only")
    message = str(err.value)
    assert message.startswith("kernel.blackwell_only.cuda-capabilities: the kernel declares 10.0")
    assert "kernels.cuda-capabilities=9.0 narrows the build to 9.0, which leaves it no arch" in message
    assert "-C kernels.cuda-capabilities=10.0" in message  # a narrowing that works
    with pytest.raises(ToolchainError, match=r"native \(the visible GPUs: 9\.0\) narrows the build to 9\.0"):
        effective_capabilities(["10.0", "12.0"], (13, 0), NVCC13_SUPPORTED, narrow_to=["9.0"],
                               narrowed_by="kernels.cuda-capabilities=native (the visible GPUs: 9.0)")
