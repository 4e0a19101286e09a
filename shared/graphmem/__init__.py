"""Shared, variant-neutral code: workloads, profiling harness, report, bench and the drift guard."""
