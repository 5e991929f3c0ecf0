"""The exceptions of the extension machinery, named as SPIN's interfaces name
them (spin-reference.md §1-2). Each message says what was refused and why, so
a scenario or the shell can show it as it is."""

from __future__ import annotations


class SpinError(Exception):
    """Base of every refusal the extension machinery reports."""


class AuthError(SpinError):
    """An authorizer refused an installation, an import or an imposed guard."""


class BindingTypeError(SpinError):
    """A handler, guard or closure does not fit the event's signature."""


class InvalidProcedure(SpinError):
    """Not a procedure the dispatcher can bind (or AtomicSwap across events)."""


class IllegalAsynchEvent(SpinError):
    """An asynchronous handler on an event that returns a result."""


class NoHandlerInvoked(SpinError):
    """An event with a result was raised and no handler ran (SpinException)."""


class NameNotFound(SpinError):
    pass


class NameExists(SpinError):
    pass


class InvalidName(SpinError):
    pass


class Unauthorized(SpinError):
    """The name server's export authorizer refused an import."""


class BadCapability(SpinError):
    """A forged, stale or foreign capability or externalized reference."""


class LinkError(SpinError):
    """An extension imports interfaces its domains cannot resolve."""


class ReplugError(SpinError):
    pass
