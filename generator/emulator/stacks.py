"""Stacks of the Resource Manager emulator: create, read, list, update, delete, their zip.

A stack keeps its uploaded zip as a blob digest (``_zip``), the addresses Terraform has
created for it so far (``_applied``) and the tenancy of whoever created it (``_tenancy``,
for the auto-filled ``tenancy_ocid``).

>>> state.create_stack({"compartmentId": "ocid1.compartment.oc1..x",  # doctest: +SKIP
...                     "configSource": {"configSourceType": "ZIP_UPLOAD", "zipFileBase64Encoded": zip64}}, None)
"""

from __future__ import annotations

import copy
from typing import Any

from .auth import Principal
from .limits import LimitError, decode_zip
from .progress import Progress
from .records import ApiError, check_etag, default_name, format_ms, invalid, matches, missing, str_map
from .simulate import DEFAULT_TERRAFORM_VERSION, TERRAFORM_BUILDS


class StacksMixin(Progress):
    """The stack endpoints' state changes (`EmulatorState` mixes them in)."""

    def create_stack(self, details: Any, principal: Principal | None, retry_token: str | None = None) -> dict[str, Any]:
        if not isinstance(details, dict):
            raise invalid("the body must be a CreateStackDetails object")
        with self.lock:
            self.advance()
            hit = self._retry_hit(retry_token, "stack")
            if hit is not None:
                return hit
            stack = self._new_stack(details, principal)
            self.data["stacks"][stack["id"]] = stack
            self._remember_retry(retry_token, "stack", stack["id"])
            self.save()
            return stack

    def _new_stack(self, details: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
        compartment = details.get("compartmentId")
        if not isinstance(compartment, str) or not compartment:
            raise missing("compartmentId is required")
        source = details.get("configSource")
        if not isinstance(source, dict):
            raise missing("configSource is required")
        zip_digest, working_dir = self._config_source(source, require_zip=True)
        terraform_version = details.get("terraformVersion") or DEFAULT_TERRAFORM_VERSION
        _check_terraform_version(terraform_version)
        now = self.now_ms()
        return {
            "id": self._new_id("ormstack"),
            "compartmentId": compartment,
            "displayName": details.get("displayName") or default_name("ormstack", now),
            "description": details.get("description"),
            "timeCreated": format_ms(now),
            "lifecycleState": "ACTIVE",
            "configSource": {"configSourceType": "ZIP_UPLOAD", "workingDirectory": working_dir},
            "variables": str_map(details.get("variables"), "variables"),
            "terraformVersion": terraform_version,
            "stackDriftStatus": "NOT_CHECKED",
            "isThirdPartyProviderExperienceEnabled": False,
            "freeformTags": str_map(details.get("freeformTags"), "freeformTags"),
            "definedTags": details.get("definedTags") or {},
            "_zip": zip_digest,
            "_applied": [],
            "_tenancy": principal.tenancy if principal else None,
        }

    def _config_source(self, source: dict[str, Any], *, require_zip: bool) -> tuple[str | None, str | None]:
        kind = source.get("configSourceType")
        if kind != "ZIP_UPLOAD":
            raise invalid(f"configSourceType {kind!r} is not supported by the emulator (only ZIP_UPLOAD)")
        encoded = source.get("zipFileBase64Encoded")
        digest = None
        if encoded is None:
            if require_zip:
                raise missing("configSource.zipFileBase64Encoded is required")
        else:
            try:  # base64, and no zip bomb: refused before any job inflates it
                digest = self._store_blob(decode_zip(encoded))
            except LimitError as exc:
                raise invalid(f"configSource.zipFileBase64Encoded {exc}") from None
        working_dir = source.get("workingDirectory")
        if working_dir is not None and not isinstance(working_dir, str):
            raise invalid("configSource.workingDirectory must be a string")
        return digest, working_dir

    def get_stack(self, stack_id: str) -> dict[str, Any]:
        with self.lock:
            self.advance()
            return self._stack(stack_id, allow_deleted=True)

    def list_stacks(self, *, compartment_id: str | None, stack_id: str | None, lifecycle_state: str | None,
                    display_name: str | None) -> list[dict[str, Any]]:
        if not compartment_id and not stack_id:
            raise missing("either compartmentId or id is required")
        with self.lock:
            self.advance()
            filters = {"compartmentId": compartment_id, "id": stack_id, "displayName": display_name, "lifecycleState": lifecycle_state}
            # Deleted stacks only show when asked for, as they fall out of real listings.
            return [s for s in self.data["stacks"].values()
                    if matches(s, filters) and (lifecycle_state or s["lifecycleState"] != "DELETED")]

    def update_stack(self, stack_id: str, details: Any, if_match: str | None) -> dict[str, Any]:
        if not isinstance(details, dict):
            raise invalid("the body must be an UpdateStackDetails object")
        with self.lock:
            self.advance()
            stack = self._stack(stack_id)
            check_etag(stack, if_match)
            updated = self._updated_stack(stack, details)
            self.data["stacks"][stack_id] = updated
            self.save()
            return updated

    def _updated_stack(self, stack: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``stack`` with the fields an UpdateStackDetails gives (None leaves a field)."""
        updated = copy.deepcopy(stack)
        if "configSource" in details and details["configSource"] is not None:
            digest, working_dir = self._config_source(details["configSource"], require_zip=False)
            if digest:
                updated["_zip"] = digest
            if "workingDirectory" in details["configSource"]:
                updated["configSource"]["workingDirectory"] = working_dir
        for key in ("displayName", "description"):
            if details.get(key) is not None:
                updated[key] = details[key]
        if details.get("variables") is not None:
            updated["variables"] = str_map(details["variables"], "variables")
        if details.get("freeformTags") is not None:
            updated["freeformTags"] = str_map(details["freeformTags"], "freeformTags")
        if details.get("definedTags") is not None:
            updated["definedTags"] = details["definedTags"]
        if details.get("terraformVersion") is not None:
            _check_terraform_version(details["terraformVersion"])
            updated["terraformVersion"] = details["terraformVersion"]
        return updated

    def delete_stack(self, stack_id: str, if_match: str | None) -> None:
        with self.lock:
            self.advance()
            stack = self._stack(stack_id)
            check_etag(stack, if_match)
            running = self._active_job(stack_id)
            if running:
                raise ApiError(409, "Conflict", f"stack {stack_id} cannot be deleted while job {running['id']} is {running['lifecycleState']}")
            stack["lifecycleState"] = "DELETED"
            self.save()

    def stack_zip(self, stack_id: str) -> bytes:
        with self.lock:
            return self._blob(self._stack(stack_id)["_zip"])



def _check_terraform_version(version: Any) -> None:
    if version not in TERRAFORM_BUILDS:
        raise invalid(f"terraformVersion {version!r} is not supported; use one of {', '.join(TERRAFORM_BUILDS)}")
