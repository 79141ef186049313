"""OpenAI-compatibility conformance suite."""

__version__ = "0.1.0"
