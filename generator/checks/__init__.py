"""checks: see docs/layout.md."""
