"""Scheduled use cases: anchoring, retention, fixity, reports (DESIGN.md §2)."""
