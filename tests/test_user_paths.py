"""The paths a new user walks (issue 19): targets.toml over the presets, recordings outside the package, the
report command's baseline, and the usage errors of every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.model.targets import TargetError, load_targets


def test_a_targets_table_may_override_only_the_base_url_of_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('[targets.mistral]\nbase_url = "http://127.0.0.1:9/v1"\n')
    mistral = load_targets(path)["mistral"]
    assert mistral.base_url == "http://127.0.0.1:9/v1"
    assert (mistral.model, mistral.api_key_env, mistral.context_window) == (
        "mistral-small-latest", "MISTRAL_API_KEY", 131072)
    assert mistral.source == str(path)


def test_a_new_target_still_needs_its_model_and_a_bad_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('[targets.mine]\nbase_url = "http://127.0.0.1:9/v1"\n')
    with pytest.raises(TargetError, match=r"targets.toml: target 'mine', field 'model': 'model' is a required"):
        load_targets(path)
    path.write_text('[targets.mistral]\ncontext_window = "big"\n')
    with pytest.raises(TargetError, match=r"target 'mistral', field 'context_window'"):
        load_targets(path)
