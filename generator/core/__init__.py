"""core: see docs/layout.md."""
