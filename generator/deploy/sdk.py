"""How the `oci` SDK is driven: its retry strategy, when a connection error is worth retrying, Ctrl-C around creates.

>>> sdk_retry_strategy(RetrySettings()).max_attempts  # doctest: +SKIP
8
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import oci

from .results import RetrySettings


def sdk_retry_strategy(settings: RetrySettings) -> Any:
    # 409 is left out on purpose: a conflicting job on the stack must be reported at once,
    # not retried for minutes.  Throttles get equal jitter (a real back-off) instead of the
    # full jitter used for other errors: that is "backing off harder on 429".
    return oci.retry.RetryStrategyBuilder(
        max_attempts_check=True,
        max_attempts=settings.api_attempts,
        total_elapsed_time_check=True,
        total_elapsed_time_seconds=settings.api_seconds,
        service_error_check=True,
        service_error_retry_config={-1: [], 429: []},
        service_error_retry_on_any_5xx=True,
        retry_base_sleep_time_seconds=settings.api_base_sleep,
        retry_exponential_growth_factor=2,
        retry_max_wait_between_calls_seconds=settings.api_max_sleep,
        backoff_type=oci.retry.BACKOFF_FULL_JITTER_EQUAL_ON_THROTTLE_VALUE,
    ).get_retry_strategy()


class KnownReachable(oci.retry.retry_checkers.BaseRetryChecker):
    """Retry connection errors only once the service has answered at least once.

    A restarted or briefly unreachable service is worth waiting for; a wrong --endpoint
    or no network at all is not, and would otherwise cost half a minute of retries.
    """

    def __init__(self, deployer: Any) -> None:
        super().__init__()
        self.deployer = deployer

    def should_retry(self, exception: Any = None, response: Any = None, **kwargs: Any) -> bool:
        if isinstance(exception, oci.exceptions.ServiceError):
            return True
        return self.deployer.reached


@contextlib.contextmanager
def hold_interrupt() -> Iterator[None]:
    """Delay Ctrl-C until a create call has returned, so the id it made is never lost.

    Without this, an interrupt landing while ``POST /jobs`` is in flight leaves a job
    running that nobody knows the id of.  Signals can only be handled in the main thread;
    elsewhere this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        # None means a handler not set from Python; the default is the closest match.
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if received:
        raise KeyboardInterrupt
