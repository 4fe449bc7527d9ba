"""What the erb-compat tests share: ERB's statement-id recipe, written out independently of the
project's built-in, and a translator of the bundled overlay with an actor map and course names."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from translator.config import Settings, overlay_dirs
from translator.engine import Translator
from translator.mapping.plan import load_plan
from translator.targets.target import Target


def erb_statement_id(
    verb: dict[str, Any], learner: str, lms: str, timestamp: str, key: str | None = None
) -> str:
    """ERB's statement id: uuid5(uuid5(NAMESPACE_DNS, verb_json [+ "-" + key]), actor_json + "-"
    + time), the JSON as tincan writes it (json.dumps, its key order), the time as logged."""
    verb_json = json.dumps({"id": verb["id"], "display": verb["display"]})
    actor_json = json.dumps({"objectType": "Agent", "account": {"name": learner, "homePage": lms}})
    namespace = verb_json if key is None else f"{verb_json}-{key}"
    return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_DNS, namespace), f"{actor_json}-{timestamp}"))


def erb_compat_translator(
    folder: Path, target: Target, *, lms: str, actor_row: str, course_rows: str, version: str
) -> Translator:
    """The erb-compat plan of `target`: the actor map holds `actor_row` (`user_id,anonymous_id,
    username`), the course names `course_rows` (`course_id,display_name` lines), and the
    transformer version is `version`."""
    actors = folder / "actors.csv"
    actors.write_text(f"user_id,anonymous_id,username\n{actor_row}\n", encoding="utf-8")
    courses = folder / "courses.csv"
    courses.write_text(f"course_id,display_name\n{course_rows}\n", encoding="utf-8")
    settings = Settings(
        lms_root_url=lms,
        pseudonym_secret="erb-compat-test",
        overlays=overlay_dirs((Path("erb-compat"),)),
        actor_map=actors,
        course_names=courses,
        mapping_vars=(("transformer_version", version),),
    )
    return Translator(load_plan(settings, target, environ={}), id_namespace=settings.id_namespace)
