"""Time passing: a job's state follows from the clock and its recorded start.

A job does not need a live thread to make progress: its whole script (log lines at
offsets from its start, final state, outputs) is decided when it is created and saved
with it.  `Progress.advance` moves every running job to the state the clock says it is
in, so a restarted emulator resumes a job mid-way, and one that should have finished while
the emulator was down is finished on the first look.  What Terraform got done before the
job ended is then written into its stack's ``_applied`` addresses.

>>> state.advance()  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

from .records import format_ms
from .store import FINAL_JOB_STATES, Store


class Progress(Store):
    """`advance`, which every API call runs first (`EmulatorState` mixes it in)."""

    def advance(self) -> bool:
        """Bring every running job to the state the clock says it is in; save if any moved."""
        with self.lock:
            now = self.now_ms()
            changed = False
            for job in self.data["jobs"].values():
                if job["_done"]:
                    continue
                target, end = _state_at(job, now - job["_startMs"])
                if target == job["lifecycleState"]:
                    continue
                changed = True
                job["lifecycleState"] = target
                if target in FINAL_JOB_STATES:
                    self._finish(job, end)
            if changed:
                self.save()
            return changed

    def _finish(self, job: dict[str, Any], end_ms: int) -> None:
        job["timeFinished"] = format_ms(job["_startMs"] + end_ms)
        if job["lifecycleState"] == "FAILED":
            job["failureDetails"] = job["_failure"]
        job["_done"] = True
        stack = self.data["stacks"].get(job["stackId"])
        if stack is None:
            return
        # What Terraform got done before it stopped is in the stack's state, whatever the end.
        applied = list(stack["_applied"])
        for offset, _level, _message, effect in job["_script"]:
            if offset > end_ms or not effect:
                continue
            action, address = effect
            if action == "create" and address not in applied:
                applied.append(address)
            elif action == "destroy" and address in applied:
                applied.remove(address)
        stack["_applied"] = applied


def _state_at(job: dict[str, Any], elapsed: int) -> tuple[str, int]:
    """(lifecycle state, end offset) of a job ``elapsed`` ms after its start."""
    if job["_cancel"]:
        end = job["_cancel"]["endMs"]
        return ("CANCELING" if elapsed < end else "CANCELED"), end
    end = job["_durationMs"]
    if elapsed < job["_acceptedMs"]:
        return "ACCEPTED", end
    if elapsed < end:
        return "IN_PROGRESS", end
    return job["_endState"], end
