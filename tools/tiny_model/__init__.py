"""The tiny chat model the reference servers serve (tests/fixtures/tiny-model): its trainer and behaviour checks."""
