"""Entry point of the provider executables (``python -m generator.tfdouble oci|random``) and of
one emulator job (``python -m generator.tfdouble job OP WORKDIR ...``, see `job`).

Example::

    TF_PLUGIN_MAGIC_COOKIE=... python -m generator.tfdouble oci
"""

from __future__ import annotations

import sys

from . import job
from .schema import PROVIDERS
from .server import serve


def main(argv: list[str]) -> int:
    if argv[:1] == ["job"]:
        return job.main(argv[1:])
    if len(argv) != 1 or argv[0] not in PROVIDERS:
        print(f"usage: python -m generator.tfdouble {{{'|'.join(PROVIDERS)}}} | job OP WORKDIR ...", file=sys.stderr)
        return 2
    return serve(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
