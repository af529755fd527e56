"""Writes of the generations app, one module per concern; this package re-exports their API.

- ``ingestion``: ``generation_record``, ``generation_branch``, ``generation_bulk_record``
  (idempotent through ``GENERATION_INGEST``), the metering glue and the signal send;
- ``trees``: child rules, versions taken in raw SQL, attaching a child, bulk tree placement;
- ``copy_writer``: ids reserved ahead and the COPY/staging-table writer of a bulk's rows;
- ``edits``: ``generation_update``, ``generation_delete``, ``generation_restore`` (audited);
- ``runs``: ``run_create``, ``campaign_create``;
- ``cache``: the response cache (store, hit, delete, purge);
- ``retention``: what retention and the GDPR purge may do to generations and runs.

Every function takes ``organization`` first, runs in one transaction, audits what people
change (``tenancy.services.audit_record``: edits, deletes, restores; ingested rows record the
key that wrote them instead, DESIGN §3) and sends ``generations_recorded`` inside that transaction
so analytics' rollups commit with the rows they count. A single generation without a parent is
one statement instead: the signal's receivers add their writes to its INSERT
(``tenancy.idempotency.WrittenWith``), which makes them only if it writes the row.
"""

from generations.errors import BulkItemError
from generations.services.cache import (
    cache_entry_delete,
    cache_entry_hit,
    cache_entry_store,
    cache_purge_expired,
)
from generations.services.edits import generation_delete, generation_restore, generation_update
from generations.services.ingestion import (
    GENERATION_INGEST,
    MAX_BULK_ITEMS,
    generation_branch,
    generation_bulk_record,
    generation_record,
)
from generations.services.runs import campaign_create, run_create

__all__ = [
    "GENERATION_INGEST",
    "MAX_BULK_ITEMS",
    "BulkItemError",
    "cache_entry_delete",
    "cache_entry_hit",
    "cache_entry_store",
    "cache_purge_expired",
    "campaign_create",
    "generation_branch",
    "generation_bulk_record",
    "generation_delete",
    "generation_record",
    "generation_restore",
    "generation_update",
    "run_create",
]
