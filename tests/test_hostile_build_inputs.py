"""Kernel repositories written to escape at build time: links out of the repository, file names
that CMake would expand or split. Each is refused before any build file is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict

import pytest

from kernels_build.config import check_layout, load_build_config
from kernels_build.errors import SourceError
from kernels_build.project import python_files, render_cmakelists
from kernels_build.toolchain import TorchInfo
from test_project import fake_torch, plan_for, write_repo


@pytest.fixture
def torches(tmp_path: Path) -> Dict[str, TorchInfo]:
    return {"cpu": fake_torch(tmp_path / "cpu", "2.13.0+cpu")}


def test_a_listed_source_linking_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.cpp"
    secret.parent.mkdir()
    secret.write_text("// not part of the kernel\n")
    repo = write_repo(tmp_path / "act-demo")
    source = repo / "act_cpu" / "act.cpp"
    source.unlink()
    source.symlink_to(secret)
    with pytest.raises(SourceError) as err:
        check_layout(load_build_config(repo))
    assert f"resolves to {secret}, outside the repository root" in str(err.value)
    assert "kernel.act_cpu.src" in str(err.value)


def test_a_link_inside_the_repository_is_fine(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "act-demo")
    real = repo / "shared" / "act.cpp"
    real.parent.mkdir()
    real.write_text("// shared\n")
    source = repo / "act_cpu" / "act.cpp"
    source.unlink()
    source.symlink_to(real)
    config = load_build_config(repo)
    for kernel in config.kernels:  # write_repo writes sources only
        for include in kernel.include:
            (repo / include).mkdir(parents=True, exist_ok=True)
    check_layout(config)


@pytest.mark.parametrize("name", ["a${CMAKE_COMMAND}.cpp", "a;b.cpp", 'a"b.cpp'])
def test_a_source_name_cmake_would_expand_is_refused(tmp_path: Path, name: str) -> None:
    repo = write_repo(tmp_path / "act-demo")
    text = (repo / "build.toml").read_text().replace('"act_cpu/act.cpp"', '"act_cpu/' + name.replace('"', '\\"') + '"')
    (repo / "build.toml").write_text(text)
    (repo / "act_cpu" / name).write_text("// x\n")
    with pytest.raises(SourceError, match="cannot carry literally; rename it"):
        check_layout(load_build_config(repo))


@pytest.mark.parametrize("name", ["a${CMAKE_COMMAND}.py", "x;y.py", "evil\nname.py"])
def test_python_file_names_cmake_would_expand_are_refused(tmp_path: Path, torches, name: str) -> None:
    repo = write_repo(tmp_path / "act-demo")
    (repo / "torch-ext" / "act_demo" / name).write_text("# x\n")
    plan = plan_for(repo, torches["cpu"], "cpu")
    with pytest.raises(SourceError) as err:
        python_files(plan)
    assert repr(name)[1:-1] in str(err.value).encode("unicode_escape").decode() or name in str(err.value)
    assert "rename it" in str(err.value)
    with pytest.raises(SourceError):
        render_cmakelists(plan)


def test_a_python_file_linking_out_of_the_repository_is_refused(tmp_path: Path, torches) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET = 1\n")
    repo = write_repo(tmp_path / "act-demo")
    os.symlink(outside, repo / "torch-ext" / "act_demo" / "leak.py")
    with pytest.raises(SourceError, match=r"leak\.py: it is a link to .*outside\.py, outside the repository"):
        python_files(plan_for(repo, torches["cpu"], "cpu"))
