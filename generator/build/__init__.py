"""build: see docs/layout.md."""
