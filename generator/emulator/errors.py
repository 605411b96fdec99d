"""The emulator's own errors: it is a leaf and imports nothing else of flowstack.

The CLI turns an `EmulatorError` into ``Error: <message>`` like any flowstack error.

>>> str(FaultsError("faults.yaml", "unknown fault", field="bogus"))
'faults.yaml: bogus: unknown fault'
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base of every emulator error a user can cause; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class CredentialsError(EmulatorError):
    """A public key or demo OCI config the emulator cannot use (exit 4, as flowstack's OCI config errors)."""

    exit_code = 4


class UsageError(EmulatorError):
    """Options that cannot start an emulator (exit 2, as click's usage errors)."""

    exit_code = 2


class FaultsError(EmulatorError, ValueError):
    """A faults spec that names an unknown fault or a bad value (a ValueError: HTTP 400)."""

    exit_code = 2

    def __init__(self, path: str, problem: str, *, field: str | None = None, value: object = None,
                 expected: str | None = None) -> None:
        msg = ": ".join([path, *([field] if field else [])]) + f": {problem}"
        if value is not None:
            msg += f" (got {value!r})"
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg)
