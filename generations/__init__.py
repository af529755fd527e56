"""Generations: generated content and its trees, multi-model runs, campaigns and the response cache."""
