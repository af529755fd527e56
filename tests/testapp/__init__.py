"""A small tenant-owned model used only by tests, to exercise the tenancy machinery on its own."""
