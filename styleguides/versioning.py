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
from styleguides.models import guide_content


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
    snapshot = {**guide_content(guide), "parent_id": guide.parent_id}
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


def guide_has_unpublished_changes(guide, *, latest_hash: str | None) -> bool:
    """Whether a guide's draft differs from its latest published version (``latest_hash``).

    Reads ``guide.rules``, ``guide.vertical`` and ``guide.parent``: load them first
    (``selectors.style_guides_for`` does) to keep lists free of per-row queries.
    """
    if latest_hash is None:
        return True
    return guide_hash(guide_snapshot(guide, guide.rules.all())) != latest_hash


def guide_as_text(snapshot: dict) -> str:
    """A guide snapshot (or a version) as readable lines, for diffs editors can follow."""
    lines = [
        f"Name: {snapshot.get('name', '')}",
        f"Kind: {snapshot.get('kind', '')}",
        f"Vertical: {snapshot.get('vertical') or '-'}",
        f"Builds on: {' / '.join(part for part in (snapshot.get('parent') or []) if part) or '-'}",
        f"Tone: {snapshot.get('tone', '')}",
        f"Audience: {snapshot.get('audience', '')}",
        f"Reading level: {snapshot.get('reading_level') or '-'}",
        f"Banned terms: {', '.join(snapshot.get('banned_terms') or []) or '-'}",
        f"Required terms: {', '.join(snapshot.get('required_terms') or []) or '-'}",
        "",
        "Rules:",
    ]
    for rule in sorted(snapshot.get("rules") or [], key=lambda rule: rule["name"]):
        state = "" if rule.get("is_active", True) else " [off]"
        parameters = json.dumps(rule["parameters"], sort_keys=True, ensure_ascii=False)
        lines.append(f"- {rule['name']}{state} ({rule['rule_type']}, {rule['severity']}): {parameters}")
        if rule.get("message"):
            lines.append(f"    {rule['message']}")
    lines += ["", "Guidance:", *(snapshot.get("body") or "").splitlines()]
    return "\n".join(lines)


def version_snapshot(version) -> dict:
    """A published version in the shape of :func:`guide_snapshot` (for diffs)."""
    return {
        "name": version.name,
        "kind": version.kind,
        "vertical": version.vertical.slug if version.vertical_id else None,
        "parent": list(version.parent.natural_key()) if version.parent_id else None,
        "body": version.body,
        "tone": version.tone,
        "audience": version.audience,
        "reading_level": version.reading_level,
        "banned_terms": list(version.banned_terms),
        "required_terms": list(version.required_terms),
        "rules": list(version.rules),
    }
