"""Cursor pagination for list endpoints: stable under inserts, no COUNT(*) on large tables."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

INVALID_CURSOR = "Invalid cursor: send back the `next` or `previous` link of a page as it was given."


class CreatedAtCursorPagination(CursorPagination):
    """Newest first by ``created_at``; ``?page_size=`` up to 500.

    A ``page_size`` that is not a whole number ≥ 1, or a ``cursor`` we did not write, is a 400
    naming the parameter (DRF would quietly use the default size, and answer a bad cursor with a
    404, or a 400 about a date format when the decoded cursor's position is not one)."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            try:
                size = int(raw)
            except ValueError:
                size = 0
            if size < 1:
                raise ValidationError(
                    {self.page_size_query_param: [f"Enter a whole number from 1 to {self.max_page_size}."]}
                )
        return super().get_page_size(request)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except DjangoValidationError:
            # A well-formed cursor whose position does not fit the ordering's column (a date).
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
