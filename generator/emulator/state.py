"""Stacks and jobs of the Resource Manager emulator, kept in one JSON file.

`EmulatorState` is the whole of it, put together from its parts: `store` (the state
file, the lock, ids, blobs, lookups), `progress` (jobs move on with the clock), `stacks`
and `jobs` (the endpoints' state changes; `jobs.JobsMixin._start_job` is where a job
starts).  The names the HTTP side and other modules use are re-exported here.

>>> state = EmulatorState("/tmp/rm-state.json", job_seconds=1.0)  # doctest: +SKIP
>>> state.get_stack("ocid1.ormstack.oc1..x")  # doctest: +SKIP
"""

from __future__ import annotations

from .jobs import CANCEL_DELAY_MS, JobsMixin
from .records import (
    JOB_SUMMARY_FIELDS,
    STACK_SUMMARY_FIELDS,
    ApiError,
    etag_of,
    format_ms,
    invalid,
    not_found,
    parse_time_us,
    public_view,
)
from .stacks import StacksMixin
from .store import ACTIVE_JOB_STATES, FINAL_JOB_STATES, STATE_VERSION, EmulatorStateError

__all__ = [
    "ACTIVE_JOB_STATES", "CANCEL_DELAY_MS", "FINAL_JOB_STATES", "JOB_SUMMARY_FIELDS", "STACK_SUMMARY_FIELDS",
    "STATE_VERSION", "ApiError", "EmulatorState", "EmulatorStateError", "etag_of", "format_ms", "invalid",
    "not_found", "parse_time_us", "public_view",
]


class EmulatorState(JobsMixin, StacksMixin):
    """All stacks, jobs and uploaded zips; thread-safe; saved after every change."""
