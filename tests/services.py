"""Real services for tests and benchmarks: redis-server and ralph on 127.0.0.1, stopped by pid."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

__all__ = [
    "OPENEDX_BUS_REQUIREMENTS",
    "RALPH_VERSION",
    "CaliperEndpoint",
    "RalphLRS",
    "RecordedRequest",
    "RedisServer",
    "ServiceError",
    "StubAnswer",
    "StubLRS",
    "free_port",
    "openedx_bus_python",
    "produce_tracking_events",
    "ralph_python",
]

RALPH_VERSION = "5.1.0"
_RALPH_REQUIREMENTS = [f"ralph-malph[cli,lrs]=={RALPH_VERSION}", "requests"]
_START_TIMEOUT = 30.0
# Open edX's own event-bus producer: the newest releases that install on Python 3.11
# (edx-event-bus-redis 1.x requires 3.12). Django and the rest come as their dependencies.
OPENEDX_BUS_REQUIREMENTS = [
    "openedx-events==10.5.0",
    "edx-event-bus-redis==0.6.1",
    "event-tracking==4.0.2",
]

# Run inside ralph's venv, then serve the app on loopback, one worker. Two fixes to 5.1.0's fs
# backend: it writes with "create", so every POST after the first that stores statements fails
# with 500; and every read of the store appends to a history (for `ralph read --new`, which the
# LRS never uses) that it rewrites whole, so each request is slower than the one before over the
# server's life, which would make a session-wide server and the benchmark drift.
_LAUNCHER = """\
import sys

from ralph.backends.data.base import BaseOperationType
from ralph.backends.data.mixins import HistoryMixin
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND
HistoryMixin.append_to_history = lambda self, event: None

import uvicorn

uvicorn.run(
    "ralph.api:app",
    host="127.0.0.1",
    port=int(sys.argv[1]),
    workers=1,
    log_level="warning",
    access_log=False,
)
"""

# Run inside ralph's venv: write the auth file, the password read from stdin. bcrypt's lowest cost
# keeps the LRS's per-request password check cheap; this is a test LRS.
_WRITE_AUTH = """\
import json, sys

import bcrypt

username, path = sys.argv[1], sys.argv[2]
password = sys.stdin.read().encode()
user = {
    "username": username,
    "hash": bcrypt.hashpw(password, bcrypt.gensalt(rounds=4)).decode(),
    "scopes": ["all"],
    "agent": {"mbox": f"mailto:{username}@example.org"},
}
with open(path, "w") as out:
    json.dump([user], out)
"""


class ServiceError(RuntimeError):
    """A test service cannot be started; the message says what to install or look at."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate by pid, then kill if it does not go within 5 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class RedisServer:
    """A throw-away redis-server on a free loopback port, without persistence unless
    `persistent` (an append-only file in `workdir`)."""

    def __init__(self, workdir: Path, *, port: int | None = None, persistent: bool = False) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if binary is None:
            raise ServiceError(
                "redis-server is not installed: install Debian's package "
                "(`apt-get install redis-server`); the tests need a real Redis"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "redis.log"
        args = [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.workdir),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--daemonize", "no",
            "--logfile", str(log),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"redis-server exited at start:\n{_tail(log)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise ServiceError(f"redis-server did not answer within {_START_TIMEOUT:g} s")

    def stop(self) -> None:
        _stop(self.process)
        self.process = None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock file, so that parallel test runs install the venv once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ralph_python() -> Path:
    """The python of ralph's own venv, created once (ralph's pins clash with ours).

    The venv is `$TRANSLATOR_TEST_RALPH_VENV`, or `~/.cache/edx-xapi-translator/ralph-<version>`;
    a `.ready` marker tells that its install finished.
    """
    default = Path.home() / ".cache" / "edx-xapi-translator" / f"ralph-{RALPH_VERSION}"
    venv = Path(os.environ.get("TRANSLATOR_TEST_RALPH_VENV") or default)
    return _venv_python(venv, _RALPH_REQUIREMENTS, "the ralph LRS", marker=RALPH_VERSION)


def _venv_python(
    venv: Path, requirements: list[str], what: str, *, marker: str | None = None
) -> Path:
    """The python of `venv`, created once with `requirements` (under a lock: parallel runs
    install once); a `.ready` marker holding `marker` (default: the requirements) tells that
    the install finished."""
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    wanted = "\n".join(requirements) if marker is None else marker
    if ready.exists() and ready.read_text() == wanted:
        return python
    with _locked(venv.with_name(venv.name + ".lock")):
        if ready.exists() and ready.read_text() == wanted:
            return python
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", *requirements],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise ServiceError(
                    f"cannot set up {what} in {venv} ({' '.join(step[:4])} failed): "
                    f"it needs PyPI to install {' '.join(requirements)}\n{done.stderr[-2000:]}"
                )
        ready.write_text(wanted)
    return python


def openedx_bus_python() -> Path:
    """The python of a venv holding Open edX's event-bus packages, created once (Django and
    Open edX's pins are no business of ours): `$TRANSLATOR_TEST_OPENEDX_BUS_VENV`, or
    `~/.cache/edx-xapi-translator/openedx-bus-<edx-event-bus-redis version>`."""
    version = OPENEDX_BUS_REQUIREMENTS[1].partition("==")[2]
    default = Path.home() / ".cache" / "edx-xapi-translator" / f"openedx-bus-{version}"
    venv = Path(os.environ.get("TRANSLATOR_TEST_OPENEDX_BUS_VENV") or default)
    return _venv_python(venv, OPENEDX_BUS_REQUIREMENTS, "Open edX's event-bus packages")


def produce_tracking_events(redis_url: str, prefix: str, events: list[dict[str, Any]]) -> None:
    """Send `events` (as event-tracking hands them to its backends) to the stream
    `<prefix>-analytics` through Open edX's own packages (tests/support/openedx_bus_producer.py
    in their venv)."""
    script = Path(__file__).parent / "support" / "openedx_bus_producer.py"
    done = subprocess.run(
        [str(openedx_bus_python()), str(script), redis_url, prefix],
        input=b"".join(orjson.dumps(event) + b"\n" for event in events),
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0 or done.stdout.strip() != str(len(events)).encode():
        raise ServiceError(
            f"Open edX's producer failed (exit {done.returncode}):\n"
            f"{done.stderr.decode(errors='replace')[-2000:]}"
        )


class RalphLRS:
    """A real ralph LRS (filesystem backend) on 127.0.0.1, with one Basic-auth user.

    `url` is its xAPI endpoint. `stop()` and `start()` keep the port and the store, so a test
    can simulate an outage; `clear()` empties the store (ralph re-reads it on every request).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        username: str = "translator",
        password: str = "lrs-test-secret",
        port: int | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.username = username
        self.password = password
        self.port = port or free_port()
        self.store = self.workdir / "store"
        self.process: subprocess.Popen[bytes] | None = None
        self._python: Path | None = None

    def __repr__(self) -> str:
        return f"RalphLRS(url={self.url!r}, running={self.running})"

    @property
    def url(self) -> str:
        """The xAPI endpoint; statements are at `<url>/statements`."""
        return f"http://127.0.0.1:{self.port}/xAPI"

    @property
    def store_file(self) -> Path:
        return self.store / "fs_lrs.jsonl"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _prepare(self) -> Path:
        if self._python is not None:
            return self._python
        python = ralph_python()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.store.mkdir(exist_ok=True)
        self.store_file.touch()
        (self.workdir / "launch_ralph.py").write_text(_LAUNCHER)
        done = subprocess.run(
            [str(python), "-c", _WRITE_AUTH, self.username, str(self.workdir / "auth.json")],
            input=self.password,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ServiceError(f"cannot write ralph's auth file:\n{done.stderr[-2000:]}")
        self._python = python
        return python

    def start(self) -> RalphLRS:
        """Start (or restart) the server and wait for its heartbeat."""
        if self.running:
            return self
        python = self._prepare()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "RALPH_APP_DIR": str(self.workdir / "app"),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_AUTH_FILE": str(self.workdir / "auth.json"),
            "RALPH_HISTORY_FILE": str(self.workdir / "history.json"),
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.store),
            "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(self.store),
        }
        log = self.workdir / "ralph.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(python), str(self.workdir / "launch_ralph.py"), str(self.port)],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        heartbeat = f"http://127.0.0.1:{self.port}/__heartbeat__"
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise ServiceError(f"the ralph LRS exited at start:\n{_tail(log)}")
            try:
                if httpx.get(heartbeat, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServiceError(
            f"the ralph LRS did not answer within {_START_TIMEOUT:g} s:\n{_tail(log)}"
        )

    def stop(self) -> None:
        """Stop the server by pid (terminate, then kill); the port and the store are kept."""
        _stop(self.process)
        self.process = None

    def clear(self) -> None:
        """Empty the store: the next request sees a fresh LRS."""
        self.store_file.write_bytes(b"")

    def stored_statements(self) -> list[dict[str, Any]]:
        """Every statement in the store, read from its file."""
        try:
            text = self.store_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def remove_stored(self, statement_ids: set[str]) -> None:
        """Delete statements from the store, as an LRS administrator would."""
        kept = [s for s in self.stored_statements() if s.get("id") not in statement_ids]
        self.store_file.write_text("".join(json.dumps(s) + "\n" for s in kept), encoding="utf-8")


@dataclass(frozen=True)
class StubAnswer:
    """One scripted answer of the stub: status, headers (Content-Type application/json unless
    given), body (None: the posted ids, as an LRS would), after `delay` seconds (a long delay is
    a hung server), its body written a byte every `dribble` seconds."""

    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    dribble: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubLRS:
    """A tiny HTTP server on 127.0.0.1 for faults a real LRS cannot be made to produce
    (429 with Retry-After, 5xx, a hung connection, 409 for an identical statement).

    It answers requests with `answers` in order, then with 200 and the posted ids; it records
    every request in `requests`.
    """

    def __init__(self, answers: list[StubAnswer] | None = None) -> None:
        self.answers = list(answers or [])
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stub._lock:
                    stub.requests.append(
                        RecordedRequest(self.command, self.path, dict(self.headers), body)
                    )
                    answer = stub.answers.pop(0) if stub.answers else StubAnswer(200)
                if answer.delay and stub._closing.wait(answer.delay):
                    return
                payload = answer.body
                if payload is None:
                    posted = orjson.loads(body) if body else []
                    payload = orjson.dumps([s.get("id") for s in posted])
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if "Content-Type" not in answer.headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not answer.dribble:
                    self.wfile.write(payload)
                    return
                for index in range(len(payload)):
                    self.wfile.write(payload[index : index + 1])
                    self.wfile.flush()
                    if stub._closing.wait(answer.dribble):
                        return

            do_GET = _answer
            do_POST = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI"

    def __enter__(self) -> StubLRS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class CaliperEndpoint:
    """A small Caliper endpoint on 127.0.0.1 that checks what it receives, for delivery tests.

    No open-source Caliper endpoint installs from the package registries this project can use
    (the IMS reference implementations are not published there), so the tests run this one. It
    accepts `POST /caliper` with `Authorization: Bearer <api_key>` (401 otherwise), checks the
    envelope and every event against the official IMS JSON Schemas when the reference copy is
    beside the repository (else against the translator's own Caliper rules) and answers 400 with
    the problems when any is refused; it stores each valid event once by id (`events`), counts
    every envelope (`envelopes`), and can be told to fail: `faults` are statuses answered first,
    in order (429 comes with `Retry-After: 0`), and an envelope holding an id of `refuse_ids`
    is answered 400. `stop()` and `start()` keep the port, to take it down mid-run.
    """

    def __init__(self, api_key: str = "caliper-test-key") -> None:
        self.api_key = api_key
        self.events: dict[str, dict[str, Any]] = {}
        self.received = 0  # events received in accepted envelopes, duplicates included
        self.envelopes: list[dict[str, Any]] = []
        self.faults: list[int] = []
        self.refuse_ids: set[str] = set()
        self._lock = threading.Lock()
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/caliper"

    def _answer(self, envelope_bytes: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        from support.caliper_check import schemas_or_none

        from translator.targets.caliper.checks import event_problems

        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, b'{"error": "bad API key"}'
        with self._lock:
            if self.faults:
                return self.faults.pop(0), b'{"error": "injected fault"}'
        try:
            envelope = orjson.loads(envelope_bytes)
        except orjson.JSONDecodeError:
            return 400, b'{"error": "not JSON"}'
        schemas = schemas_or_none()
        if schemas is not None:
            problems = schemas.envelope_problems(envelope)
        else:
            problems = [f"/{k}: is required" for k in ("sensor", "sendTime", "dataVersion", "data")
                        if not isinstance(envelope, dict) or k not in envelope]  # fmt: skip
            for index, event in enumerate(envelope.get("data") or []):
                problems += [f"/data/{index}{p}" for p in event_problems(event)]
        data = envelope.get("data") if isinstance(envelope, dict) else None
        ids = {e.get("id") for e in data or [] if isinstance(e, dict)}
        if ids & self.refuse_ids:
            problems.append("refused event id(s): " + ", ".join(sorted(ids & self.refuse_ids)))
        if problems:
            return 400, orjson.dumps({"errors": problems})
        with self._lock:
            self.envelopes.append(envelope)
            for event in data or []:
                self.received += 1
                self.events.setdefault(event["id"], event)
        return 200, b""

    def start(self) -> CaliperEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = endpoint._answer(body, dict(self.headers))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> CaliperEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
