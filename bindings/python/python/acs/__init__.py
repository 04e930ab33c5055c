"""ACS fraud rules engine for Python: the Rust engine, in-process."""

from ._acs import Engine

__all__ = ["Engine"]
