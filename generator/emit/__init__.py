"""emit: see docs/layout.md."""
