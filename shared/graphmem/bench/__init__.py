"""Speed: per-op time against peers, backward scaling, collection and teardown (BENCH.md)."""
