"""`flowstack emulator ARGS...` for the test fixtures, without loading the other commands.

Why: the fast suite starts ~150 emulators (tests/conftest.py, `RMEmulator`). `python -m
generator.cli emulator` first imports every command module (pydantic models, Jinja, HCL
parsers, the oci SDK: ~0.3 s of CPU per start, ~45 s over the suite) that the emulator never
uses. This launcher runs the same root group (`generator.cli.root.cli`, where library errors
become ``Error: ...``) with the same `emulator` command and the same arguments in a fresh
interpreter; only `generator/cli/__init__.py`, which imports and registers the other commands,
is not run. The real entry point is still run as a process: in the fast suite by
tests/emulator/test_emulator.py (``real_entry=True``), in the slow one by the wheel and doctor tests.

Example::

    python tests/emulator_main.py --port 0 --state /tmp/s.json --public-key key.pem --simulate
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import generator

# The generator.cli package without its __init__ (which imports every command module).
_package = types.ModuleType("generator.cli")
_package.__path__ = [str(Path(generator.__file__).resolve().parent / "cli")]
sys.modules["generator.cli"] = _package

from generator.cli.emulator import emulator_command  # noqa: E402 - after the stand-in package
from generator.cli.root import cli  # noqa: E402

if __name__ == "__main__":
    cli.add_command(emulator_command)
    cli.main(["emulator", *sys.argv[1:]], prog_name="flowstack")
