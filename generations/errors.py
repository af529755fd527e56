"""Domain errors of the generations app; the API exception handler maps them to status codes."""

from tenancy.errors import Conflict, DomainError


class StatusRegression(DomainError):
    """A status change that is not forward (success → pending, failed → success …)."""

    code = "invalid_transition"


class GenerationFinished(Conflict):
    """Content, usage or cost of a finished generation cannot change: its cost is history."""

    code = "generation_finished"


class InvalidTreeParent(DomainError):
    """A parent that would make a cycle, or one the caller may not use."""

    code = "invalid_parent"
