"""The layers API: modes, devices, mappings, decorators, validation and ``kernelize``.

Kernels here are small pure-PyTorch kernels written to temporary directories (a variant
directory with ``metadata.json``, ``__init__.py`` and ``layers.py``) and loaded through the real
loader (``LocalLayerRepository`` -> ``get_local_kernel``; ``LayerRepository`` -> ``get_kernel``
against the local Hub server). The compiled example kernel is exercised in
tests/test_kernelize_example.py.
"""

from __future__ import annotations

import logging
import sys
import textwrap
import threading
import uuid
import warnings
from pathlib import Path

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from kernels import (  # noqa: E402
    CUDAProperties,
    Device,
    KernelizeFallback,
    LayerRepository,
    LocalFuncRepository,
    LocalLayerRepository,
    LockedLayerRepository,
    Mode,
    ROCMProperties,
    kernelize,
    register_kernel_mapping,
    replace_kernel_forward_from_hub,
    use_kernel_forward_from_hub,
    use_kernel_func_from_hub,
    use_kernel_mapping,
    use_kernelized_func,
)
from kernels.errors import KernelsError  # noqa: E402
from kernels.layer.device import CapabilityRepos, SingleRepos, device_capability  # noqa: E402
from kernels.layer.kernelize import _reset_unmapped_reports  # noqa: E402
from kernels.layer.mapping import current_mapping  # noqa: E402
from kernels.layer.mode import fallback_order  # noqa: E402
from kernels.metadata import BackendInfo, Metadata  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

TC = Mode.TORCH_COMPILE

# --------------------------------------------------------------------------- model layers


from reference_layers import RMSNorm, SiluAndMul  # noqa: E402


def small_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), SiluAndMul(), RMSNorm(16))


# --------------------------------------------------------------------------- kernels on disk

#: Layers of the test kernel: each records that it ran in a global counter, so tests see
#: which forward was used, and computes what the model's layer computes.
LAYERS = """
import torch
import torch.nn as nn
import torch.nn.functional as F

CALLS = []


class SiluAndMul(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CALLS.append("SiluAndMul")
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]


class SiluAndMulNoBackward(nn.Module):
    has_backward = False
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CALLS.append("SiluAndMulNoBackward")
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]


class SiluAndMulNoCompile(nn.Module):
    def forward(self, x):
        CALLS.append("SiluAndMulNoCompile")
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]


class RMSNorm(nn.Module):
    weight: torch.Tensor
    variance_epsilon: float
    can_torch_compile = True

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        CALLS.append("RMSNorm")
        rstd = torch.rsqrt(hidden_states.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return hidden_states * rstd * self.weight


class WithInit(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x


class WithClassVariable(nn.Module):
    scale = 2.0

    def forward(self, x):
        return x * self.scale


class WithHelper(nn.Module):
    def helper(self, x):
        return x

    def forward(self, x):
        return self.helper(x)


class TwoArguments(nn.Module):
    def forward(self, x, y):
        return x + y


class NotAModule:
    def forward(self, x):
        return x
"""

INIT = """
from . import layers

__all__ = ["layers", "double"]


def double(x):
    return 2 * x


double.can_torch_compile = True
"""


def write_kernel(root: Path, *, name: str = "toy", layers: str = LAYERS, init: str = INIT,
                 variant: str = "torch-cpu") -> Path:
    """A pure-Python kernel variant ``root/build/<variant>/``; returns the variant directory."""
    directory = root / "build" / variant
    directory.mkdir(parents=True)
    (directory / "__init__.py").write_text(textwrap.dedent(init))
    (directory / "layers.py").write_text(textwrap.dedent(layers))
    kid = f"_{name.replace('-', '_')}_cpu_{uuid.uuid4().hex[:10]}"
    Metadata(name=name, id=kid, version=1, license="MIT", python_depends=(),
             backend=BackendInfo("cpu")).write_to_file(directory / "metadata.json")
    return directory


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The variant directory of the toy kernel (loaded once per module, like any kernel)."""
    return write_kernel(tmp_path_factory.mktemp("toy"))


@pytest.fixture(autouse=True)
def _clean_mapping(monkeypatch: pytest.MonkeyPatch):
    """Each test starts with an empty global mapping, without DISABLE_KERNEL_MAPPING and with no
    unmapped layer name reported yet."""
    monkeypatch.delenv("DISABLE_KERNEL_MAPPING", raising=False)
    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    register_kernel_mapping({}, inherit_mapping=False)
    _reset_unmapped_reports()
    yield
    register_kernel_mapping({}, inherit_mapping=False)


def local(toy: Path, layer: str) -> LocalLayerRepository:
    return LocalLayerRepository(toy, layer_name=layer)


def calls(toy: Path) -> list:
    from kernels import get_local_kernel

    return get_local_kernel(toy).layers.CALLS


def uses_kernel(module: nn.Module) -> bool:
    return "forward" in vars(module)


# --------------------------------------------------------------------------- modes


def test_fallback_order_per_mode() -> None:
    I, T, FB = Mode.INFERENCE, Mode.TRAINING, Mode.FALLBACK  # noqa: E741
    assert fallback_order(I) == (I, I | TC, T, T | TC, FB)
    assert fallback_order(T) == (T, T | TC, FB)
    assert fallback_order(I | TC) == (I | TC, T | TC, FB)
    assert fallback_order(T | TC) == (T | TC, FB)


@pytest.mark.parametrize("mode, message", [
    (Mode.FALLBACK, "only for registering"),
    # ``|`` refuses these (as in kernels 0.17.2); Mode(value) still builds them
    (Mode(Mode.INFERENCE.value | Mode.FALLBACK.value), "only for registering"),
    (Mode(Mode.INFERENCE.value | Mode.TRAINING.value), "exclude each other"),
    (Mode.TORCH_COMPILE, "must contain Mode.INFERENCE or Mode.TRAINING"),
    ("inference", "must be a kernels.Mode"),
])
def test_kernelize_rejects_unknown_mode_combinations(mode, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        kernelize(small_model(), mode=mode)
    assert isinstance(info.value, KernelsError)
    if isinstance(mode, Mode):
        assert "use one of INFERENCE, TRAINING, INFERENCE | TORCH_COMPILE" in str(info.value)


@pytest.mark.parametrize("mode", [Mode.TORCH_COMPILE, Mode(Mode.INFERENCE.value | Mode.TRAINING.value),
                                  Mode(Mode.FALLBACK.value | Mode.TRAINING.value)])
def test_mapping_rejects_unknown_mode_combinations(toy: Path, mode: Mode) -> None:
    with pytest.raises(ValueError, match=r"kernel mapping for 'SiluAndMul' on cpu: cannot register a kernel for mode"):
        register_kernel_mapping({"SiluAndMul": {"cpu": {mode: local(toy, "SiluAndMul")}}})
    assert current_mapping() == {}  # nothing half-registered


# --------------------------------------------------------------------------- devices


def test_device_types_and_properties(caplog: pytest.LogCaptureFixture) -> None:
    assert Device("cuda", CUDAProperties(75, 89)).properties == CUDAProperties(75, 89)
    assert Device("rocm", ROCMProperties(min_capability=90, max_capability=95)).type == "rocm"
    with caplog.at_level(logging.WARNING, logger="kernels"):
        assert Device("metal").type == "metal"  # built, as in kernels 0.17.2, with a warning
    assert "unknown device type 'metal'" in caplog.text and "'mps'" in caplog.text
    with pytest.raises(ValueError, match="kernel mapping for 'SiluAndMul': unknown device type 'metal'"):
        register_kernel_mapping({"SiluAndMul": {Device("metal"): LayerRepository("org/x", layer_name="L",
                                                                                 version=1)}})
    with pytest.raises(ValueError, match="takes no properties"):
        Device("cpu", CUDAProperties(0, 100))
    with pytest.raises(ValueError, match="needs CUDAProperties"):
        Device("cuda", ROCMProperties(0, 100))
    with pytest.raises(ValueError, match="above max_capability"):
        CUDAProperties(min_capability=90, max_capability=80)
    assert Device("cuda") == Device("cuda") and len({Device("cuda"), Device("cuda")}) == 1
    assert device_capability("cpu") is None


def test_mapping_for_an_unknown_device_type_is_refused(toy: Path) -> None:
    with pytest.raises(ValueError, match="kernel mapping for 'SiluAndMul': unknown device type 'gpu'; use one of"):
        register_kernel_mapping({"SiluAndMul": {"gpu": local(toy, "SiluAndMul")}})
    with pytest.raises(ValueError, match="expected a repository"):
        register_kernel_mapping({"SiluAndMul": {"cpu": "org/repo"}})
    with pytest.raises(ValueError, match="kernelize: unknown device type 'gpu'"):
        kernelize(small_model(), mode=Mode.INFERENCE, device="gpu")


def test_capability_ranges_smallest_interval_wins_and_same_range_replaces() -> None:
    repos = CapabilityRepos()
    wide, narrow, hopper, newer = object(), object(), object(), object()
    repos.insert(Device("cuda", CUDAProperties(75, 89)), {Mode.FALLBACK: wide})
    repos.insert(Device("cuda", CUDAProperties(80, 89)), {Mode.FALLBACK: narrow})
    repos.insert(Device("cuda", CUDAProperties(90, sys.maxsize)), {Mode.FALLBACK: hopper})
    assert repos.select(86) == {Mode.FALLBACK: narrow}
    assert repos.select(75) == {Mode.FALLBACK: wide}
    assert repos.select(90) == {Mode.FALLBACK: hopper}
    assert repos.select(70) is None and repos.select(None) is None
    repos.insert(Device("cuda", CUDAProperties(90, sys.maxsize)), {Mode.FALLBACK: newer})
    assert repos.select(100) == {Mode.FALLBACK: newer}
    everything = CapabilityRepos()
    everything.insert(Device("cuda"), {Mode.FALLBACK: wide})
    assert everything.select(120) == {Mode.FALLBACK: wide}
    single = SingleRepos()
    single.insert(Device("cpu"), {Mode.FALLBACK: wide})
    single.insert(Device("cpu"), {Mode.TRAINING: narrow})
    assert single.select(None) == {Mode.TRAINING: narrow}  # re-registering replaces


# --------------------------------------------------------------------------- mappings


def test_use_kernel_mapping_is_scoped_and_inherits(toy: Path) -> None:
    register_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "SiluAndMul")}})
    with use_kernel_mapping({"RMSNorm": {"cpu": local(toy, "RMSNorm")}}):
        assert set(current_mapping()) == {"SiluAndMul", "RMSNorm"}
        register_kernel_mapping({"Other": {"cpu": local(toy, "RMSNorm")}})
        assert "Other" in current_mapping()
    assert set(current_mapping()) == {"SiluAndMul"}
    with use_kernel_mapping({"RMSNorm": {"cpu": local(toy, "RMSNorm")}}, inherit_mapping=False):
        assert set(current_mapping()) == {"RMSNorm"}
    register_kernel_mapping({"RMSNorm": {"cpu": local(toy, "RMSNorm")}}, inherit_mapping=False)
    assert set(current_mapping()) == {"RMSNorm"}


def test_mappings_are_per_context(toy: Path) -> None:
    seen = {}

    def other_thread() -> None:
        seen["other"] = set(current_mapping())

    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "SiluAndMul")}}):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen["other"] == set()


def test_repositories_compare_by_what_they_name(toy: Path) -> None:
    a = LayerRepository("org/act", layer_name="SiluAndMul", version=1)
    assert a == LayerRepository("org/act", layer_name="SiluAndMul", version=1)
    assert len({a, LayerRepository("org/act", layer_name="SiluAndMul", version=1)}) == 1
    assert a != LayerRepository("org/act", layer_name="SiluAndMul", revision="v1")
    assert local(toy, "RMSNorm") == local(toy, "RMSNorm")
    with pytest.raises(ValueError, match="exactly one of version="):
        LayerRepository("org/act", layer_name="SiluAndMul")
    with pytest.raises(ValueError, match="exactly one of version="):
        LayerRepository("org/act", layer_name="SiluAndMul", version=1, revision="main")
    with pytest.raises(ValueError, match="neither a major version nor a version specifier"):
        LayerRepository("org/act", layer_name="SiluAndMul", version="one")
    with pytest.raises(ValueError, match="'org/name'"):
        LayerRepository("act", layer_name="SiluAndMul", version=1)


# --------------------------------------------------------------------------- kernelize


def test_kernelize_replaces_instance_forward_and_is_reversible(toy: Path, caplog) -> None:
    model = small_model()
    x = torch.randn(4, 16)
    expected = model(x)
    mapping = {"SiluAndMul": {"cpu": local(toy, "SiluAndMul")}, "RMSNorm": {"cpu": local(toy, "RMSNorm")}}
    with use_kernel_mapping(mapping), caplog.at_level(logging.INFO, logger="kernels"):
        assert kernelize(model, mode=Mode.INFERENCE) is model
    assert uses_kernel(model[1]) and uses_kernel(model[2])
    assert SiluAndMul.forward.__module__ == SiluAndMul.__module__  # class untouched
    calls(toy).clear()
    torch.testing.assert_close(model(x), expected)
    assert calls(toy) == ["SiluAndMul", "RMSNorm"]
    assert any("uses layer SiluAndMul from " in r.getMessage() and str(toy) in r.getMessage()
               for r in caplog.records if r.levelno == logging.INFO)
    # Kernelizing again without a mapping restores each module's own forward.
    kernelize(model, mode=Mode.INFERENCE)
    assert not uses_kernel(model[1]) and not uses_kernel(model[2])
    calls(toy).clear()
    model(x)
    assert calls(toy) == []


def test_training_falls_back_for_layers_without_backward(toy: Path) -> None:
    model = small_model()
    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "SiluAndMulNoBackward")}}):
        kernelize(model, mode=Mode.INFERENCE)
        assert uses_kernel(model[1])
        kernelize(model, mode=Mode.TRAINING)
        assert not uses_kernel(model[1])
        with pytest.raises(ValueError, match=r"has no backward pass .*use_fallback=False"):
            kernelize(model, mode=Mode.TRAINING, use_fallback=False)
    with use_kernel_mapping({"SiluAndMul": {"cpu": {Mode.TRAINING: local(toy, "SiluAndMulNoBackward")}}}):
        with pytest.raises(ValueError, match="has no backward pass .* registered for 'SiluAndMul' with mode TRAINING"):
            kernelize(model, mode=Mode.TRAINING)


def test_torch_compile_needs_can_torch_compile(toy: Path) -> None:
    model = small_model()
    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "SiluAndMulNoCompile")}}):
        kernelize(model, mode=Mode.INFERENCE)
        assert uses_kernel(model[1])
        kernelize(model, mode=Mode.INFERENCE | TC)
        assert not uses_kernel(model[1])
        with pytest.raises(ValueError, match="does not support torch.compile"):
            kernelize(model, mode=Mode.TRAINING | TC, use_fallback=False)
    with use_kernel_mapping({"SiluAndMul": {"cpu": {Mode.INFERENCE | TC: local(toy, "SiluAndMulNoCompile")}}}):
        with pytest.raises(ValueError, match="registered for 'SiluAndMul' with mode INFERENCE | TORCH_COMPILE"):
            kernelize(model, mode=Mode.INFERENCE | TC)


def test_mode_specific_registrations_follow_the_fallback_order(toy: Path) -> None:
    model = small_model()
    fallback, inference, training_tc = (local(toy, "SiluAndMulNoCompile"), local(toy, "SiluAndMulNoBackward"),
                                        local(toy, "SiluAndMul"))
    mapping = {"SiluAndMul": {"cpu": {Mode.FALLBACK: fallback, Mode.INFERENCE: inference,
                                      Mode.TRAINING | TC: training_tc}}}
    x = torch.randn(2, 16)
    with use_kernel_mapping(mapping):
        for mode, expected in [(Mode.INFERENCE, "SiluAndMulNoBackward"), (Mode.TRAINING, "SiluAndMul"),
                               (Mode.INFERENCE | TC, "SiluAndMul"), (Mode.TRAINING | TC, "SiluAndMul")]:
            kernelize(model, mode=mode)
            calls(toy).clear()
            model(x)
            assert calls(toy)[0] == expected, mode
    with use_kernel_mapping({"SiluAndMul": {"cpu": {Mode.FALLBACK: fallback, Mode.INFERENCE: inference}}}):
        kernelize(model, mode=Mode.TRAINING)
        calls(toy).clear()
        model(x)
        assert calls(toy)[0] == "SiluAndMulNoCompile"


def test_no_mapping_without_fallback_is_a_clear_error(toy: Path) -> None:
    model = small_model()
    kernelize(model, mode=Mode.INFERENCE)  # falls back by default (with a WARNING, see test_kernelize_warnings.py)
    assert not uses_kernel(model[1])
    with pytest.raises(ValueError, match=r"no kernel mapping for layer 'SiluAndMul'; register one with "
                                         r"register_kernel_mapping or use_kernel_mapping"):
        kernelize(model, mode=Mode.INFERENCE, use_fallback=False)
    with use_kernel_mapping({"SiluAndMul": {"cuda": local(toy, "SiluAndMul")},
                             "RMSNorm": {"cpu": local(toy, "RMSNorm")}}):
        with pytest.raises(ValueError, match=r"'SiluAndMul' has no entry for device type 'cpu' \(it has: cuda\)"):
            kernelize(model, mode=Mode.INFERENCE, use_fallback=False)
        kernelize(model, mode=Mode.INFERENCE, use_fallback=KernelizeFallback.NO_DEVICE)
        assert uses_kernel(model[2]) and not uses_kernel(model[1])
    with use_kernel_mapping({"SiluAndMul": {"cpu": {Mode.INFERENCE: local(toy, "SiluAndMul")}}}):
        with pytest.raises(ValueError, match=r"registered for mode TRAINING \(tried TRAINING, TRAINING \| "
                                             r"TORCH_COMPILE, FALLBACK\)"):
            kernelize(model, mode=Mode.TRAINING, use_fallback=KernelizeFallback.NO_LAYER)
    with pytest.raises(ValueError, match="use_fallback must be"):
        kernelize(model, mode=Mode.INFERENCE, use_fallback="yes")


def test_kernel_that_cannot_load(tmp_path: Path) -> None:
    model = small_model()
    with use_kernel_mapping({"SiluAndMul": {"cpu": LocalLayerRepository(tmp_path / "missing", layer_name="X")}}):
        with pytest.raises(FileNotFoundError, match="cannot load .*missing.*KernelizeFallback.ALL") as info:
            kernelize(model, mode=Mode.INFERENCE)
        assert isinstance(info.value, ValueError)
        kernelize(model, mode=Mode.INFERENCE, use_fallback=KernelizeFallback.ALL)
        assert not uses_kernel(model[1])


def test_missing_layer_in_kernel(toy: Path) -> None:
    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "Nope")}}):
        with pytest.raises(ValueError, match="has no layer 'Nope' .*SiluAndMul"):
            kernelize(small_model(), mode=Mode.INFERENCE)


@pytest.mark.parametrize("layer, rule", [
    ("WithInit", "must not define __init__"),
    ("WithClassVariable", r"must not define class members .*\(found: scale\)"),
    ("WithHelper", r"must not define class members .*\(found: helper\)"),
    ("TwoArguments", r"forward\(self, x, y\) does not match the replaced SiluAndMul.forward"),
    ("NotAModule", "must be a subclass of torch.nn.Module"),
])
def test_impure_layers_are_refused(toy: Path, layer: str, rule: str) -> None:
    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, layer)}}):
        with pytest.raises(TypeError, match=f"kernel layer {layer} from .*: {rule}"):
            kernelize(small_model(), mode=Mode.INFERENCE)


def test_condition_and_replace_kernel_forward_from_hub(toy: Path) -> None:
    class External(nn.Module):
        def forward(self, x):
            d = x.shape[-1] // 2
            return F.silu(x[..., :d]) * x[..., d:]

    replace_kernel_forward_from_hub(External, "SiluAndMul", condition=lambda m: getattr(m, "enabled", True))
    on, off = External(), External()
    off.enabled = False
    model = nn.Sequential(on, off)
    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "SiluAndMul")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    assert uses_kernel(on) and not uses_kernel(off)


def test_device_is_taken_from_the_model() -> None:
    with pytest.raises(ValueError, match="pass device="):
        kernelize(nn.Sequential(SiluAndMul()), mode=Mode.INFERENCE)
    kernelize(nn.Sequential(SiluAndMul()), mode=Mode.INFERENCE, device=torch.device("cpu"))


def test_disable_kernel_mapping(toy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = small_model()
    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "SiluAndMul")}}):
        kernelize(model, mode=Mode.INFERENCE)
        assert uses_kernel(model[1])
        monkeypatch.setenv("DISABLE_KERNEL_MAPPING", "1")
        kernelize(model, mode=Mode.INFERENCE, use_fallback=False)
        assert not uses_kernel(model[1])


def test_torch_compile_fullgraph_without_graph_breaks(toy: Path) -> None:
    torch._dynamo.reset()
    model = small_model()
    x = torch.randn(4, 16)
    expected = model(x)
    with use_kernel_mapping({"SiluAndMul": {"cpu": local(toy, "SiluAndMul")}, "RMSNorm": {"cpu": local(toy, "RMSNorm")}}):
        kernelize(model, mode=Mode.INFERENCE | TC)
    assert uses_kernel(model[1]) and uses_kernel(model[2])
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), expected)


# --------------------------------------------------------------------------- functions


def test_functions_are_kernelized(toy: Path) -> None:
    @use_kernel_forward_from_hub("double")
    def double(x):
        return x + x

    @use_kernelized_func(double)
    class Model(nn.Module):
        def forward(self, x):
            return self._kernel_funcs["double"](x) + 1

    model = Model()
    assert model(torch.tensor(2.0)) == 5 and isinstance(double, nn.Module)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repo = LocalFuncRepository(toy, func_name="double")
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    with use_kernel_mapping({"double": {"cpu": repo}}):
        kernelize(model, mode=Mode.INFERENCE | TC, device="cpu", use_fallback=False)
    assert uses_kernel(double)
    assert model(torch.tensor(2.0)) == 5
    with pytest.raises(ValueError, match="is not kernel-replaceable"):
        use_kernelized_func(lambda x: x)


def test_use_kernel_func_from_hub_is_deprecated_but_works(toy: Path) -> None:
    with pytest.warns(DeprecationWarning):
        decorator = use_kernel_func_from_hub("double")

    @decorator
    def double(x):
        return x * 2

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.twice = double

        def forward(self, x):
            return self.twice(x)

    model = Model()
    with pytest.warns(DeprecationWarning):
        repo = LocalFuncRepository(toy, func_name="double")
    with use_kernel_mapping({"double": {"cpu": repo}}):
        kernelize(model, mode=Mode.TRAINING, device="cpu", use_fallback=False)
    assert uses_kernel(double) and model(torch.tensor(3.0)) == 6


# --------------------------------------------------------------------------- the Hub and locks


def _upload(hub_server, tmp_path: Path, repo_id: str) -> str:
    from kernels.upload import upload_tree

    write_kernel(tmp_path / "tree", name=repo_id.split("/")[1])
    hub_server.set_trusted_publisher(repo_id.split("/")[0])
    return upload_tree(tmp_path / "tree", repo_id=repo_id).commit


def test_layer_repository_resolves_lazily_through_the_hub(hub_server, tmp_path: Path) -> None:
    repo_id = "layers-org/toy-hub"
    commit = _upload(hub_server, tmp_path, repo_id)
    hub_server.request_log.clear()
    model = small_model()
    for repo in (LayerRepository(repo_id, layer_name="SiluAndMul", version=1),
                 LayerRepository(repo_id, layer_name="SiluAndMul", version=">=1,<3"),
                 LayerRepository(repo_id, layer_name="SiluAndMul", revision=commit)):
        register_kernel_mapping({"SiluAndMul": {"cpu": repo, "cuda": repo}})
        kernelize(model, mode=Mode.INFERENCE, use_fallback=KernelizeFallback.NO_LAYER)
        assert uses_kernel(model[1])
    with use_kernel_mapping({"SiluAndMul": {"cpu": LayerRepository(repo_id, layer_name="SiluAndMul",
                                                                    version=">=2")}}):
        with pytest.raises(ValueError, match=r"no version branch matches '>=2' \(branches: v1\)"):
            kernelize(model, mode=Mode.INFERENCE)


def test_registering_makes_no_request(hub_server) -> None:
    hub_server.request_log.clear()
    register_kernel_mapping({"SiluAndMul": {"cpu": LayerRepository("nobody/none", layer_name="X", version=1)}})
    assert list(hub_server.request_log) == []


def test_locked_layer_repository(hub_server, tmp_path: Path) -> None:
    from kernels.lock import lock_project

    repo_id = "layers-org/toy-locked"
    _upload(hub_server, tmp_path, repo_id)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "p"\nversion = "0.1"\n\n[tool.kernels.dependencies]\n"{repo_id}" = 1\n')
    lockfile, _ = lock_project(project)
    model = small_model()
    with use_kernel_mapping({"SiluAndMul": {"cpu": LockedLayerRepository(repo_id, lockfile=lockfile,
                                                                          layer_name="SiluAndMul")}}):
        kernelize(model, mode=Mode.INFERENCE, use_fallback=KernelizeFallback.NO_LAYER)
    assert uses_kernel(model[1])
    with use_kernel_mapping({"SiluAndMul": {"cpu": LockedLayerRepository("layers-org/unlocked", lockfile=lockfile,
                                                                          layer_name="SiluAndMul")}}):
        with pytest.raises(ValueError, match="layers-org/unlocked"):
            kernelize(model, mode=Mode.INFERENCE)


def test_locked_layer_repository_uses_the_lock_of_the_mapping_package(hub_server, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``lockfile=None``: the lock in the installed metadata of the package that made the
    repository (here ``mapper``), even though this test module calls ``kernelize``."""
    import importlib

    from kernels.lock import lock_project

    repo_id = "layers-org/toy-locked-dist"
    _upload(hub_server, tmp_path, repo_id)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "mapper"\nversion = "0.1"\n\n[tool.kernels.dependencies]\n"{repo_id}" = 1\n')
    lockfile, _ = lock_project(project)
    site = tmp_path / "site"
    (site / "mapper").mkdir(parents=True)
    (site / "mapper" / "__init__.py").write_text(textwrap.dedent(f"""
        from kernels import LockedLayerRepository

        def repo():
            return LockedLayerRepository("{repo_id}", layer_name="SiluAndMul")
        """))
    dist_info = site / "mapper-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: mapper\nVersion: 0.1\n")
    (dist_info / "top_level.txt").write_text("mapper\n")
    (dist_info / "kernels.lock").write_text(lockfile.read_text())
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    mapper = importlib.import_module("mapper")
    model = small_model()
    with use_kernel_mapping({"SiluAndMul": {"cpu": mapper.repo()}}):
        kernelize(model, mode=Mode.INFERENCE, use_fallback=KernelizeFallback.NO_LAYER)
    assert uses_kernel(model[1])
    sys.modules.pop("mapper", None)


def test_local_layer_repository_old_positional_signature(toy: Path) -> None:
    """Older releases: LocalLayerRepository(repo_path, package_name, layer_name)."""
    old = LocalLayerRepository(toy, "toy", "SiluAndMul")
    new = LocalLayerRepository(toy, layer_name="SiluAndMul")
    assert repr(old) == repr(new)
    with pytest.raises(TypeError, match="needs layer_name="):
        LocalLayerRepository(toy)
