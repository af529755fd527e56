"""Domain errors. Services raise these; one API exception handler maps them to status codes.

Apps subclass them (``ConflictingReplay(Conflict)``, ``BudgetExceeded(DomainError)``) so the
API layer never needs to know each app's rules.
"""


class DomainError(Exception):
    """A rule of the domain refused the operation. ``status_code`` is what the API answers."""

    status_code = 400
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, attr: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.attr = attr
        if code:
            self.code = code


class Conflict(DomainError):
    """The request conflicts with the current state (a replay with another body, a taken slug)."""

    status_code = 409
    code = "conflict"


class NotFound(DomainError):
    """The object does not exist for this organization (another tenant's object included)."""

    status_code = 404
    code = "not_found"


class PermissionDeniedError(DomainError):
    """The caller may not do this (a viewer key writing, a tenant editing a global row)."""

    status_code = 403
    code = "permission_denied"
