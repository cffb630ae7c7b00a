"""Tests of build.toml parsing/validation and the repository layout check (no torch needed)."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Sequence

import pytest

from kernels_build.config import (
    BackendDepends,
    BuildConfig,
    Kernel,
    KernelDependency,
    Torch,
    TorchNoarch,
    TvmFfi,
    check_layout,
    load_build_config,
    parse_build_toml,
)
from kernels_build.errors import ConfigError, SourceError

PATH = Path("/repo/build.toml")

GENERAL = """\
[general]
name = "my-relu"
version = 1
edition = 5
license = "Apache-2.0"
backends = ["cpu", "cuda"]
"""

# The composed example of the contract, verbatim.
COMPOSED = """\
[general]
name = "my-relu"
version = 1
edition = 5
license = "Apache-2.0"
backends = ["cpu", "cuda"]

[general.hub]
repo-id = "my-org/my-relu"

[torch]
src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]

[kernel.my_relu_cuda]
backend = "cuda"
depends = ["torch"]
cuda-capabilities = ["8.0", "9.0a"]
src = ["my_relu_cuda/relu.cu"]

[kernel.my_relu_cpu]
backend = "cpu"
depends = ["torch"]
src = ["my_relu_cpu/relu.cpp"]
"""

V4 = """\
[general]
name = "quantization-eetq"
version = 1
license = "Apache-2.0"
backends = ["cuda"]
upstream = "https://github.com/NetEase-FuXi/EETQ"

[general.cuda]
maxver = "12.8"

[torch]
src = ["torch-ext/torch_binding.cpp"]
stable-abi = "2.9"

[kernel.eetq]
backend = "cuda"
depends = ["torch", "cutlass_2_10"]
cuda-capabilities = ["8.0", "8.6", "9.0+PTX"]
cuda-flags = ["-O3", "--use_fast_math"]
src = ["eetq/kernel.cu"]
"""

NOARCH = """\
[general]
name = "aiter-kernels"
version = 1
license = "MIT"
backends = ["cuda", "rocm"]

[torch-noarch]
pyext = ["py", "json"]
rocm_archs = ["gfx942", "gfx950"]

[kernel]
"""


def parse(text: str) -> BuildConfig:
    return parse_build_toml(textwrap.dedent(text), PATH)


def reject(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value


def assert_error(error: ConfigError, key: str, fragments: Sequence[str]) -> None:
    assert error.key == key, str(error)
    assert error.file == str(PATH)
    message = str(error)
    assert str(PATH) in message and key in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# ---------------------------------------------------------------------------------------------
# Valid files


def test_composed_example() -> None:
    config = parse(COMPOSED)
    assert config.path == PATH and config.root == Path("/repo")
    assert config.source_edition == 5
    g = config.general
    assert (g.name, g.version, g.license, g.backends, g.edition) == ("my-relu", 1, "Apache-2.0", ("cpu", "cuda"), 5)
    assert g.module_name == "my_relu"
    assert g.hub.repo_id == "my-org/my-relu" and g.hub.branch is None
    assert g.backend_depends == {}
    assert config.framework == Torch(src=("torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"))
    assert config.framework.pyext == ("py", "pyi")
    assert [k.name for k in config.kernels] == ["my_relu_cuda", "my_relu_cpu"]
    cuda = config.kernels_for("cuda")
    assert cuda == (
        Kernel(
            name="my_relu_cuda",
            backend="cuda",
            depends=("torch",),
            src=("my_relu_cuda/relu.cu",),
            cuda_capabilities=("8.0", "9.0a"),
        ),
    )
    cpu = config.kernels_for("cpu")[0]
    assert cpu.cuda_capabilities is None and cpu.rocm_archs is None
    assert config.kernels_for("rocm") == ()
    assert config.python_dir == Path("/repo/torch-ext/my_relu")
    assert not config.is_noarch
    hash(config.general)  # frozen dataclasses stay hashable despite mapping fields


def test_v4_file_is_upgraded_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kernels_build"):
        config = parse(V4)
    assert config.source_edition is None and config.general.edition == 5
    assert any("edition = 5" in r.getMessage() and "edition 4" in r.getMessage() for r in caplog.records)
    assert config.general.upstream == "https://github.com/NetEase-FuXi/EETQ"
    assert config.general.backend_depends["cuda"] == BackendDepends(maxver=(12, 8))
    assert config.framework.stable_abi == {"cuda": (2, 9)}
    kernel = config.kernels[0]
    assert kernel.depends == ("torch", "cutlass_2_10")
    assert kernel.cuda_capabilities == ("8.0", "8.6", "9.0+PTX")
    assert kernel.cuda_flags == ("-O3", "--use_fast_math")


def test_edition5_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kernels_build"):
        parse(COMPOSED)
    assert not caplog.records


def test_noarch_with_empty_kernel_table() -> None:
    config = parse(NOARCH)
    assert config.is_noarch
    assert config.framework == TorchNoarch(pyext=("py", "json"), rocm_archs=("gfx942", "gfx950"))
    assert config.kernels == ()
    assert config.python_dir == Path("/repo/torch-ext/aiter_kernels")


def test_noarch_empty_table() -> None:
    config = parse(GENERAL + "[torch-noarch]\n")
    assert config.framework == TorchNoarch()


def test_tvm_ffi() -> None:
    config = parse(
        GENERAL
        + """
[tvm-ffi]
src = ["tvm-ffi-ext/binding.cpp"]
cxx-flags = ["-O3"]

[kernel.k]
backend = "cpu"
depends = []
src = ["k/k.cpp"]
"""
    )
    assert config.framework == TvmFfi(src=("tvm-ffi-ext/binding.cpp",), cxx_flags=("-O3",))
    assert config.python_dir == Path("/repo/tvm-ffi-ext/my_relu")
    assert config.kernels[0].depends == ()


def test_all_keys_edition5() -> None:
    config = parse(
        """\
[general]
name = "flash-attn4"
version = 0
edition = 5
license = "BSD-3-Clause"
backends = ["cuda", "rocm", "xpu", "neuron", "tpu", "cpu", "metal"]
upstream = "git@github.com:Dao-AILab/flash-attention.git"
source = "git+https://github.com/Dao-AILab/flash-attention"
python-depends = ["einops", "tvm-ffi"]
kernel-depends = [{ repo-id = "kernels-community/activation", version = 1 }]

[general.hub]
repo-id = "kernels-community/flash-attn4"
branch = "dev"

[general.cuda]
minver = "12.8"
maxver = "13.0.0"
python-depends = ["nvidia-cutlass-dsl"]
kernel-depends = [{ repo-id = "org/dep", revision = "main" }]

[general.xpu]
python-depends = ["onednn"]

[general.neuron]
python-depends = ["nki"]

[general.tpu]
python-depends = ["einops"]

[torch]
src = ["torch-ext/b.cpp"]
include = ["include"]
pyext = ["py", "pyi", "json"]
minver = "2.9"
maxver = "2.13"
cxx-flags = ["-O3"]

[torch.stable-abi]
cuda = "2.10"
rocm = "2.10.0"
cann = "2.10"

[kernel.c]
backend = "cuda"
depends = ["torch", "cutlass_4_5"]
src = ["c/a.cu"]
include = ["c"]
cxx-flags = ["-Wall"]
cuda-capabilities = ["8.0", "9.0a", "10.0f", "12.0+PTX"]
cuda-flags = ["--expt-relaxed-constexpr"]
cuda-minver = "12.8"

[kernel.r]
backend = "rocm"
depends = []
src = ["r/a.hip"]
rocm-archs = ["gfx90a", "gfx942"]
hip-flags = ["-O3"]

[kernel.x]
backend = "xpu"
depends = ["sycl_tla"]
src = ["x/a.cpp"]
sycl-flags = ["-O2"]

[kernel.m]
backend = "metal"
depends = ["metal-cpp"]
src = ["m/a.metal", "m/a.mm"]
"""
    )
    g = config.general
    assert g.version == 0
    assert g.hub.branch == "dev"
    assert g.kernel_depends == (KernelDependency("kernels-community/activation", version=1),)
    cuda = g.backend_depends["cuda"]
    assert (cuda.minver, cuda.maxver) == ((12, 8), (13,))
    assert set(g.backend_depends) == {"cuda", "xpu", "neuron", "tpu"}
    assert g.python_depends_for("cuda") == ("einops", "tvm-ffi", "nvidia-cutlass-dsl")
    assert g.python_depends_for("cpu") == ("einops", "tvm-ffi")
    assert g.python_depends_for("tpu") == ("einops", "tvm-ffi")  # duplicate dropped
    assert g.kernel_depends_for("cuda") == (
        KernelDependency("kernels-community/activation", version=1),
        KernelDependency("org/dep", revision="main"),
    )
    assert g.kernel_depends_for("xpu") == g.kernel_depends
    torch = config.framework
    assert isinstance(torch, Torch)
    assert (torch.minver, torch.maxver) == ((2, 9), (2, 13))
    # cann is not in general.backends: ignored; rocm's trailing zero dropped.
    assert torch.stable_abi == {"cuda": (2, 10), "rocm": (2, 10)}
    c = config.kernels_for("cuda")[0]
    assert c.cuda_minver == (12, 8) and c.include == ("c",) and c.cxx_flags == ("-Wall",)
    r = config.kernels_for("rocm")[0]
    assert r.rocm_archs == ("gfx90a", "gfx942") and r.hip_flags == ("-O3",)
    assert config.kernels_for("xpu")[0].sycl_flags == ("-O2",)


def test_stable_abi_string_expands_to_all_backends() -> None:
    config = parse(GENERAL + '[torch]\nstable-abi = "2.10"\n')
    assert config.framework.stable_abi == {"cpu": (2, 10), "cuda": (2, 10)}


def test_stable_abi_table_keeps_listed_backends() -> None:
    config = parse(GENERAL + '[torch.stable-abi]\ncuda = "2.9"\nrocm = "2.10"\n')
    assert config.framework.stable_abi == {"cuda": (2, 9)}


def test_no_stable_abi() -> None:
    assert parse(GENERAL + "[torch]\n").framework.stable_abi == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/o/r",
        "http://example.com/r.git",
        "git://example.com/r",
        "ssh://git@example.com/o/r",
        "git+ssh://git@example.com/o/r",
        "git+https://github.com/o/r",
        "git+http://example.com/o/r",
        "git@github.com:o/r.git",
    ],
)
def test_git_urls_accepted(url: str) -> None:
    config = parse(GENERAL.replace("[general]\n", f'[general]\nupstream = "{url}"\nsource = "{url}"\n') + "[torch]\n")
    assert config.general.upstream == url == config.general.source


def test_load_build_config(tmp_path: Path) -> None:
    (tmp_path / "build.toml").write_text(COMPOSED)
    config = load_build_config(tmp_path)
    assert config.path == tmp_path / "build.toml" and config.root == tmp_path


def test_load_missing_build_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_build_config(tmp_path)
    assert f"directory {tmp_path} has no build.toml" in str(info.value)


def test_toml_syntax_error() -> None:
    error = reject(GENERAL + "[torch]\nsrc = [\"a\" \"b\"]\n")
    assert "invalid TOML" in str(error) and "line" in str(error) and "column" in str(error)
    assert "line 8, column" in str(error) and error.file == str(PATH)


# ---------------------------------------------------------------------------------------------
# Rejections: (build.toml, key named, fragments the message must contain)

TORCH = "[torch]\n"
KERNEL_CPU = '[kernel.k]\nbackend = "cpu"\ndepends = ["torch"]\nsrc = ["k.cpp"]\n'
KERNEL_CUDA = '[kernel.k]\nbackend = "cuda"\ndepends = ["torch"]\nsrc = ["k.cu"]\n'


def general_with(**replace: str) -> str:
    """GENERAL with keys replaced (value None-like "" removes the key)."""
    lines = []
    for line in GENERAL.splitlines():
        key = line.split(" = ")[0]
        py = key.replace("-", "_")
        if py in replace:
            if replace[py]:
                lines.append(f"{key} = {replace[py]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


REJECTIONS = [
    # unknown keys, with the allowed keys listed
    ("top-level", GENERAL + TORCH + "[foo]\n", "foo", ["unknown key", "general, torch, torch-noarch, tvm-ffi, kernel"]),
    ("general", GENERAL + 'foo = 1\n' + TORCH, "general.foo", ["unknown key", "name, version", "backends"]),
    ("hub", GENERAL + '[general.hub]\nrepo = "o/n"\n' + TORCH, "general.hub.repo", ["repo-id, branch"]),
    ("general.rocm", GENERAL + "[general.rocm]\n" + TORCH, "general.rocm", ["unknown key", "cuda, xpu, neuron"]),
    ("general.cuda", GENERAL + '[general.cuda]\nfoo = "1"\n' + TORCH, "general.cuda.foo", ["minver, maxver, python-depends, kernel-depends"]),
    ("general.tpu", GENERAL + '[general.tpu]\nminver = "1"\n' + TORCH, "general.tpu.minver", ["allowed keys in [general.tpu]: python-depends"]),
    ("torch", GENERAL + TORCH + "pyroot = 1\n", "torch.pyroot", ["src, include, pyext, minver, maxver, cxx-flags, stable-abi"]),
    ("torch kebab", GENERAL + TORCH + "cxx_flags = []\n", "torch.cxx_flags", ['write it as "cxx-flags"']),
    ("tvm-ffi", GENERAL + '[tvm-ffi]\nsrc = []\nminver = "1"\n', "tvm-ffi.minver", ["src, include, pyext, cxx-flags"]),
    ("kernel", GENERAL + TORCH + KERNEL_CPU + "foo = 1\n", "kernel.k.foo", ["backend, depends, src, include, cxx-flags"]),
    ("kernel language", GENERAL + TORCH + KERNEL_CUDA + 'language = "cuda"\n', "kernel.k.language", ["removed", "backend"]),
    ("universal", GENERAL + "universal = true\n" + TORCH, "general.universal", ["torch-noarch"]),
    ("noarch kebab", GENERAL + '[torch-noarch]\ncuda-capabilities = ["8.0"]\n', "torch-noarch.cuda-capabilities", ['"cuda_capabilities"', "pyext, cuda_capabilities, rocm_archs"]),
    ("noarch kebab rocm", GENERAL + '[torch-noarch]\nrocm-archs = ["gfx90a"]\n', "torch-noarch.rocm-archs", ['"rocm_archs"']),
    ("noarch src", GENERAL + '[torch-noarch]\nsrc = ["a.cpp"]\n', "torch-noarch.src", ["pyext, cuda_capabilities, rocm_archs"]),
    ("kernel-depends entry", GENERAL + 'kernel-depends = [{ repo_id = "o/n", version = 1 }]\n' + TORCH, "general.kernel-depends", ['"repo_id"', 'write it as "repo-id"', "repo-id, version, revision"]),
    # wrong types: expected type and what was found
    ("name int", general_with(name="3") + TORCH, "general.name", ["expected a string", "found an integer (3)"]),
    ("version str", general_with(version='"1"') + TORCH, "general.version", ["expected an integer", 'found a string ("1")']),
    ("version bool", general_with(version="true") + TORCH, "general.version", ["expected an integer", "found a boolean (true)"]),
    ("backends str", general_with(backends='"cuda"') + TORCH, "general.backends", ["expected an array of strings", 'found a string ("cuda")']),
    ("backends items", general_with(backends="[1]") + TORCH, "general.backends", ["expected an array of strings", "an integer (1)"]),
    ("general table", 'general = 1\n' + TORCH, "general", ["expected a table", "found an integer"]),
    ("hub str", GENERAL + 'hub = "o/n"\n' + TORCH, "general.hub", ["expected a table", "found a string"]),
    ("torch src str", GENERAL + TORCH + 'src = "a.cpp"\n', "torch.src", ["expected an array of strings", 'found a string ("a.cpp")']),
    ("minver float", GENERAL + TORCH + "minver = 2.9\n", "torch.minver", ["expected a version string", "found a float (2.9)", 'quote it: "2.9"']),
    ("stable-abi int", GENERAL + TORCH + "stable-abi = 2\n", "torch.stable-abi", ["a Torch version string", "or a table", "found an integer (2)"]),
    ("kernel table", GENERAL + TORCH + "[kernel]\nk = 1\n", "kernel.k", ["expected a table", "found an integer"]),
    ("depends str", GENERAL + TORCH + '[kernel.k]\nbackend = "cpu"\ndepends = "torch"\nsrc = ["a"]\n', "kernel.k.depends", ["expected an array of strings"]),
    ("kernel-depends type", GENERAL + 'kernel-depends = "o/n"\n' + TORCH, "general.kernel-depends", ["expected an array of inline tables", "found a string"]),
    ("kernel-depends version str", GENERAL + 'kernel-depends = [{ repo-id = "o/n", version = "1" }]\n' + TORCH, "general.kernel-depends", ["version must be a non-negative integer", 'found a string ("1")']),
    # missing required keys
    ("no name", general_with(name="") + TORCH, "general.name", ["missing required key", "a string"]),
    ("no version", general_with(version="") + TORCH, "general.version", ["missing required key", "an integer"]),
    ("no license", general_with(license="") + TORCH, "general.license", ["missing required key"]),
    ("no backends", general_with(backends="") + TORCH, "general.backends", ["missing required key"]),
    ("no general", TORCH, "general", ["missing required key", "a table"]),
    ("no kernel backend", GENERAL + TORCH + '[kernel.k]\ndepends = []\nsrc = ["a"]\n', "kernel.k.backend", ["missing required key"]),
    ("no kernel depends", GENERAL + TORCH + '[kernel.k]\nbackend = "cpu"\nsrc = ["a"]\n', "kernel.k.depends", ["missing required key"]),
    ("no kernel src", GENERAL + TORCH + '[kernel.k]\nbackend = "cpu"\ndepends = []\n', "kernel.k.src", ["missing required key"]),
    ("empty kernel src", GENERAL + TORCH + '[kernel.k]\nbackend = "cpu"\ndepends = []\nsrc = []\n', "kernel.k.src", ["at least one source"]),
    ("no tvm-ffi src", GENERAL + "[tvm-ffi]\n", "tvm-ffi.src", ["missing required key"]),
    ("no repo-id", GENERAL + "kernel-depends = [{ version = 1 }]\n" + TORCH, "general.kernel-depends", ["missing required key repo-id"]),
    # bad values
    *[
        (f"name {bad}", general_with(name=f'"{bad}"') + TORCH, "general.name", [f'invalid name "{bad}"', "^[a-z][-a-z0-9]*[a-z0-9]$"])
        for bad in ("My-Relu", "relu-", "1relu", "my_relu", "r")
    ],
    ("negative version", general_with(version="-1") + TORCH, "general.version", ["non-negative"]),
    ("unknown backend", general_with(backends='["cuda", "tpuu"]') + TORCH, "general.backends", ['unknown backend "tpuu"', "cann, cpu, cuda, metal, neuron, rocm, tpu, xpu"]),
    ("empty backends", general_with(backends="[]") + TORCH, "general.backends", ["at least one backend", "cann, cpu"]),
    ("duplicate backend", general_with(backends='["cuda", "cuda"]') + TORCH, "general.backends", ['"cuda" is listed twice']),
    ("kernel backend", GENERAL + TORCH + '[kernel.k]\nbackend = "tpu"\ndepends = []\nsrc = ["a"]\n', "kernel.k.backend", ['unknown kernel backend "tpu"', "cpu, cuda, metal, rocm, xpu"]),
    ("kernel backend not declared", GENERAL + TORCH + '[kernel.k]\nbackend = "rocm"\ndepends = []\nsrc = ["a"]\n', "kernel.k.backend", ['"rocm" is not in general.backends (cpu, cuda)']),
    ("unknown depends", GENERAL + TORCH + '[kernel.k]\nbackend = "cuda"\ndepends = ["cutlass_3_7"]\nsrc = ["a"]\n', "kernel.k.depends", ['unknown dependency "cutlass_3_7"', "torch, cutlass_2_10, cutlass_3_5, cutlass_3_6, cutlass_3_8, cutlass_3_9, cutlass_4_0, cutlass_4_4, cutlass_4_5, sycl_tla, metal-cpp"]),
    *[
        (f"capability {bad}", GENERAL + TORCH + KERNEL_CUDA + f'cuda-capabilities = ["8.0", "{bad}"]\n', "kernel.k.cuda-capabilities", [f'invalid CUDA capability "{bad}"', '"8.0", "9.0a", "10.0f", "8.0+PTX"'])
        for bad in ("sm_80", "8", "9.0b", "8.0+ptx", "80")
    ],
    ("noarch capability", GENERAL + '[torch-noarch]\ncuda_capabilities = ["8.x"]\n', "torch-noarch.cuda_capabilities", ['invalid CUDA capability "8.x"']),
    ("empty capabilities", GENERAL + TORCH + KERNEL_CUDA + "cuda-capabilities = []\n", "kernel.k.cuda-capabilities", ["must not be empty"]),
    *[
        (f"rocm arch {bad}", general_with(backends='["rocm"]') + TORCH + '[kernel.k]\nbackend = "rocm"\ndepends = []\nsrc = ["a"]\n' + f'rocm-archs = ["{bad}"]\n', "kernel.k.rocm-archs", [f'invalid ROCm architecture "{bad}"', "gfx90a"])
        for bad in ("gfx90A", "mi300", "gfx")
    ],
    ("noarch rocm arch", GENERAL + '[torch-noarch]\nrocm_archs = ["MI300"]\n', "torch-noarch.rocm_archs", ['invalid ROCm architecture "MI300"']),
    ("version torch", GENERAL + TORCH + 'minver = "2.x"\n', "torch.minver", ['"2.x" is not a version', "dotted integers"]),
    ("version cuda", GENERAL + '[general.cuda]\nmaxver = "twelve"\n' + TORCH, "general.cuda.maxver", ['"twelve" is not a version']),
    ("version cuda-minver", GENERAL + TORCH + KERNEL_CUDA + 'cuda-minver = "12.8-rc"\n', "kernel.k.cuda-minver", ['"12.8-rc" is not a version']),
    ("version stable-abi", GENERAL + TORCH + 'stable-abi = "latest"\n', "torch.stable-abi", ['"latest" is not a version']),
    ("version stable-abi table", GENERAL + '[torch.stable-abi]\ncuda = "v2"\n', "torch.stable-abi.cuda", ['"v2" is not a version']),
    ("stable-abi table backend", GENERAL + '[torch.stable-abi]\ngpu = "2.10"\n', "torch.stable-abi.gpu", ["unknown key", "cann, cpu, cuda"]),
    ("torch bounds", GENERAL + TORCH + 'minver = "2.10"\nmaxver = "2.9"\n', "torch.minver", ["minver 2.10 is greater than maxver 2.9"]),
    ("cuda bounds", GENERAL + '[general.cuda]\nminver = "13.0"\nmaxver = "12.8"\n' + TORCH, "general.cuda.minver", ["greater than maxver"]),
    ("kernel-depends both", GENERAL + 'kernel-depends = [{ repo-id = "o/n", version = 1, revision = "main" }]\n' + TORCH, "general.kernel-depends", ["exactly one of version", "revision", "found both"]),
    ("kernel-depends neither", GENERAL + 'kernel-depends = [{ repo-id = "o/n" }]\n' + TORCH, "general.kernel-depends", ["exactly one of version", "found neither"]),
    ("kernel-depends cuda both", GENERAL + '[general.cuda]\nkernel-depends = [{ repo-id = "o/n", version = 1, revision = "x" }]\n' + TORCH, "general.cuda.kernel-depends", ["found both"]),
    ("kernel-depends repo-id", GENERAL + 'kernel-depends = [{ repo-id = "nodash", version = 1 }]\n' + TORCH, "general.kernel-depends", ['"owner/name"']),
    *[
        (f"git url {bad}", GENERAL + f'{key} = "{bad}"\n' + TORCH, f"general.{key}", [f'"{bad}" is not a git URL', "https, http, git, ssh, git+ssh, git+https, git+http, or git@host:path"])
        for key, bad in (("upstream", "ftp://example.com/r"), ("source", "github.com/o/r"), ("upstream", "https://"), ("source", "file:///tmp/r"))
    ],
    ("hub repo-id", GENERAL + '[general.hub]\nrepo-id = "relu"\n' + TORCH, "general.hub.repo-id", ['"owner/name"']),
    ("pyext dot", GENERAL + TORCH + 'pyext = [".json"]\n', "torch.pyext", ["no dot"]),
    # python-depends
    ("python-depends unknown", GENERAL + 'python-depends = ["numpy"]\n' + TORCH, "general.python-depends", ['unknown Python dependency "numpy"', "einops, helion, tvm-ffi"]),
    ("python-depends backend in general", GENERAL + 'python-depends = ["nvidia-cutlass-dsl"]\n' + TORCH, "general.python-depends", ["cuda-only", "[general.cuda]", "einops, helion, tvm-ffi"]),
    ("python-depends cuda", GENERAL + '[general.cuda]\npython-depends = ["nki"]\n' + TORCH, "general.cuda.python-depends", ["neuron-only", "einops, helion, tvm-ffi, nvidia-cutlass-dsl"]),
    ("python-depends xpu", GENERAL + '[general.xpu]\npython-depends = ["torch"]\n' + TORCH, "general.xpu.python-depends", ['unknown Python dependency "torch"', "einops, helion, tvm-ffi, onednn"]),
    ("python-depends neuron", GENERAL + '[general.neuron]\npython-depends = ["onednn"]\n' + TORCH, "general.neuron.python-depends", ["xpu-only", "nki"]),
    ("python-depends tpu", GENERAL + '[general.tpu]\npython-depends = ["nki"]\n' + TORCH, "general.tpu.python-depends", ["neuron-only", "einops, helion, tvm-ffi)"]),
    # framework tables
    ("no framework", GENERAL, "torch", ["missing framework table", "[torch]", "[torch-noarch]", "[tvm-ffi]"]),
    ("two frameworks", GENERAL + TORCH + "[torch-noarch]\n", "torch-noarch", ["only one framework table", "[torch] and [torch-noarch]"]),
    ("two frameworks tvm", GENERAL + "[tvm-ffi]\nsrc = []\n" + TORCH, "tvm-ffi", ["only one framework table"]),
    ("noarch with kernels", GENERAL + "[torch-noarch]\n" + KERNEL_CPU, "kernel.k", ["Python-only", "[torch]"]),
    # keys of another backend inside a kernel
    ("cuda key in cpu", GENERAL + TORCH + KERNEL_CPU + 'cuda-capabilities = ["8.0"]\n', "kernel.k.cuda-capabilities", ["only to cuda kernels", 'backend = "cpu"', "backend, depends, src, include, cxx-flags"]),
    ("rocm key in cuda", GENERAL + TORCH + KERNEL_CUDA + 'hip-flags = ["-O3"]\n', "kernel.k.hip-flags", ["only to rocm kernels", 'backend = "cuda"', "cuda-capabilities, cuda-flags, cuda-minver"]),
    ("xpu key in cuda", GENERAL + TORCH + KERNEL_CUDA + 'sycl-flags = ["-O3"]\n', "kernel.k.sycl-flags", ["only to xpu kernels"]),
    ("cuda-minver in cpu", GENERAL + TORCH + KERNEL_CPU + 'cuda-minver = "12.8"\n', "kernel.k.cuda-minver", ["only to cuda kernels"]),
    # editions
    ("edition 4", GENERAL.replace("edition = 5", "edition = 4") + TORCH, "general.edition", ["edition 4 is not supported", "only edition = 5 is supported"]),
    ("edition 6", GENERAL.replace("edition = 5", "edition = 6") + TORCH, "general.edition", ["only edition = 5 is supported"]),
    ("edition str", GENERAL.replace("edition = 5", 'edition = "5"') + TORCH, "general.edition", ["expected the integer 5", 'found a string ("5")', "only edition = 5 is supported"]),
    ("v3 no framework", general_with(edition="") + KERNEL_CPU, "torch", ["edition 3 is no longer supported", "[torch]", "[torch-noarch]", "edition = 5"]),
    ("v3 bare", general_with(edition="", license="", version=""), "torch", ["edition 3 is no longer supported", "[torch]", "[torch-noarch]", "`license`", "`edition = 5`"]),
    ("v3 no license", general_with(edition="", license="") + TORCH, "general.license", ["edition 3 is no longer supported", "edition = 5"]),
    ("v4 kernel-depends", general_with(edition="") + 'kernel-depends = [{ repo-id = "o/n", version = 1 }]\n' + TORCH, "general.kernel-depends", ["requires edition 5", "edition = 5"]),
    ("v4 cuda kernel-depends", general_with(edition="") + '[general.cuda]\nkernel-depends = []\n' + TORCH, "general.cuda.kernel-depends", ["requires edition 5"]),
    ("v4 tpu", general_with(edition="") + "[general.tpu]\n" + TORCH, "general.tpu", ["requires edition 5"]),
    ("v4 stable-abi table", general_with(edition="") + '[torch.stable-abi]\ncuda = "2.10"\n', "torch.stable-abi", ["table form of stable-abi requires edition 5", 'stable-abi = "2.10"']),
]


@pytest.mark.parametrize(
    ("text", "key", "fragments"),
    [pytest.param(text, key, fragments, id=case) for case, text, key, fragments in REJECTIONS],
)
def test_rejections(text: str, key: str, fragments: Sequence[str]) -> None:
    assert_error(reject(text), key, fragments)


# ---------------------------------------------------------------------------------------------
# Layout


def make_repo(root: Path, build_toml: str = COMPOSED, files: Sequence[str] = ()) -> BuildConfig:
    """A repository with the composed example's files, then parse it from disk."""
    (root / "build.toml").write_text(build_toml)
    default = [
        "torch-ext/torch_binding.cpp",
        "torch-ext/torch_binding.h",
        "my_relu_cuda/relu.cu",
        "my_relu_cpu/relu.cpp",
        "torch-ext/my_relu/__init__.py",
    ]
    for rel in [*default, *files]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    return load_build_config(root)


def layout_error(config: BuildConfig) -> str:
    with pytest.raises(SourceError) as info:
        check_layout(config)
    return str(info.value)


def test_layout_ok(tmp_path: Path) -> None:
    check_layout(make_repo(tmp_path))


def test_layout_ok_with_include(tmp_path: Path) -> None:
    text = COMPOSED.replace('src = ["my_relu_cpu/relu.cpp"]', 'src = ["my_relu_cpu/relu.cpp"]\ninclude = ["my_relu_cpu"]')
    check_layout(make_repo(tmp_path, text))


def test_layout_missing_init(tmp_path: Path) -> None:
    config = make_repo(tmp_path)
    (tmp_path / "torch-ext/my_relu/__init__.py").unlink()
    message = layout_error(config)
    assert str(tmp_path / "torch-ext" / "my_relu" / "__init__.py") in message and "missing" in message


def test_layout_nested_package(tmp_path: Path) -> None:
    config = make_repo(tmp_path, files=["torch-ext/my_relu/my_relu/__init__.py"])
    message = layout_error(config)
    assert str(tmp_path / "torch-ext" / "my_relu" / "my_relu") in message and "nested" in message


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("/abs/relu.cu", "is absolute"),
        ("C:/src/relu.cu", "is absolute"),
        ("../outside.cu", "points outside the repository root"),
        ("my_relu_cuda/../../outside.cu", "points outside the repository root"),
        ("my_relu_cuda/missing.cu", "does not exist"),
    ],
)
def test_layout_bad_kernel_src(tmp_path: Path, entry: str, fragment: str) -> None:
    config = make_repo(tmp_path, COMPOSED.replace("my_relu_cuda/relu.cu", entry))
    message = layout_error(config)
    assert f'kernel.my_relu_cuda.src: "{entry}" {fragment}' in message


def test_layout_reports_all_problems(tmp_path: Path) -> None:
    text = COMPOSED.replace('src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]', 'src = ["torch-ext/gone.cpp"]\ninclude = ["../inc", "nodir"]')
    config = make_repo(tmp_path, text)
    (tmp_path / "torch-ext/my_relu/__init__.py").unlink()
    (tmp_path / "my_relu_cpu/relu.cpp").unlink()
    message = layout_error(config)
    assert 'torch.src: "torch-ext/gone.cpp" does not exist' in message
    assert 'torch.include: "../inc" points outside' in message
    assert 'torch.include: "nodir" does not exist' in message
    assert 'kernel.my_relu_cpu.src: "my_relu_cpu/relu.cpp" does not exist' in message
    assert "__init__.py" in message
    assert message.count("\n  - ") == 5


def test_layout_include_must_be_directory(tmp_path: Path) -> None:
    text = COMPOSED.replace('src = ["my_relu_cpu/relu.cpp"]', 'src = ["my_relu_cpu/relu.cpp"]\ninclude = ["my_relu_cpu/relu.cpp"]')
    message = layout_error(make_repo(tmp_path, text))
    assert 'kernel.my_relu_cpu.include: "my_relu_cpu/relu.cpp" is not a directory' in message


def test_layout_tvm_ffi_python_dir(tmp_path: Path) -> None:
    text = GENERAL + '[tvm-ffi]\nsrc = ["tvm-ffi-ext/binding.cpp"]\n'
    config = make_repo(tmp_path, text, files=["tvm-ffi-ext/binding.cpp"])
    message = layout_error(config)
    assert str(tmp_path / "tvm-ffi-ext" / "my_relu" / "__init__.py") in message
    (tmp_path / "tvm-ffi-ext/my_relu").mkdir()
    (tmp_path / "tvm-ffi-ext/my_relu/__init__.py").write_text("")
    check_layout(config)


def test_layout_noarch(tmp_path: Path) -> None:
    config = make_repo(tmp_path, NOARCH)
    assert "torch-ext/aiter_kernels/__init__.py" in layout_error(config)
    (tmp_path / "torch-ext/aiter_kernels").mkdir()
    (tmp_path / "torch-ext/aiter_kernels/__init__.py").write_text("")
    check_layout(config)
