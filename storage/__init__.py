"""Persistence adapters: the ledger database, key files and the RFC 3161 client (DESIGN.md §2)."""
