"""Whether the broker's Redis keeps the queue across a restart: checked before a queued run or a
worker starts, refused without persistence unless the operator accepts the loss."""

from __future__ import annotations

import redis

from translator.errors import ConfigError

__all__ = ["check_durability", "persistence_problem"]

_AT_RISK = (
    "the queued messages (lines not yet translated, statements not yet delivered), the runs' "
    "books and the workers' dead letters"
)
_OPT_OUT = "set TRANSLATOR_ALLOW_VOLATILE_REDIS=true to accept that"


def persistence_problem(client: redis.Redis) -> str | None:
    """What a restart of this Redis would lose, or None when it writes an append-only file.

    Reads CONFIG GET (appendonly, save), or INFO persistence where CONFIG is not allowed (a
    managed Redis). Raises redis.RedisError when Redis cannot be reached.
    """
    try:
        config: dict[str, str] = client.config_get("appendonly")  # type: ignore[assignment]
        config.update(client.config_get("save"))  # type: ignore[arg-type]
        aof = config.get("appendonly", "no") == "yes"
        save = str(config.get("save", "")).strip()
    except redis.ResponseError:  # CONFIG renamed or forbidden: INFO tells about the AOF
        info: dict[str, object] = client.info("persistence")
        aof = str(info.get("aof_enabled", "0")) == "1"
        save = "(unknown)"
    if aof:
        return None
    if save and save != "(unknown)":
        return (
            f"Redis keeps no append-only file (appendonly no; only snapshots, save {save!r}): "
            f"a restart loses what was written since the last snapshot to {_AT_RISK}"
        )
    return (
        f"Redis keeps no append-only file (appendonly no, save {save or 'off'!r}): a restart "
        f"loses all of {_AT_RISK}"
    )


def check_durability(client: redis.Redis, *, allow_volatile: bool) -> None:
    """Refuse a Redis without an append-only file, unless `allow_volatile`.

    Raises ConfigError saying what can be lost and how to opt out, and redis.RedisError when
    Redis cannot be reached.
    """
    if allow_volatile:
        return
    problem = persistence_problem(client)
    if problem is not None:
        raise ConfigError(f"{problem}; turn persistence on (appendonly yes) or {_OPT_OUT}")
