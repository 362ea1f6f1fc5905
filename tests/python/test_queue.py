"""The official Python client against relyard's queue: a small graph from creation to resolution."""
import hashlib

import pytest
import requests
import taskcluster
from taskcluster.exceptions import TaskclusterRestFailure

QUEUE_ID = "proj-py/ci"


def task_def(group, deps=(), **extra):
    d = {
        "taskQueueId": QUEUE_ID,
        "schedulerId": "py-tests",
        "taskGroupId": group,
        "created": taskcluster.fromNowJSON("0 seconds"),
        "deadline": taskcluster.fromNowJSON("1 hour"),
        "dependencies": list(deps),
        "payload": {"command": [["true"]]},
        "metadata": {
            "name": "py test task",
            "description": "made by test_queue.py",
            "owner": "tests@relyard.invalid",
            "source": "https://relyard.invalid/tests",
        },
    }
    d.update(extra)
    return d


def claim(queue, count=1, worker="w1"):
    return queue.claimWork(QUEUE_ID, {"workerGroup": "py", "workerId": worker, "tasks": count})["tasks"]


def test_every_service_answers_ping(server):
    for service in (taskcluster.Queue, taskcluster.Auth, taskcluster.Secrets):
        assert service(server.options()).ping()["alive"] is True


def test_three_task_graph(server):
    queue = taskcluster.Queue(server.options())
    group = taskcluster.slugId()
    a, b, c = taskcluster.slugId(), taskcluster.slugId(), taskcluster.slugId()
    queue.createTask(a, task_def(group))
    queue.createTask(b, task_def(group))
    queue.createTask(c, task_def(group, deps=[a, b]))
    # idempotent for an identical definition, 409 for a different one
    definition = queue.task(a)
    assert queue.createTask(a, definition)["status"]["taskId"] == a
    with pytest.raises(TaskclusterRestFailure) as err:
        queue.createTask(a, dict(definition, priority="high"))
    assert err.value.status_code == 409

    assert queue.status(a)["status"]["state"] == "pending"
    assert queue.status(c)["status"]["state"] == "unscheduled"

    claims = claim(queue, count=2)
    assert sorted(t["status"]["taskId"] for t in claims) == sorted([a, b])
    by_id = {t["status"]["taskId"]: t for t in claims}
    assert queue.status(a)["status"]["state"] == "running"

    # The worker works with the task's own credentials, as a real worker does.
    creds_a = by_id[a]["credentials"]
    task_queue = taskcluster.Queue({"rootUrl": server.root_url, "credentials": creds_a})
    reclaimed = task_queue.reclaimTask(a, "0")
    assert reclaimed["status"]["runs"][0]["state"] == "running"

    # s3 artifact: upload through the putUrl, download back byte-identical
    body = b"hello from the python client\n" * 100
    created = task_queue.createArtifact(a, "0", "public/build/hello.txt", {
        "storageType": "s3",
        "expires": taskcluster.fromNowJSON("1 day"),
        "contentType": "text/plain",
    })
    put = requests.put(created["putUrl"], data=body, headers={"Content-Type": "text/plain"})
    assert put.status_code == 200, put.text
    url = queue.buildUrl("getArtifact", a, "0", "public/build/hello.txt")
    got = requests.get(url)  # public/*: anonymous may read
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(body).hexdigest()
    names = [x["name"] for x in queue.listArtifacts(a, "0")["artifacts"]]
    assert "public/build/hello.txt" in names

    # task credentials resolve their own run only
    with pytest.raises(TaskclusterRestFailure) as err:
        task_queue.reportCompleted(b, "0")
    assert err.value.status_code == 403

    task_queue.reportCompleted(a, "0")
    taskcluster.Queue({"rootUrl": server.root_url, "credentials": by_id[b]["credentials"]}).reportFailed(b, "0")
    assert queue.status(a)["status"]["state"] == "completed"
    assert queue.status(b)["status"]["state"] == "failed"
    # all-completed: a failed dependency leaves C unscheduled
    assert queue.status(c)["status"]["state"] == "unscheduled"

    # rerun B, complete it, and C becomes pending
    assert queue.rerunTask(b)["status"]["runs"][-1]["reasonCreated"] == "rerun"
    [rerun] = claim(queue)
    assert rerun["status"]["taskId"] == b and rerun["runId"] == 1
    queue.reportCompleted(b, "1")
    assert queue.status(c)["status"]["state"] == "pending"

    dependents = queue.listDependentTasks(a)
    assert [t["status"]["taskId"] for t in dependents["tasks"]] == [c]

    queue.cancelTask(c)
    status = queue.status(c)["status"]
    assert status["state"] == "exception"
    assert status["runs"][-1]["reasonResolved"] == "canceled"

    listed = queue.listTaskGroup(group)
    assert sorted(t["status"]["taskId"] for t in listed["tasks"]) == sorted([a, b, c])


def test_bad_definitions_answer_400_and_store_nothing(server):
    queue = taskcluster.Queue(server.options())
    task_id = taskcluster.slugId()
    bad = task_def(taskcluster.slugId(), unknownField=1)
    with pytest.raises(TaskclusterRestFailure) as err:
        queue.createTask(task_id, bad)
    assert err.value.status_code == 400
    assert "unknownField" in err.value.body["message"]
    with pytest.raises(TaskclusterRestFailure) as err:
        queue.status(task_id)
    assert err.value.status_code == 404


def test_creating_tasks_needs_the_scopes(server):
    auth = taskcluster.Auth(server.options())
    token = auth.createClient("test/creator", {
        "expires": taskcluster.fromNowJSON("1 day"),
        "description": "may create in its queue, nothing more",
        "scopes": [
            f"queue:create-task:lowest:{QUEUE_ID}",
            "queue:create-task:project:none",
            "queue:scheduler-id:py-tests",
        ],
    })["accessToken"]
    queue = taskcluster.Queue(server.options("test/creator", token))
    ok = taskcluster.slugId()
    queue.createTask(ok, task_def(taskcluster.slugId()))
    for extra in ({"scopes": ["secrets:get:x"]}, {"routes": ["index.foo"]}, {"priority": "high"}):
        task_id = taskcluster.slugId()
        with pytest.raises(TaskclusterRestFailure) as err:
            queue.createTask(task_id, task_def(taskcluster.slugId(), **extra))
        assert err.value.status_code == 403, extra
        with pytest.raises(TaskclusterRestFailure) as err:
            taskcluster.Queue(server.options()).status(task_id)
        assert err.value.status_code == 404
