"""The written comparison: COMPARISON.md and its charts, rendered from reports/summary.json alone."""
