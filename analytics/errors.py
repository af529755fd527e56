"""Domain errors of the analytics app; the API exception handler maps them to status codes."""

from tenancy.errors import Conflict, DomainError


class ConflictingReplay(Conflict):
    """A ``request_id`` (or a generation's metrics) already recorded with a different body (409)."""

    code = "conflicting_replay"


class InvalidReportQuery(DomainError):
    """A report asked with parameters it cannot answer (a range backwards or too long, an
    unknown dimension)."""

    code = "invalid_report_query"
