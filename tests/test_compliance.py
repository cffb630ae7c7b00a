"""Tests of kernels_build.compliance on tiny shared objects compiled with the host's cc.

Each fixture compiles a few lines of C into tmp_path (tens of milliseconds each), so the
whole file runs in a few seconds. The GLIBC case needs glibc >= 2.32 headers
(``sys/single_threaded.h``); it is skipped on older hosts.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Sequence

import pytest

try:
    import kernels_build.compliance  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kernels_build.compliance import (
    DEFAULT_ALLOWED_LIBRARIES,
    ExtensionReport,
    Violation,
    check_extension,
    check_wheel,
    enforce,
    wheel_platform_tag,
)
from kernels_build.errors import ComplianceError

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("cc") is None, reason="needs Linux and a C compiler"
)

ARCH = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine())
PY_INCLUDE = sysconfig.get_paths()["include"]
LIMITED_39 = "-DPy_LIMITED_API=0x03090000"

GOOD_MODULE = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "good", NULL, -1, methods};
PyMODINIT_FUNC PyInit_good(void) { return PyModule_Create2(&def, PYTHON_ABI_VERSION); }
"""

NON_LIMITED_MODULE = r"""
#include <Python.h>
PyObject **dict_ptr(PyObject *o) { return _PyObject_GetDictPtr(o); }
"""

NEWER_LIMITED_MODULE = r"""
#include <Python.h>
const char *utf8(PyObject *o, Py_ssize_t *n) { return PyUnicode_AsUTF8AndSize(o, n); }
"""

SINGLE_THREADED = r"""
#include <sys/single_threaded.h>
int is_single_threaded(void) { return __libc_single_threaded; }
"""

PLAIN = "int plain(int x) { return x + 1; }\n"


def compile_so(
    directory: Path, name: str, source: str, flags: Sequence[str] = (), lang: str = "c"
) -> Path:
    """Compile ``source`` into ``directory/name`` as a shared object; return its path."""
    src = directory / f"{name.split('.')[0]}_src.{lang}"
    src.write_text(source)
    out = directory / name
    cmd = ["cc", "-shared", "-fPIC", "-O0", f"-I{PY_INCLUDE}", str(src), "-o", str(out)]
    subprocess.run(cmd + list(flags), check=True, capture_output=True, text=True)
    return out


def glibc_version(policy: str) -> tuple:
    """``manylinux_2_34_x86_64`` -> (2, 34)."""
    match = re.match(r"manylinux_(\d+)_(\d+)_", policy)
    assert match, policy
    return int(match.group(1)), int(match.group(2))


def rules(report: ExtensionReport) -> set:
    return {v.rule for v in report.violations}


# ---------------------------------------------------------------------------- abi3


def test_limited_api_module_is_ok(tmp_path: Path) -> None:
    so = compile_so(tmp_path, "good.abi3.so", GOOD_MODULE, [LIMITED_39])
    report = check_extension(so)
    assert report.ok, report.describe()
    assert report.violations == ()
    assert report.policy == f"manylinux_2_28_{ARCH}"
    assert report.path == so
    assert report.describe().splitlines() == [
        f"good.abi3.so: OK (abi3 (Python 3.9), manylinux_2_28_{ARCH})"
    ]
    assert glibc_version(report.best_policy) <= (2, 28)


def test_non_limited_function_is_abi3_violation(tmp_path: Path) -> None:
    so = compile_so(tmp_path, "bad.abi3.so", NON_LIMITED_MODULE)
    report = check_extension(so)
    assert not report.ok
    assert Violation(
        "abi3", "_PyObject_GetDictPtr", "not part of the Python stable ABI (limited API)"
    ) in report.violations
    assert rules(report) == {"abi3"}
    assert "_PyObject_GetDictPtr" in report.describe()
    assert report.describe().splitlines()[0].startswith("bad.abi3.so: FAILED")


def test_stable_abi_function_newer_than_baseline(tmp_path: Path) -> None:
    so = compile_so(
        tmp_path, "newer.abi3.so", NEWER_LIMITED_MODULE, ["-DPy_LIMITED_API=0x030A0000"]
    )
    report = check_extension(so)
    (violation,) = report.violations
    assert violation.rule == "abi3"
    assert violation.symbol == "PyUnicode_AsUTF8AndSize"
    assert "3.10" in violation.detail
    assert check_extension(so, python_abi=(3, 10)).ok


# ---------------------------------------------------------------------------- manylinux


@pytest.fixture
def glibc_232_so(tmp_path: Path) -> Path:
    try:
        return compile_so(tmp_path, "st.abi3.so", SINGLE_THREADED)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"host glibc lacks sys/single_threaded.h: {exc.stderr[:200]}")


def test_new_glibc_symbol_is_manylinux_violation(glibc_232_so: Path) -> None:
    report = check_extension(glibc_232_so)
    (violation,) = report.violations
    assert violation.rule == "manylinux"
    assert violation.symbol == "__libc_single_threaded"
    assert violation.detail == "GLIBC_2.32 (manylinux_2_28 allows up to GLIBC_2.28)"
    assert glibc_version(report.best_policy) >= (2, 32)
    assert report.best_policy.endswith(ARCH)
    assert "meets " + report.best_policy in report.describe()


def test_newer_policy_accepts_new_glibc_symbol(glibc_232_so: Path) -> None:
    report = check_extension(glibc_232_so, policy="manylinux_2_34")
    assert report.ok
    assert report.policy == f"manylinux_2_34_{ARCH}"


def test_policy_alias_and_unknown_policy(tmp_path: Path) -> None:
    so = compile_so(tmp_path, "plain.abi3.so", PLAIN)
    assert check_extension(so, policy="manylinux2014").policy == f"manylinux_2_17_{ARCH}"
    with pytest.raises(ComplianceError, match="unknown platform policy 'manylinux_9_99'"):
        check_extension(so, policy="manylinux_9_99")


# ---------------------------------------------------------------------------- libraries


@pytest.fixture
def linked_so(tmp_path: Path) -> Path:
    """An extension needing a self-built libfoo.so and a dummy torch libc10.so."""
    for lib in ("foo", "c10"):
        compile_so(tmp_path, f"lib{lib}.so", f"int {lib}_fn(void) {{ return 1; }}\n",
                   [f"-Wl,-soname,lib{lib}.so"])
    source = "int foo_fn(void); int c10_fn(void);\nint both(void) { return foo_fn() + c10_fn(); }\n"
    return compile_so(
        tmp_path, "linked.abi3.so", source,
        [f"-L{tmp_path}", "-Wl,--no-as-needed", "-lfoo", "-lc10"],
    )


def test_unknown_library_is_violation_torch_library_is_not(linked_so: Path) -> None:
    report = check_extension(linked_so)
    assert [(v.rule, v.symbol) for v in report.violations] == [("library", "libfoo.so")]
    assert report.best_policy == f"linux_{ARCH}"


def test_allowed_libraries_override(linked_so: Path) -> None:
    report = check_extension(linked_so, allowed_libraries=("libfoo.*",))
    assert [(v.rule, v.symbol) for v in report.violations] == [("library", "libc10.so")]
    extended = DEFAULT_ALLOWED_LIBRARIES + ("libfoo.so",)
    report = check_extension(linked_so, allowed_libraries=extended)
    assert report.ok
    assert report.best_policy.startswith("manylinux_")


def test_default_patterns_cover_torch_and_gpu_libraries() -> None:
    from fnmatch import fnmatchcase

    for lib in ("libtorch.so", "libtorch_cuda.so", "libc10_cuda.so", "libcudart.so.13",
                "libcublasLt.so.13", "libcuda.so.1", "libamdhip64.so.6", "libsycl.so.8"):
        assert any(fnmatchcase(lib, p) for p in DEFAULT_ALLOWED_LIBRARIES), lib
    for lib in ("libfoo.so", "libpython3.11.so.1.0", "libcuda_fake.so"):
        assert not any(fnmatchcase(lib, p) for p in DEFAULT_ALLOWED_LIBRARIES), lib


# ---------------------------------------------------------------------------- rpath


@pytest.mark.parametrize(
    "flags, tag",
    [(["-Wl,-rpath,/tmp/x", "-Wl,--enable-new-dtags"], "DT_RUNPATH"),
     (["-Wl,-rpath,/tmp/x", "-Wl,--disable-new-dtags"], "DT_RPATH")],
)
def test_rpath_is_violation(tmp_path: Path, flags: list, tag: str) -> None:
    so = compile_so(tmp_path, "rp.abi3.so", PLAIN, flags)
    report = check_extension(so)
    (violation,) = report.violations
    assert (violation.rule, violation.symbol) == ("rpath", tag)
    assert "/tmp/x" in violation.detail


# ---------------------------------------------------------------------------- wheels


def make_wheel(directory: Path, members: dict) -> Path:
    wheel = directory / "relu-0.1.0-cp39-abi3-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("relu-0.1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return wheel


def test_check_wheel_reports_every_extension(tmp_path: Path) -> None:
    good = compile_so(tmp_path, "good.abi3.so", GOOD_MODULE, [LIMITED_39]).read_bytes()
    bad = compile_so(tmp_path, "bad.abi3.so", NON_LIMITED_MODULE).read_bytes()
    wheel = make_wheel(tmp_path, {
        "relu/__init__.py": "",
        "relu/_ops.abi3.so": good,
        "relu/sub/_bad.abi3.so": bad,
    })
    reports = check_wheel(wheel)
    assert [r.path for r in reports] == [Path("relu/_ops.abi3.so"), Path("relu/sub/_bad.abi3.so")]
    assert [r.ok for r in reports] == [True, False]
    assert reports[1].violations[0].symbol == "_PyObject_GetDictPtr"


def test_check_wheel_without_extensions_and_broken_wheel(tmp_path: Path) -> None:
    assert check_wheel(make_wheel(tmp_path, {"relu/__init__.py": ""})) == []
    broken = tmp_path / "broken-0.1-py3-none-any.whl"
    broken.write_text("not a zip")
    with pytest.raises(ComplianceError, match="cannot open wheel"):
        check_wheel(broken)


# ---------------------------------------------------------------------------- gate and tag


def test_enforce_lists_symbols_and_fixes(tmp_path: Path, glibc_232_so: Path) -> None:
    good = check_extension(compile_so(tmp_path, "good.abi3.so", GOOD_MODULE, [LIMITED_39]))
    bad_abi = check_extension(compile_so(tmp_path, "bad.abi3.so", NON_LIMITED_MODULE))
    old_glibc = check_extension(glibc_232_so)
    enforce([good])  # no error
    enforce([])
    with pytest.raises(ComplianceError) as info:
        enforce([good, bad_abi, old_glibc])
    message = str(info.value)
    assert "2 of 3 extension(s)" in message
    assert "bad.abi3.so" in message and "st.abi3.so" in message
    assert "good.abi3.so" not in message
    assert "_PyObject_GetDictPtr" in message
    assert "__libc_single_threaded: GLIBC_2.32 (manylinux_2_28 allows up to GLIBC_2.28)" in message
    assert "manylinux_2_28 image" in message
    assert "older toolchain" in message
    assert "kernels.compliance=warn" in message
    assert "-C kernels.compliance=warn" in message
    assert "Py_LIMITED_API" in message


def test_wheel_platform_tag(tmp_path: Path, glibc_232_so: Path) -> None:
    good = check_extension(compile_so(tmp_path, "good.abi3.so", GOOD_MODULE, [LIMITED_39]))
    old_glibc = check_extension(glibc_232_so)
    assert wheel_platform_tag([good], ARCH) == f"manylinux_2_28_{ARCH}"
    assert wheel_platform_tag([good, old_glibc], ARCH) == old_glibc.best_policy
    assert wheel_platform_tag([good], ARCH, policy=None) == good.best_policy
    assert wheel_platform_tag([], ARCH) == f"manylinux_2_28_{ARCH}"
    linux = ExtensionReport(Path("x.so"), f"manylinux_2_28_{ARCH}", (), f"linux_{ARCH}")
    assert wheel_platform_tag([good, linux, old_glibc], ARCH) == f"linux_{ARCH}"


# ---------------------------------------------------------------------------- bad input


def test_non_elf_input(tmp_path: Path) -> None:
    text = tmp_path / "fake.abi3.so"
    text.write_text("#!/bin/sh\necho not a library\n")
    with pytest.raises(ComplianceError, match="not an ELF shared object") as info:
        check_extension(text)
    assert info.value.__cause__ is None


def test_truncated_elf_and_missing_file(tmp_path: Path) -> None:
    real = compile_so(tmp_path, "real.abi3.so", PLAIN)
    truncated = tmp_path / "trunc.abi3.so"
    truncated.write_bytes(real.read_bytes()[:100])
    with pytest.raises(ComplianceError, match="trunc.abi3.so: cannot parse ELF data"):
        check_extension(truncated)
    with pytest.raises(ComplianceError, match="cannot read file"):
        check_extension(tmp_path / "missing.abi3.so")


def test_non_shared_elf(tmp_path: Path) -> None:
    src = tmp_path / "obj.c"
    src.write_text(PLAIN)
    obj = tmp_path / "obj.so"
    subprocess.run(["cc", "-c", str(src), "-o", str(obj)], check=True)
    with pytest.raises(ComplianceError, match="not a shared object"):
        check_extension(obj)
