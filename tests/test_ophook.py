"""The op-registration hook (contract section 4): literal op namespaces fail the build."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import List, Tuple

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:  # run from the source tree when the project is not installed
    sys.path.insert(0, str(SRC))

from kernels_build.errors import KernelBuildError, OpNamespaceError  # noqa: E402
from kernels_build.ophook import (  # noqa: E402
    Finding,
    check_op_namespaces,
    find_literal_op_registrations,
)


def make_kernel(tmp_path: Path, files: dict) -> Path:
    """A project with ``torch-ext/relu/<files>``; returns the Python dir."""
    python_dir = tmp_path / "torch-ext" / "relu"
    for name, text in {"__init__.py": "", **files}.items():
        path = python_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return python_dir


def summary(findings: List[Finding]) -> List[Tuple[int, str, str, str]]:
    return [(f.line, f.kind, f.name, f.argument) for f in findings]


POSITIVES = '''\
import torch
from torch.library import custom_op, register_fake, triton_op

OP = "relu::relu_var"
NS = "relu"

@torch.library.register_fake("relu::relu_fwd")
def relu_fwd_fake(x):
    return x

@custom_op(f"{NS}::relu_f", mutates_args=())
def relu_f(x: torch.Tensor) -> torch.Tensor:
    return x

@register_fake(OP)
def relu_var_fake(x):
    return x

@torch.library.custom_op(name="relu::kw", mutates_args=())
def kw(x: torch.Tensor) -> torch.Tensor:
    return x

@staticmethod
@triton_op("relu::tri", mutates_args={})
async def tri(x):
    return x

@torch.library.register_torch_dispatch("relu::disp", object)
class Dispatch:
    pass

if hasattr(torch.library, "register_vmap"):
    @torch.library.register_vmap("relu::vm")
    def vm(info, in_dims, x):
        return x, 0

try:
    @torch.library.register_kernel("relu::k", "cpu")
    def k(x):
        return x
except AttributeError:
    pass
'''


def test_positives(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {"ops.py": POSITIVES})
    findings = find_literal_op_registrations(python_dir)
    assert summary(findings) == [
        (7, "register_fake", "relu_fwd_fake", '"relu::relu_fwd"'),
        (11, "custom_op", "relu_f", 'f"{NS}::relu_f"'),
        (15, "register_fake", "relu_var_fake", "OP"),
        (19, "custom_op", "kw", '"relu::kw"'),
        (24, "triton_op", "tri", '"relu::tri"'),
        (28, "register_torch_dispatch", "Dispatch", '"relu::disp"'),
        (33, "register_vmap", "vm", '"relu::vm"'),
        (38, "register_kernel", "k", '"relu::k"'),
    ]
    assert all(f.file == python_dir / "ops.py" for f in findings)


NEGATIVES = '''\
import functools
import torch
from . import _ops
from ._ops import add_op_namespace_prefix

@torch.library.custom_op(add_op_namespace_prefix("relu_fwd"), mutates_args=())
def relu_fwd(x: torch.Tensor) -> torch.Tensor:
    return x

@torch.library.register_fake(_ops.add_op_namespace_prefix("relu_fwd"))
def relu_fwd_fake(x):
    return x

@torch.library.register_kernel(op=add_op_namespace_prefix("relu_fwd"), device_types="cpu")
def relu_fwd_cpu(x):
    return x

@functools.lru_cache(maxsize=None)
@torch.library.impl("relu::other", "cpu")
@register("relu::not_a_torch_library_call")
def unrelated(x):
    return x

@torch.no_grad()
def plain(x):
    return x

def factory():
    @torch.library.register_fake("relu::nested")
    def nested_fake(x):
        return x
    return nested_fake

class Holder:
    @torch.library.register_fake("relu::method")
    def method_fake(self, x):
        return x

register_fake_call = torch.library.register_fake("relu::not_a_decorator")
'''


def test_negatives(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {"ops.py": NEGATIVES})
    assert find_literal_op_registrations(python_dir) == []
    assert check_op_namespaces(python_dir, root=tmp_path) is None


def test_scans_subpackages_in_sorted_order(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {
        "z.py": '@register_fake("relu::z")\ndef z(x):\n    return x\n',
        "layers/__init__.py": '\n@custom_op("relu::layer")\ndef layer(x):\n    return x\n',
        "__pycache__/cached.py": '@register_fake("relu::cached")\ndef c(x):\n    return x\n',
        "notes.txt": '@register_fake("relu::txt")\n',
    })
    findings = find_literal_op_registrations(python_dir)
    assert [(f.file.relative_to(python_dir).as_posix(), f.line, f.name) for f in findings] == [
        ("layers/__init__.py", 2, "layer"),
        ("z.py", 1, "z"),
    ]


def test_check_message_lists_findings_and_fix(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {"ops.py": POSITIVES})
    with pytest.raises(OpNamespaceError) as info:
        check_op_namespaces(python_dir, root=tmp_path)
    message = str(info.value)
    assert "torch-ext/relu/ops.py:7: @register_fake(\"relu::relu_fwd\") on relu_fwd_fake" in message
    assert "torch-ext/relu/ops.py:15: @register_fake(OP) on relu_var_fake" in message
    assert "torch-ext/relu/ops.py:38: @register_kernel(\"relu::k\") on k" in message
    assert "from ._ops import add_op_namespace_prefix" in message
    assert '@torch.library.register_fake(add_op_namespace_prefix("relu_fwd"))' in message
    assert str(tmp_path) not in message  # paths are relative to root
    assert isinstance(info.value, KernelBuildError)


def test_check_fix_for_subpackage(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {"layers/impl.py": '@custom_op("relu::gelu")\ndef g(x):\n    return x\n'})
    with pytest.raises(OpNamespaceError) as info:
        check_op_namespaces(python_dir, root=tmp_path)
    message = str(info.value)
    assert "torch-ext/relu/layers/impl.py:1: @custom_op(\"relu::gelu\") on g" in message
    assert "from .._ops import add_op_namespace_prefix" in message
    assert '@torch.library.custom_op(add_op_namespace_prefix("gelu"))' in message


def test_check_without_root_uses_given_paths(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {"ops.py": '@register_fake("relu::a")\ndef a(x):\n    return x\n'})
    with pytest.raises(OpNamespaceError, match=f"{(python_dir / 'ops.py').as_posix()}:1: "):
        check_op_namespaces(python_dir)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {"bad.py": "import torch\n\ndef broken(:\n    pass\n"})
    with pytest.raises(OpNamespaceError, match=r"torch-ext/relu/bad\.py:3: syntax error"):
        check_op_namespaces(python_dir, root=tmp_path)
    with pytest.raises(OpNamespaceError, match=r"bad\.py:3: syntax error"):
        find_literal_op_registrations(python_dir)


def test_encoding_cookie_and_undecodable(tmp_path: Path) -> None:
    python_dir = make_kernel(tmp_path, {})
    (python_dir / "latin.py").write_bytes(
        b'# -*- coding: latin-1 -*-\n@register_fake("relu::\xe9")\ndef f(x):\n    return x\n')
    assert summary(find_literal_op_registrations(python_dir)) == [(2, "register_fake", "f", '"relu::\xe9"')]
    (python_dir / "latin.py").write_bytes(b'x = "\xff"\n')
    with pytest.raises(OpNamespaceError, match="latin.py"):
        find_literal_op_registrations(python_dir)


def test_missing_python_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        find_literal_op_registrations(tmp_path / "torch-ext" / "nope")


def test_finding_describe() -> None:
    f = Finding(Path("/k/torch-ext/relu/ops.py"), 7, "register_fake", "relu_fwd_fake", '"relu::relu_fwd"')
    assert f.describe(Path("/k")) == 'torch-ext/relu/ops.py:7: @register_fake("relu::relu_fwd") on relu_fwd_fake'
    assert f.describe(Path("/elsewhere")).startswith("/k/torch-ext/relu/ops.py:7: ")
