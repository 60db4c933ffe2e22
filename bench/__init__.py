"""Benchmarks of the import engine (see README.md). Nothing here is imported by the product."""
