"""Start the ralph LRS of docker-compose.yml: write its auth file from the environment, then serve.

The credentials come from TRANSLATOR_LRS_USERNAME and TRANSLATOR_LRS_PASSWORD (the stack's .env
file), so the workers and the LRS agree without a password in any file of the repository or on
any command line. Two fixes to ralph 5.1.0's filesystem backend, as in tests/services.py: it
writes with "create", so every POST after the first that stores statements fails with 500; and it
rewrites a growing read history on every request.
"""

import json
import os
import sys
from pathlib import Path

import bcrypt

username = os.environ.get("TRANSLATOR_LRS_USERNAME", "")
password = os.environ.get("TRANSLATOR_LRS_PASSWORD", "")
if not username or not password:
    sys.exit("set TRANSLATOR_LRS_USERNAME and TRANSLATOR_LRS_PASSWORD in .env")
if password.lower().startswith("change-me"):
    sys.exit("TRANSLATOR_LRS_PASSWORD is still the placeholder of .env.example: set it in .env")

auth_file = Path(os.environ["RALPH_AUTH_FILE"])
auth_file.parent.mkdir(parents=True, exist_ok=True)
Path(os.environ["RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH"]).mkdir(
    parents=True, exist_ok=True
)
user = {
    "username": username,
    "hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode(),
    "scopes": ["all"],
    "agent": {"mbox": f"mailto:{username}@example.org"},
}
auth_file.write_text(json.dumps([user]))

from ralph.backends.data.base import BaseOperationType  # noqa: E402 - after the auth file
from ralph.backends.data.mixins import HistoryMixin  # noqa: E402
from ralph.backends.lrs.fs import FSLRSBackend  # noqa: E402

FSLRSBackend.default_operation_type = BaseOperationType.APPEND
HistoryMixin.append_to_history = lambda self, event: None

import uvicorn  # noqa: E402

uvicorn.run(
    "ralph.api:app",
    host="0.0.0.0",
    port=8100,
    workers=1,
    proxy_headers=True,
    log_level="info",
)
