"""The shared vocabulary of liuhen: value types, ids, errors and the 执法环节 catalogue.

Standard library only; no I/O (DESIGN.md §2).
"""
