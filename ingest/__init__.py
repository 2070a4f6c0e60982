"""ingest layer (DESIGN.md §2)."""
