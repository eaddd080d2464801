"""Errors a user can act on.

Every :class:`TransferlabError` carries one line that names the problem and the fix; the command
line prints that line alone and exits with status 2.
"""

from __future__ import annotations


class TransferlabError(Exception):
    """A problem the user can fix; ``str(err)`` is a single line naming the problem and the fix."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        message = problem if fix is None else f"{problem}; {fix}"
        super().__init__(" ".join(message.split()))


class DataError(TransferlabError):
    """A benchmark or input data file is missing or malformed."""


class StoreError(TransferlabError):
    """The store cannot be opened or written safely."""


class ModelError(TransferlabError):
    """A model cannot be found or loaded."""


class ConfigError(TransferlabError):
    """A setting or option makes no sense."""


def missing_extra(package: str, extra: str) -> TransferlabError:
    """The error for an optional dependency that is not installed."""
    return TransferlabError(
        f"the optional dependency {package!r} is not installed",
        f"install it with: pip install 'transferlab[{extra}]'",
    )
