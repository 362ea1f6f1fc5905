"""The official Python client with a real `relyard worker`: tasks it creates run, and what the
worker uploaded (artifacts, the backing log behind the live.log link) downloads with the client's
own download helpers."""
import hashlib
import os
import subprocess
import tempfile
import time

import taskcluster
import taskcluster.download

from conftest import RELYARD_BIN


def start_worker(server, task_queue, work_dir):
    env = dict(
        os.environ,
        TASKCLUSTER_ROOT_URL=server.root_url,
        TASKCLUSTER_CLIENT_ID="static/taskcluster/root",
        TASKCLUSTER_ACCESS_TOKEN=server.root_access_token,
        RUST_LOG="warn",
    )
    env.pop("TASKCLUSTER_CERTIFICATE", None)
    return subprocess.Popen(
        [RELYARD_BIN, "worker", "--task-queue", task_queue, "--worker-id", "py", "--work-dir", work_dir],
        env=env,
        stdin=subprocess.DEVNULL,
    )


def wait_resolved(queue, task_id, limit=60):
    until = time.monotonic() + limit
    while time.monotonic() < until:
        status = queue.status(task_id)["status"]
        if status["state"] in ("completed", "failed", "exception"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not resolve: {status}")


def test_a_task_runs_and_its_artifacts_download_with_the_official_client(server):
    queue = taskcluster.Queue(server.options())
    task_queue = "proj-py/worker-" + taskcluster.slugId().lower().replace("_", "-")[:12].strip("-")
    data = os.urandom(200_000)
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "source.bin")
        with open(source, "wb") as f:
            f.write(data)
        worker = start_worker(server, task_queue, os.path.join(tmp, "work"))
        try:
            task_id = taskcluster.slugId()
            queue.createTask(task_id, {
                "taskQueueId": task_queue,
                "created": taskcluster.fromNowJSON("0 seconds"),
                "deadline": taskcluster.fromNowJSON("1 hour"),
                "payload": {
                    "command": [["sh", "-c", f"echo made-by-the-task; mkdir out; cp {source} out/data.bin"]],
                    "maxRunTime": 60,
                    "artifacts": [{"type": "file", "path": "out/data.bin", "name": "public/data.bin"}],
                },
                "metadata": {
                    "name": "py worker test", "description": "made by test_worker.py",
                    "owner": "tests@relyard.invalid", "source": "https://relyard.invalid/tests",
                },
            })
            assert wait_resolved(queue, task_id)["state"] == "completed"
            got, content_type = taskcluster.download.downloadArtifactToBuf(
                taskId=task_id, name="public/data.bin", queueService=queue)
            assert hashlib.sha256(bytes(got)).hexdigest() == hashlib.sha256(data).hexdigest()
            assert content_type == "application/octet-stream"
            log, _ = taskcluster.download.downloadArtifactToBuf(
                taskId=task_id, name="public/logs/live.log", queueService=queue)
            assert b"made-by-the-task" in bytes(log)
        finally:
            # The worker waits for its claimWork in flight; stopping the server answers it.
            worker.terminate()
            server.stop()
            worker.wait(timeout=60)
