"""The real `balrogclient` against `relyard serve` with TLS: it fetches a Bearer token from
relyard auth's OAuth2 endpoint over https, creates a release, adds a locale and updates a
rule through the admin API; the public update.xml then serves the expected document
(Balrog's `tests/web/test_client.py` testVersion6GetWithDistributionInList shape), and a
stale data_version is refused.
"""
import json
import os
import subprocess
import time
import urllib.parse

import pytest
import requests
import taskcluster
from balrogclient import Release, Rule, SingleLocale

RELEASE = "Firefox-10.0-build1"
UPDATE_URL = "/update/6/Firefox/1.0/1/p/l/release/a/SSE/default/a/update.xml"
EXPECTED = """<?xml version="1.0"?>
<updates>
    <update type="minor" version="10.0" extensionVersion="10.0" buildID="11">
        <patch type="complete" URL="http://a.com/distTest" hashFunction="sha512" hashValue="13" size="12"/>
    </update>
</updates>"""
EMPTY = """<?xml version="1.0"?>
<updates>
</updates>"""


def _self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_server(make_server, tmp_path, monkeypatch):
    cert, key = _self_signed(tmp_path)
    allowlist = tmp_path / "allowlist.json"
    allowlist.write_text(json.dumps({"a.com": ["Firefox"]}))
    monkeypatch.setenv("RELYARD_UPDATES_DOMAIN_ALLOWLIST_FILE", str(allowlist))
    # balrogclient, requests and the Taskcluster client all trust the test certificate.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    srv = make_server("--tls-cert", cert, "--tls-key", key).start()
    assert srv.root_url.startswith("https://"), srv.root_url
    return srv


def _balrog_secrets(srv, client_id, scopes):
    created = taskcluster.Auth(srv.options()).createClient(client_id, {
        "expires": taskcluster.fromNowJSON("1 day"),
        "description": "balrogclient test",
        "scopes": scopes,
    })
    netloc = urllib.parse.urlparse(srv.root_url).netloc
    return {
        "client_id": client_id,
        "client_secret": created["accessToken"],
        "audience": "balrog",
        # balrogclient asks https://<domain>/oauth/token.
        "domain": f"{netloc}/api/auth/v1",
    }


def _bearer(secrets):
    resp = requests.post(f"https://{secrets['domain']}/oauth/token", json={
        "client_id": secrets["client_id"], "client_secret": secrets["client_secret"],
        "audience": secrets["audience"], "grant_type": "client_credentials",
    })
    resp.raise_for_status()
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


def _wait_for_xml(srv, want):
    """The admin write is committed before it answers; the public snapshot follows it (on this
    server at once, on others by the change events), so poll with a deadline."""
    deadline = time.monotonic() + 10
    while True:
        got = requests.get(srv.root_url + UPDATE_URL)
        assert got.status_code == 200
        if got.text == want or time.monotonic() > deadline:
            return got.text
        time.sleep(0.05)


def test_release_locale_rule_then_update_xml(tls_server):
    srv = tls_server
    secrets = _balrog_secrets(srv, "project/releng/balrog-submitter",
                              ["updates:release:*", "updates:release_locale:*", "updates:rule:*"])
    kwargs = {"auth0_secrets": secrets, "api_root": srv.root_url + "/api/updates/v1"}

    # Release.update_release: HEAD finds nothing (404), the POST creates the release.
    Release(name=RELEASE, **kwargs).update_release(
        product="Firefox", hashFunction="sha512",
        releaseData=json.dumps({"appv": "10.0", "extv": "10.0"}), schemaVersion=1,
    )
    # SingleLocale.update_build: HEAD gives X-Data-Version, the PUT adds platform p, locale l.
    build = {"buildID": "11", "complete": {"filesize": 12, "from": "*", "hashValue": "13",
                                           "fileUrl": "http://a.com/distTest"}}
    SingleLocale(name=RELEASE, build_target="p", locale="l", **kwargs).update_build(
        product="Firefox", hashFunction="sha512", buildData=json.dumps(build), schemaVersion=1,
    )
    blob, data_version = Release(name=RELEASE, **kwargs).get_data()
    assert data_version == 2
    assert blob["platforms"]["p"]["locales"]["l"] == build

    # balrogclient cannot create rules; the admin API's POST /rules does, throttled to 0%.
    rule = {"mapping": RELEASE, "product": "Firefox", "channel": "release", "priority": 90,
            "backgroundRate": 0, "update_type": "minor"}
    created = requests.post(kwargs["api_root"] + "/rules", json=rule, headers=_bearer(secrets))
    assert created.status_code == 200, created.text
    rule_id = int(created.text)
    assert _wait_for_xml(srv, EMPTY) == EMPTY

    # Rule.update_rule: HEAD gives the rule's data_version, the POST opens it to everyone.
    Rule(rule_id=rule_id, **kwargs).update_rule(backgroundRate=100)
    assert _wait_for_xml(srv, EXPECTED) == EXPECTED

    # A stale data_version is refused and changes nothing.
    with pytest.raises(requests.HTTPError) as refused:
        Rule(rule_id=rule_id, **kwargs).update_rule(backgroundRate=0, data_version=1)
    assert refused.value.response.status_code == 400
    assert refused.value.response.json()["detail"] == "OutdatedDataError"
    current, current_version = Rule(rule_id=rule_id, **kwargs).get_data()
    assert (current["backgroundRate"], current_version) == (100, 2)
    assert _wait_for_xml(srv, EXPECTED) == EXPECTED

    # The same locale submitted again from the old data_version conflicts: 400.
    other = dict(build, complete=dict(build["complete"], hashValue="99"))
    with pytest.raises(requests.HTTPError) as clash:
        SingleLocale(name=RELEASE, build_target="p", locale="l", **kwargs).update_build(
            product="Firefox", hashFunction="sha512", buildData=json.dumps(other),
            schemaVersion=1, data_version=1,
        )
    assert clash.value.response.status_code == 400


def test_a_client_without_scopes_is_refused(tls_server):
    srv = tls_server
    secrets = _balrog_secrets(srv, "project/releng/nobody", [])
    kwargs = {"auth0_secrets": secrets, "api_root": srv.root_url + "/api/updates/v1"}
    with pytest.raises(requests.HTTPError) as refused:
        Release(name=RELEASE, **kwargs).update_release(
            product="Firefox", hashFunction="sha512",
            releaseData=json.dumps({"appv": "10.0", "extv": "10.0"}), schemaVersion=1,
        )
    assert refused.value.response.status_code == 403
    assert requests.get(kwargs["api_root"] + "/releases/" + RELEASE).status_code == 404
