"""The strict check of a Caliper event: our rules, then the official IMS Caliper 1.2 JSON Schemas.

Slow and thorough (`--strict`, the tests, the test endpoint). The schemas are not shipped with
this package: IMS publishes them, like the specification, under its specification licence ("All
Rights Reserved"; use governed by the IMS licence), which grants no right to redistribute them.
A deployment points the setting `caliper_schema_dir` (`TRANSLATOR_CALIPER_SCHEMA_DIR`) at a
copy of the `json_schema/` folder of the specification; the tests use the project's reference copy.

The schemas are JSON Schema draft-04 documents named by a bare `id` ("Event", "Person") and
referring to each other by it (`"$ref": "Action"`); they are read into one `referencing`
registry and checked with `jsonschema`. One fault of theirs is worked around: the Envelope
schema's `data` takes one entity or event, where the specification (and every official envelope
example) sends a list, so an envelope is checked without its `data` and each item on its own.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import orjson
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from translator.errors import ConfigError, TranslationError
from translator.targets.caliper.checks import CALIPER_CONTEXT, event_problems

__all__ = [
    "SCHEMA_DIR_ENV",
    "CaliperSchemas",
    "official_schemas",
    "strict_check",
    "use_schema_dir",
]

SCHEMA_DIR_ENV = "TRANSLATOR_CALIPER_SCHEMA_DIR"
_ENVELOPE_KEYS = ("sensor", "sendTime", "dataVersion", "data")
_configured: Path | None = None


class CaliperSchemas:
    """The official schemas of one directory, with a validator per type built on first use."""

    def __init__(self, directory: Path) -> None:
        """Raises ConfigError when the directory holds no readable Caliper schemas."""
        resources: list[tuple[str, Resource[Any]]] = []
        try:
            paths = sorted(directory.glob("*.json"))
            for path in paths:
                document = orjson.loads(path.read_bytes())
                if isinstance(document, dict) and isinstance(document.get("id"), str):
                    resources.append((document["id"], DRAFT4.create_resource(document)))
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"{directory}: cannot read the Caliper JSON Schemas: {exc}") from None
        self.schemas: Mapping[str, Any] = {name: res.contents for name, res in resources}
        if "Event" not in self.schemas or "Envelope" not in self.schemas:
            raise ConfigError(
                f"{directory}: not the Caliper 1.2 json_schema folder"
                " (no Event.json, Envelope.json)"
            )
        self.directory = directory
        self._registry: Registry[Any] = Registry().with_resources(resources)
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def __repr__(self) -> str:
        return f"CaliperSchemas({str(self.directory)!r})"

    def _validator(self, name: str) -> jsonschema.protocols.Validator:
        found = self._validators.get(name)
        if found is None:
            found = jsonschema.Draft4Validator(self.schemas[name], registry=self._registry)
            self._validators[name] = found
        return found

    def _problems(self, name: str, document: Any, at: str) -> list[str]:
        errors = self._validator(name).iter_errors(document)
        return [_message(error, at) for error in _first(errors, 5)]

    def event_problems(self, event: Any, at: str = "") -> list[str]:
        """What the official schema of the event's type refuses in it; [] if nothing."""
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str) or kind not in self.schemas or not kind.endswith("Event"):
            return [f"{at}/type: {kind!r} is not a Caliper event type with an official schema"]
        return self._problems(kind, event, at)

    def envelope_problems(self, envelope: Any) -> list[str]:
        """What the specification and the official schemas refuse in an envelope of events."""
        if not isinstance(envelope, dict):
            return ["(root): an envelope is an object"]
        problems = [f"/{key}: is required" for key in _ENVELOPE_KEYS if key not in envelope]
        if envelope.get("dataVersion", CALIPER_CONTEXT) != CALIPER_CONTEXT:
            problems.append(f"/dataVersion: must be {CALIPER_CONTEXT!r}")
        head = {key: value for key, value in envelope.items() if key != "data"}
        problems.extend(self._problems("Envelope", head, ""))
        data = envelope.get("data", [])
        if not isinstance(data, list) or not data:
            return [*problems, "/data: must be a non-empty list of events"]
        for index, item in enumerate(data):
            problems.extend(self.event_problems(item, f"/data/{index}"))
        return problems


def _first(errors: Iterable[jsonschema.ValidationError], limit: int) -> list[Any]:
    found: list[Any] = []
    for error in errors:
        found.extend(_leaves(error))
        if len(found) >= limit:
            break
    return found[:limit]


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors that say what is wrong. The schemas write "an entity of any type" as an anyOf
    of every type: of its branches, the one whose `type` fits the value holds the real errors."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        subs
        for subs in branches.values()
        if not any(
            tuple(sub.relative_path) == ("type",)
            or (sub.validator == "type" and not sub.relative_path)
            for sub in subs
        )
    ]
    if len(fitting) != 1:
        return [error]
    return [leaf for sub in fitting[0] for leaf in _leaves(sub)]


def _message(error: jsonschema.ValidationError, at: str) -> str:
    pointer = "".join(f"/{part}" for part in error.absolute_path)
    text = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{at}{pointer or '/'}: {text}"


def use_schema_dir(directory: Path | None) -> None:
    """Where the official schemas are (the setting `caliper_schema_dir`); None: the environment."""
    global _configured
    _configured = directory


@functools.cache
def _load(directory: Path) -> CaliperSchemas:
    return CaliperSchemas(directory)


def official_schemas() -> CaliperSchemas:
    """The official schemas of the configured directory, read once.

    Raises ConfigError when no directory is configured or it holds no schemas.
    """
    directory = _configured
    if directory is None and os.environ.get(SCHEMA_DIR_ENV):
        directory = Path(os.environ[SCHEMA_DIR_ENV])
    if directory is None:
        raise ConfigError(
            "the strict Caliper check needs the official IMS Caliper 1.2 JSON Schemas: set "
            f"caliper_schema_dir ({SCHEMA_DIR_ENV}) to their json_schema folder"
        )
    return _load(directory.resolve())


def strict_check(event: dict[str, Any]) -> None:
    """Check thoroughly (--strict, tests): every rule of ours, then the official schema of the
    event's type. Raises TranslationError naming every problem found, and ConfigError when the
    schemas are not configured."""
    problems = event_problems(event)
    if problems:
        raise TranslationError("invalid event: " + "; ".join(problems))
    problems = official_schemas().event_problems(event)
    if problems:
        raise TranslationError("event refused by the Caliper 1.2 schema: " + "; ".join(problems))
