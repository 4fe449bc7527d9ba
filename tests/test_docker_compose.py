"""docker-compose.yml's promises, checked on the file (no container engine runs in the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_docker_compose_names_redis_worker_lrs_forward_and_follow() -> None:
    services = _compose()["services"]
    assert {"redis", "worker", "lrs", "forward", "follow"} <= set(services)
    assert services["lrs"]["image"].startswith("fundocker/ralph:")
    assert services["worker"]["command"][0] == "worker"
    assert services["forward"]["command"][:3] == ["forward", "--queue", "--wait"]
    assert services["follow"]["command"][0] == "follow"
    assert (ROOT / "examples" / "tracking.log").is_file()
    assert (ROOT / "docker" / "lrs" / "launch.py").is_file()


def test_docker_compose_gives_each_service_only_the_secrets_it_needs() -> None:
    services = _compose()["services"]
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("worker", "forward", "follow"):
        assert services[name]["env_file"] == ".env"
    assert "env_file" not in services["lrs"]  # not the pseudonym key: only its own credentials
    assert set(services["lrs"]["environment"]) >= {
        "TRANSLATOR_LRS_USERNAME",
        "TRANSLATOR_LRS_PASSWORD",
    }
    assert "TRANSLATOR_PSEUDONYM_SECRET" not in text
    example = (ROOT / ".env.example").read_text()
    for name in (
        "TRANSLATOR_PSEUDONYM_SECRET",
        "TRANSLATOR_LRS_USERNAME",
        "TRANSLATOR_LRS_PASSWORD",
    ):
        assert f"{name}=" in example


def test_docker_compose_takes_the_lrs_url_from_the_env_file() -> None:
    services = _compose()["services"]
    for name in ("worker", "forward", "follow"):
        url = services[name]["environment"]["TRANSLATOR_LRS_URL"]
        assert url == "${TRANSLATOR_LRS_URL:-http://lrs:8100/xAPI}"


def test_docker_compose_long_running_services_restart_and_run_without_root() -> None:
    services = _compose()["services"]
    for name in ("redis", "lrs", "worker", "follow"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("redis", "lrs", "worker"):
        assert "healthcheck" in services[name], name
    assert services["lrs"]["user"] == "1000:1000"
    assert services["lrs-volume"]["restart"] == "no"  # the one root step: chown, then exit
    assert "USER translator" in (ROOT / "Dockerfile").read_text()


def test_docker_compose_mounts_the_users_logs_and_keeps_redis_durable() -> None:
    services = _compose()["services"]
    for name in ("worker", "forward", "follow"):
        assert "${TRACKING_LOG_DIR:-./examples}:/logs:ro" in services[name]["volumes"], name
    command = services["redis"]["command"]
    assert command[command.index("--appendfsync") + 1] == "always"
    assert command[command.index("--appendonly") + 1] == "yes"
