"""One error type for everything the CLI reports as one clear line plus a hint."""

from __future__ import annotations


class StackbenchError(Exception):
    """A user-facing failure: `message` is one line; `hint` says what to do about it."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
