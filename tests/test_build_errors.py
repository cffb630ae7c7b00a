"""A kernel author's mistakes, through a real ``pip wheel``: one clear message, no traceback.

Each case breaks a copy of examples/relu in one way and runs ``pip wheel
--no-build-isolation``. pip must fail, its output must carry our ``kernels_build error:``
line naming the file and key at fault, no Python traceback, and no wheel may be left in the
output directory. All of these fail before anything is compiled, so the file is fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Sequence

import pytest

from conftest import copy_example, pip_wheel

TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_example("relu", tmp_path / "src")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} does not contain {old!r}"
    path.write_text(text.replace(old, new, 1))


def _assert_user_error(repo: Path, expected: Sequence[str], settings: Sequence[str] = ()) -> str:
    out = repo.parent / "wheelhouse"
    result = pip_wheel(repo, out, settings, check=False)
    output = result.stdout
    assert result.returncode != 0, f"pip wheel succeeded although the repo is broken:\n{output[-5000:]}"
    assert "kernels_build error:" in output, output[-8000:]
    for text in expected:
        assert text in output, f"{text!r} missing from pip's output:\n{output[-8000:]}"
    assert TRACEBACK not in output, f"a traceback leaked into pip's output:\n{output[-8000:]}"
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert not [n for n in left if ".whl" in n], f"files left in the wheel directory after a failure: {left}"
    return output


def _malformed_toml(repo: Path) -> None:
    _edit(repo / "build.toml", "[general]", "[general")


def _unknown_key(repo: Path) -> None:
    _edit(repo / "build.toml", 'license = "Apache-2.0"', 'license = "Apache-2.0"\ncolour = "red"')


def _wrong_type(repo: Path) -> None:
    _edit(repo / "build.toml", "version = 1", 'version = "1"')


def _unknown_general_backend(repo: Path) -> None:
    _edit(repo / "build.toml", 'backends = ["cpu", "cuda"]', 'backends = ["cpu", "cuda", "fpga"]')


def _unknown_kernel_backend(repo: Path) -> None:
    _edit(repo / "build.toml", 'backend = "cpu"', 'backend = "fpga"')


def _bad_capability(repo: Path) -> None:
    _edit(repo / "build.toml", 'cuda-capabilities = ["8.0", "9.0"]', 'cuda-capabilities = ["8.0", "sm_90"]')


def _missing_source(repo: Path) -> None:
    (repo / "relu_cpu" / "relu_cpu.cpp").unlink()


def _missing_init(repo: Path) -> None:
    (repo / "torch-ext" / "relu" / "__init__.py").unlink()
    (repo / "torch-ext" / "relu" / "helpers.py").write_text("X = 1\n")


CASES: Dict[str, tuple] = {
    "malformed-toml": (_malformed_toml, ["build.toml", "invalid TOML"]),
    "unknown-key": (_unknown_key, ["build.toml", "general.colour", "unknown key"]),
    "wrong-type": (_wrong_type, ["build.toml", "general.version", "expected an integer"]),
    "unknown-backend": (_unknown_general_backend, ["build.toml", "general.backends", '"fpga"']),
    "unknown-kernel-backend": (_unknown_kernel_backend, ["build.toml", "kernel.relu_cpu.backend", '"fpga"']),
    "bad-cuda-capability": (_bad_capability, ["build.toml", "kernel.relu_cuda.cuda-capabilities", '"sm_90"']),
    "missing-source": (_missing_source, ["build.toml", "kernel.relu_cpu.src", "relu_cpu/relu_cpu.cpp",
                                         "does not exist"]),
    "missing-init": (_missing_init, ["torch-ext/relu/__init__.py", "missing"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_repository(repo: Path, case: str) -> None:
    mutate, expected = CASES[case]
    mutate(repo)
    _assert_user_error(repo, expected)


def test_literal_op_namespace(repo: Path) -> None:
    init = repo / "torch-ext" / "relu" / "__init__.py"
    text = init.read_text()
    line = text.count("\n") + 3  # the decorator, after two blank lines
    init.write_text(
        text + '\n\n@torch.library.register_fake("relu::relu_fwd")\n'
        "def _relu_fwd_fake(x):\n    return torch.empty_like(x)\n"
    )
    assert init.read_text().splitlines()[line - 1].startswith("@torch.library.register_fake")
    output = _assert_user_error(repo, [f"__init__.py:{line}", "add_op_namespace_prefix", '"relu::relu_fwd"'])
    assert f"torch-ext/relu/__init__.py:{line}" in output


def test_cuda_backend_with_cpu_torch(repo: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.version.cuda is not None:
        pytest.skip("the build environment's torch is a CUDA build")
    output = _assert_user_error(repo, ["needs a CUDA build of torch", torch.__version__],
                                settings=["kernels.backend=cuda"])
    assert "-C kernels.backend=cpu" in output  # the way out


def test_unknown_setting(repo: Path) -> None:
    output = _assert_user_error(repo, ["kernels.bogus", "unknown setting"], settings=["kernels.bogus=1"])
    known = re.search(r"known: (.*)", output)
    assert known is not None, output[-5000:]
    for name in ("kernels.backend", "kernels.torch-version", "kernels.compliance", "kernels.policy",
                 "kernels.cuda-capabilities", "kernels.unique-id"):
        assert name in known.group(1)


def test_our_setting_without_its_prefix(repo: Path) -> None:
    # before the build starts, not scikit-build-core's "Unrecognized options" after it
    output = _assert_user_error(repo, ["torch-version", "did you mean kernels.torch-version?"],
                                settings=["torch-version=2.13"])
    assert "Unrecognized options" not in output


def test_bad_setting_value(repo: Path) -> None:
    _assert_user_error(repo, ["kernels.torch-version", "'two'"], settings=["kernels.torch-version=two"])


def test_torch_version_mismatch_without_isolation(repo: Path) -> None:
    # Asking for a torch the (non-isolated) build environment does not have is a clear error.
    _assert_user_error(repo, ["kernels.torch-version asks for torch 1.99"],
                       settings=["kernels.torch-version=1.99"])


def test_scikit_build_core_settings_pass_through(repo: Path) -> None:
    """A setting that is not ours reaches scikit-build-core, whose complaint is shown as one line."""
    _assert_user_error(repo, ["scikit-build-core", "CMake", ">=99"], settings=["cmake.version=>=99"])
