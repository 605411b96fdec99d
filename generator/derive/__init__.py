"""derive: see docs/layout.md."""
