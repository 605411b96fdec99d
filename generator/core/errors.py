"""Every error flowstack shows a user.

The library raises these and never exits; `cli.main` is the one place that turns them
into ``Error: <message>`` and an exit code.  Each subclass builds its own message from
structured fields, so callers raise with data, not with prose assembled at the call site.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FlowstackError(Exception):
    """Base of every user-facing error. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t",
                                                                          0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text: str) -> str:
    """``text`` with every line break and control character escaped (``\\n``, ``\\x1b``...): a
    name or value the user typed can never split an ``Error:`` line or drive the terminal.

    >>> one_line("a\\nb\\x1b[2J")
    'a\\\\nb\\\\x1b[2J'
    """
    return text.translate(_CONTROL)


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``' (did you mean "x"?)'`` for the closest choice, or ``''`` when none is close."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


class ConfigError(FlowstackError, ValueError):
    """A config file that cannot be turned into a stack.

    ``field`` is the dotted path inside the config (``livekit.rtc.tcp_port``), ``value``
    the offending value, ``expected`` what would be right.
    """

    exit_code = 2

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        field: str | None = None,
        value: object = None,
        expected: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path, self.problem, self.field = path, problem, field
        self.value, self.expected, self.line = value, expected, line
        where = f"{path}:{line}" if line else path
        parts = [where]
        if field:
            parts.append(f"{field}")
        msg = ": ".join(parts) + f": {problem}"
        if value is not None:
            msg += f" (got {value!r})"
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg)


class ConfigNotFoundError(ConfigError, FileNotFoundError):
    def __init__(self, path: str) -> None:
        super().__init__(path, "config file not found", expected="a path to a stacks/<name>.yaml file")


class RenderError(FlowstackError):
    """A template could not be rendered (a bug in flowstack, not in the user's config)."""


class ValidationFailed(FlowstackError):
    """`validate` found failures; ``report`` holds every check's result."""

    exit_code = 3

    def __init__(self, report: object, summary: str) -> None:
        self.report = report
        super().__init__(summary)


class PackageError(FlowstackError, OSError):
    """The build directory or zip could not be written."""


class OciConfigError(FlowstackError):
    """The OCI config, profile, key or compartment is missing or broken."""

    exit_code = 4


class ResourceManagerError(FlowstackError):
    """A Resource Manager call or job failed."""

    exit_code = 5


class JobFailed(ResourceManagerError):
    def __init__(self, job_id: str, operation: str, code: str | None, message: str | None, last_lines: list[str]) -> None:
        self.job_id, self.operation, self.code = job_id, operation, code
        self.failure_message, self.last_lines = message, last_lines
        text = f"{operation} job {job_id} failed"
        if code or message:
            text += f": {code or 'UNKNOWN'}: {message or ''}".rstrip(": ")
        if last_lines:
            text += "\nLast log lines:\n" + "\n".join(f"  {line}" for line in last_lines)
        super().__init__(text)


class CapacityFailed(JobFailed):
    """An APPLY that failed for want of A1 capacity, with what to do about it."""

    def __init__(self, failed: JobFailed, hint: str) -> None:
        self.hint = hint
        super().__init__(failed.job_id, failed.operation, failed.code, failed.failure_message, failed.last_lines)
        first, sep, rest = self.message.partition("\n")
        self.message = f"{first}; {hint}{sep}{rest}"
        self.args = (self.message,)


class JobConflict(ResourceManagerError):
    """Resource Manager answered 409: another job is running on the stack."""

    def __init__(self, stack_id: str, detail: str, follow_command: str | None = None) -> None:
        self.stack_id, self.detail = stack_id, detail
        self.follow_command = follow_command or "flowstack rm-status CONFIG --follow"
        # The service's own text names the stack again; say its id once.
        shown = detail.replace(f"stack {stack_id}", "the stack").replace(stack_id, "the stack")
        super().__init__(
            f"another job is already running on stack {stack_id} ({shown}); "
            f"wait for it with `{self.follow_command}` and run the command again"
        )

    def with_command(self, follow_command: str) -> JobConflict:
        """The same error naming the exact command (the library does not know the config path)."""
        return type(self)(self.stack_id, self.detail, follow_command)


class CostError(FlowstackError, ValueError):
    """A cost estimate asked for with an input the price data cannot answer.

    ``field`` names the input (``region``, ``scenario.spaces``), ``value`` what was given;
    ``choices``, when given, are the accepted values for a did-you-mean hint.
    """

    exit_code = 2

    def __init__(self, field: str, value: object, problem: str, *, choices: Iterable[str] = ()) -> None:
        self.field, self.value, self.problem = field, value, problem
        hint = did_you_mean(str(value), choices) if choices else ""
        super().__init__(f"{field}: {problem} (got {value!r}){hint}")


class Throttled(ResourceManagerError):
    """Resource Manager kept answering 429 after the SDK's bounded retries."""

    def __init__(self, what: str, retried_seconds: float) -> None:
        self.what = what
        super().__init__(
            f"Resource Manager kept answering 429 TooManyRequests ({what}) through retries with back-off "
            f"(up to {retried_seconds:g} s); wait a few minutes and run the command again"
        )


class JobUnfollowed(ResourceManagerError):
    """flowstack stopped following a job that goes on running in Resource Manager."""

    def __init__(self, job_id: str, operation: str, reason: str, follow_command: str | None = None) -> None:
        self.job_id, self.operation, self.reason = job_id, operation, reason
        self.follow_command = follow_command or f"flowstack rm-status CONFIG {job_id} --follow"
        super().__init__(
            f"{reason}; {operation} job {job_id} keeps running in Resource Manager (it was not canceled). "
            f"Follow it with: {self.follow_command}"
        )

    def with_command(self, follow_command: str) -> JobUnfollowed:
        """The same error naming the exact command (the library does not know the config path)."""
        return type(self)(self.job_id, self.operation, self.reason, follow_command)


class JobInterrupted(JobUnfollowed):
    """Ctrl-C while following a job: the job is not canceled."""

    exit_code = 130

    def __init__(self, job_id: str, operation: str, reason: str = "interrupted", follow_command: str | None = None) -> None:
        super().__init__(job_id, operation, reason, follow_command)


class ApprovalRequired(FlowstackError):
    """A change that needs a yes, asked with no terminal to answer on."""

    def __init__(self, what: str, command: str) -> None:
        self.command = command
        super().__init__(f"{what}: there is no terminal to confirm on; to go ahead, run: {command}")


class Interrupted(FlowstackError):
    """Ctrl-C at a moment when no job is running."""

    exit_code = 130


class ProviderSchemaError(FlowstackError):
    """The bundled provider-schema snapshot is missing or unreadable: a broken install or
    a snapshot written by an incompatible tool, never a problem in the user's config."""


class InvalidOption(FlowstackError):
    """A command-line option whose value has the wrong form (checked before any request)."""

    exit_code = 2

    def __init__(self, option: str, value: str, expected: str) -> None:
        self.option, self.value = option, value
        super().__init__(f"{option}: got {value!r}; expected {expected}")


class UnknownVariable(FlowstackError):
    """``--var`` names a variable the stack does not declare (a typo, most often)."""

    exit_code = 2

    def __init__(self, stack: str, names: list[str], known: Iterable[str]) -> None:
        self.stack, self.names, self.known = stack, list(names), sorted(known)
        parts = []
        for name in self.names:
            hint = did_you_mean(name, self.known) or f" (its variables: {', '.join(self.known)})"
            parts.append(f"--var {one_line(name)}: stack {stack} has no variable {one_line(name)}{hint}")
        super().__init__("; ".join(parts))


class InvalidVariable(FlowstackError):
    """A ``--var`` value breaks the stack's own ``validation`` rule (checked before any request)."""

    exit_code = 2

    def __init__(self, name: str, shown_value: str, rule_message: str) -> None:
        self.name, self.rule_message = name, rule_message
        super().__init__(f"--var {one_line(name)}={one_line(shown_value)}: {rule_message} (the stack's validation rule; nothing was sent)")


class MissingVariables(FlowstackError):
    """Variables with no default and no value, found before anything is uploaded or run.

    ``examples`` maps each name to a sample value for the ``--var NAME=VALUE`` hint.
    """

    exit_code = 2

    def __init__(self, stack: str, names: list[str], examples: dict[str, str]) -> None:
        self.stack, self.names, self.examples = stack, list(names), dict(examples)
        listed = ", ".join(self.names)
        flags = " ".join(f"--var {name}={self.examples.get(name, 'VALUE')}" for name in self.names)
        super().__init__(
            f"stack {stack} has no value for {listed} (no default, and not set on the stack yet); "
            f"pass {'it' if len(self.names) == 1 else 'them'} with {flags}"
        )


class InstanceReplacement(FlowstackError):
    """The plan replaces or destroys the server, and --allow-replace was not given.

    ``changes`` are ``(address, "replaced" | "destroyed")`` pairs from the plan's log;
    ``summary`` is its ``(add, change, destroy)`` counts, for the caller to show.
    """

    def __init__(
        self,
        plan_job_id: str,
        changes: list[tuple[str, str]],
        summary: tuple[int, int, int] | None,
        command: str | None = None,
    ) -> None:
        self.plan_job_id, self.changes, self.summary = plan_job_id, list(changes), summary
        self.command = command or "flowstack rm-apply CONFIG --allow-replace"
        replaced = [address for address, action in self.changes if action == "replaced"]
        destroyed = [address for address, action in self.changes if action == "destroyed"]
        if replaced:
            what = f"replace the server ({', '.join(replaced)})"
            if destroyed:
                what += f" and destroy {', '.join(destroyed)}"
            effect = "its boot disk would be wiped, and its public IP would change unless it is a reserved one (network.reserved_ip)"
            cause = "this happens when cloud-init (the server setup in the config) or the image changed"
        else:
            what = f"destroy the server ({', '.join(destroyed)})"
            effect = "its boot disk would be deleted and its public IP released"
            cause = "this happens when the instance was removed from or renamed in the stack"
        super().__init__(
            f"PLAN job {plan_job_id} would {what}: {effect} ({cause}); nothing was applied. "
            f"To go ahead anyway, run: {self.command}"
        )

    def with_command(self, command: str) -> InstanceReplacement:
        """The same error naming the exact command (the library does not know the config path)."""
        return type(self)(self.plan_job_id, self.changes, self.summary, command)
