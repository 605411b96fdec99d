"""Issue 15: user_data + the config bundle + the SSH key fit OCI's instance metadata limit.

OCI allows 32,000 bytes for metadata + extended_metadata together (checks/fit.py,
METADATA_LIMIT_BYTES). The check estimates the bundle from its templates (each placeholder a
64-character random-looking value); tests/emit/test_bundle_inplace.py holds that estimate against
the size real Terraform produces. Nothing is replaced here.
"""

from __future__ import annotations

import json
import secrets

import pytest
from test_server_files import VARIANTS
from variants import LARGEST, make_config

from generator.checks.fit import METADATA_LIMIT_BYTES, SSH_KEY_ALLOWANCE, _user_data_size, bundle_size, check_rm_fit
from generator.checks.report import FAIL, PASS
from generator.checks.stack import Stack
from generator.config.load import parse_config
from generator.core.contract import BUNDLE_MANIFEST
from generator.emit.render import render_stack


def _sizes(files: dict[str, bytes]) -> tuple[int, int]:
    stack = Stack(files)
    user_data, bundle = _user_data_size(stack), bundle_size(stack)
    assert user_data is not None and bundle is not None
    return user_data, bundle


def test_the_largest_variant_fits_with_the_ssh_key_allowance() -> None:
    files = render_stack(parse_config(LARGEST))
    user_data, bundle = _sizes(files)
    # It is the largest: every documented variant needs less.
    for changes in VARIANTS.values():
        assert sum(_sizes(render_stack(make_config(changes)))) < user_data + bundle
    assert user_data + bundle + SSH_KEY_ALLOWANCE <= METADATA_LIMIT_BYTES
    result = check_rm_fit(Stack(files))
    assert result.status == PASS and f"metadata ~{user_data + bundle + SSH_KEY_ALLOWANCE:,} B of 32,000" in result.detail


@pytest.mark.parametrize("extra", [24_000, 30_000])
def test_a_bundle_over_the_limit_is_reported(extra: int) -> None:
    """A hand-edited stack whose bundle carries a large incompressible file: the check fails
    and names the parts. (Fails if the bundle were left out of the sum.)"""
    files = render_stack(parse_config(LARGEST))
    manifest = json.loads(files[BUNDLE_MANIFEST])
    manifest["files"].append({"path": "/opt/flowstack/blob.txt", "source": "bundle/blob.txt", "mode": "0644", "encoding": "text", "service": "none"})
    files[BUNDLE_MANIFEST] = json.dumps(manifest).encode()
    files["bundle/blob.txt"] = secrets.token_hex(extra // 2).encode()
    user_data, bundle = _sizes(files)
    assert user_data < METADATA_LIMIT_BYTES - SSH_KEY_ALLOWANCE  # user_data alone would pass
    result = check_rm_fit(Stack(files))
    assert result.status == FAIL
    assert any(f"user_data {user_data:,} + config bundle {bundle:,}" in p and "over OCI's 32,000-byte limit" in p for p in result.problems), result.problems
