"""Domain errors of the styleguides app (mapped to HTTP statuses by the API exception handler)."""

from tenancy.errors import DomainError


class TemplateRenderError(DomainError):
    """A prompt could not be rendered: an unknown snippet, an undefined name, a sandbox refusal."""

    code = "template_error"


class NotPublished(DomainError):
    """The operation needs a published version and the guide or template has none."""

    code = "not_published"


class VersionNotFound(DomainError):
    """The requested version number or label does not exist for this guide or template."""

    code = "version_not_found"
