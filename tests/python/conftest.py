"""Starts real `relyard serve` processes for the Python client tests.

Every test runs against SQLite and, when TEST_DATABASE_URL is set, against a fresh PostgreSQL
schema of that database.
"""
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import tempfile
import threading

import pytest

RELYARD_BIN = os.environ.get("RELYARD_BIN", "relyard")
BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("TEST_DATABASE_URL") else [])


def _fresh_postgres_database():
    """A fresh schema made the connection's search_path: isolated like a database, but cheap."""
    base = os.environ["TEST_DATABASE_URL"]
    name = "relyard_py_" + secrets.token_hex(6)
    subprocess.run(["psql", base, "-q", "-c", f"CREATE SCHEMA {name}"], check=True)
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-c%20search_path%3D{name}"


class RelyardServer:
    def __init__(self, database_url, data_dir, extra_args=(), root_access_token=None, made=None):
        self.root_access_token = root_access_token or secrets.token_urlsafe(33)[:44]
        # Every server of a test, siblings included, so the fixture stops them all.
        self.made = made if made is not None else []
        self.made.append(self)
        self.extra_args = list(extra_args)
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
                *self.extra_args,
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

    def sibling(self):
        """Another server on the same database, data directory and root token."""
        return RelyardServer(
            self.database_url, self.data_dir, self.extra_args, self.root_access_token, self.made
        )

    def query(self, sql):
        """Rows of a read-only SQL query against the server's database, as tuples of strings."""
        if self.database_url.startswith("sqlite:"):
            con = sqlite3.connect(self.database_url[len("sqlite:"):], timeout=30)
            try:
                return [tuple(str(v) for v in row) for row in con.execute(sql)]
            finally:
                con.close()
        out = subprocess.run(["psql", self.database_url, "-qAt", "-F", "\t", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

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


def _database_url(backend, tmp):
    if backend == "postgres":
        return _fresh_postgres_database()
    return "sqlite:" + os.path.join(tmp, "relyard.db")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def make_server(backend):
    """Makes (unstarted) servers on a fresh database of the test's backend; stops them after."""
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        url = _database_url(backend, tmp)

        def make(*extra_args):
            return RelyardServer(url, os.path.join(tmp, "data"), extra_args, made=made)

        try:
            yield make
        finally:
            for srv in made:
                srv.stop(signal.SIGKILL)


@pytest.fixture
def server(make_server):
    srv = make_server().start()
    yield srv
    srv.stop()
