"""Domain errors raised by services; only ``api/`` turns them into HTTP answers."""


class AgritraceError(Exception):
    """Base of every error agritrace raises on purpose."""


class NotFound(AgritraceError):
    """A record named by a code or id does not exist."""


class Conflict(AgritraceError):
    """The request clashes with what is stored (a duplicate code, an append-only rule)."""


class InvalidInput(AgritraceError):
    """The request is well-formed but its content cannot be accepted."""


class InvalidGeometry(InvalidInput):
    """A geometry is malformed, invalid or out of range."""


class Forbidden(AgritraceError):
    """The caller is authenticated but may not do this."""


class Unauthenticated(AgritraceError):
    """The caller's token is missing, unknown, revoked or expired."""
