"""The public API is explicit: every module declares `__all__`, and each name it lists exists."""

from __future__ import annotations

import importlib
import pkgutil

import translator


def _modules() -> list[str]:
    names = ["translator"]
    for info in pkgutil.walk_packages(translator.__path__, prefix="translator."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return names


def test_public_api_every_module_declares_all() -> None:
    for name in _modules():
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        for exported in module.__all__:
            assert hasattr(module, exported), f"{name}.__all__ lists missing {exported!r}"


def test_public_api_package_reexports_only_listed_names() -> None:
    public = {n for n in vars(translator) if not n.startswith("_")}
    submodules = {n.split(".")[1] for n in _modules() if n.count(".") == 1}
    assert public - submodules == set(translator.__all__)
