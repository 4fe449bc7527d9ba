"""Settings: defaults < a TOML config file < environment (`TRANSLATOR_*`) < command-line flags."""

from __future__ import annotations

import math
import os
import tomllib
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from translator.errors import ConfigError
from translator.mapping.functions import ACTOR_IDENTITIES
from translator.messages import did_you_mean

__all__ = [
    "BUNDLED_OVERLAYS",
    "Settings",
    "bundled_overlays_dir",
    "check_settings",
    "default_mappings_dir",
    "load_settings",
    "overlay_dirs",
    "parse_var",
    "unknown_variables",
]

_ENV_PREFIX = "TRANSLATOR_"
_DEFAULT_NAMESPACE = "6f0d1d4e-5c1b-4b8e-9a51-6a0c8e2f3b7d"


def default_mappings_dir() -> Path:
    """The core mappings: bundled inside the wheel, or `mappings/` of a source checkout."""
    package = Path(__file__).resolve().parent
    bundled = package / "_mappings"
    return bundled if bundled.is_dir() else package.parent / "mappings"


BUNDLED_OVERLAYS = "overlays"


def bundled_overlays_dir() -> Path:
    """Where the overlays that ship with the service live (`mappings/overlays/<name>/`)."""
    return default_mappings_dir() / BUNDLED_OVERLAYS


def overlay_dirs(overlays: tuple[Path, ...]) -> tuple[Path, ...]:
    """The directories of `overlays`, in order: a directory that exists is itself; a bare name
    that names no directory (`erb-compat`) is the bundled overlay of that name. The one place
    overlay names are resolved, for the commands and the workers (TRANSLATOR_OVERLAYS) alike; a
    name found nowhere is left as it is, for the mapping loader to report."""
    found: list[Path] = []
    for overlay in overlays:
        bundled = bundled_overlays_dir() / overlay.name
        if not overlay.is_dir() and len(overlay.parts) == 1 and bundled.is_dir():
            found.append(bundled)
        else:
            found.append(overlay)
    return tuple(found)


def parse_var(text: str) -> tuple[str, str]:
    """`NAME=VALUE` (a `--var`) as (name, value); the name as mappings write it (lower case).
    Raises ConfigError."""
    name, found, value = text.partition("=")
    name = name.strip().lower()
    if not found or not name.isidentifier():
        raise ConfigError(f"--var {text!r}: expected NAME=VALUE")
    return name, value


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the service. Secrets are kept out of `repr` so they never reach a log."""

    lms_root_url: str = "http://localhost:18000"
    pseudonym_secret: str | None = field(default=None, repr=False)
    id_namespace: str = _DEFAULT_NAMESPACE
    mappings_dir: Path = field(default_factory=default_mappings_dir)
    overlays: tuple[Path, ...] = ()
    actor_map: Path | None = None
    # How actors are identified (ACTOR_IDENTITIES): None is "pseudonym", or "actor-map" when
    # an actor map is named. "username" and "email" send personal data out: an opt-in.
    actor_identity: str | None = None
    # CSV course_id,display_name: course names for mappings that state them (`course_name`).
    course_names: Path | None = None
    # Mapping vars set on the command line (`--var NAME=VALUE`), over those of the files and of
    # the environment (TRANSLATOR_VAR_<NAME>).
    mapping_vars: tuple[tuple[str, str], ...] = ()
    max_line_bytes: int = 1_000_000
    redis_url: str = "redis://127.0.0.1:6379/0"
    lrs_url: str | None = None
    lrs_username: str | None = None
    lrs_password: str | None = field(default=None, repr=False)
    lrs_token: str | None = field(default=None, repr=False)
    destinations_file: Path | None = None
    batch_size: int = 100
    batch_max_wait: float = 5.0
    request_timeout: float = 30.0
    dead_letter_path: Path = Path("dead-letters.jsonl")
    chunk_lines: int = 500
    # A queued message also holds at most this many bytes of raw lines (a line longer than that
    # goes alone), and the producer stops reading while the queue holds `queue_max_messages`.
    chunk_bytes: int = 1_048_576
    queue_max_messages: int = 100
    # Delivery through the workers (design §10: a killed worker's message comes back only after
    # `visibility_timeout` seconds, which must exceed the time one task can take: at least twice
    # request_timeout, checked at start; docs/operations.md gives the recovery time).
    visibility_timeout: float = 600.0
    retry_initial: float = 1.0
    retry_max: float = 300.0
    # A queued run keeps its raw rejected lines (which may name learners) in Redis only when it
    # asked for them (`forward --queue --wait --rejects FILE`), and for this many seconds.
    rejects_ttl: float = 86400.0
    # A queued run or a worker refuses a Redis that keeps no append-only file (a restart would
    # lose the queue) unless this is true.
    allow_volatile_redis: bool = False
    # In-process delivery parks a destination's statements once it has been unavailable this
    # many seconds (0: retry as long as the run lasts).
    give_up_after: float = 0.0
    # A stop (SIGTERM, Ctrl-C) settles what was read within this many seconds, then parks the rest.
    stop_grace: float = 10.0
    # Where `translator follow` keeps the position of each followed log (design §11).
    checkpoint_path: Path = Path("checkpoints.json")
    # Prometheus metrics of long-running commands and workers: on this port when not 0.
    metrics_port: int = 0
    metrics_address: str = "127.0.0.1"
    # The Redis that Open edX's event bus writes to (`translator consume`); None: `redis_url`.
    event_bus_redis_url: str | None = field(default=None, repr=False)
    # An entry another consumer has held unacknowledged this many seconds is claimed: that
    # consumer is taken for dead (a live one that is slower only causes a harmless redelivery).
    event_bus_claim_idle: float = 60.0
    # The official IMS Caliper 1.2 JSON Schemas (their `json_schema/` folder), read by the strict
    # Caliper check; not shipped with the package (translator.targets.caliper.strict says why).
    caliper_schema_dir: Path | None = None

    @property
    def identity(self) -> str:
        """How actors are identified: `actor_identity`, else "actor-map" when an actor map is
        named, else "pseudonym"."""
        if self.actor_identity is not None:
            return self.actor_identity
        return "pseudonym" if self.actor_map is None else "actor-map"

    @property
    def needs_pseudonym_secret(self) -> bool:
        """True when actor ids are keyed pseudonyms, which only the pseudonym secret makes."""
        return self.identity == "pseudonym"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given (already typed) settings changed; `None` means "not given"."""
        given = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **given) if given else self


_SECRET_NAMES = {"pseudonym_secret", "lrs_password", "lrs_token"}


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _kind_of(annotation: Any) -> tuple[type, bool]:
    """The one type a setting holds and whether it may be None (`Path | None` -> (Path, True));
    a tuple of paths is (tuple, False), a tuple of (name, value) pairs (dict, False)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = type(None) in typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is tuple and typing.get_args(annotation)[0] is not Path:
        return dict, False
    if origin is tuple:
        return tuple, False
    if optional and len(args) == 1:
        return args[0], True
    return annotation, False


def _coerce(name: str, raw: Any, annotation: Any) -> Any:
    """Turn a config-file or environment value into the field's declared type, or raise
    ConfigError. Text is read as its type says: "false" is the boolean False, never a truthy
    string; an empty path is "not set" for an optional path."""
    kind, optional = _kind_of(annotation)
    try:
        if kind is dict:  # mapping_vars: a TOML table of name = value
            if not isinstance(raw, dict):
                raise ValueError(raw)
            return tuple((str(k).lower(), str(v)) for k, v in raw.items())
        if kind is tuple:  # overlays: paths separated by the OS path separator
            items = raw.split(os.pathsep) if isinstance(raw, str) else list(raw)
            return tuple(Path(p) for p in items if str(p))
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise ValueError(raw)
        if kind is Path:
            if not str(raw):
                if optional:
                    return None
                raise ValueError(raw)
            return Path(raw)
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw)
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if kind is str:
            if not isinstance(raw, str | int | float) or isinstance(raw, bool):
                raise ValueError(raw)
            return str(raw)
    except (TypeError, ValueError):
        shown = "(hidden)" if name in _SECRET_NAMES else repr(raw)
        raise ConfigError(
            f"setting {name}: cannot use {shown} as {getattr(kind, '__name__', kind)}"
        ) from None
    raise ConfigError(f"setting {name}: no reader for its type {annotation!r}")  # pragma: no cover


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from defaults, then `config_file` (TOML), then `TRANSLATOR_*` variables.

    The config file may be named by `TRANSLATOR_CONFIG`. Raises ConfigError on an unknown key,
    a value of the wrong type or an unreadable file.
    """
    env = dict(os.environ if environ is None else environ)
    known = typing.get_type_hints(Settings)
    values: dict[str, Any] = {}
    path = config_file or (Path(env["TRANSLATOR_CONFIG"]) if env.get("TRANSLATOR_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc}") from None
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, known[key])
    for key, kind in known.items():
        raw_env = env.get(_ENV_PREFIX + key.upper())
        if raw_env is not None and raw_env != "":
            values[key] = _coerce(key, raw_env, kind)
    return Settings(**values)


# Variables that are read but are not settings.
_OTHER_VARIABLES = frozenset({"TRANSLATOR_CONFIG"})
_VAR_PREFIX = "TRANSLATOR_VAR_"
_AT_LEAST_ONE = (
    "max_line_bytes",
    "batch_size",
    "chunk_lines",
    "chunk_bytes",
    "queue_max_messages",
)
_POSITIVE = ("batch_max_wait", "request_timeout", "retry_initial", "rejects_ttl")
_PLACEHOLDER = "change-me"  # how .env.example's secrets begin


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each `TRANSLATOR_*` variable that names no setting (a typo is otherwise
    silently ignored), with the closest setting's name."""
    env = os.environ if environ is None else environ
    known = {_ENV_PREFIX + name.upper() for name in typing.get_type_hints(Settings)}
    warnings = []
    for name in sorted(env):
        if not name.startswith(_ENV_PREFIX) or name.startswith(_VAR_PREFIX):
            continue
        if name not in known and name not in _OTHER_VARIABLES:
            warnings.append(f"{name} is not a setting and is ignored{did_you_mean(name, known)}")
    return warnings


def _url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        return f"{value!r} is not a URL with a scheme ({', '.join(s + '://' for s in schemes)})"
    if parts.scheme != "unix" and not parts.hostname:
        return f"{value!r} names no host"
    return None


# Vars the engine sets itself (translator.mapping.plan.ENGINE_VARS): a TRANSLATOR_VAR_ for one
# would be silently overwritten, so it is refused with where the value is set instead.
_ENGINE_VARIABLES = {
    "TRANSLATOR_VAR_LMS_ROOT_URL": "the LMS root is the setting lms_root_url:"
    " set TRANSLATOR_LMS_ROOT_URL instead",
    "TRANSLATOR_VAR_TRANSLATOR_VERSION": "translator_version is the installed version and"
    " cannot be set",
}


def _identity_problems(settings: Settings) -> list[str]:
    identity = settings.actor_identity
    if identity is None:
        return []
    if identity not in ACTOR_IDENTITIES:
        return [
            f"setting actor_identity: {identity!r} is not one of {', '.join(ACTOR_IDENTITIES)}"
            f"{did_you_mean(identity, ACTOR_IDENTITIES)}"
        ]
    if identity == "actor-map" and settings.actor_map is None:
        return ["setting actor_identity: actor-map needs an actor map: set actor_map"]
    if identity != "actor-map" and settings.actor_map is not None:
        return [
            f"setting actor_map: an actor map is read only with actor_identity actor-map, "
            f"not {identity}"
        ]
    return []


def _short_visibility(settings: Settings) -> str:
    return (
        f"setting visibility_timeout: {settings.visibility_timeout:g} s is shorter than what "
        "one delivery task can take (a request of up to request_timeout "
        f"{settings.request_timeout:g} s, and a conflict's look-up): must be at least twice "
        "request_timeout, or a batch still being delivered is given to another worker as if "
        "its worker had died"
    )


def check_settings(settings: Settings, *, environ: Mapping[str, str] | None = None) -> None:
    """Check what can be known before a run starts: URLs have a scheme, the id namespace is a
    UUID, actor_identity is known (with an actor map when it names one), numbers are in range,
    the files named exist, no TRANSLATOR_VAR_ sets a var the engine sets (`environ`, default
    os.environ). Raises ConfigError listing every problem, one line
    each, naming the setting (never showing a secret)."""
    problems: list[str] = []
    env = os.environ if environ is None else environ
    for name, advice in _ENGINE_VARIABLES.items():
        if name in env:
            problems.append(f"{name}: {advice}")
    for name, schemes in (("lms_root_url", ("http", "https")), ("lrs_url", ("http", "https"))):
        value = getattr(settings, name)
        found = _url_problem(value, schemes) if value is not None else None
        if found:
            problems.append(f"setting {name}: {found}")
    found = _url_problem(settings.redis_url, ("redis", "rediss", "unix"))
    if found:
        problems.append(f"setting redis_url: {found}")
    try:
        uuid.UUID(settings.id_namespace)
    except ValueError:
        problems.append(f"setting id_namespace: {settings.id_namespace!r} is not a UUID")
    for name in _AT_LEAST_ONE:
        if getattr(settings, name) < 1:
            problems.append(f"setting {name}: must be at least 1, not {getattr(settings, name)}")
    for name, value in ((f, getattr(settings, f)) for f in typing.get_type_hints(Settings)):
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"setting {name}: must be a finite number, not {value}")
    for name in _POSITIVE:
        if not getattr(settings, name) > 0:
            problems.append(f"setting {name}: must be more than 0, not {getattr(settings, name)}")
    if not 0 <= settings.metrics_port <= 65535:
        problems.append(f"setting metrics_port: {settings.metrics_port} is not a TCP port")
    if settings.give_up_after < 0:
        problems.append(f"setting give_up_after: must be 0 or more, not {settings.give_up_after}")
    if settings.stop_grace < 0:
        problems.append(f"setting stop_grace: must be 0 or more, not {settings.stop_grace}")
    if settings.visibility_timeout < 1:
        problems.append("setting visibility_timeout: must be at least 1 second")
    elif settings.visibility_timeout < 2 * settings.request_timeout:
        problems.append(_short_visibility(settings))
    if settings.retry_max < settings.retry_initial:
        problems.append("setting retry_max: must be at least retry_initial")
    for name in _SECRET_NAMES:
        secret = getattr(settings, name)
        if secret is not None and secret.strip().lower().startswith(_PLACEHOLDER):
            problems.append(
                f"setting {name}: still the placeholder of .env.example: set a long random value"
            )
    problems.extend(_identity_problems(settings))
    if not settings.mappings_dir.is_dir():
        problems.append(f"setting mappings_dir: {settings.mappings_dir} is not a directory")
    for name in ("actor_map", "course_names", "destinations_file"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            problems.append(f"setting {name}: {path} is not a readable file")
    if problems:
        raise ConfigError("\n".join(problems))
