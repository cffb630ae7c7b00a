"""Which host TUs share precompiled torch headers (kernels_build/pch.py): the source scan and
the plan, on small source trees. A real build with them is in test_build_speed.py."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from kernels_build.pch import Target, cmake_lines, includes_torch_first, plan_pch
from kernels_build.settings import BuildSettings
from kernels_build.errors import ConfigError


def _tree(tmp_path: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_scan_finds_torch_directly_or_through_a_quoted_header(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "a.cpp": "// comment\n#include <torch/all.h>\nint f();\n",
        "b.cpp": '#include "inc/ops.h"\n',
        "inc/ops.h": "#pragma once\n#include <vector>\n#include <ATen/ATen.h>\n",
        "c.cpp": "#define TORCH_ASSERT_ONLY_METHOD_OPERATORS\n#include <ATen/core/Tensor.h>\n",
        "d.cpp": "#include <vector>\nint g();\n",
        "e.cu": "#include <torch/all.h>\n",
        "f.cpp": '#include "missing.h"\n#include <c10/core/Device.h>\n',
    })
    eligible = {name: includes_torch_first(root / name, [root / "inc"]) for name in
                ("a.cpp", "b.cpp", "c.cpp", "d.cpp", "e.cu", "f.cpp")}
    # A macro defined before torch's headers could change them; CUDA and non-torch TUs never.
    assert eligible == {"a.cpp": True, "b.cpp": True, "c.cpp": False, "d.cpp": False, "e.cu": False,
                        "f.cpp": True}


def _targets(root: Path):
    return [
        Target("kernel_extension", [root / "a.cpp"]),
        Target("plain", [root / "b.cpp", root / "d.cpp", root / "e.cu"], [root / "inc"]),
        Target("avx", [root / "a.cpp"], own_flags=True),
    ]


def test_the_plan_shares_one_pch_where_it_fits(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a.cpp": "#include <torch/all.h>\n", "b.cpp": "#include <ATen/ATen.h>\n",
                            "d.cpp": "int x;\n", "e.cu": "#include <torch/all.h>\n"})
    plan = plan_pch("on", _targets(root), compiler_cache=None)
    # The target with flags of its own has one eligible TU: a PCH of its own would not pay.
    assert (plan.shared, plan.own, plan.tus) == (("kernel_extension", "plain"), (), 2)
    assert set(plan.skip) == {root / "d.cpp", root / "e.cu"}
    lines = cmake_lines(plan)
    assert lines[0] == "kernel_precompile_torch_headers(" and "  HEADERS <torch/all.h>" in lines
    # auto: two TUs gain little, and a compiler cache beats a PCH (it cannot cache PCH compiles).
    assert not plan_pch("auto", _targets(root), compiler_cache=None)
    assert not plan_pch("off", _targets(root), compiler_cache=None)
    assert cmake_lines(plan_pch("off", _targets(root), None)) == []


def test_auto_from_four_tus_per_build_job_without_a_compiler_cache(tmp_path: Path) -> None:
    files = {f"k{i}.cpp": "#include <torch/all.h>\n" for i in range(8)}
    root = _tree(tmp_path, files)
    targets = [Target("kernel_extension", [root / "k0.cpp"]),
               Target("many", [root / f"k{i}.cpp" for i in range(1, 8)], own_flags=True)]
    plan = plan_pch("auto", targets, compiler_cache=None, jobs=2)
    assert (plan.shared, plan.own, plan.tus) == (("kernel_extension",), ("many",), 8)
    # The PCH must be made before its TUs start: with 3 jobs, 8 TUs would not wait for it.
    assert not plan_pch("auto", targets, compiler_cache=None, jobs=3)
    assert not plan_pch("auto", targets, compiler_cache="/usr/bin/sccache", jobs=1)
    assert plan_pch("on", targets, compiler_cache="/usr/bin/sccache", jobs=16).tus == 8


def test_the_setting_is_validated(monkeypatch) -> None:
    monkeypatch.delenv("KERNELS_BUILD_PRECOMPILED_HEADERS", raising=False)
    assert BuildSettings.from_config_settings({}).precompiled_headers == "auto"
    assert BuildSettings.from_config_settings({"kernels.precompiled-headers": "off"}).precompiled_headers == "off"
    monkeypatch.setenv("KERNELS_BUILD_PRECOMPILED_HEADERS", "on")
    assert BuildSettings.from_config_settings({}).precompiled_headers == "on"
    with pytest.raises(ConfigError, match="precompiled-headers"):
        BuildSettings.from_config_settings({"kernels.precompiled-headers": "yes"})
