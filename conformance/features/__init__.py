"""The features: the probe registry, one module per feature group holding its probes and detectors side by side."""
