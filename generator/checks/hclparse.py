"""python-hcl2's reading of a .tf file, parsed once per text.

The checks walk python-hcl2's document (labels with quotes, ``${...}`` expressions, block
markers); HashiCorp's parser (pygohcl, ~100x faster) gives the syntax verdict but not that
shape. python-hcl2's Lark parser costs about half a second per stack plus its import, and
a stack's text is the same from one `flowstack zip` to the next, so its result is kept per
text: in this process, and on disk under ``$XDG_CACHE_HOME/flowstack/hcl2/`` keyed by the
text's sha256 and the python-hcl2 release (a new release parses afresh). Only successful
parses are kept; a file that does not parse is parsed (and reported) every time.
``FLOWSTACK_HCL_CACHE=0`` turns the disk copy off.

>>> parse_hcl2('x = 1\\n')["x"]
1
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

_memo: dict[str, dict[str, Any]] = {}


@lru_cache(maxsize=1)
def _release() -> str:
    """python-hcl2's installed release, read from its dist-info name (importing it costs ~0.2 s)."""
    spec = importlib.util.find_spec("hcl2")
    origin = Path(spec.origin) if spec and spec.origin else None
    if origin is None:
        return "unknown"
    infos = sorted(p.name for p in origin.parent.parent.glob("python_hcl2-*.dist-info"))
    return infos[-1] if infos else f"mtime-{origin.stat().st_mtime_ns}"


def _cache_dir() -> Path | None:
    if os.environ.get("FLOWSTACK_HCL_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flowstack" / "hcl2" / _release()


def parse_hcl2(text: str) -> dict[str, Any]:
    """``hcl2.loads(text)``, from a cache when this text was parsed before; raises what it raises."""
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if key in _memo:
        return json.loads(json.dumps(_memo[key]))  # a fresh copy: callers may change theirs
    folder = _cache_dir()
    path = folder / f"{key}.json" if folder else None
    doc: dict[str, Any] | None = None
    if path is not None:
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            doc = None
    if doc is None:
        import hcl2  # only on a miss: its import alone costs ~0.2 s

        doc = hcl2.loads(text)
        _store(path, doc)
    _memo[key] = doc
    return json.loads(json.dumps(doc))


def _store(path: Path | None, doc: dict[str, Any]) -> None:
    """Write atomically (two zips at once never see half a file); a read-only home just skips it."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump(doc, f)
        os.replace(f.name, path)
    except OSError:
        pass
