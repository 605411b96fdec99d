"""The one Jinja environment factory: every filter registered here, templates found in the package.

Templates get values only through these filters, so user text is escaped for the language it
lands in (HCL, shell, Caddyfile).

>>> sh_quote("it's")
"'it'\"'\"'s'"
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import jinja2

from generator.core.caddyquote import caddy_token
from generator.core.errors import RenderError
from generator.core.hcl import hcl_key, hcl_literal, hcl_string


def templates_dir() -> Path:
    """templates/: inside the package in a wheel (hatchling force-include), else the checkout's."""
    package = Path(__file__).resolve().parent.parent  # generator/ (this module is generator/core/)
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise RenderError("templates/ directory not found next to the generator package")


def sh_quote(value: object) -> str:
    """Always single-quote for the shell. shlex.quote leaves "safe" text bare, and a Terraform
    placeholder looks safe until Terraform fills it in: ``'${socket_git_url}'`` stays quoted
    (the variables' validation blocks refuse quotes in those values)."""
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


def _pad(key: str, width: int) -> str:
    return key.ljust(width)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (compiling ~20 templates is a fifth of a `zip`).

    Jinja keys each entry by the template's name and source checksum, so an edited template
    compiles afresh. ``FLOWSTACK_JINJA_CACHE=0`` turns it off; an unwritable home skips it.
    """
    if os.environ.get("FLOWSTACK_JINJA_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "flowstack" / f"jinja-{jinja2.__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


@lru_cache(maxsize=1)
def jinja_env() -> jinja2.Environment:
    """The one Jinja environment: strict about undefined names, filters registered here."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # output is HCL/shell/Caddyfile, escaped by the filters below
    )
    env.filters.update(
        hcl=hcl_literal,
        hcl_string=hcl_string,
        hcl_key=hcl_key,
        sh=sh_quote,
        caddy=caddy_token,
        pad=_pad,
        # Text bound for a one-line context (a shell or Caddyfile comment) cannot break out of it.
        oneline=lambda v: " ".join(str(v).split()),
    )
    return env


def render_template(name: str, **context: object) -> str:
    try:
        return jinja_env().get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name}: {exc}") from exc
