"""Generation trees: the rules of a child (revision or variant, inherited fields), versions taken
from the root's ``tree_last_version`` in raw SQL (unique and gap-free under concurrency), a child
attached to its parent, and the placement of a bulk request's items in their trees.

Branching itself (``generation_branch``) records a child through
``generations.services.ingestion``, which calls these; this module imports nothing from it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import connection

from generations.choices import GenerationKind
from generations.errors import BulkItemError, InvalidTreeParent
from generations.models import Generation
from tenancy.errors import DomainError
from tenancy.models import Organization

# A branch inherits these from its parent unless the request says otherwise.
INHERITED_FIELDS = (
    "content_type",
    "campaign",
    "agent_name",
    "style_guide_version",
    "template_version",
    "provider_name",
    "model_name",
    "target_channel",
    "user_ref",
    "content_format",
)


def check_child(
    *, parent: Generation, kind: str, values: dict[str, Any], attr_prefix: str = ""
) -> dict[str, Any]:
    """Values of a child of ``parent``: inherited fields filled, revision/variant rules applied."""
    values = dict(values)
    for name in INHERITED_FIELDS:
        if values.get(name) in (None, ""):
            values[name] = getattr(parent, name)
    vertical = values.get("vertical")
    if kind == GenerationKind.VARIANT:
        if vertical is None:
            raise DomainError(
                "A variant adapts its parent for another vertical: name the vertical.",
                code="required",
                attr=f"{attr_prefix}vertical",
            )
        if vertical.pk == parent.vertical_id:
            raise DomainError(
                "A variant must be for another vertical than its parent's; branch a revision instead.",
                attr=f"{attr_prefix}vertical",
            )
    else:
        if vertical is not None and vertical.pk != parent.vertical_id:
            raise DomainError(
                "A revision keeps its parent's vertical; branch a variant for another vertical.",
                attr=f"{attr_prefix}vertical",
            )
        values["vertical"] = parent.vertical
    return values


def take_versions(root_counts: dict[int, int]) -> dict[int, int]:
    """Reserve ``n`` versions in each existing tree; returns each root's first reserved version.

    Locks the roots in id order (so two writers never wait on each other crosswise) and bumps
    their ``tree_last_version`` in one statement each way. Concurrent branches of one tree queue
    on its root row, which is what makes versions unique and gap-free.
    """
    if not root_counts:
        return {}
    ids = sorted(root_counts)
    with connection.cursor() as cursor:
        if len(ids) > 1:
            cursor.execute(
                "SELECT id FROM generations_generation WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids]
            )
        cursor.execute(
            "UPDATE generations_generation AS g SET tree_last_version = g.tree_last_version + v.n "
            "FROM unnest(%s::bigint[], %s::int[]) AS v(id, n) WHERE g.id = v.id "
            "RETURNING g.id, g.tree_last_version",
            [ids, [root_counts[i] for i in ids]],
        )
        rows = cursor.fetchall()
    return {root_id: last - root_counts[root_id] + 1 for root_id, last in rows}


def attach_child(child: Generation, *, parent: Generation, kind: str, version: int) -> None:
    """Place ``child`` under ``parent`` in its tree, at a ``version`` taken by ``take_versions``."""
    child.parent = parent
    child.root_id = parent.tree_root_id
    child.depth = parent.depth + 1
    child.version = version
    child.kind = kind


def bulk_tree(
    items: list[dict[str, Any]], organization: Organization
) -> tuple[list[int | Generation | None], list[int]]:
    """Each item's parent (an item index, an existing row, or None) and a parents-first order.

    ``parent_request_id`` may name another item of the batch or a live row; a cycle among the
    items is refused naming an item of it.
    """
    index_by_request_id = {item["request_id"]: index for index, item in enumerate(items)}
    parents: list[int | Generation | None] = []
    missing = []
    for index, item in enumerate(items):
        parent_request_id = item.get("parent_request_id")
        if item.get("parent") is not None and parent_request_id:
            raise BulkItemError(index, "parent_request_id", "Give parent or parent_request_id, not both.")
        if parent_request_id:
            if parent_request_id in index_by_request_id:
                parents.append(index_by_request_id[parent_request_id])
            else:
                parents.append(None)
                missing.append((index, parent_request_id))
        else:
            parents.append(item.get("parent"))
    if missing:
        found = {
            row.request_id: row
            for row in Generation.objects.filter(
                organization=organization, request_id__in=[rid for _, rid in missing]
            )
        }
        for index, parent_request_id in missing:
            if parent_request_id not in found:
                raise BulkItemError(
                    index,
                    "parent_request_id",
                    f"No generation with request_id {parent_request_id!r} in this batch or organization.",
                    code="does_not_exist",
                )
            parents[index] = found[parent_request_id]

    order: list[int] = []
    state = [0] * len(items)  # 0 unseen, 1 on the current path, 2 placed
    for start in range(len(items)):
        path = []
        node = start
        while isinstance(parents[node], int) and state[node] == 0:
            state[node] = 1
            path.append(node)
            node = parents[node]
            if state[node] == 1:
                raise InvalidTreeParent(
                    f"Item {node}: parent_request_id makes a cycle.", attr=f"items.{node}.parent_request_id"
                )
        if state[node] == 0:
            state[node] = 2
            order.append(node)
        for placed in reversed(path):
            state[placed] = 2
            order.append(placed)
    return parents, order


def place_bulk_nodes(built: dict[int, Generation], parents, results) -> None:
    """Depth, root and version of each new node (``built`` is in parents-first order)."""
    new_nodes_per_existing_root: Counter[int] = Counter()
    for index, generation in built.items():
        parent_ref = parents[index]
        if parent_ref is None:
            continue
        parent = parent_ref if isinstance(parent_ref, Generation) else results[parent_ref].instance
        generation.parent = parent
        generation.depth = parent.depth + 1
        generation.root_id = parent.tree_root_id
    new_root_ids = {generation.pk for index, generation in built.items() if parents[index] is None}
    for index, generation in built.items():
        if parents[index] is not None and generation.root_id not in new_root_ids:
            new_nodes_per_existing_root[generation.root_id] += 1
    first_versions = take_versions(dict(new_nodes_per_existing_root))
    next_version = {root_id: first for root_id, first in first_versions.items()}
    roots = {generation.pk: generation for generation in built.values() if generation.pk in new_root_ids}
    for generation in built.values():
        if generation.pk in new_root_ids:
            continue
        if generation.root_id in roots:
            root = roots[generation.root_id]
            root.tree_last_version += 1
            generation.version = root.tree_last_version
        else:
            generation.version = next_version[generation.root_id]
            next_version[generation.root_id] += 1
