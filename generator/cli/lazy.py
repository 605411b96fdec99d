"""Import a module on first attribute access (the oci SDK and cryptography cost start-up time).

>>> lazy_module("json").dumps([1])
'[1]'
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import sys
from types import ModuleType


def lazy_module(name: str):  # type: ignore[no-untyped-def]
    """Import ``name`` on first attribute access: the oci SDK costs ~0.3 s, and only rm-* need it
    (a lazy import that keeps `--help` fast, not a cycle dodge)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_quietly(name: str) -> ModuleType:
    """Import a command module; a Ctrl-C meanwhile leaves at once with 130.

    Nothing is written yet, and an interrupt inside an import can surface as another error
    (pydantic wraps it in a RuntimeError while building a model class), so the import is not
    interrupted at all: the process ends, as it does while `generator.cli` itself loads.
    """
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))
    except ValueError:  # not the main thread: no guard to install
        return importlib.import_module(name)
    try:
        return importlib.import_module(name)
    finally:
        signal.signal(signal.SIGINT, previous)
