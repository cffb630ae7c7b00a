"""Kernel functions as layers: a function wrapped in a pure ``nn.Module``.

``kernelize`` only swaps ``forward`` methods, so a function that should be replaceable is
turned into a module whose ``forward`` calls it. The wrapper's ``forward`` carries the
function's signature (with ``self`` in front), so the usual layer checks apply, and its
``has_backward`` / ``can_torch_compile`` flags come from the function's attributes of the
same names (defaults: ``True`` / ``False``; ``can_backward`` is read as ``has_backward``).

>>> def double(x):
...     return 2 * x
>>> double.can_torch_compile = True
>>> Double = func_module(double)
>>> Double().forward(21), Double.can_torch_compile, Double.has_backward
(42, True, True)
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

__all__ = ["func_module"]


def func_module(func: Callable[..., Any], name: str = "") -> type:
    """A new ``nn.Module`` subclass whose ``forward(self, *args)`` returns ``func(*args)``."""
    from torch import nn  # noqa: PLC0415

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: accept anything
        sig = inspect.signature(forward)
    else:
        self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        sig = sig.replace(parameters=[self_param, *sig.parameters.values()])
    forward.__signature__ = sig  # type: ignore[attr-defined]
    forward.__doc__ = getattr(func, "__doc__", None)
    class_name = name or getattr(func, "__name__", "Func")
    forward.__qualname__ = f"{class_name}.forward"
    namespace = {
        "forward": forward,
        "has_backward": bool(getattr(func, "has_backward", getattr(func, "can_backward", True))),
        "can_torch_compile": bool(getattr(func, "can_torch_compile", False)),
        "__module__": getattr(func, "__module__", __name__),
        "__doc__": f"Module calling {getattr(func, '__qualname__', class_name)} in forward.",
    }
    return type(class_name, (nn.Module,), namespace)
