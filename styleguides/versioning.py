"""Snapshots and content hashes of what gets versioned (guides, template versions, snippets).

A hash is SHA-256 over canonical JSON (sorted keys, no whitespace), so the same content always
hashes the same and a guide's draft can be compared with its latest published version cheaply.
Rule ids are left out of a guide's hash: deleting a rule and adding the same one back is no
change to what the guide enforces.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from styleguides.inheritance import rule_snapshot

GUIDE_FIELDS = (
    "name",
    "kind",
    "vertical_id",
    "parent_id",
    "body",
    "tone",
    "audience",
    "reading_level",
    "banned_terms",
    "required_terms",
)


def content_hash(data: Any) -> str:
    """SHA-256 hex digest of ``data`` as canonical JSON."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def guide_snapshot(guide, rules) -> dict:
    """Everything a published version of ``guide`` stores, from the guide and its ``rules``.

    Besides the column values it names the vertical and parent by natural key (``vertical``,
    ``parent``), which is what the hash uses: ids differ between databases, so a seed fixture can
    ship versions whose hashes match the drafts it ships.
    """
    snapshot = {name: getattr(guide, name) for name in GUIDE_FIELDS}
    snapshot["banned_terms"] = list(snapshot["banned_terms"])
    snapshot["required_terms"] = list(snapshot["required_terms"])
    snapshot["rules"] = [rule_snapshot(rule) for rule in sorted(rules, key=lambda rule: rule.name)]
    snapshot["vertical"] = guide.vertical.slug if guide.vertical_id else None
    snapshot["parent"] = list(guide.parent.natural_key()) if guide.parent_id else None
    return snapshot


def guide_hash(snapshot: dict) -> str:
    """The content hash of a guide snapshot: ids (of the vertical, parent and rules) left out."""
    data = {key: value for key, value in snapshot.items() if key not in ("vertical_id", "parent_id")}
    data["rules"] = [{k: v for k, v in rule.items() if k != "id"} for rule in snapshot["rules"]]
    return content_hash(data)


def template_hash(*, system_template: str, user_template: str, variables: list) -> str:
    return content_hash({"system": system_template, "user": user_template, "variables": variables})
