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


class BulkItemError(DomainError):
    """An item of a bulk request is invalid; ``attr`` is ``items.<index>.<field>``."""

    def __init__(self, index: int, field: str, detail: str, *, code: str = "invalid"):
        super().__init__(f"Item {index}: {detail}", code=code, attr=f"items.{index}.{field}")
        self.index = index
