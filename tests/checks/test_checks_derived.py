"""Issue 24: the checks take `Derived` when the pipeline has one, and still read the artefacts back.

Nothing is replaced: real renders of a config with a declared extra port, checked three ways
(with its `Derived`, with its config, as a stack directory's files alone), and a `Derived`
that does not declare the extra port, to show the port check reads the declared extras from
the `Derived` it is given (and fails when the security list opens more than it declares).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from variants import make_config

from generator.checks.report import FAIL, PASS, WARN
from generator.checks.run import validate_files
from generator.derive.derived import derive
from generator.emit.render import emit_stack

EXTRA = {"extra_ports": [{"protocol": "tcp", "port": 9100, "source": "10.0.0.0/16", "reason": "node exporter scraped from the VCN"}]}


def _status(report: object, check: str) -> str:
    return next(r.status for r in report.results if r.check == check)  # type: ignore[attr-defined]


def _without_rule(main: str, description: str) -> str:
    """main.tf with the ingress rule that has ``description`` cut out, as a hand edit would."""
    at = main.index(f'description = "{description}')
    start = main.rindex("  ingress_security_rules {", 0, at)
    end = main.index("\n  }\n", at) + len("\n  }\n")
    return main[:start] + main[end:]


def test_the_same_verdicts_with_derived_config_or_files_alone() -> None:
    d = derive(make_config(EXTRA))
    files = emit_stack(d)
    by_derived, by_config, by_files = validate_files(files, d), validate_files(files, d.config), validate_files(files)
    assert by_derived.ok and by_config.ok and by_files.ok
    assert [(r.check, r.status, r.detail) for r in by_derived.results] == [(r.check, r.status, r.detail) for r in by_config.results]
    assert _status(by_files, "port policy") == PASS


def test_the_port_check_reads_the_declared_extras_from_derived() -> None:
    """Negative control: a Derived that declares no extra port makes the emitted 9100 rule undeclared."""
    d = derive(make_config(EXTRA))
    files = emit_stack(d)
    undeclared = dataclasses.replace(d, extras=())
    result = next(r for r in validate_files(files, undeclared).results if r.check == "port policy")
    assert result.status == FAIL
    assert any("9100/tcp" in p and "declare it in extra_ports" in p for p in result.problems), result.problems


def test_a_hand_edited_file_is_checked_as_written_even_with_derived() -> None:
    """The checks read the files back: a security-list rule removed by hand fails although `Derived` has it."""
    d = derive(make_config(EXTRA))
    files = dict(emit_stack(d))
    files["main.tf"] = _without_rule(files["main.tf"].decode(), "extra_ports: node exporter").encode()
    assert "9100" not in files["main.tf"].decode()
    result = next(r for r in validate_files(files, d).results if r.check == "port policy")
    assert result.status == FAIL
    assert any("9100/tcp" in p and "is missing" in p for p in result.problems), result.problems


def test_the_checks_read_the_date_the_build_derived_for() -> None:
    """The Always Free check reads the limits in force on `Derived.on` when no date is given: 4 OCPU /
    24 GB pass before the reported 2 / 12 reading (2026-06-15) and warn after it."""
    config = make_config({"instance": {"ocpus": 4, "memory_gbs": 24}})
    before, after = derive(config, dt.date(2026, 1, 1)), derive(config, dt.date(2026, 11, 26))
    assert _status(validate_files(emit_stack(before), before), "always free") == PASS
    assert _status(validate_files(emit_stack(after), after), "always free") == WARN
