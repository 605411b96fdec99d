"""What deploying returns and how it is tuned: jobs, log lines, outputs, hooks, poll and retry settings.

>>> Output("url", "string", "wss://x", sensitive=True).shown()
'********'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from generator.core.errors import JobFailed

from .variables import MASK

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})
OPERATIONS = ("PLAN", "APPLY", "DESTROY")


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime | None
    level: str
    message: str


@dataclass(frozen=True)
class JobStatus:
    """What the status line shows; ``elapsed`` counts from when following started."""

    job_id: str
    operation: str
    state: str
    elapsed: float


@dataclass
class JobResult:
    id: str
    operation: str
    state: str
    stack_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    time_created: datetime | None = None
    time_finished: datetime | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def failure(self, last: int = 15) -> JobFailed:
        return JobFailed(self.id, self.operation, self.failure_code, self.failure_message, self.lines[-last:])

    @classmethod
    def from_job(cls, job: Any, lines: list[str] | None = None) -> JobResult:
        details = getattr(job, "failure_details", None)
        return cls(
            id=job.id,
            operation=job.operation or "JOB",
            state=job.lifecycle_state,
            stack_id=job.stack_id,
            failure_code=getattr(details, "code", None),
            failure_message=getattr(details, "message", None),
            time_created=job.time_created,
            time_finished=job.time_finished,
            lines=list(lines or []),
        )


@dataclass(frozen=True)
class Output:
    name: str
    type: str | None
    value: Any
    sensitive: bool
    description: str | None = None

    def shown(self, show_sensitive: bool = False) -> Any:
        return MASK if self.sensitive and not show_sensitive else self.value


@dataclass
class StackRef:
    id: str
    name: str
    variables: dict[str, str]
    created: bool


@dataclass
class DeployResult:
    stack: StackRef
    plan_job: JobResult
    plan: tuple[int, int, int] | None
    apply_job: JobResult | None = None
    outputs: list[Output] = field(default_factory=list)
    attempts: int = 1
    # Instances the plan replaces or destroys: (address, "replaced" | "destroyed").
    instance_changes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return self.apply_job is not None and self.apply_job.succeeded


@dataclass
class Hooks:
    """Where progress goes. The CLI prints; tests and the benchmark record."""

    on_log: Callable[[LogLine], None] = lambda line: None
    on_status: Callable[[JobStatus], None] = lambda status: None
    on_note: Callable[[str], None] = lambda text: None
    on_job_started: Callable[[str, str], None] = lambda job_id, operation: None


@dataclass(frozen=True)
class PollSettings:
    """How `Deployer.follow` polls.

    The first status check comes ``first_interval`` after the job was created, then the
    interval grows by ``factor`` up to ``max_interval``: that ceiling bounds how late the
    end of a job is noticed (under 2 s).  While the job runs, logs are fetched at most
    every ``log_interval`` and only while all polling requests so far stay within
    ``burst + request_rate * elapsed``, so streaming keeps the average under one request
    a second; the fetch right after the job ends is always made, so no line is lost.

    Measured with bench/bench_rm.py: growing by 2 rather than 1.5 saves a status check
    in the first seconds, which is what keeps a 5 s job under one request a second.
    """

    first_interval: float = 0.5
    factor: float = 2.0
    max_interval: float = 1.8
    log_interval: float = 4.0
    request_rate: float = 0.9
    burst: float = 0.5
    # Longest single sleep, so the status line's clock keeps moving between checks.
    tick: float = 1.0


@dataclass(frozen=True)
class RetrySettings:
    """HTTP-level retries (429, 5xx, connection errors) done by the SDK, and capacity retries.

    ``api_seconds`` bounds the SDK's retrying of one call (its default is 600 s, facts §5).
    ``capacity_pause`` is the pause before another apply after "Out of host capacity" (16 s
    like the well-known community script); after a 429 the pause doubles each time.
    """

    api_seconds: float = 120.0
    api_attempts: int = 8
    api_base_sleep: float = 1.0
    api_max_sleep: float = 10.0
    capacity_pause: float = 16.0
    throttle_factor: float = 2.0
    max_pause: float = 300.0
