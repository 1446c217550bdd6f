"""Implementations of the ports in `leanops.ports`; only `workspace.py` chooses among them."""
