"""Domain errors of the analytics app; the API exception handler maps them to status codes."""

from tenancy.errors import DomainError


class InvalidReportQuery(DomainError):
    """A report asked with parameters it cannot answer (a range backwards or too long, an
    unknown dimension)."""

    code = "invalid_report_query"
