"""Maintainers' tools, not part of the installed suite: the fixture model's trainer and the raw server probes."""
