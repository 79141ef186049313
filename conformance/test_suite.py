"""The one generic conformance test, parametrized over (target, probe) by the plugin: `target::probe-id`."""


def test_probe(conformance_case) -> None:  # type: ignore[no-untyped-def]
    conformance_case.check()
