"""Settings are read by their declared types, from a file and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from translator.config import Settings, _coerce, check_settings, load_settings
from translator.errors import ConfigError


def test_load_settings_reads_each_setting_as_its_declared_type(tmp_path: Path) -> None:
    config = tmp_path / "translator.toml"
    config.write_text('batch_size = 50\nbatch_max_wait = 2\nactor_map = "map.csv"\n')
    settings = load_settings(
        config_file=config,
        environ={"TRANSLATOR_BATCH_SIZE": "7", "TRANSLATOR_OVERLAYS": "a:b"},
    )
    assert settings.batch_size == 7  # the environment wins over the file
    assert settings.batch_max_wait == 2.0 and isinstance(settings.batch_max_wait, float)
    assert settings.actor_map == Path("map.csv")
    assert settings.overlays == (Path("a"), Path("b"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("false", False), ("0", False), ("No", False), ("true", True), ("1", True), (True, True)],
)
def test_coerce_reads_a_boolean_setting_as_a_boolean_never_as_text(
    raw: object, expected: bool
) -> None:
    assert _coerce("flag", raw, bool) is expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [("batch_size", "5.5"), ("batch_size", True), ("batch_max_wait", "soon"), ("flag", "maybe")],
)
def test_coerce_refuses_a_value_of_the_wrong_type_naming_the_setting(
    name: str, raw: object
) -> None:
    kind = {"batch_size": int, "batch_max_wait": float, "flag": bool}[name]
    with pytest.raises(ConfigError, match=f"setting {name}: cannot use"):
        _coerce(name, raw, kind)


def test_coerce_never_shows_a_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        _coerce("lrs_password", ["s3cret"], str)
    assert "s3cret" not in str(caught.value) and "(hidden)" in str(caught.value)


def test_an_empty_optional_path_is_not_set() -> None:
    assert load_settings(environ={"TRANSLATOR_ACTOR_MAP": ""}).actor_map is None
    assert Settings().actor_map is None


@pytest.mark.parametrize(
    ("changes", "identity", "needs_secret"),
    [
        ({}, "pseudonym", True),
        ({"actor_map": Path("ids.csv")}, "actor-map", False),
        ({"actor_identity": "user-id"}, "user-id", False),
        ({"actor_identity": "username"}, "username", False),
        ({"actor_identity": "email"}, "email", False),
        ({"actor_identity": "pseudonym"}, "pseudonym", True),
    ],
)
def test_settings_identity_defaults_to_pseudonym_or_the_actor_map_named(
    changes: dict[str, object], identity: str, needs_secret: bool
) -> None:
    settings = Settings().with_overrides(**changes)
    assert settings.identity == identity
    assert settings.needs_pseudonym_secret is needs_secret


def test_load_settings_reads_actor_identity_from_the_environment() -> None:
    settings = load_settings(environ={"TRANSLATOR_ACTOR_IDENTITY": "user-id"})
    assert settings.actor_identity == "user-id"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"actor_identity": "mail"}, "setting actor_identity: 'mail' is not one of"),
        ({"actor_identity": "actor-map"}, "actor-map needs an actor map: set actor_map"),
        (
            {"actor_identity": "pseudonym", "actor_map": "MAP"},
            "an actor map is read only with actor_identity actor-map, not pseudonym",
        ),
    ],
)
def test_check_settings_refuses_an_actor_identity_it_cannot_follow(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("1,a\n", encoding="utf-8")
    given = {k: ids if v == "MAP" else v for k, v in changes.items()}
    with pytest.raises(ConfigError, match=message):
        check_settings(Settings().with_overrides(**given), environ={})
