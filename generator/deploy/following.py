"""Following a Resource Manager job: its logs streamed once each, in order, and its end noticed soon.

Polling follows `PollSettings`: the first status check ``first_interval`` after the job was
created, the interval growing by ``factor`` up to ``max_interval``; logs fetched at most every
``log_interval`` while the request budget allows, and always once after the job ends.

>>> JobFollower  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from generator.core.errors import JobInterrupted, JobUnfollowed, ResourceManagerError

from .results import TERMINAL_STATES, JobResult, JobStatus, LogLine


class JobFollower:
    """One `Deployer.follow` run: ``deployer`` gives the client, clock, sleep, poll settings and hooks."""

    def __init__(self, deployer: Any, job_id: str, on_log: Callable[[LogLine], None] | None = None,
                 on_status: Callable[[JobStatus], None] | None = None) -> None:
        self.deployer, self.job_id = deployer, job_id
        self.on_log = on_log or deployer.hooks.on_log
        self.on_status = on_status or deployer.hooks.on_status
        self.poll = deployer.poll
        self.start = deployer.clock()
        self.requests = 0
        self.cursor: datetime | None = None
        self.seen_at_cursor: Counter[tuple[Any, str]] = Counter()
        self.lines: list[str] = []
        self.last_logs: float | None = None

    def fetch_logs(self) -> None:
        """Every line after those reported, all pages of one query (a page token belongs to its filter).

        Logs are read from the newest timestamp seen with ``timestampGreaterThanOrEqualTo``
        and lines already reported at that timestamp are skipped by count, so equal lines in
        the same instant survive.
        """
        d, page = self.deployer, None
        since, skip = self.cursor, Counter(self.seen_at_cursor)
        while True:
            kwargs: dict[str, Any] = {"sort_order": "ASC"}
            if since is not None:
                kwargs["timestamp_greater_than_or_equal_to"] = since
            if page:
                kwargs["page"] = page
            response = d._call(f"reading logs of job {self.job_id}", d.client.get_job_logs, self.job_id, **kwargs)
            self.requests += 1
            for entry in response.data or []:
                self._take(entry, since, skip)
            page = response.next_page if response.has_next_page else None
            if not page:
                return

    def _take(self, entry: Any, since: datetime | None, skip: Counter[tuple[Any, str]]) -> None:
        ts, message = entry.timestamp, entry.message or ""
        key = (ts, message)
        if since is not None and ts is not None and ts < since:
            return  # a server that ignores the filter: these were reported
        if skip[key] > 0:
            skip[key] -= 1
            return
        if ts is not None and (self.cursor is None or ts > self.cursor):
            self.cursor, self.seen_at_cursor = ts, Counter()
        self.seen_at_cursor[key] += 1
        self.lines.append(message)
        self.on_log(LogLine(ts, entry.level or "INFO", message))

    def _status(self, operation: str, state: str) -> None:
        self.on_status(JobStatus(self.job_id, operation, state, self.deployer.clock() - self.start))

    def _wait_until(self, next_check: float, operation: str, state: str) -> None:
        """Sleep to the next status check in short slices so the status line's clock keeps moving."""
        clock, sleep = self.deployer.clock, self.deployer.sleep
        while (remaining := next_check - clock()) > 0:
            sleep(min(remaining, self.poll.tick))
            if clock() < next_check:
                self._status(operation, state)

    def _logs_due(self, state: str) -> bool:
        now = self.deployer.clock()
        due = (
            state != "ACCEPTED"
            and (self.last_logs is None or now - self.last_logs >= self.poll.log_interval)
            and self.requests + 1 <= self.poll.burst + self.poll.request_rate * (now - self.start)
        )
        if due:
            self.last_logs = now
        return due

    def _get_job(self) -> Any:
        d = self.deployer
        self.requests += 1
        return d._call(f"reading job {self.job_id}", d.client.get_job, self.job_id).data

    def _poll(self, job: Any) -> Any:
        """Status checks until the job is in a terminal state; the final log fetch included."""
        interval = self.poll.first_interval
        next_check = self.start + interval if job.lifecycle_state not in TERMINAL_STATES else self.start
        while True:
            state, operation = job.lifecycle_state, job.operation or "JOB"
            self._status(operation, state)
            if state in TERMINAL_STATES:
                self.fetch_logs()  # read after the final state, so this fetch holds every remaining line
                return job
            waited = self.deployer.clock() - self.start
            if waited > getattr(self.deployer, "follow_timeout", float("inf")):
                raise JobUnfollowed(self.job_id, operation, f"stopped following after {waited:.0f} s (--timeout), the job being {state}")
            if self._logs_due(state):
                self.fetch_logs()
            self._wait_until(next_check, operation, state)
            interval = min(interval * self.poll.factor, self.poll.max_interval)
            next_check = self.deployer.clock() + interval
            job = self._get_job()

    def run(self, job: Any = None) -> JobResult:
        """Follow to the end; ``job`` is the Job the create call returned (without it, read at once)."""
        d = self.deployer
        d.current_job = (self.job_id, getattr(job, "operation", None) or "JOB")
        try:
            if job is None:
                job = self._get_job()
                d.current_job = (self.job_id, job.operation or "JOB")
            job = self._poll(job)
        except JobUnfollowed:
            raise  # the --timeout: already says which job and how to follow it
        except KeyboardInterrupt:
            raise JobInterrupted(self.job_id, d.current_job[1] if d.current_job else "JOB") from None
        except ResourceManagerError as exc:
            # The job goes on without us (the SDK's retries ran out): say so, with its id.
            raise JobUnfollowed(self.job_id, d.current_job[1] if d.current_job else "JOB", str(exc)) from None
        d.current_job = None
        d.last_follow_requests = self.requests
        return JobResult.from_job(job, self.lines)
