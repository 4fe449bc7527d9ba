"""Where statements go: the configured endpoints, their kind, credentials and org/course filters."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from translator.config import Settings
from translator.errors import ConfigError
from translator.targets.registry import DEFAULT_TARGET, TARGETS

__all__ = ["Destination", "course_org", "load_destinations"]

AuthKind = Literal["basic", "bearer", "none"]

_FILE_KEYS = frozenset(
    {
        "name",
        "url",
        "kind",
        "username",
        "password",
        "password_env",
        "token",
        "token_env",
        "orgs",
        "courses",
        "sensor",
    }
)


@dataclass(frozen=True, slots=True)
class Destination:
    """One endpoint: its URL, its kind, how we authenticate, and which events it wants.

    `kind` is the target whose statements it takes ("xapi": `url` is an LRS's xAPI base
    endpoint; "caliper": `url` is a Caliper endpoint, `token` its Bearer API key and `sensor`
    the id our envelopes carry); it also picks the client (translator.sinks.clients).
    Credentials never appear in `repr`, so a destination can be logged. `orgs` and `courses`
    are filters: `None` means "everything"; when either is given, an event is accepted if its
    org is in `orgs` or its course is in `courses`.
    """

    name: str
    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    kind: str = DEFAULT_TARGET
    orgs: frozenset[str] | None = None
    courses: frozenset[str] | None = None
    sensor: str | None = None

    def __post_init__(self) -> None:
        _check_url(self.name, self.url)
        if (self.sensor is not None) != (self.kind == "caliper"):
            raise ConfigError(
                f"destination {self.name!r}: "
                + (
                    "a caliper destination needs a `sensor` id (an IRI naming this service)"
                    if self.kind == "caliper"
                    else "only a caliper destination takes a `sensor`"
                )
            )
        if self.kind not in TARGETS:
            known = ", ".join(repr(k) for k in sorted(TARGETS))
            raise ConfigError(
                f"destination {self.name!r}: kind {self.kind!r} is not supported (known: {known})"
            )
        if self.token is not None and (self.username is not None or self.password is not None):
            raise ConfigError(f"destination {self.name!r}: give a token or a username, not both")
        if (self.username is None) != (self.password is None):
            raise ConfigError(f"destination {self.name!r}: a username needs a password")
        object.__setattr__(self, "url", self.url.rstrip("/"))

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}", f"url={self.url!r}", f"auth={self.auth_kind!r}"]
        if self.kind != DEFAULT_TARGET:
            parts.insert(2, f"kind={self.kind!r}")
        if self.orgs is not None:
            parts.append(f"orgs={sorted(self.orgs)!r}")
        if self.courses is not None:
            parts.append(f"courses={sorted(self.courses)!r}")
        return f"Destination({', '.join(parts)})"

    @property
    def auth_kind(self) -> AuthKind:
        """Which scheme authenticates us: HTTP Basic, a Bearer token, or none."""
        if self.token is not None:
            return "bearer"
        return "basic" if self.username is not None else "none"

    def accepts(self, org: str | None, course_id: str | None) -> bool:
        """Whether an event of this org and course goes here.

        Without filters every event does. With filters, an event matches by org (taken from the
        course id when `org` is not given) or by exact course id; an event with neither is refused.
        """
        if self.orgs is None and self.courses is None:
            return True
        if org is None and course_id is not None:
            org = course_org(course_id)
        if self.orgs is not None and org is not None and org in self.orgs:
            return True
        return self.courses is not None and course_id is not None and course_id in self.courses


def course_org(course_id: str) -> str | None:
    """The org of an edX course id (`course-v1:ORG+NUM+RUN` or the old `ORG/NUM/RUN`)."""
    if course_id.startswith("course-v1:"):
        org = course_id[len("course-v1:") :].split("+", 1)[0]
        return org or None
    if "/" in course_id:
        return course_id.split("/", 1)[0] or None
    return None


def load_destinations(
    settings: Settings, *, environ: Mapping[str, str] | None = None
) -> list[Destination]:
    """The destinations configured by `settings`, in order; empty when none is.

    `TRANSLATOR_LRS_URL` (with `..._USERNAME`/`..._PASSWORD` or `..._TOKEN`) gives one destination
    named "default"; `settings.destinations_file` (TOML) adds one per `[[destination]]` table.
    Both may be used together. A file's credential is literal (`password`, `token`) or read from
    the environment (`password_env = "VAR"`, `token_env = "VAR"`). Raises ConfigError, naming the
    file and destination but never a credential, on any mistake.
    """
    env = os.environ if environ is None else environ
    found: list[Destination] = []
    if settings.lrs_url is not None:
        found.append(
            Destination(
                name="default",
                url=settings.lrs_url,
                username=settings.lrs_username,
                password=settings.lrs_password,
                token=settings.lrs_token,
            )
        )
    elif settings.lrs_username or settings.lrs_password or settings.lrs_token:
        raise ConfigError("LRS credentials are set but TRANSLATOR_LRS_URL is not")
    if settings.destinations_file is not None:
        found.extend(_read_file(settings.destinations_file, env))
    names = [d.name for d in found]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"destination name {name!r} is used more than once")
    return found


def _read_file(path: Path, env: Mapping[str, str]) -> list[Destination]:
    """Parse a destinations file; every error names the file and the destination."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read destinations file: {exc}") from None
    unknown = set(data) - {"destination"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; expected [[destination]]")
    tables = data.get("destination", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[destination]] table")
    return [_one(path, index, table, env) for index, table in enumerate(tables, start=1)]


def _one(path: Path, index: int, table: Any, env: Mapping[str, str]) -> Destination:
    where = f"{path}: destination #{index}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: needs a non-empty `name`")
    where = f"{path}: destination {name!r}"
    unknown = set(table) - _FILE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    url = table.get("url")
    if not isinstance(url, str):
        raise ConfigError(f"{where}: needs a `url` (the LRS's xAPI endpoint)")
    kind = table.get("kind", DEFAULT_TARGET)
    if not isinstance(kind, str):
        raise ConfigError(f"{where}: `kind` must be a string")
    sensor = table.get("sensor")
    if sensor is not None and not isinstance(sensor, str):
        raise ConfigError(f"{where}: `sensor` must be a string")
    username = table.get("username")
    if username is not None and not isinstance(username, str):
        raise ConfigError(f"{where}: `username` must be a string")
    try:
        return Destination(
            name=name,
            url=url,
            kind=kind,
            username=username,
            password=_secret(where, table, "password", env),
            token=_secret(where, table, "token", env),
            orgs=_names(where, table, "orgs"),
            courses=_names(where, table, "courses"),
            sensor=sensor,
        )
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _secret(where: str, table: Mapping[str, Any], key: str, env: Mapping[str, str]) -> str | None:
    """A credential given literally (`key`) or by the name of an environment variable."""
    literal, var = table.get(key), table.get(f"{key}_env")
    if literal is not None and var is not None:
        raise ConfigError(f"{where}: give `{key}` or `{key}_env`, not both")
    if literal is not None:
        if not isinstance(literal, str):
            raise ConfigError(f"{where}: `{key}` must be a string")
        return literal
    if var is None:
        return None
    if not isinstance(var, str) or not var:
        raise ConfigError(f"{where}: `{key}_env` must name an environment variable")
    value = env.get(var)
    if not value:
        raise ConfigError(f"{where}: environment variable {var} (for `{key}`) is not set")
    return value


def _names(where: str, table: Mapping[str, Any], key: str) -> frozenset[str] | None:
    raw = table.get(key)
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ConfigError(f"{where}: `{key}` must be a list of non-empty strings")
    return frozenset(raw)


def _check_url(name: str, url: str) -> None:
    """An absolute http(s) URL without credentials in it (they would leak into every log line)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"destination {name!r}: the LRS URL must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"destination {name!r}: put credentials in the username/password or token "
            "settings, not in the LRS URL"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"destination {name!r}: the LRS URL must not have a query or fragment")
