"""taskcluster-taskgraph's own Taskcluster helpers (what a decision task and `taskgraph`'s
actions call) against relyard: tasks made by `taskgraph.create.create_task` with
relative datestamps, then artifacts, ancestors, batched statuses, incomplete tasks of a
group, cancel and rerun, all through taskgraph's functions and their environment lookup."""
import json

import pytest
import requests
import taskcluster
from taskgraph import create
from taskgraph.util import taskcluster as tg

QUEUE_ID = "proj-taskgraph/ci"


@pytest.fixture
def taskgraph_env(server, monkeypatch):
    """taskgraph reads the instance and credentials from the environment, and caches its
    clients and task definitions per process: start each test from none."""
    monkeypatch.delenv("TASKCLUSTER_PROXY_URL", raising=False)
    monkeypatch.setenv("TASKCLUSTER_ROOT_URL", server.root_url)
    monkeypatch.setenv("TASKCLUSTER_CLIENT_ID", "static/taskcluster/root")
    monkeypatch.setenv("TASKCLUSTER_ACCESS_TOKEN", server.root_access_token)
    tg.get_taskcluster_client.cache_clear()
    tg._task_definitions_cache.cache.clear()
    yield server
    tg.get_taskcluster_client.cache_clear()


def taskgraph_task(group, label, deps=()):
    """A task as taskgraph's transforms emit it: times still relative."""
    return {
        "taskQueueId": QUEUE_ID,
        "schedulerId": "taskgraph-tests",
        "taskGroupId": group,
        "created": {"relative-datestamp": "0 seconds"},
        "deadline": {"relative-datestamp": "1 hour"},
        "expires": {"relative-datestamp": "1 day"},
        "dependencies": list(deps),
        "payload": {"command": [["true"]]},
        "metadata": {
            "name": label,
            "description": "made by test_taskgraph.py",
            "owner": "tests@relyard.invalid",
            "source": "https://relyard.invalid/tests",
        },
    }


def test_taskgraph_helpers_drive_a_graph(taskgraph_env):
    server = taskgraph_env
    group = taskcluster.slugId()
    a, b, c = taskcluster.slugId(), taskcluster.slugId(), taskcluster.slugId()
    create.create_task(None, a, "build-a", taskgraph_task(group, "build-a"))
    create.create_task(None, b, "build-b", taskgraph_task(group, "build-b"))
    create.create_task(None, c, "test-c", taskgraph_task(group, "test-c", deps=[a, b]))

    assert tg.state_task(a) == "pending"
    assert tg.state_task(c) == "unscheduled"
    assert tg.get_task_definition(c)["dependencies"] == [a, b]
    # ancestors come from `queue.tasks` (POST /tasks) with taskgraph's pagination handler
    assert tg.get_ancestors(c) == {a: "build-a", b: "build-b"}

    # A runs and uploads a JSON artifact; taskgraph downloads and parses it.
    queue = taskcluster.Queue(server.options())
    claimed = queue.claimWork(QUEUE_ID, {"workerGroup": "tg", "workerId": "w1", "tasks": 1})
    [work] = claimed["tasks"]
    assert work["status"]["taskId"] == a
    as_task = taskcluster.Queue({"rootUrl": server.root_url, "credentials": work["credentials"]})
    document = {"graph": {"build-a": a}, "note": "from test_taskgraph"}
    upload = as_task.createArtifact(a, "0", "public/label-to-taskid.json", {
        "storageType": "s3",
        "expires": taskcluster.fromNowJSON("1 hour"),
        "contentType": "application/json",
    })
    put = requests.put(upload["putUrl"], data=json.dumps(document),
                       headers={"Content-Type": "application/json"})
    assert put.status_code == 200, put.text
    as_task.reportCompleted(a, "0")

    assert tg.get_artifact(a, "public/label-to-taskid.json") == document
    assert "public/label-to-taskid.json" in [x["name"] for x in tg.list_artifacts(a)]

    states = {task_id: s["state"] for task_id, s in tg.status_task_batched([a, b, c]).items()}
    assert states == {a: "completed", b: "pending", c: "unscheduled"}
    assert sorted(tg.list_task_group_incomplete_tasks(group)) == sorted([b, c])

    tg.cancel_task(b)
    assert tg.state_task(b) == "exception"
    assert tg.list_task_group_incomplete_tasks(group) == [c]

    tg.rerun_task(a)
    assert tg.state_task(a) == "pending"
    assert [r["reasonCreated"] for r in tg.status_task(a)["runs"]] == ["scheduled", "rerun"]
