"""The emulator's durable state: one JSON file, one lock, and the lookups every API part shares.

Every change is written to the state file at once (a temporary file in the same
directory, fsync, rename), so a killed emulator loses nothing and a half-written file is
never seen.  All reads and changes happen under `Store.lock` (re-entrant: an API call
that changes a record also brings the jobs up to date first).

>>> store = Store("/tmp/rm-emulator-doc.json")  # doctest: +SKIP
>>> store.save()  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import tfjobs
from .atomic import write_atomically
from .errors import EmulatorError
from .faults import FaultSpec
from .records import ApiError, not_found

STATE_VERSION = 1
ACTIVE_JOB_STATES = ("ACCEPTED", "IN_PROGRESS", "CANCELING")
FINAL_JOB_STATES = ("SUCCEEDED", "FAILED", "CANCELED")
_SECTIONS = ("stacks", "jobs", "blobs", "retryTokens", "faults")


class EmulatorStateError(EmulatorError):
    """The state file cannot be read or written."""


class Store:
    """Stacks, jobs, uploaded zips, retry tokens and faults, saved after every change."""

    def __init__(
        self,
        path: str | Path,
        *,
        faults: FaultSpec | None = None,
        job_seconds: float = 3.0,
        region: str = "ap-chuncheon-1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.region = region
        self.job_seconds = job_seconds
        self.clock = clock
        self.lock = threading.RLock()
        self.data: dict[str, Any] = {"version": STATE_VERSION, **{key: {} for key in _SECTIONS}}
        if self.path.exists():
            self._load()
        # Faults given on the command line win; otherwise the saved ones carry on.
        self.faults = faults if faults is not None else FaultSpec(self.data.get("faults") or {}, source=str(self.path))
        self.tfjobs = tfjobs.attach(self.path, self.data["jobs"], self.now_ms())  # real Terraform per job, if given
        self.save()

    # ------------------------------------------------------------------ persistence

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EmulatorStateError(f"state file {self.path}: cannot be read ({exc})") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise EmulatorStateError(
                f"state file {self.path}: not an emulator state file of version {STATE_VERSION}; "
                f"move it away to start empty"
            )
        for key in _SECTIONS:
            data.setdefault(key, {})
        self.data = data

    def save(self) -> None:
        """Write the whole state atomically: readers see the old file or the new, never half."""
        with self.lock:
            self.data["faults"] = self.faults.to_dict() if hasattr(self, "faults") else self.data.get("faults", {})
            text = json.dumps(self.data, separators=(",", ":"), sort_keys=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                _write_atomically(self.path, text)
            except OSError as exc:
                raise EmulatorStateError(f"state file {self.path}: cannot be written ({exc})") from exc

    # ------------------------------------------------------------------ ids, blobs, lookups

    def now_ms(self) -> int:
        return int(round(self.clock() * 1000))

    def _new_id(self, kind: str) -> str:
        return f"ocid1.{kind}.oc1.{self.region}.amaaaaaa{secrets.token_hex(26)}"

    def _store_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.data["blobs"].setdefault(digest, base64.b64encode(data).decode("ascii"))
        return digest

    def _blob(self, digest: str) -> bytes:
        return base64.b64decode(self.data["blobs"][digest])

    def _stack(self, stack_id: str, *, allow_deleted: bool = False) -> dict[str, Any]:
        stack = self.data["stacks"].get(stack_id)
        if stack is None or (stack["lifecycleState"] == "DELETED" and not allow_deleted):
            raise not_found("Stack", stack_id)
        return stack

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self.data["jobs"].get(job_id)
        if job is None:
            raise not_found("Job", job_id)
        return job

    def _active_job(self, stack_id: str) -> dict[str, Any] | None:
        for job in self.data["jobs"].values():
            if job["stackId"] == stack_id and job["lifecycleState"] in ACTIVE_JOB_STATES:
                return job
        return None

    # ------------------------------------------------------------------ retry tokens

    def _retry_hit(self, token: str | None, kind: str) -> dict[str, Any] | None:
        if not token:
            return None
        hit = self.data["retryTokens"].get(token)
        if hit is None:
            return None
        if hit["kind"] != kind:
            raise ApiError(409, "InvalidatedRetryToken", "the opc-retry-token was already used for another kind of request")
        return self.data["stacks" if kind == "stack" else "jobs"].get(hit["id"])

    def _remember_retry(self, token: str | None, kind: str, record_id: str) -> None:
        if token:
            self.data["retryTokens"][token] = {"kind": kind, "id": record_id}


def _write_atomically(path: Path, text: str) -> None:
    """Temporary file in the same directory, fsync, rename; the temporary file never stays."""
    write_atomically(path, text.encode("utf-8"), 0o600)
