"""Crashes and scale-out: a server SIGKILLed mid burn-down, and two servers sharing one queue."""
import collections
import os
import signal
import threading
import time

import pytest
import taskcluster

from test_queue import task_def, QUEUE_ID

# Claims lost in a crash expire in 2 s and the reaper looks every 200 ms, so the test is short.
FAST_REAPER = ("--claim-timeout", "2", "--reaper-interval-ms", "200")


def create_tasks(queue, n):
    group = taskcluster.slugId()
    ids = [taskcluster.slugId() for _ in range(n)]
    for task_id in ids:
        queue.createTask(task_id, task_def(group))
    return ids


class Drain:
    """Worker threads that claim and complete tasks until `target` completions (shared by every
    server they are started against), or until stopped."""

    def __init__(self, target=None):
        self.target = target
        self.claimed, self.completed = [], []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def start(self, server, workers=4, prefix="w"):
        for i in range(workers):
            threading.Thread(target=self._work, args=(server, f"{prefix}{i}"), daemon=True).start()
        return self

    def _work(self, server, worker_id):
        queue = taskcluster.Queue(server.options())
        while not self.done.is_set():
            try:
                tasks = queue.claimWork(QUEUE_ID, {"workerGroup": "py", "workerId": worker_id, "tasks": 4})["tasks"]
            except Exception:
                return  # the server went away
            for t in tasks:
                pair = (t["status"]["taskId"], t["runId"])
                with self.lock:
                    self.claimed.append(pair)
                try:
                    queue.reportCompleted(pair[0], str(pair[1]))
                except Exception:
                    return
                with self.lock:
                    self.completed.append(pair)
                    if self.target is not None and len(self.completed) >= self.target:
                        self.done.set()
                        return


def wait_all_completed(queue, ids, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(queue.status(t)["status"]["state"] == "completed" for t in ids):
            return
        # What is left waits on claim expiry, a timer of the server's with no event to wait on.
        time.sleep(0.5)
    raise AssertionError("tasks were not all completed in time")


def test_sigkill_mid_burn_down(make_server):
    first = make_server(*FAST_REAPER).start()
    ids = create_tasks(taskcluster.Queue(first.options()), 120)

    before = Drain(target=40).start(first)
    assert before.done.wait(60)
    first.stop(signal.SIGKILL)

    second = first.sibling().start()
    queue = taskcluster.Queue(second.options())
    after = Drain().start(second)
    try:
        wait_all_completed(queue, ids)
    finally:
        after.done.set()

    resolutions = collections.Counter()
    for task_id in ids:
        status = queue.status(task_id)["status"]
        assert [r["state"] for r in status["runs"]].count("completed") == 1, status
        for r in status["runs"]:
            assert r["state"] == "completed" or r.get("reasonResolved") == "claim-expired", status
            resolutions[(task_id, r["runId"])] += 1

    # Exactly one resolution event per resolved run, no more, no fewer.
    rows = second.query(
        "SELECT routing_key FROM events WHERE exchange IN ("
        "'exchange/taskcluster-queue/v1/task-completed', 'exchange/taskcluster-queue/v1/task-exception', "
        "'exchange/taskcluster-queue/v1/task-failed')")
    wanted = set(ids)
    events = collections.Counter()
    for (key,) in rows:
        words = key.split(".")
        if words[1] in wanted:
            events[(words[1], int(words[2]))] += 1
    assert events == resolutions


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_two_servers_drain_one_queue(make_server, backend):
    if backend != "postgres":
        pytest.skip("several servers share PostgreSQL, not SQLite")
    a = make_server().start()
    b = a.sibling().start()
    ids = create_tasks(taskcluster.Queue(a.options()), 300)
    drain = Drain(target=len(ids))
    drain.start(a, prefix="a")
    drain.start(b, prefix="b")
    assert drain.done.wait(120), "the queue was not drained"
    claims = drain.claimed
    assert len(claims) == len(set(claims)), "a run was claimed twice"
    assert sorted(t for t, _ in claims) == sorted(ids), "a task was claimed twice or never"
    queue = taskcluster.Queue(a.options())
    for task_id in ids:
        assert queue.status(task_id)["status"]["state"] == "completed"
