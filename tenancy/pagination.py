"""Cursor pagination for list endpoints: stable under inserts, no COUNT(*) on large tables."""

from rest_framework.pagination import CursorPagination


class CreatedAtCursorPagination(CursorPagination):
    """Newest first by ``created_at``; ``?page_size=`` up to 500."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 500
