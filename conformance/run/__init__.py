"""The run: the engine (concurrency, controls, samples) and the results document built from its verdicts."""
