"""Issue 24: one build derives each fact once (derive -> emit -> zip -> checks).

Nothing is replaced: the derive functions are wrapped with counters (in every module that
imported them by name) around a real build of the reference stack and of variants with
sslip.io names, TURN/TLS through Caddy, alerts and several nodes. The config is loaded before
counting: loading derives the ports itself (`derive.ports.config_ports`: two services on one
port, the rule count against OCI's limit), which is validation of the input, not the build.
"""

from __future__ import annotations

import collections
import functools
import sys
from collections.abc import Iterator

import pytest
from test_alerts import ALARM, BUDGET
from test_server_files import VARIANTS
from variants import make_config

from generator.build import pipeline
from generator.derive import derived as derived_mod
from generator.derive import ports
from generator.derive.derived import derive
from generator.emit import render

# Derived facts, each computed once per build.
ONCE = (
    "server_livekit_settings",  # livekit.yaml as the server runs it
    "livekit_settings",
    "policy_from_livekit",  # the port policy
    "server_files",  # the server file set (user_data and the bundle)
    "host_expressions",
    "public_ip_expression",
    "template_variables",
    "template_variable_expressions",
    "build_model",  # the stack's variables
    "secret_env_lines",  # the app's secret environment (main.tf's locals)
    "extra_rules",  # the declared extras (the policy, and the port check in a build)
    "turn_tls",  # "is there a TURN/TLS host?"
    "redis_host",  # several nodes: node 1's name (LiveKit's redis:, REDIS_URL, NFS)
    "cloud_init_source",
    "zip_bytes",  # the zip itself (built, then measured by the fit check)
    "derive",
)


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[collections.Counter[str]]:
    counter: collections.Counter[str] = collections.Counter()
    wrapped: dict[int, object] = {}
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("generator.") and m is not None]:
        for name in ONCE:
            f = module.__dict__.get(name)
            if not callable(f) or not getattr(f, "__module__", "").startswith("generator."):
                continue
            if id(f) not in wrapped:
                @functools.wraps(f)
                def counted(*a: object, _f=f, _n=name, **k: object) -> object:
                    counter[_n] += 1
                    return _f(*a, **k)
                wrapped[id(f)] = counted
            monkeypatch.setattr(module, name, wrapped[id(f)])
    yield counter


CASES = {
    "reference": {},
    "auto-domains": {"domains": {"mode": "auto", "socket_host": None, "livekit_host": None}},
    "turn-via-caddy": VARIANTS["turn-via-caddy"],
    "alerts": {"budget": BUDGET, "traffic_alarm": ALARM},
    "three-nodes": {"always_free": False, "scale": {"nodes": 3, "quota": True}},
}


@pytest.mark.parametrize("case", CASES)
def test_each_fact_is_derived_once_per_build(case: str, counts: collections.Counter[str]) -> None:
    config = make_config(CASES[case])
    assert config.domains.auto == (case == "auto-domains")
    counts.clear()
    built = pipeline.build_config(config)
    assert built.report.ok
    assert {name: counts[name] for name in ONCE} == dict.fromkeys(ONCE, 1)
    # livekit_needs: once derived (the policy), once by the port check from the stack's own
    # livekit.yaml (it proves a hand-edited stack, so it reads the artefact back).
    assert counts["livekit_needs"] <= 2


def test_the_counter_sees_a_second_derivation(counts: collections.Counter[str]) -> None:
    """The count can fail: the old way (policy() beside the server files) derives twice."""
    config = make_config({})
    counts.clear()
    ports.policy(config)
    render.render_stack(config)
    assert counts["policy_from_livekit"] == 2


@pytest.mark.parametrize("name", VARIANTS)
def test_derived_policy_is_the_configs(name: str) -> None:
    """The policy derived from the server's livekit.yaml is the one `flowstack ports` shows."""
    config = make_config(VARIANTS[name])
    assert list(derive(config).rules) == ports.policy(config)
    assert derived_mod.Derived is type(derive(config))
