"""Which terraform binary: ``FLOWSTACK_TERRAFORM``, the repository's ``.tools/``, or PATH.

The one home of how flowstack finds Terraform and says how to get one (``HOW_TO_GET``).

Example::

    >>> Terraform("/usr/bin/terraform", "1.5.7").is_rm_line
    True
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TERRAFORM_ENV = "FLOWSTACK_TERRAFORM"
REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / ".tools"
HOW_TO_GET = ("install Terraform 1.5.x (Resource Manager's line), run `make terraform` "
              "(builds 1.5.7 into .tools/; or `go install github.com/hashicorp/terraform@v1.5.7`), "
              f"or set {TERRAFORM_ENV}=/path/to/terraform")


class TerraformNotFound(Exception):
    """No terraform binary: the message says how to get one."""


@dataclass(frozen=True)
class Terraform:
    """A terraform binary and its version (``1.5.7``)."""

    path: str
    version: str

    @property
    def is_rm_line(self) -> bool:
        """True for 1.5.x, the line OCI Resource Manager runs."""
        return self.version.startswith("1.5.")


def terraform_version(path: str) -> str:
    """The version a terraform binary reports (``terraform version -json``).

    Example::

        terraform_version(".tools/terraform-1.5.7/terraform")   # '1.5.7'
    """
    out = subprocess.run([path, "version", "-json"], check=False, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "CHECKPOINT_DISABLE": "1", "HOME": tempfile.gettempdir()})
    return str(json.loads(out.stdout)["terraform_version"])


def find_terraform(env: Mapping[str, str] | None = None, tools_dir: Path = TOOLS_DIR) -> Terraform:
    """The terraform to use (see the module docstring for the order).

    Example::

        >>> find_terraform({"FLOWSTACK_TERRAFORM": "/no/such/terraform"})
        Traceback (most recent call last):
        ...
        generator.tfdouble.binary.TerraformNotFound: FLOWSTACK_TERRAFORM=/no/such/terraform is not an executable; ...
    """
    env = os.environ if env is None else env
    chosen = env.get(TERRAFORM_ENV)
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise TerraformNotFound(f"{TERRAFORM_ENV}={chosen} is not an executable; {HOW_TO_GET}")
        return Terraform(chosen, terraform_version(chosen))
    built = sorted(tools_dir.glob("terraform-1.5.*/terraform"), key=lambda p: _version_key(p.parent.name))
    if built:
        return Terraform(str(built[-1]), terraform_version(str(built[-1])))
    on_path = shutil.which("terraform", path=env.get("PATH"))
    if on_path:
        return Terraform(on_path, terraform_version(on_path))
    raise TerraformNotFound(f"no terraform found; {HOW_TO_GET}")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))
