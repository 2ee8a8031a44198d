"""The library's exception types: every error a user can cause is one of these (or a ValueError).

The CLI turns them into one-line messages; Python callers can catch
:class:`SinkitError` for everything sinkit raises on purpose.
"""

from __future__ import annotations

__all__ = ["SinkitError", "CapabilityError"]


class SinkitError(Exception):
    """Base class of sinkit's own errors (bad checkpoints, unreadable images, unsupported requests)."""


class CapabilityError(SinkitError, TypeError):
    """A model was asked for something its method cannot do (e.g. editing with a DeepSIM model).

    The message names the method and says what it does instead (its ``usage`` line).
    """
