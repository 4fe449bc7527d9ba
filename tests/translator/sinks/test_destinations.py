"""Destinations: from the environment settings or a TOML file, with filters and hidden secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from translator.config import Settings, load_settings
from translator.errors import ConfigError
from translator.sinks.destinations import Destination, course_org, load_destinations
from translator.sinks.lrs import LRSClient

SECRET = "s3cr3t-value-9"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "destinations.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_destinations_from_environment_basic() -> None:
    settings = load_settings(
        environ={
            "TRANSLATOR_LRS_URL": "https://lrs.example.org/xAPI/",
            "TRANSLATOR_LRS_USERNAME": "key",
            "TRANSLATOR_LRS_PASSWORD": SECRET,
        }
    )
    [destination] = load_destinations(settings, environ={})
    assert destination.name == "default"
    assert destination.url == "https://lrs.example.org/xAPI"
    assert LRSClient(destination).statements_url == "https://lrs.example.org/xAPI/statements"
    assert destination.auth_kind == "basic"
    assert destination.accepts(None, None)
    assert SECRET not in repr(destination) and "key" not in repr(destination)


def test_load_destinations_from_environment_bearer() -> None:
    settings = Settings(lrs_url="http://127.0.0.1:8100/xAPI", lrs_token=SECRET)
    [destination] = load_destinations(settings, environ={})
    assert destination.auth_kind == "bearer" and destination.token == SECRET
    assert SECRET not in repr(destination)


def test_load_destinations_none_configured() -> None:
    assert load_destinations(Settings(), environ={}) == []


def test_load_destinations_file_with_filters_and_env_credentials(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[[destination]]
name = "central"
url = "https://lrs.example.org/xapi"
username = "key"
password_env = "CENTRAL_PASSWORD"

[[destination]]
name = "mitx"
url = "https://lrs.mitx.example/xapi"
token = "literal-token"
orgs = ["MITx"]
courses = ["course-v1:HarvardX+CS50+2024"]
""",
    )
    settings = Settings(lrs_url="http://127.0.0.1:9/xAPI", lrs_token="t", destinations_file=path)
    default, central, mitx = load_destinations(settings, environ={"CENTRAL_PASSWORD": SECRET})
    assert [default.name, central.name, mitx.name] == ["default", "central", "mitx"]
    assert central.password == SECRET and central.auth_kind == "basic"
    assert mitx.auth_kind == "bearer" and "literal-token" not in repr(mitx)
    assert central.accepts("HarvardX", "course-v1:HarvardX+CS50+2024")
    assert mitx.accepts("MITx", None)
    assert mitx.accepts(None, "course-v1:MITx+6.002x+2024")  # the org read from the course id
    assert mitx.accepts(None, "MITx/6.002x/2012_Fall")
    assert mitx.accepts("HarvardX", "course-v1:HarvardX+CS50+2024")
    assert not mitx.accepts("HarvardX", "course-v1:HarvardX+CS51+2024")
    assert not mitx.accepts(None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[destination]]\nname = "a"\nurl = "https://x.org"\nusername = "u"\n'
         'password_env = "NOT_SET"\n',
         "destination 'a': environment variable NOT_SET (for `password`) is not set"),
        ('[[destination]]\nname = "a"\nurl = "https://x.org"\nheaders = 1\n',
         "destination 'a': unknown key(s) ['headers']"),
        ('[[destination]]\nname = "a"\nurl = "https://x.org"\nkind = "cmi5"\n',
         "kind 'cmi5' is not supported"),
        ('[[destination]]\nname = "a"\nurl = "https://x.org"\norgs = "MITx"\n',
         "`orgs` must be a list of non-empty strings"),
        ('[[destination]]\nname = "a"\nurl = "https://x.org"\nusername = "u"\n'
         f'password = "{SECRET}"\ntoken = "{SECRET}"\n',
         "destination 'a': give a token or a username, not both"),
        (f'[[destination]]\nname = "a"\nurl = "https://u:{SECRET}@x.org/xapi"\n',
         "not in the LRS URL"),
        ('[[destination]]\nname = "a"\nurl = "ftp://x.org"\n', "must be an http(s) URL"),
        ('[[destination]]\nname = "a"\nurl = "https://x.org"\n'
         '[[destination]]\nname = "a"\nurl = "https://y.org"\n',
         "destination name 'a' is used more than once"),
        ("[[destination]]\nurl = 1\n", "destination #1: needs a non-empty `name`"),
        ("destination = [", "cannot read destinations file"),
    ],
)  # fmt: skip
def test_load_destinations_file_errors_name_the_place_not_the_secret(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_destinations(Settings(destinations_file=path), environ={})
    assert message in str(error.value)
    assert SECRET not in str(error.value)


def test_load_destinations_credentials_without_url() -> None:
    with pytest.raises(ConfigError, match="TRANSLATOR_LRS_URL is not"):
        load_destinations(Settings(lrs_token=SECRET), environ={})


def test_destination_username_needs_password() -> None:
    with pytest.raises(ConfigError, match="a username needs a password"):
        Destination(name="d", url="https://x.org", username="u")


def test_course_org() -> None:
    assert course_org("course-v1:MITx+6.002x+2024") == "MITx"
    assert course_org("MITx/6.002x/2012_Fall") == "MITx"
    assert course_org("nonsense") is None
