"""Root conftest. The project's own tests drive the plugin with pytester, enabled by `-p pytester` in pyproject's
addopts (a `pytest_plugins` here would break collecting the installed suite from a checkout)."""
