"""The publishing queue: social accounts, scheduled posts, and the publishers that deliver them.

Models live here and are imported by ``generations.models`` (they belong to the generations app).
"""
