"""The exceptions ACS raises on purpose. The native module (`acs._acs`) builds them from
the engine's errors and fills their attributes; they live in Python so that they are
ordinary classes with the built-in bases callers catch (`ValueError`, `OSError`)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class AcsError(Exception):
    """Every error the engine raises on purpose; `code` says which."""

    code: str = "acs"

    def __init__(self, message: str = "", code: Optional[str] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class RulesError(AcsError, ValueError):
    """Rules that do not load. `code` is the first error's (`ACS101`) or the kind; `kind`
    the engine's kind (`invalid`, `io`, `too_large`, ...); `file`, `line`, `column` the
    first error's place; `diagnostics` every finding, as dicts."""

    kind: str = "invalid"
    file: Optional[str] = None
    line: Optional[int] = None
    column: Optional[int] = None
    diagnostics: List[Dict[str, Any]] = []


class RulesNotFound(RulesError, FileNotFoundError):
    """The rules path does not exist."""


class InputError(AcsError, ValueError):
    """An input the engine refuses: `code` says why (`not_an_object`, `json`,
    `duplicate_key`, `too_large`, `too_deep`, `not_json`), `path` names the field when
    the input was a Python object."""

    path: Optional[str] = None


class FunctionError(AcsError):
    """Raised by a host function to fail its call with its own `code` (the rule's error
    says `code: message`); any other exception fails it with code `raised`."""

    def __init__(self, message: str = "", code: str = "failed") -> None:
        super().__init__(message, code)


class WatchError(AcsError, OSError):
    """The watcher could not start."""


class TestsError(AcsError):
    """Rule test files (or their rules) that could not be read: `problems` lists each."""

    __test__ = False  # not a pytest test class
    problems: List[str] = []
