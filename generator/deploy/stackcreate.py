"""Creating a stack safely when two runs race, and repairing a compartment where they did.

Two `rm-apply` runs on one config both list no stack and both create one. Two guards:

* a deterministic ``opc-retry-token`` per compartment, name, zip and variables: Resource
  Manager answers a repeated token with the stack the first request created, so identical
  racing runs get one stack;
* create-then-recheck: after creating, list the stacks again; the oldest one wins (every
  run agrees on it), and a run whose new stack lost deletes it (it has no jobs yet) and
  updates the winner instead.

A compartment that already holds duplicates (made before these guards) is repaired by
`dedupe`: it keeps the stack with jobs (or the oldest) and deletes empty duplicates.

>>> retry_token("ocid1.compartment..x", "demo", b"zip", {})[:10]
'flowstack-'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from oci.resource_manager import models

from generator.core.errors import ResourceManagerError

STACK_TAG = "flowstack-stack"
TERRAFORM_VERSION = "1.5.x"
_GONE = ("DELETING", "DELETED", "FAILED")


def retry_token(compartment_id: str, name: str, zip_bytes: bytes, variables: Mapping[str, str], salt: str = "") -> str:
    """The same request (compartment, name, zip, variables) always gets the same token (<= 64 chars)."""
    blob = json.dumps([compartment_id, name, hashlib.sha256(zip_bytes).hexdigest(), sorted(variables.items()), salt])
    return "flowstack-" + hashlib.sha256(blob.encode()).hexdigest()[:48]


def list_ours(deployer: Any, name: str, compartment_id: str) -> list[Any]:
    """Every ACTIVE stack named ``name`` carrying our tag, oldest first."""
    stacks = deployer._all(
        f"listing stacks in compartment {compartment_id}",
        deployer.client.list_stacks,
        compartment_id=compartment_id,
        display_name=name,
        lifecycle_state="ACTIVE",
    )
    ours = [s for s in stacks if (s.freeform_tags or {}).get(STACK_TAG) == name and s.display_name == name]
    return sorted(ours, key=_age)


def _age(stack: Any) -> tuple[datetime, str]:
    created = stack.time_created or datetime.max
    return (created.replace(tzinfo=None) if isinstance(created, datetime) else datetime.max, stack.id)


def duplicates_error(name: str, stacks: list[Any], command: str = "flowstack rm-dedupe CONFIG") -> ResourceManagerError:
    ids = ", ".join(s.id for s in stacks)
    return ResourceManagerError(
        f"{len(stacks)} stacks named {name!r} tagged {STACK_TAG}={name} in the compartment ({ids}); "
        f"run `{command}` to keep one and delete the empty duplicates"
    )


def create(deployer: Any, name: str, compartment_id: str, zip_bytes: bytes, zip_b64: str, variables: Mapping[str, str]) -> tuple[Any, bool]:
    """Create the stack (or join the one a racing run created): (ACTIVE stack, created by us?)."""
    salt = ""
    for _ in range(3):
        details = models.CreateStackDetails(
            compartment_id=compartment_id,
            display_name=name,
            description=f"flowstack stack {name}",
            config_source=models.CreateZipUploadConfigSourceDetails(zip_file_base64_encoded=zip_b64),
            variables=dict(variables),
            terraform_version=TERRAFORM_VERSION,
            freeform_tags={STACK_TAG: name},
        )
        token = retry_token(compartment_id, name, zip_bytes, variables, salt)
        stack = deployer._call(f"creating stack {name}", deployer.client.create_stack, details, opc_retry_token=token).data
        if stack.lifecycle_state not in _GONE:
            break
        salt = stack.id  # the token named a stack deleted since: a new token, the same for every racer
    stack = deployer._wait_stack_active(stack)
    ours = list_ours(deployer, name, compartment_id)
    winner = ours[0] if ours else stack
    if winner.id == stack.id:
        return stack, True
    # A racing run's stack is older: ours has no jobs yet, so deleting it loses nothing.
    deployer._call(f"deleting duplicate stack {stack.id}", deployer.client.delete_stack, stack.id)
    deployer.hooks.on_note(f"Another run created stack {name} ({winner.id}) at the same time; deleted the duplicate {stack.id}")
    return winner, False


def dedupe(deployer: Any, name: str, compartment_id: str) -> tuple[Any, list[str]]:
    """Keep one stack named ``name``; delete duplicates that never ran a job. (kept, deleted ids)."""
    ours = list_ours(deployer, name, compartment_id)
    if not ours:
        raise ResourceManagerError(f"no stack {name!r} in compartment {compartment_id}; nothing to de-duplicate")
    used = [s for s in ours if deployer.latest_job(s.id) is not None]
    if len(used) > 1:
        ids = ", ".join(s.id for s in used)
        raise ResourceManagerError(
            f"{len(used)} stacks named {name!r} have jobs ({ids}); destroy the resources of all but one in the "
            "OCI console (Resource Manager > Stacks > Destroy, then Delete stack), then run rm-dedupe again"
        )
    keep = used[0] if used else ours[0]
    deleted = []
    for stack in ours:
        if stack.id != keep.id:
            deployer._call(f"deleting duplicate stack {stack.id}", deployer.client.delete_stack, stack.id)
            deleted.append(stack.id)
    return keep, deleted


def running_config(deployer: Any, stack_id: str) -> tuple[bytes, dict[str, str], dict[str, str]] | None:
    """What the server was last given: the zip and variables of the stack's newest succeeded
    APPLY job (``GET /jobs/{id}/tfConfig``), plus the stack's variables now; None before any APPLY.

    Not the stack's own zip: `rm-plan` uploads a zip without applying it.

    >>> zip_bytes, job_vars, stack_vars = running_config(deployer, stack.id)  # doctest: +SKIP
    >>> job_vars["socket_host"]  # doctest: +SKIP
    'space-socket.flow-coder.com'
    """
    stack = deployer._call(f"reading stack {stack_id}", deployer.client.get_stack, stack_id).data
    applied = deployer.latest_job(stack_id, operation="APPLY", state="SUCCEEDED")
    if applied is None:
        return None
    job = deployer._call(f"reading job {applied.id}", deployer.client.get_job, applied.id).data
    response = deployer._call(f"reading the zip of job {applied.id}", deployer.client.get_job_tf_config, applied.id)
    stack_vars = dict(stack.variables or {})
    return response.data.content, dict(job.variables if job.variables is not None else stack_vars), stack_vars
