"""Tenancy: organizations, memberships, API keys, the audit log and the shared model bases.

A small app of its own because every other app depends on it and it must depend on none of
them: the organization is the security boundary (every API query is scoped by it) and the
future shard key, and the abstract bases (timestamps, soft delete, tenant ownership) are the
one place those rules are written down.
"""
