"""The pure integrity core: bytes, keys and ``now`` in; values out or VerificationError raised.

No I/O here (DESIGN.md §2, STYLE.md §1): no ``open()``, sockets, clocks or environment reads.
"""
