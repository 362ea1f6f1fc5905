"""The official Python client against relyard's auth service."""
import datetime

import pytest
import requests
import taskcluster
from taskcluster.exceptions import TaskclusterAuthFailure, TaskclusterRestFailure


def make_client(server, client_id, scopes):
    auth = taskcluster.Auth(server.options())
    created = auth.createClient(client_id, {
        "expires": taskcluster.fromNowJSON("1 day"),
        "description": "made by a test",
        "scopes": scopes,
    })
    return created["accessToken"]


def test_root_credentials_work(server):
    auth = taskcluster.Auth(server.options())
    assert auth.ping()["alive"] is True
    assert auth.currentScopes()["scopes"] == ["*"]


def test_created_client_holds_exactly_its_scopes(server):
    token = make_client(server, "test/one", ["auth:current-scopes", "foo:*"])
    auth = taskcluster.Auth(server.options("test/one", token))
    assert auth.currentScopes()["scopes"] == ["assume:anonymous", "auth:current-scopes", "foo:*", "queue:get-artifact:public/*"]
    with pytest.raises(TaskclusterRestFailure) as err:
        auth.createClient("test/escalated", {"expires": taskcluster.fromNowJSON("1 day"), "description": "x"})
    assert err.value.status_code == 403
    assert err.value.body["code"] == "InsufficientScopes"
    details = err.value.body["requestInfo"]["details"]
    assert "auth:create-client:test/escalated" in str(details["unsatisfied"])
    # nothing was created
    with pytest.raises(TaskclusterRestFailure) as err:
        taskcluster.Auth(server.options()).client("test/escalated")
    assert err.value.status_code == 404


def test_temporary_credentials_unnamed_and_named(server):
    token = make_client(server, "test/issuer", ["auth:current-scopes", "foo:*", "auth:create-client:test/named"])
    now = datetime.datetime.utcnow()
    later = now + datetime.timedelta(hours=1)
    temp = taskcluster.createTemporaryCredentials("test/issuer", token, now, later, ["auth:current-scopes", "foo:bar"])
    auth = taskcluster.Auth({"rootUrl": server.root_url, "credentials": temp})
    assert auth.currentScopes()["scopes"] == ["assume:anonymous", "auth:current-scopes", "foo:bar", "queue:get-artifact:public/*"]

    named = taskcluster.createTemporaryCredentials(
        "test/issuer", token, now, later, ["auth:current-scopes"], name="test/named")
    auth = taskcluster.Auth({"rootUrl": server.root_url, "credentials": named})
    assert auth.currentScopes()["scopes"] == ["assume:anonymous", "auth:current-scopes", "queue:get-artifact:public/*"]

    # a certificate claiming scopes the issuer lacks is refused
    bad = taskcluster.createTemporaryCredentials("test/issuer", token, now, later, ["bar:baz", "auth:current-scopes"])
    with pytest.raises(TaskclusterAuthFailure):
        taskcluster.Auth({"rootUrl": server.root_url, "credentials": bad}).currentScopes()
    # naming credentials needs auth:create-client:<name>
    unnamed_ok = taskcluster.createTemporaryCredentials(
        "test/issuer", token, now, later, ["auth:current-scopes"], name="test/other-name")
    with pytest.raises(TaskclusterAuthFailure):
        taskcluster.Auth({"rootUrl": server.root_url, "credentials": unnamed_ok}).currentScopes()


def test_authorized_scopes_narrow(server):
    token = make_client(server, "test/narrow", ["auth:current-scopes", "foo:*"])
    auth = taskcluster.Auth(server.options("test/narrow", token, authorizedScopes=["auth:current-scopes"]))
    assert auth.currentScopes()["scopes"] == ["assume:anonymous", "auth:current-scopes", "queue:get-artifact:public/*"]
    wide = taskcluster.Auth(server.options("test/narrow", token, authorizedScopes=["auth:current-scopes", "bar:x"]))
    with pytest.raises(TaskclusterAuthFailure):
        wide.currentScopes()


def test_bewit_urls(server):
    token = make_client(server, "test/bewit", ["auth:current-scopes"])
    auth = taskcluster.Auth(server.options("test/bewit", token))
    url = auth.buildSignedUrl("currentScopes")
    assert requests.get(url).status_code == 200
    tampered = url.replace("bewit=", "bewit=A")
    assert requests.get(tampered).status_code == 401


def test_bad_credentials_get_401(server):
    token = make_client(server, "test/lifecycle", ["auth:current-scopes"])
    root = taskcluster.Auth(server.options())
    for client_id, access_token in [("test/lifecycle", "wrong-token"), ("test/nobody", token)]:
        with pytest.raises(TaskclusterAuthFailure) as err:
            taskcluster.Auth(server.options(client_id, access_token)).currentScopes()
        assert err.value.status_code == 401
    root.disableClient("test/lifecycle")
    with pytest.raises(TaskclusterAuthFailure):
        taskcluster.Auth(server.options("test/lifecycle", token)).currentScopes()
    root.enableClient("test/lifecycle")
    assert taskcluster.Auth(server.options("test/lifecycle", token)).currentScopes()
    root.deleteClient("test/lifecycle")
    with pytest.raises(TaskclusterAuthFailure):
        taskcluster.Auth(server.options("test/lifecycle", token)).currentScopes()


def test_roles_expand_and_cannot_escalate(server):
    root = taskcluster.Auth(server.options())
    root.createRole("project:ci*", {"description": "ci", "scopes": ["secrets:get:ci/<..>"]})
    token = make_client(server, "test/roles", ["assume:project:ci-linux", "auth:current-scopes", "auth:create-role:*"])
    auth = taskcluster.Auth(server.options("test/roles", token))
    assert "secrets:get:ci/-linux" in auth.currentScopes()["scopes"]
    with pytest.raises(TaskclusterRestFailure) as err:
        auth.createRole("sneaky", {"description": "x", "scopes": ["*"]})
    assert err.value.status_code == 403
    assert "sneaky" not in root.listRoleIds()["roleIds"]


def test_test_authenticate_like_taskcluster(server):
    """The cases of the official clients' own credential tests, against relyard."""
    opts = {"rootUrl": server.root_url, "credentials": {"clientId": "tester", "accessToken": "no-secret"}}
    auth = taskcluster.Auth(opts)
    assert auth.testAuthenticate({"clientScopes": ["test:a"], "requiredScopes": ["test:a"]}) == {
        "scopes": ["assume:anonymous", "test:a"], "clientId": "tester"}
    narrowed = taskcluster.Auth(dict(opts, authorizedScopes=["test:a", "test:b"]))
    assert narrowed.testAuthenticate({"clientScopes": ["test:*"], "requiredScopes": ["test:a"]}) == {
        "scopes": ["assume:anonymous", "test:a", "test:b"], "clientId": "tester"}
    with pytest.raises(TaskclusterRestFailure) as err:
        auth.testAuthenticate({"clientScopes": ["some-scope"], "requiredScopes": ["another-scope"]})
    assert err.value.status_code == 403
    with pytest.raises(TaskclusterAuthFailure):
        taskcluster.Auth(dict(opts, credentials={"clientId": "tester", "accessToken": "wrong"})).testAuthenticate(
            {"clientScopes": [], "requiredScopes": []})

    now = datetime.datetime.utcnow()
    named = taskcluster.createTemporaryCredentials(
        "tester", "no-secret", now, now + datetime.timedelta(hours=1), ["test:xyz:*"], name="credName")
    auth = taskcluster.Auth({"rootUrl": server.root_url, "credentials": named, "authorizedScopes": ["test:xyz:abc"]})
    assert auth.testAuthenticate({"clientScopes": ["test:*", "auth:create-client:credName"],
                                  "requiredScopes": ["test:xyz:abc"]}) == {
        "scopes": ["assume:anonymous", "test:xyz:abc"], "clientId": "credName"}

    url = taskcluster.Auth(opts).buildSignedUrl("testAuthenticateGet")
    response = requests.get(url)
    assert response.status_code == 200
    assert sorted(response.json()["scopes"]) == ["assume:anonymous", "auth:create-client:test:*", "test:*"]
    bad = taskcluster.Auth(dict(opts, credentials={"clientId": "tester", "accessToken": "wrong-secret"}))
    assert requests.get(bad.buildSignedUrl("testAuthenticateGet")).status_code == 401


def test_oauth_token_then_bearer(server):
    token = make_client(server, "test/oauth", ["auth:current-scopes", "foo:*"])
    url = server.root_url + "/api/auth/v1/oauth/token"
    response = requests.post(url, data={
        "grant_type": "client_credentials", "client_id": "test/oauth", "client_secret": token,
        "scope": "auth:current-scopes foo:bar"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    current = requests.get(server.root_url + "/api/auth/v1/scopes/current",
                           headers={"Authorization": "Bearer " + body["access_token"]})
    assert current.status_code == 200
    assert current.json()["scopes"] == ["assume:anonymous", "auth:current-scopes", "foo:bar", "queue:get-artifact:public/*"]

    wrong = requests.post(url, data={"grant_type": "client_credentials", "client_id": "test/oauth",
                                     "client_secret": "wrong"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = requests.post(url, auth=("test/oauth", token), data={"grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
