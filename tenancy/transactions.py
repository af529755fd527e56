"""Transactions shared by the operator commands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import transaction


@contextlib.contextmanager
def rolled_back_if(dry_run: bool) -> Iterator[None]:
    """With ``dry_run``, run the block in one transaction and roll it back at the end (the block's
    own ``atomic`` blocks become savepoints, so it computes exactly what a real run would and
    writes nothing); without it, do nothing (the block commits as it goes). An exception in the
    block rolls back and propagates either way."""
    if not dry_run:
        yield
        return
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
