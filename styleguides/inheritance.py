"""The effective style guide: a guide merged with the guides it inherits from, the child winning.

A brand guide built on a vertical guide (itself perhaps built on a writing-style guide) forms a
chain, child first. Merging it, root first, gives:

- ``name``, ``kind``, ``vertical``, ``tone``, ``audience``, ``reading_level``: the child's value,
  or the nearest ancestor's when the child leaves it empty;
- ``body``: every layer's body, root first, so the child's guidance is the last word;
- ``banned_terms`` / ``required_terms``: the union (case-insensitive, first spelling kept);
- ``rules``: every layer's rules; a child rule with the same name as an inherited one replaces it,
  and an inactive child rule switches the inherited one off.

Two readings of the chain exist. *Published* (what services get): each guide at its latest
published version; a guide never published contributes nothing. *Draft* (what an editor is
writing): each guide as it stands now. Soft-deleted ancestors contribute nothing in either
reading; their own parents still do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from styleguides.compliance import EffectiveRule, term_rules_of_lists
from styleguides.models import MAX_INHERITANCE_DEPTH, StyleGuide, StyleGuideVersion, guide_content

MAX_DEPTH = MAX_INHERITANCE_DEPTH
BODY_SEPARATOR = "\n\n---\n\n"


@dataclass(frozen=True)
class GuideLayer:
    """One guide of a chain as read: its draft, or one published version (``version_id`` set)."""

    guide_id: int
    name: str
    kind: str
    vertical_id: int | None
    body: str
    tone: str
    audience: str
    reading_level: int | None
    banned_terms: list[str]
    required_terms: list[str]
    rules: list[dict]
    version_id: int | None = None
    version: int | None = None

    @classmethod
    def of_draft(cls, guide: StyleGuide, rules: list) -> GuideLayer:
        return cls(guide_id=guide.pk, **guide_content(guide), rules=[rule_snapshot(rule) for rule in rules])

    @classmethod
    def of_version(cls, version: StyleGuideVersion) -> GuideLayer:
        return cls(
            guide_id=version.guide_id,
            **guide_content(version),
            rules=list(version.rules),
            version_id=version.pk,
            version=version.version,
        )


def rule_snapshot(rule) -> dict:
    """A brand rule as a published version stores it."""
    return {
        "id": rule.pk,
        "name": rule.name,
        "rule_type": rule.rule_type,
        "parameters": rule.parameters,
        "severity": rule.severity,
        "message": rule.message,
        "is_active": rule.is_active,
    }


def _union(lists: list[list[str]]) -> list[str]:
    seen, merged = set(), []
    for terms in lists:
        for term in terms:
            if term.casefold() not in seen:
                seen.add(term.casefold())
                merged.append(term)
    return merged


@dataclass
class EffectiveGuide:
    """A guide chain merged for use (see the module docstring for how each part merges)."""

    guide_id: int
    layers: list[GuideLayer]  # root first, the guide itself last
    draft: bool
    name: str = ""
    kind: str = ""
    vertical_id: int | None = None
    tone: str = ""
    audience: str = ""
    reading_level: int | None = None
    body: str = ""
    banned_terms: list[str] = field(default_factory=list)
    required_terms: list[str] = field(default_factory=list)
    rules: list[EffectiveRule] = field(default_factory=list)

    @classmethod
    def merge(cls, *, guide_id: int, layers: list[GuideLayer], draft: bool) -> EffectiveGuide:
        merged = cls(guide_id=guide_id, layers=layers, draft=draft)
        for layer in layers:  # root first: each later (more specific) layer overrides
            for name in ("name", "kind", "tone", "audience"):
                if getattr(layer, name):
                    setattr(merged, name, getattr(layer, name))
            if layer.vertical_id is not None:
                merged.vertical_id = layer.vertical_id
            if layer.reading_level is not None:
                merged.reading_level = layer.reading_level
        merged.body = BODY_SEPARATOR.join(layer.body.strip() for layer in layers if layer.body.strip())
        merged.banned_terms = _union([layer.banned_terms for layer in layers])
        merged.required_terms = _union([layer.required_terms for layer in layers])
        by_name: dict[str, EffectiveRule | None] = {}
        for layer in layers:
            for rule in layer.rules:
                by_name.pop(rule["name"], None)  # re-insert so order follows the overriding layer
                by_name[rule["name"]] = (
                    EffectiveRule(
                        name=rule["name"],
                        rule_type=rule["rule_type"],
                        parameters=rule["parameters"],
                        severity=rule["severity"],
                        message=rule.get("message", ""),
                        rule_id=rule.get("id"),
                        guide_id=layer.guide_id,
                    )
                    if rule.get("is_active", True)
                    else None
                )
        merged.rules = [rule for rule in by_name.values() if rule is not None]
        return merged

    @property
    def version_ids(self) -> list[int]:
        """Ids of the published versions this guide was built from, the guide's own first."""
        return [layer.version_id for layer in reversed(self.layers) if layer.version_id is not None]

    @property
    def own_version_id(self) -> int | None:
        """The guide's own published version, when the chain was read published and it has one."""
        last = self.layers[-1] if self.layers else None
        return last.version_id if last is not None and last.guide_id == self.guide_id else None

    def all_rules(self) -> list[EffectiveRule]:
        """The brand rules plus the implicit rules of the banned and required term lists."""
        return self.rules + term_rules_of_lists(
            self.banned_terms, self.required_terms, guide_id=self.guide_id
        )

    def as_context(self, vertical=None) -> dict:
        """What a prompt template sees as ``style_guide``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "tone": self.tone,
            "audience": self.audience,
            "reading_level": self.reading_level,
            "body": self.body,
            "banned_terms": list(self.banned_terms),
            "required_terms": list(self.required_terms),
            "rules": [
                {
                    "name": rule.name,
                    "type": rule.rule_type,
                    "severity": rule.severity,
                    "message": rule.message,
                }
                for rule in self.rules
            ],
            "vertical": vertical,
        }


def guide_chain(guide: StyleGuide) -> list[StyleGuide]:
    """The guide and its ancestors, child first, soft-deleted ancestors left out (their parents kept)."""
    chain, seen, current = [], set(), guide
    while current is not None and current.pk not in seen and len(seen) < MAX_DEPTH:
        seen.add(current.pk)
        if current is guide or not current.is_deleted:
            chain.append(current)
        current = current.parent
    return chain
