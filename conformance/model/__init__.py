"""The model: targets, probes, observations, verdicts and findings as plain data (no HTTP, no pytest, no vcrpy)."""
