"""Domain errors of the providers app (mapped to HTTP by tenancy's API exception handler)."""

from tenancy.errors import Conflict, DomainError


class BudgetExceeded(DomainError):
    """A budget or rate limit refuses more spending now (429 Too Many Requests)."""

    status_code = 429
    code = "budget_exceeded"


class CredentialUnusable(Conflict):
    """The credential is revoked, deleted or expired, so its key is not handed out."""

    code = "credential_unusable"
