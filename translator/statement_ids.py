"""The statement-id recipe, in one place: a UUID 5 over the event and the mapping that built it.

    id = uuid5(namespace, canonical event + US event name + US variant [+ US fan-out key])

The canonical event is the normalised event as JSON with sorted keys (written by the standard
library when orjson cannot: an integer beyond 64 bits, kept exact, or deep nesting); US is the
unit separator (0x1F), which JSON text never holds unescaped. The same line, mapped the same
way, always gets the same id, so sending a log twice stores nothing twice (design §6). A target
writes the UUID in its own form (translator.mapping.contract.TargetRules.statement_id). Changing
this recipe would duplicate every statement already sent: a golden test pins it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import orjson

from translator.syntax import uuid_of_digest

__all__ = ["StatementIds", "id_suffix", "statement_id", "uuid5_text"]


def id_suffix(*parts: str) -> bytes:
    """The parts after the canonical event (event name, variant, fan-out key), as hashed."""
    return b"".join(b"\x1f" + part.encode() for part in parts)


def uuid5_text(name: bytes) -> str:
    """uuid.uuid5's text for namespace bytes + name, without building a UUID object."""
    return uuid_of_digest(hashlib.sha1(name).hexdigest(), 5)


def statement_id(namespace: uuid.UUID, canonical_event: bytes, *parts: str) -> str:
    """The id of the statement built from `canonical_event` by the mapping `parts` name."""
    return uuid5_text(namespace.bytes + canonical_event + id_suffix(*parts))


class StatementIds:
    """The recipe bound to one namespace, split for the hot path: the event is serialised once
    (`base`), then each statement of it hashes that plus its precomputed suffix (`uuid5_text`)."""

    __slots__ = ("_namespace",)

    def __init__(self, namespace: str | uuid.UUID) -> None:
        """Raises ValueError when `namespace` is not a UUID."""
        self._namespace = (
            namespace.bytes if isinstance(namespace, uuid.UUID) else uuid.UUID(namespace).bytes
        )

    def base(self, event: dict[str, Any]) -> bytes:
        """The namespace and the canonical event: what every statement of `event` starts from."""
        try:
            return self._namespace + orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # an integer beyond 64 bits (kept exact, see intake.events), or depth
            text = json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            return self._namespace + text.encode("utf-8", "surrogatepass")
