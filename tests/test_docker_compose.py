"""docker-compose.yml parses and names its services (no container engine runs in the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_docker_compose_names_redis_worker_lrs_and_forward() -> None:
    services = _compose()["services"]
    assert {"redis", "worker", "lrs", "forward"} <= set(services)
    assert services["lrs"]["image"].startswith("fundocker/ralph:")
    assert services["worker"]["command"][0] == "worker"
    assert services["forward"]["command"][:3] == ["forward", "--queue", "--wait"]
    assert "examples/tracking.log" in services["forward"]["command"]
    assert (ROOT / "examples" / "tracking.log").is_file()
    assert (ROOT / "docker" / "lrs" / "launch.py").is_file()


def test_docker_compose_takes_credentials_from_the_env_file() -> None:
    compose = _compose()
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("worker", "forward", "lrs"):
        assert compose["services"][name]["env_file"] == ".env"
    assert "PASSWORD" not in text and "SECRET" not in text
    example = (ROOT / ".env.example").read_text()
    for name in (
        "TRANSLATOR_PSEUDONYM_SECRET",
        "TRANSLATOR_LRS_USERNAME",
        "TRANSLATOR_LRS_PASSWORD",
    ):
        assert f"{name}=" in example
