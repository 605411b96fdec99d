"""Issue 23.4: `flowstack env` reads any outputs file without a traceback, and writes values the
front end's loader reads back exactly, expanding nothing.

* Each bad input class (nesting 100,000 deep: RecursionError before; a 100,000-digit number:
  ValueError; a UTF-16 file: UnicodeDecodeError; NaN; 1e999; not UTF-8; over the size bound)
  gives one `Error:` line, beside the nearest accepted input.
* The written block is read back with Next.js's own loader, `@next/env` (dotenv + dotenv-expand,
  from npm, installed by `make node` into the repository's node_modules) through
  tools/nextenv.js: every value comes back byte for byte, and ``${LIVEKIT_API_SECRET}`` in a
  public value is not expanded (it would ship the secret in browser code). The old
  ``json.dumps`` syntax is read back wrong by the same loader (the failing case).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.build.envfile import ENV_OUTPUTS, MAX_BYTES, MAX_NUMBER_CHARS

ROOT = Path(__file__).resolve().parents[2]
NEXT_ENV = ROOT / "node_modules" / "@next" / "env"
GOOD = {"NEXT_PUBLIC_SOCKET_URL": "https://socket.example.com", "NEXT_PUBLIC_LIVEKIT_URL": "wss://livekit.example.com",
        "LIVEKIT_URL": "wss://livekit.example.com", "LIVEKIT_API_KEY": "APIkey", "LIVEKIT_API_SECRET": "s3cr3t"}


def _outputs(values: dict[str, str]) -> str:
    return json.dumps({k: {"value": v, "sensitive": k == "LIVEKIT_API_SECRET"} for k, v in values.items()})


def _env(tmp_path: Path, raw: bytes) -> tuple[int, str]:
    f = tmp_path / "out.json"
    f.write_bytes(raw)
    r = CliRunner().invoke(cli, ["env", str(f)])
    return r.exit_code, r.output


def _with(extra: bytes) -> bytes:
    """The good outputs plus one more output whose value is ``extra`` (raw JSON text)."""
    return b'{"EXTRA": {"value": ' + extra + b', "sensitive": false}, ' + _outputs(GOOD).encode()[1:]


# (bad bytes, what the one line says, nearest accepted bytes)
CLASSES = {
    "deep": (_with(b"[" * 100_000 + b"]" * 100_000), "nests deeper than", _with(b"[" * 10 + b"]" * 10)),
    "huge-int": (_with(b"9" * 100_000), "digits", _with(b"9" * MAX_NUMBER_CHARS)),
    "huge-float": (_with(b"1e999"), "too large", _with(b"1e300")),
    "nan": (_with(b"NaN"), "not a JSON number", _with(b"0")),
    "utf16-bom": (_outputs(GOOD).encode("utf-16"), "UTF-16", b"\xef\xbb\xbf" + _outputs(GOOD).encode()),
    "utf16-le": (_outputs(GOOD).encode("utf-16-le"), "UTF-16", _outputs(GOOD).encode()),
    "latin1": (_with('"é"'.encode("latin-1")), "not UTF-8", _with('"é"'.encode())),
    "too-large": (b" " * (MAX_BYTES + 1) + _outputs(GOOD).encode(), "MB", b" " * 1000 + _outputs(GOOD).encode()),
    "not-json": (b"{", "not JSON", b"{}"),
}


@pytest.mark.parametrize("case", sorted(CLASSES))
def test_each_bad_outputs_class_is_one_error_line(tmp_path: Path, case: str) -> None:
    bad, says, good = CLASSES[case]
    code, out = _env(tmp_path, bad)
    assert code != 0 and out.startswith("Error: ") and out.count("\n") == 1 and says in out, out[:500]
    code, out = _env(tmp_path, good)
    if case == "not-json":
        assert code != 0 and "not an outputs document" in out  # valid JSON, then the shape check
    else:
        assert code == 0 and "NEXT_PUBLIC_SOCKET_URL=" in out, out[:500]


# Values as hostile as a stack output could be; each must come back exactly.
VALUES = ["https://socket.example.com", "${LIVEKIT_API_SECRET}", "$LIVEKIT_API_SECRET", "x$LIVEKIT_API_SECRET$", r"\${LIVEKIT_API_SECRET}",
          r"a\$b", r"a\\$b", 'say "hi"', "it's", "back`tick", r"C:\new\path", "ends\\", "é ü 日本 🙂", "  spaced  ", "# not a comment",
          "a=b=c", "tab\there", "two\nlines", "'\"", "it's \"both\""]
HARD = ["'`\"", "it's `x` \"y\"\nz"]  # every quote kind and a line break / a " : no .env syntax carries these as written


def _next_env(directory: Path) -> dict[str, str]:
    if not NEXT_ENV.is_dir():
        pytest.skip("@next/env is not installed: `make node` installs it from package-lock.json")
    env = {"PATH": os.environ.get("PATH", ""), "NODE_ENV": "production", "NODE_PATH": str(ROOT / "node_modules"),
           "LIVEKIT_API_SECRET": "FROM-THE-PROCESS"}  # what dotenv-expand would splice in
    node = shutil.which("node") or "node"
    r = subprocess.run([node, str(ROOT / "tools" / "nextenv.js"), str(directory)], capture_output=True, text=True, env=env, timeout=60, check=True)
    data = json.loads(r.stdout)
    assert data["files"] == [".env.production"], data
    return data["parsedEnv"]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_nextjs_reads_back_every_value_exactly(tmp_path: Path, value: str) -> None:
    outputs = tmp_path / "out.json"
    outputs.write_text(_outputs({**GOOD, "NEXT_PUBLIC_SOCKET_URL": value, "LIVEKIT_API_KEY": value}), encoding="utf-8")
    app = tmp_path / "app"
    app.mkdir()
    r = CliRunner().invoke(cli, ["env", str(outputs), "-o", str(app / ".env.production")])
    assert r.exit_code == 0, r.output
    got = _next_env(app)
    assert got["NEXT_PUBLIC_SOCKET_URL"] == value and got["LIVEKIT_API_KEY"] == value
    # LIVEKIT_API_SECRET is set in the loader's process (a value there wins over the file's).
    others = [k for k in ENV_OUTPUTS if k not in ("NEXT_PUBLIC_SOCKET_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")]
    assert {k: got[k] for k in others} == {k: GOOD[k] for k in others}
    assert "FROM-THE-PROCESS" not in got["NEXT_PUBLIC_SOCKET_URL"] and "s3cr3t" not in got["NEXT_PUBLIC_SOCKET_URL"]


@pytest.mark.parametrize("value", HARD, ids=repr)
def test_a_value_no_env_syntax_carries_is_refused(tmp_path: Path, value: str) -> None:
    code, out = _env(tmp_path, _outputs({**GOOD, "NEXT_PUBLIC_SOCKET_URL": value}).encode())
    assert code != 0 and out.startswith("Error: NEXT_PUBLIC_SOCKET_URL:") and out.count("\n") == 1, out


def test_the_old_json_dumps_syntax_is_read_back_wrong(tmp_path: Path) -> None:
    """The failing case: what the old code wrote (json.dumps) reaches the front end changed."""
    app = tmp_path / "app"
    app.mkdir()
    values = {"A": 'say "hi"', "B": "é", "C": "${LIVEKIT_API_SECRET}"}
    (app / ".env.production").write_text("".join(f"{k}={json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
    got = _next_env(app)
    assert got["A"] != values["A"] and got["B"] != values["B"] and got["C"] == "FROM-THE-PROCESS"
