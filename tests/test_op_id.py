"""The op namespace id (``_relu_cpu_<source hash>``): deterministic, and new for new sources.

The hash tests need no compiler. The last test builds a modified copy of examples/relu and
loads it next to the session's wheel in one process: distinct op namespaces let two builds
of one kernel coexist.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from conftest import build_example_wheel, copy_example, install_target, run
from kernels_build.config import load_build_config
from kernels_build.plan import source_hash


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_example("relu", tmp_path / "src")


def _id(repo: Path) -> str:
    return source_hash(load_build_config(repo))


def _flip_one_byte(path: Path) -> None:
    """Change exactly one byte (same length), in a comment-safe way: the last newline -> space."""
    data = bytearray(path.read_bytes())
    index = data.rindex(b"\n")
    data[index] = ord(" ")
    path.write_bytes(bytes(data))


def test_id_shape(repo: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{10}", _id(repo))


def test_same_sources_same_id(repo: Path, tmp_path: Path) -> None:
    first = _id(repo)
    assert _id(repo) == first
    # Independent of where the repository lives.
    other = copy_example("relu", tmp_path / "elsewhere")
    assert _id(other) == first


@pytest.mark.parametrize(
    "relative",
    [
        "relu_cpu/relu_cpu.cpp",
        "relu_cuda/relu.cu",
        "torch-ext/torch_binding.cpp",
        "torch-ext/torch_binding.h",
        "build.toml",
        "torch-ext/relu/__init__.py",
    ],
)
def test_one_byte_changes_the_id(repo: Path, relative: str) -> None:
    before = _id(repo)
    _flip_one_byte(repo / relative)
    after = _id(repo)
    assert after != before
    # ... and the changed id is itself stable.
    assert _id(repo) == after


def test_each_change_gives_a_new_id(repo: Path) -> None:
    seen = {_id(repo)}
    for relative in ("relu_cpu/relu_cpu.cpp", "build.toml", "torch-ext/relu/__init__.py"):
        _flip_one_byte(repo / relative)
        seen.add(_id(repo))
    assert len(seen) == 4


def test_new_python_file_changes_the_id(repo: Path) -> None:
    before = _id(repo)
    (repo / "torch-ext" / "relu" / "layers.py").write_text("X = 1\n")
    assert _id(repo) != before


def test_bytecode_does_not_change_the_id(repo: Path) -> None:
    before = _id(repo)
    cache = repo / "torch-ext" / "relu" / "__pycache__"
    cache.mkdir()
    (cache / "x.pyc").write_bytes(b"\x00not really bytecode")
    (cache / "__init__.cpython-311.pyc").write_bytes(b"\x01")
    (repo / "torch-ext" / "relu" / "stray.pyc").write_bytes(b"\x02")
    assert _id(repo) == before


def test_build_state_does_not_change_the_id(repo: Path) -> None:
    before = _id(repo)
    state = repo / ".kernels_build" / "torch213-cxx11-cpu-x86_64-linux"
    state.mkdir(parents=True)
    (state / "anything.txt").write_text("x")
    assert _id(repo) == before


# --------------------------------------------------------------------------- side by side


SIDE_BY_SIDE = textwrap.dedent(
    """
    import importlib.util
    import json
    import sys
    from pathlib import Path

    import torch

    report = []
    modules = []
    for i, target in enumerate(sys.argv[1:]):
        package = Path(target) / "relu"
        name = f"relu_build_{i}"
        spec = importlib.util.spec_from_file_location(
            name, package / "__init__.py", submodule_search_locations=[str(package)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules.append(module)

    torch.manual_seed(0)
    x = torch.randn(257) * 3
    for module in modules:
        torch.testing.assert_close(module.relu(x), torch.relu(x), rtol=0, atol=0)
        namespace = module._ops.add_op_namespace_prefix("relu").split("::")[0]
        out = torch.empty_like(x)
        getattr(torch.ops, namespace).relu(out, x)  # the op itself, by its namespace
        torch.testing.assert_close(out, torch.relu(x), rtol=0, atol=0)
        report.append({
            "module": module.__name__,
            "namespace": namespace,
            "marker": getattr(module, "BUILD_MARKER", None),
        })
    print("REPORT " + json.dumps(report))
    """
)


def _ops_name(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [m for m in archive.namelist() if re.fullmatch(r"relu/_relu_cpu_[0-9a-f]{10}\.abi3\.so", m)]
    return name[len("relu/"):-len(".abi3.so")]


@pytest.mark.slow
def test_two_builds_load_side_by_side(relu_cpu_wheel: Path, tmp_path: Path) -> None:
    modified = copy_example("relu", tmp_path / "src")
    init = modified / "torch-ext" / "relu" / "__init__.py"
    init.write_text(init.read_text() + '\n\nBUILD_MARKER = "modified"\n')
    wheel = build_example_wheel(modified, tmp_path / "wheelhouse")

    first, second = _ops_name(relu_cpu_wheel), _ops_name(wheel)
    assert first != second
    assert second == f"_relu_cpu_{_id(modified)}"

    targets = [install_target(relu_cpu_wheel, tmp_path / "target-a"),
               install_target(wheel, tmp_path / "target-b")]
    result = run([sys.executable, "-c", SIDE_BY_SIDE, *map(str, targets)], cwd=tmp_path)
    line = next(l for l in result.stdout.splitlines() if l.startswith("REPORT "))
    report = json.loads(line[len("REPORT "):])
    assert report == [
        {"module": "relu_build_0", "namespace": first, "marker": None},
        {"module": "relu_build_1", "namespace": second, "marker": "modified"},
    ]
