"""Starts real `relyard serve` processes for the Python client tests.

Every test runs against SQLite and, when TEST_DATABASE_URL is set, against a fresh PostgreSQL
database created on that server.
"""
import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading

import pytest

RELYARD_BIN = os.environ.get("RELYARD_BIN", "relyard")
BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("TEST_DATABASE_URL") else [])


def _fresh_postgres_database():
    base = os.environ["TEST_DATABASE_URL"]
    name = "relyard_py_" + secrets.token_hex(6)
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


class RelyardServer:
    def __init__(self, database_url, data_dir):
        self.root_access_token = secrets.token_urlsafe(33)[:44]
        self.database_url = database_url
        self.data_dir = data_dir
        self.proc = None
        self.root_url = None
        self.log = []

    def start(self):
        self.proc = subprocess.Popen(
            [
                RELYARD_BIN, "serve",
                "--listen", "127.0.0.1:0",
                "--database-url", self.database_url,
                "--data-dir", self.data_dir,
                "--root-access-token=" + self.root_access_token,
                "--encryption-keys", "test:a test encryption key for python",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"relyard serving at (\S+)", line)
            if m:
                self.root_url = m.group(1)
                break
        if self.root_url is None:
            raise RuntimeError("relyard did not start:\n" + "".join(self.log))
        # Keep draining stderr so the server never blocks on a full pipe.
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def options(self, client_id="static/taskcluster/root", access_token=None, **extra):
        opts = {
            "rootUrl": self.root_url,
            "credentials": {
                "clientId": client_id,
                "accessToken": access_token or self.root_access_token,
            },
        }
        opts.update(extra)
        return opts


@pytest.fixture(params=BACKENDS)
def server(request):
    with tempfile.TemporaryDirectory() as tmp:
        if request.param == "postgres":
            url = _fresh_postgres_database()
        else:
            url = "sqlite:" + os.path.join(tmp, "relyard.db")
        srv = RelyardServer(url, os.path.join(tmp, "data")).start()
        srv.tmp = tmp
        try:
            yield srv
        finally:
            srv.stop()
