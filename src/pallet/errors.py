"""One exception hierarchy for pallet.

Every error a user sees is a PalletError: its message says what was wrong, with the value and
where it came from.  ``exit_code`` follows docker: 125 for an error of pallet itself, 126 when a
command cannot be invoked, 127 when it is not found.
"""

from __future__ import annotations


class PalletError(Exception):
    """An error of pallet itself (exit code 125)."""

    exit_code = 125


class ConfigError(PalletError):
    """Invalid configuration: a config.json field, a flag value, a file given by the user."""


class ValidationError(ConfigError):
    """A field of an OCI document is invalid; ``path`` is its JSON path (``process.args``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path} {message}" if path else message)


class NotFoundError(PalletError):
    """A container, image, network or volume does not exist."""


class ConflictError(PalletError):
    """A name or id is already in use, or the object is in the wrong state for the operation."""


class StateError(ConflictError):
    """The container's state does not allow the operation (start of a running container, ...)."""


class RuntimeFailure(PalletError):
    """Setting up a container failed at a given step."""

    def __init__(self, message: str, *, step: str = "", errno: int = 0) -> None:
        self.step = step
        self.errno = errno
        super().__init__(message)


class CommandNotFound(RuntimeFailure):
    """The container's executable does not exist (exit 127)."""

    exit_code = 127


class CommandNotInvokable(RuntimeFailure):
    """The container's executable exists but cannot be run (exit 126)."""

    exit_code = 126


class UnsupportedError(PalletError):
    """The host cannot apply a requested setting."""
