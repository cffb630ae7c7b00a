"""Compatibility with the released kernels 0.17.2: library code written against it runs
unchanged on ours.

Each behaviour is probed the same way with two interpreters, ours (``PYTHONPATH=src``) and the
released 0.17.2 (its own virtual environment), by one script (:data:`PROBE`) that prints a JSON
dict of outcomes; the test compares the dicts. An outcome is a value or the class names of a
raised exception's MRO: ours may raise a subclass of what 0.17.2 raises (our errors derive
from 0.17.2's, see :mod:`kernels.errors`); messages are not compared.

The released package is installed from the package registry into a venv made once per session
(the ``released_python`` fixture of tests/conftest.py, shared with tests/test_interop.py).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

pytestmark = [pytest.mark.interop]

pytest_plugins = ["kernels.testing.fixtures"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC = REPO_ROOT / "src"
TELEMETRY_VARS = ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK")

#: Run with both interpreters; prints ``COMPAT-JSON {...}``.
PROBE = r'''"""Probe run by tests/test_compat_0172.py with two interpreters: ours (PYTHONPATH=src) and the
released kernels 0.17.2. Prints one JSON dict of outcomes; the test compares the two dicts.

Outcomes are ``{"ok": value}`` or ``{"raises": [class names of the exception's MRO]}``, so a
subclass of what 0.17.2 raises counts as the same outcome. Environment:

- ``COMPAT_SECTIONS``: comma-separated sections to run (default: all but ``hub``);
- ``COMPAT_HUB``: for section ``hub``, a JSON dict of repository ids (see the test).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import sys
import warnings

warnings.simplefilter("ignore")

import kernels  # noqa: E402

OURS = not hasattr(importlib.import_module("kernels.load"), "get_kernel_with_resolver")


def outcome(fn):  # type: ignore[no-untyped-def]
    try:
        value = fn()
    except BaseException as exc:  # noqa: BLE001
        return {"raises": [c.__name__ for c in type(exc).__mro__]}
    return {"ok": value}


def section_mode() -> dict:
    from kernels import Mode

    out = {}
    members = list(Mode.__members__.items())
    for a_name, a in members:
        for b_name, b in members:
            out[f"{a_name}|{b_name}"] = outcome(lambda: (a | b).value)
    return out


def section_properties() -> dict:
    from kernels import CUDAProperties, Device, ROCMProperties

    out = {}
    cases = {
        "none": ((), {}),
        "min_only_pos": ((80,), {}),
        "min_only_kw": ((), {"min_capability": 80}),
        "max_only_kw": ((), {"max_capability": 90}),
        "both": ((80, 90), {}),
        "both_kw": ((), {"min_capability": 80, "max_capability": 90}),
        "equal": ((80, 80), {}),
        "reversed": ((90, 80), {}),
        "negative": ((-1, 80), {}),
        "bool": ((True, 80), {}),
        "float": ((8.0, 90), {}),
        "str_int": (("80", 90), {}),
        "none_int": ((None, 90), {}),
        "int_none": ((80, None), {}),
        "huge": ((0, sys.maxsize), {}),
    }
    for cls in (CUDAProperties, ROCMProperties):
        for name, (args, kwargs) in cases.items():
            out[f"{cls.__name__}.{name}"] = outcome(lambda: repr(cls(*args, **kwargs)))
        props = cls(80, 90)
        out[f"{cls.__name__}.fields"] = [f.name for f in dataclasses.fields(cls)]
        out[f"{cls.__name__}.validate"] = outcome(lambda: props.validate())
        out[f"{cls.__name__}.validate_capability_range"] = outcome(lambda: props.validate_capability_range())
        out[f"{cls.__name__}.eq"] = props == cls(80, 90)
        out[f"{cls.__name__}.hash_eq"] = hash(props) == hash(cls(80, 90))
        out[f"{cls.__name__}.frozen"] = outcome(lambda: setattr(props, "min_capability", 1))
    out["cuda_eq_rocm"] = CUDAProperties(80, 90) == ROCMProperties(80, 90)
    out["device_cuda_props"] = outcome(lambda: repr(Device("cuda", CUDAProperties(80, 90))))
    out["device_rocm_with_cuda_props"] = outcome(lambda: repr(Device("rocm", CUDAProperties(80, 90))))
    out["device_cuda_with_rocm_props"] = outcome(lambda: repr(Device("cuda", ROCMProperties(80, 90))))
    return out


def _user_agent_parts(extra) -> dict:  # type: ignore[no-untyped-def]
    """The user agent as ``{key: value}`` (``kernels``' value left out: versions differ)."""
    if OURS:
        from kernels.hub.client import user_agent

        agent = user_agent(extra)
        if isinstance(agent, dict):
            parts = {str(k): str(v) for k, v in agent.items()}
        else:
            parts = dict(p.split("/", 1) for p in (agent or "").split("; ") if p)
    else:
        from kernels.hf_hub import _get_hf_api

        agent = _get_hf_api(user_agent=extra).user_agent
        parts = dict(p.split("/", 1) for p in (agent or "").split("; ") if p)
    if "kernels" in parts:
        parts["kernels"] = "<version>"
    return parts


def section_user_agent() -> dict:
    import torch  # noqa: F401  (0.17.2 always reports torch; ours reports it once imported)

    out = {"dict": _user_agent_parts({"my-lib": "1.0"}), "str": _user_agent_parts("my-lib/1.0"),
           "none": _user_agent_parts(None)}
    # huggingface_hub (which 0.17.2 asks) reads these at import: reload its constants.
    from huggingface_hub import constants

    for var in ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        saved = {v: os.environ.pop(v, None) for v in ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK")}
        os.environ[var] = "1"
        importlib.reload(constants)
        out[f"off:{var}"] = _user_agent_parts({"my-lib": "1.0"})
        del os.environ[var]
        os.environ.update({k: v for k, v in saved.items() if v is not None})
        importlib.reload(constants)
    return out


def _signature(fn) -> list:  # type: ignore[no-untyped-def]
    return [[p.name, p.kind.name, repr(p.default)] for p in inspect.signature(fn).parameters.values()]


def section_signatures() -> dict:
    from kernels import has_kernel, install_kernel

    return {"install_kernel": _signature(install_kernel), "has_kernel": _signature(has_kernel)}


def section_loaded() -> dict:
    from kernels import get_local_kernel, get_loaded_kernels

    root = os.environ["COMPAT_LOCAL_KERNEL"]
    from pathlib import Path

    module = get_local_kernel(Path(root))
    (entry,) = [k for k in get_loaded_kernels() if k.module is module]
    out = {
        "fields": [f.name for f in dataclasses.fields(type(entry))],
        "is_dataclass": dataclasses.is_dataclass(entry),
        "repo_info": repr(entry.repo_info),
        "list_type": type(get_loaded_kernels()).__name__,
        "frozen": outcome(lambda: setattr(entry, "module", None)),
        "metadata.id": outcome(lambda: isinstance(entry.metadata.id, str)),
        "metadata.version": outcome(lambda: entry.metadata.version),
        "metadata.license": outcome(lambda: entry.metadata.license),
        "metadata.python_depends": outcome(lambda: list(entry.metadata.python_depends)),
        "metadata.name.str": outcome(lambda: str(entry.metadata.name)),
        "metadata.name.python_name": outcome(lambda: entry.metadata.name.python_name),
        "metadata.digest.files": outcome(lambda: sorted(entry.metadata.digest.files)),
        "metadata.digest.files.values": outcome(lambda: sorted(entry.metadata.digest.files.values())),
        "metadata.provenance.kernel_builder.version": outcome(
            lambda: entry.metadata.provenance.kernel_builder.version),
        "metadata.provenance.kernel_builder.git.commit": outcome(
            lambda: entry.metadata.provenance.kernel_builder.git.commit),
        "metadata.provenance.kernel_builder.git.dirty": outcome(
            lambda: entry.metadata.provenance.kernel_builder.git.dirty),
        "metadata.provenance.kernel.commit": outcome(lambda: entry.metadata.provenance.kernel.commit),
        "metadata.provenance.dirty": outcome(lambda: entry.metadata.provenance.dirty),
    }
    return out


def section_hub() -> dict:
    from kernels import has_kernel, install_kernel

    repos = json.loads(os.environ["COMPAT_HUB"])
    out = {}
    calls = {
        "has.ok": lambda: has_kernel(repos["ok"], version=1),
        "has.ok_revision_main": lambda: has_kernel(repos["ok"], revision="main"),
        "has.unknown_version": lambda: has_kernel(repos["ok"], version=7),
        "has.bad_revision": lambda: has_kernel(repos["ok"], revision="no-such-branch"),
        "has.missing_repo": lambda: has_kernel(repos["missing"], version=1),
        "has.untrusted": lambda: has_kernel(repos["untrusted"], version=1),
        "has.untrusted_trusted": lambda: has_kernel(repos["untrusted"], version=1, trust_remote_code=True),
        "has.no_variant": lambda: has_kernel(repos["gpu_only"], version=1),
        "has.both_args": lambda: has_kernel(repos["ok"], version=1, revision="main"),
        "has.no_args": lambda: has_kernel(repos["ok"]),
        "install.missing_dep": lambda: os.path.isdir(install_kernel(repos["needs_dep"], version=1)),
    }
    for name, call in calls.items():
        out[name] = outcome(call)
    from kernels import get_kernel_variants

    out["variants"] = outcome(lambda: [[type(d).__name__, d.variant.variant_str]
                                       for d in get_kernel_variants(repos["ok"], version=1)])
    return out


def section_nohub() -> dict:
    """Run with the Hub unreachable or ``HF_HUB_OFFLINE=1``, and an empty cache."""
    from kernels import has_kernel

    return {"has": outcome(lambda: has_kernel("compat-org/ok", version=1)),
            "has_trusted": outcome(lambda: has_kernel("compat-org/ok", version=1, trust_remote_code=True))}


def section_offline_api() -> dict:
    """The public API reachable without the Hub: layer classes, Device, Mode, kernelize's
    arguments, lock reading."""
    import kernels
    from kernels import (
        Device,
        FuncRepository,
        LayerRepository,
        LocalLayerRepository,
        LockedLayerRepository,
        Mode,
        kernelize,
    )

    out = {}
    out["public_names"] = sorted(n for n in dir(kernels) if not n.startswith("_") and n[0].isupper()
                                 or n in ("get_kernel", "has_kernel", "install_kernel", "kernelize",
                                          "get_local_kernel", "get_locked_kernel", "load_kernel",
                                          "get_kernel_variants", "get_loaded_kernels",
                                          "use_kernel_forward_from_hub", "replace_kernel_forward_from_hub",
                                          "register_kernel_mapping", "use_kernel_mapping"))
    out["mode.members"] = {name: m.value for name, m in Mode.__members__.items()}
    out["mode.str"] = str(Mode.INFERENCE)
    out["mode.repr"] = repr(Mode.INFERENCE | Mode.TORCH_COMPILE)
    for kind in ("cuda", "cpu", "rocm", "xpu", "npu", "mps", "metal", "tpu", "bogus"):
        out[f"device.{kind}"] = outcome(lambda: Device(kind).type)
    out["device.eq"] = Device("cuda") == Device("cuda")
    out["device.hash"] = hash(Device("cuda")) == hash(Device("cuda"))
    out["device.ne"] = Device("cuda") != Device("rocm")
    out["kernelize.sig"] = _signature(kernelize)
    out["layer.both"] = outcome(lambda: LayerRepository("org/x", layer_name="L", version=1, revision="main") and 1)
    out["layer.neither"] = outcome(lambda: LayerRepository("org/x", layer_name="L") and 1)
    out["layer.version_int"] = outcome(lambda: LayerRepository("org/x", layer_name="L", version=1).layer_name)
    out["layer.revision"] = outcome(lambda: LayerRepository("org/x", layer_name="L", revision="main").layer_name)
    out["layer.eq"] = outcome(lambda: LayerRepository("org/x", layer_name="L", version=1)
                              == LayerRepository("org/x", layer_name="L", version=1))
    out["layer.hash"] = outcome(lambda: hash(LayerRepository("org/x", layer_name="L", version=1))
                                == hash(LayerRepository("org/x", layer_name="L", version=1)))
    out["func.both"] = outcome(lambda: FuncRepository("org/x", func_name="f", version=1, revision="main") and 1)
    out["func.version"] = outcome(lambda: FuncRepository("org/x", func_name="f", version=1).func_name)
    out["local.layer_name"] = outcome(lambda: LocalLayerRepository("/nonexistent", layer_name="L").layer_name)
    out["locked.sig"] = _signature(LockedLayerRepository.__init__)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        lock = os.path.join(tmp, "kernels.lock")
        with open(lock, "w") as f:
            f.write("[]")
        from kernels import get_locked_kernel, load_kernel

        out["lock.not_locked"] = outcome(lambda: get_locked_kernel("org/absent", lockfile=lock))
        out["lock.load_not_locked"] = outcome(lambda: load_kernel("org/absent", lockfile=lock))
        with open(lock, "w") as f:
            f.write("{not json")
        out["lock.malformed"] = outcome(lambda: get_locked_kernel("org/absent", lockfile=lock))
        out["lock.missing_file"] = outcome(lambda: get_locked_kernel("org/absent",
                                                                     lockfile=os.path.join(tmp, "none.lock")))
    return out


SECTIONS = {
    "offline_api": section_offline_api,
    "nohub": section_nohub,
    "mode": section_mode,
    "properties": section_properties,
    "user_agent": section_user_agent,
    "signatures": section_signatures,
    "loaded": section_loaded,
    "hub": section_hub,
}

if __name__ == "__main__":
    wanted = os.environ.get("COMPAT_SECTIONS", "mode,properties,user_agent,signatures").split(",")
    result = {name: SECTIONS[name]() for name in wanted}
    print("COMPAT-JSON " + json.dumps(result, default=repr))
'''


def _probe(python: Path, sections: str, env: Optional[Dict[str, str]] = None, ours: bool = False) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_VARS and k != "PYTHONPATH"}
    full_env.update(env or {})
    full_env["COMPAT_SECTIONS"] = sections
    if ours:
        full_env["PYTHONPATH"] = str(SRC)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "compat_0172_probe.py"
        script.write_text(PROBE)
        proc = subprocess.run([str(python), str(script)], capture_output=True, text=True, env=full_env, cwd=tmp,
                              timeout=300)
    marker = [line for line in proc.stdout.splitlines() if line.startswith("COMPAT-JSON ")]
    assert proc.returncode == 0 and marker, f"{python}: {proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads(marker[0][len("COMPAT-JSON "):])


def _same(reference, ours) -> bool:  # type: ignore[no-untyped-def]
    if isinstance(reference, dict) and "raises" in reference:
        return isinstance(ours, dict) and "raises" in ours and reference["raises"][0] in ours["raises"]
    return reference == ours


def _compare(reference: dict, ours: dict) -> None:
    differences = []
    for section, outcomes in reference.items():
        for key, expected in outcomes.items():
            got = ours[section].get(key, "<missing>")
            if not _same(expected, got):
                differences.append(f"{section}/{key}:\n    0.17.2: {expected}\n    ours:   {got}")
    assert not differences, "differs from kernels 0.17.2:\n" + "\n".join(differences)


def _run_both(released_python: Path, sections: str, env: Optional[Dict[str, str]] = None,
              env_ours: Optional[Dict[str, str]] = None) -> tuple:
    reference = _probe(released_python, sections, env)
    ours = _probe(Path(sys.executable), sections, {**(env or {}), **(env_ours or {})}, ours=True)
    return reference, ours


def test_mode_properties_and_user_agent_match(released_python: Path) -> None:
    reference, ours = _run_both(released_python, "mode,properties,user_agent")
    _compare(reference, ours)
    # the probes really saw the interesting cases
    assert "raises" in reference["mode"]["INFERENCE|TRAINING"]
    assert "raises" in reference["mode"]["FALLBACK|TORCH_COMPILE"]
    assert reference["mode"]["INFERENCE|TORCH_COMPILE"] == ours["mode"]["INFERENCE|TORCH_COMPILE"]
    assert "raises" in reference["properties"]["CUDAProperties.none"]
    assert "raises" in reference["properties"]["CUDAProperties.reversed"]
    assert reference["user_agent"]["dict"]["my-lib"] == "1.0" and "backend" in reference["user_agent"]["dict"]
    assert ours["user_agent"]["off:DO_NOT_TRACK"] == {}


def test_signatures_accept_what_0172_accepts(released_python: Path) -> None:
    reference, ours = _run_both(released_python, "signatures")
    for name, params in reference["signatures"].items():
        mine = {p[0]: p for p in ours["signatures"][name]}
        for pname, kind, default in params:
            assert pname in mine, f"{name}: no parameter {pname}"
            assert mine[pname][2] == default, f"{name}({pname}): default {mine[pname][2]} != {default}"
            allowed = {kind, "POSITIONAL_OR_KEYWORD"} if kind == "KEYWORD_ONLY" else {kind}
            assert mine[pname][1] in allowed, f"{name}({pname}): {mine[pname][1]} != {kind}"
        extra = [p for p in ours["signatures"][name] if p[0] not in {q[0] for q in params}]
        assert all(p[2] != repr(inspect.Parameter.empty) for p in extra), f"{name}: extra required parameters {extra}"


def _fake_kernel(root: Path, name: str, variant: str = "torch-cpu", **meta) -> Path:
    from test_load import fake_kernel

    return fake_kernel(root, variant, name=name, files={"__init__.py": "VALUE = 42\n"}, **meta)


def test_loaded_kernels_match(released_python: Path, tmp_path: Path) -> None:
    from kernels.metadata import Metadata

    variant = _fake_kernel(tmp_path / "local", "compat-local", provenance={
        "kernel-builder": {"version": "0.17.0", "commit": "ab" * 20, "dirty": False},
        "kernel": {"commit": "cd" * 20, "dirty": True}})
    Metadata.read_from_file(variant / "metadata.json").with_digest(variant).write_to_file(variant / "metadata.json")
    reference, ours = _run_both(released_python, "loaded", {"COMPAT_LOCAL_KERNEL": str(tmp_path / "local")})
    _compare(reference, ours)
    assert reference["loaded"]["fields"] == ["metadata", "module", "repo_info"]
    loaded = reference["loaded"]
    assert loaded["metadata.name.python_name"] == {"ok": "compat_local"}
    assert loaded["metadata.digest.files"] == {"ok": ["__init__.py"]}
    assert loaded["metadata.provenance.kernel_builder.version"] == {"ok": "0.17.0"}
    assert loaded["metadata.provenance.kernel_builder.git.commit"] == {"ok": "ab" * 20}
    assert loaded["metadata.provenance.kernel.commit"] == {"ok": "cd" * 20}
    assert loaded["metadata.provenance.dirty"] == {"ok": True}


def test_hub_behaviour_matches(released_python: Path, hub_server, tmp_path: Path) -> None:
    from kernels.upload import upload_tree

    org, other = "compat-org", "compat-untrusted"
    hub_server.set_trusted_publisher(org, True)
    hub_server.set_trusted_publisher(other, False)
    repos = {"ok": f"{org}/ok", "untrusted": f"{other}/shady", "gpu_only": f"{org}/gpu-only",
             "needs_dep": f"{org}/needs-dep", "missing": f"{org}/does-not-exist"}
    _fake_kernel(tmp_path / "ok", "ok")
    _fake_kernel(tmp_path / "shady", "shady")
    _fake_kernel(tmp_path / "gpu", "gpu-only", variant="torch-cuda", backend="cuda")
    _fake_kernel(tmp_path / "dep", "needs-dep", python_depends=["einops"])
    for key, tree in (("ok", "ok"), ("untrusted", "shady"), ("gpu_only", "gpu"), ("needs_dep", "dep")):
        upload_tree(tmp_path / tree, repo_id=repos[key])

    def env(name: str) -> Dict[str, str]:
        cache = tmp_path / f"cache-{name}"
        return {"COMPAT_HUB": json.dumps(repos), "HF_HUB_CACHE": str(cache), "KERNELS_CACHE": str(cache),
                "HF_HOME": str(tmp_path / f"home-{name}")}

    reference = _probe(released_python, "hub", env("ref"))
    ours = _probe(Path(sys.executable), "hub", env("ours"), ours=True)
    # Known deviation: a revision without build/ (here: main, the kernel is on v1). 0.17.2's
    # has_kernel raises huggingface_hub's RemoteEntryNotFoundError; ours answers False (no
    # compatible variant), as no error type of ours is an EntryNotFoundError.
    assert "raises" in reference["hub"].pop("has.ok_revision_main")
    assert ours["hub"].pop("has.ok_revision_main") == {"ok": False}
    variants = reference["hub"].pop("variants"), ours["hub"].pop("variants")
    _compare(reference, ours)
    assert reference["hub"]["has.ok"] == {"ok": True}
    assert reference["hub"]["install.missing_dep"] == {"ok": True}  # einops is not installed
    assert variants[0] == {"ok": [["VariantAccepted", "torch-cpu"]]}
    assert variants[1] == variants[0]


@pytest.mark.parametrize("setting", ["unreachable", "offline"])
def test_has_kernel_without_the_hub_matches(released_python: Path, setting: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_CACHE": str(tmp_path / "cache"),
           "KERNELS_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "home"),
           "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2"}
    if setting == "offline":
        env["HF_HUB_OFFLINE"] = "1"
    reference, ours = _run_both(released_python, "nohub", env)
    if setting == "unreachable":
        # Known deviation: 0.17.2 lets httpx's ConnectError through, ours raises
        # HubUnreachableError (a ConnectionError); both raise rather than answer False.
        assert "raises" in reference["nohub"].pop("has_trusted")
        assert "HubUnreachableError" in ours["nohub"].pop("has_trusted").get("raises", [])
    _compare(reference, ours)


_CLI = "import sys; from kernels.cli import main; sys.argv[0] = 'kernels'; sys.exit(main())"


def _info_json(python: Path, args: list, env: Dict[str, str], ours: bool) -> subprocess.CompletedProcess:
    # 0.17.2 sends an invalid user agent (a trailing '; ') when telemetry is off.
    full_env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_VARS and k != "PYTHONPATH"}
    full_env.update(env)
    if ours:
        full_env["PYTHONPATH"] = str(SRC)
    return subprocess.run([str(python), "-c", _CLI, "info", *args], capture_output=True, text=True, env=full_env,
                          timeout=300)


def _info_both(released_python: Path, args: list, env: Dict[str, str]) -> tuple:
    reference = _info_json(released_python, args, env, ours=False)
    ours = _info_json(Path(sys.executable), args, env, ours=True)
    return reference, ours


def _compare_info(reference: dict, ours: dict, ignore: tuple = ()) -> None:
    differences = [f"{key}: 0.17.2 {value!r}, ours {ours.get(key, '<missing>')!r}"
                   for key, value in reference.items() if key not in ignore and ours.get(key, "<missing>") != value]
    assert not differences, "kernels info --json differs from kernels 0.17.2:\n" + "\n".join(differences)


def test_info_json_of_a_local_tree_matches(released_python: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    # The kernel's own fields are the same in every variant (which variant's metadata is read
    # differs: 0.17.2 takes the first one listed, in directory order; ours the selected one).
    kernel_fields = {"upstream": "https://github.com/org/infolocal", "python_depends": ["einops"]}
    _fake_kernel(tree, "infolocal", **kernel_fields)
    _fake_kernel(tree, "infolocal", variant="torch29-cxx11-cu130-x86_64-linux", backend="cuda", **kernel_fields)
    _fake_kernel(tree, "infolocal", variant="torch29-cxx11-rocm71-x86_64-linux", backend="rocm", **kernel_fields)
    reference, ours = _info_both(released_python, [str(tree), "--json"], {})
    assert reference.returncode == 0 and ours.returncode == 0, (reference.stderr[-2000:], ours.stderr[-2000:])
    ref, mine = json.loads(reference.stdout), json.loads(ours.stdout)
    assert ref["backends"] == ["cpu", "cuda", "rocm"] and ref["name"] == "infolocal"
    assert ref["upstream"] == "https://github.com/org/infolocal" and ref["python_depends"] == ["einops"]
    _compare_info(ref, mine)

    empty = tmp_path / "empty"
    empty.mkdir()
    reference, ours = _info_both(released_python, [str(empty), "--json"], {})
    assert (reference.returncode, ours.returncode) == (1, 1), (reference, ours)
    assert ours.stdout == "" and "no build variants found" in ours.stderr


def test_info_json_of_a_hub_kernel_matches(released_python: Path, hub_server, tmp_path: Path) -> None:
    from kernels.upload import upload_tree

    hub_server.set_trusted_publisher("compat-org", True)
    _fake_kernel(tmp_path / "hubinfo", "hubinfo", source="https://example.org/hubinfo")
    _fake_kernel(tmp_path / "hubinfo", "hubinfo", variant="torch-cuda", backend="cuda",
                 source="https://example.org/hubinfo")
    upload_tree(tmp_path / "hubinfo", repo_id="compat-org/hubinfo")
    for args in (["compat-org/hubinfo", "--version", "1", "--json"], ["compat-org/hubinfo", "--json"]):
        env = {"HF_HUB_CACHE": str(tmp_path / f"cache-{len(args)}"), "KERNELS_CACHE": str(tmp_path / f"c-{len(args)}")}
        reference, ours = _info_both(released_python, args, env)
        assert reference.returncode == 0 and ours.returncode == 0, (reference.stderr[-2000:], ours.stderr[-2000:])
        ref, mine = json.loads(reference.stdout), json.loads(ours.stdout)
        assert ref["repo_id"] == "compat-org/hubinfo" and ref["revision"] == "v1" and ref["backends"] == ["cpu", "cuda"]
        _compare_info(ref, mine)


_OFFLINE_INSTALL = r'''
import json, os, sys
from huggingface_hub import snapshot_download
from kernels import install_kernel

repo_id, step = sys.argv[1], sys.argv[2]
try:
    if step == "whole":
        snapshot_download(repo_id, repo_type="kernel", revision=sys.argv[3], cache_dir=os.environ["HF_HUB_CACHE"])
        result = {"ok": "downloaded"}
    else:
        # Offline, 0.17.2 finds version branches only when the cache has refs/v1 (its online
        # install resolves the version to a commit and writes none): pin the commit, as its
        # error message advises.
        how = {"revision": sys.argv[3]} if step == "offline" else {"version": 1}
        # Ours checks trust offline too (an intended difference): opt in, for both.
        path = install_kernel(repo_id, backend="cpu", local_files_only=(step == "offline"),
                              trust_remote_code=[repo_id], **how)
        result = {"ok": os.path.basename(str(path))}
except Exception as exc:
    cause = exc.__cause__ or exc
    result = {"raises": type(exc).__name__, "cause": type(cause).__name__, "message": str(cause)}
print("OFFLINE-JSON " + json.dumps(result))
'''


def test_released_offline_install_wants_the_whole_snapshot(released_python: Path, hub_server, tmp_path: Path) -> None:
    """Item 4 of the compatibility issue: 0.17.2's offline ``install_kernel`` asks
    huggingface_hub for the *whole* snapshot (no ``allow_patterns``) while its online install
    downloads one variant; huggingface_hub's cached tree listing then reports every other file
    of the commit as missing: the repository's ``.gitattributes`` (the Hub creates it with the
    repository, and so does the local server) and the other variants. The server's snapshot is
    complete: after a whole download, 0.17.2's offline install works. Ours needs only the variant."""
    from kernels.upload import upload_tree

    hub_server.set_trusted_publisher("compat-org", True)
    _fake_kernel(tmp_path / "two", "twovariants")
    _fake_kernel(tmp_path / "two", "twovariants", variant="torch-cuda", backend="cuda")
    commit = upload_tree(tmp_path / "two", repo_id="compat-org/twovariants").commit
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_VARS and k != "PYTHONPATH"}
    env.update({"HF_HUB_CACHE": str(cache), "KERNELS_CACHE": str(cache), "HF_HOME": str(tmp_path / "home")})

    def run(python: Path, step: str, ours: bool = False) -> dict:
        step_env = dict(env, PYTHONPATH=str(SRC)) if ours else dict(env)
        if step == "offline":
            step_env["HF_HUB_OFFLINE"] = "1"
        proc = subprocess.run([str(python), "-c", _OFFLINE_INSTALL, "compat-org/twovariants", step, commit],
                              capture_output=True, text=True, env=step_env, timeout=300)
        marker = [line for line in proc.stdout.splitlines() if line.startswith("OFFLINE-JSON ")]
        assert marker, proc.stdout[-2000:] + proc.stderr[-3000:]
        return json.loads(marker[0][len("OFFLINE-JSON "):])

    assert run(released_python, "online") == {"ok": "torch-cpu"}
    refused = run(released_python, "offline")
    # 0.17.2 turns huggingface_hub's error into "Cannot find a local snapshot" (FileNotFoundError).
    assert (refused["raises"], refused["cause"]) == ("FileNotFoundError", "IncompleteSnapshotError"), refused
    assert ".gitattributes" in refused["message"] and "build/torch-cuda/" in refused["message"]
    assert run(Path(sys.executable), "offline", ours=True) == {"ok": "torch-cpu"}  # same cache, one variant
    assert run(released_python, "whole") == {"ok": "downloaded"}
    assert run(released_python, "offline") == {"ok": "torch-cpu"}


def test_offline_api_matches(released_python: Path, tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache"), "KERNELS_CACHE": str(tmp_path / "cache")}
    reference, ours = _run_both(released_python, "offline_api", env)
    names = reference["offline_api"].pop("public_names"), ours["offline_api"].pop("public_names")
    assert set(names[0]) <= set(names[1]), sorted(set(names[0]) - set(names[1]))
    _compare(reference, ours)
