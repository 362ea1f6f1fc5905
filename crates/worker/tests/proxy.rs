//! The task proxy against a real relyard server (scopes, bewits, credential swaps, errors) and
//! against a scripted upstream (what is relayed, retried, and signed, byte for byte).

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::StatusCode;
use relyard_core::Timestamp;
use relyard_testing::TestServer;
use relyard_worker::proxy::{TaskCredentials, TaskProxy};
use serde_json::{json, Value};
use tokio::sync::Notify;

const GET_ALLOWED: &str = "/api/secrets/v1/secret/allowed/one";
const GET_DENIED: &str = "/api/secrets/v1/secret/denied/two";

/// A server holding `allowed/one` and `denied/two`.
async fn server_with_secrets() -> TestServer {
    let server = TestServer::start().await;
    let secrets = taskcluster::Secrets::new(server.root_client()).expect("secrets client");
    let expires = Timestamp::now().plus_days(1).to_string();
    for (name, value) in [("allowed/one", "one"), ("denied/two", "two")] {
        secrets
            .set(
                name,
                &json!({ "secret": { "v": value }, "expires": expires }),
            )
            .await
            .expect("set secret");
    }
    server
}

/// Temporary credentials issued by root, as claimWork hands them out.
fn temp_creds(server: &TestServer, scopes: &[&str]) -> taskcluster::Credentials {
    server
        .root_credentials()
        .create_temp_creds(Duration::from_secs(3600), scopes)
        .expect("temporary credentials")
}

/// A proxy to `root_url` signing with `creds`, limited to `scopes`.
async fn start_proxy(
    root_url: &str,
    creds: impl Into<TaskCredentials>,
    scopes: &[&str],
) -> TaskProxy {
    let scopes = scopes.iter().map(|s| s.to_string()).collect();
    TaskProxy::start(root_url, creds.into(), scopes)
        .await
        .expect("proxy starts")
}

/// `PUT /credentials`, as docker-worker and generic-worker send it: no content type. A call
/// under way must not hold it up, hence the timeout.
async fn put_credentials(proxy: &TaskProxy, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("{}/credentials", proxy.url()))
        .body(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("PUT /credentials")
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

async fn fetch(url: String) -> reqwest::Response {
    reqwest::get(url).await.expect("request")
}

async fn get(url: String) -> (StatusCode, Value) {
    json_of(fetch(url).await).await
}

#[tokio::test]
async fn authorized_scopes_limit_the_task_to_its_own_scopes() {
    let server = server_with_secrets().await;
    let creds = temp_creds(&server, &["secrets:get:allowed/*", "secrets:get:denied/*"]);
    let proxy = start_proxy(&server.root_url, creds.clone(), &["secrets:get:allowed/*"]).await;

    let resp = fetch(format!("{}{GET_ALLOWED}", proxy.url())).await;
    assert_eq!(
        resp.headers()["x-taskcluster-endpoint"],
        format!("{}{GET_ALLOWED}", server.root_url).as_str()
    );
    assert_eq!(
        resp.headers()["x-taskcluster-proxy-temp-clientid"],
        creds.client_id.as_str()
    );
    assert_eq!(
        resp.headers()["x-taskcluster-authorized-scopes"],
        r#"["secrets:get:allowed/*"]"#
    );
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["secret"], json!({ "v": "one" }));

    // The legacy form, and a task that sends credentials of its own: they are dropped, not
    // forwarded (the server would refuse this header).
    let resp = reqwest::Client::new()
        .get(format!("{}/secrets/v1/secret/allowed/one", proxy.url()))
        .header(
            "authorization",
            r#"Hawk id="intruder", ts="1", nonce="x", mac="AAAA""#,
        )
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["secret"], json!({ "v": "one" }));

    // The credentials themselves may read denied/two; authorizedScopes is what stops the task,
    // and the server's 403 reaches it as the server wrote it.
    let direct = taskcluster::Secrets::new(server.client(Some(creds))).expect("client");
    assert_eq!(
        direct.get("denied/two").await.expect("direct get")["secret"],
        json!({ "v": "two" })
    );
    let (status, body) = get(format!("{}{GET_DENIED}", proxy.url())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "InsufficientScopes");
    let path = body["requestInfo"]["path"].as_str().unwrap_or("");
    assert!(path.ends_with("/secret/denied/two"), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("secrets:get:denied/two"),
        "{body}"
    );

    proxy.shutdown().await;
}

#[tokio::test]
async fn bodies_are_forwarded_and_signed_with_them() {
    let server = server_with_secrets().await;
    let task_scopes = [
        "auth:expand-scopes",
        "secrets:set:allowed/*",
        "secrets:get:allowed/*",
    ];
    let proxy = start_proxy(
        &server.root_url,
        temp_creds(&server, &task_scopes),
        &task_scopes,
    )
    .await;
    let http = reqwest::Client::new();

    let resp = http
        .post(format!("{}/api/auth/v1/scopes/expand", proxy.url()))
        .json(&json!({ "scopes": ["secrets:get:allowed/*"] }))
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scopes"], json!(["secrets:get:allowed/*"]));

    // No content type, as `curl -d` sends it: labelled JSON on the way, as taskcluster-proxy does.
    let expires = Timestamp::now().plus_days(1).to_string();
    let resp = http
        .put(format!("{}/api/secrets/v1/secret/allowed/new", proxy.url()))
        .body(json!({ "secret": { "k": 1 }, "expires": expires }).to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    let root = taskcluster::Secrets::new(server.root_client()).expect("client");
    assert_eq!(
        root.get("allowed/new").await.expect("get")["secret"],
        json!({ "k": 1 })
    );

    // The scope limit holds for writes too.
    let resp = http
        .put(format!("{}/api/secrets/v1/secret/denied/new", proxy.url()))
        .json(&json!({ "secret": { "k": 2 }, "expires": expires }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bewit_answers_a_signed_url_good_for_an_hour() {
    let server = server_with_secrets().await;
    let proxy = start_proxy(
        &server.root_url,
        temp_creds(&server, &["secrets:get:allowed/*", "secrets:get:denied/*"]),
        &["secrets:get:allowed/*"],
    )
    .await;
    let sign = |url: String| {
        let proxy_url = proxy.url();
        async move {
            no_redirects()
                .post(format!("{proxy_url}/bewit"))
                .body(url)
                .send()
                .await
                .expect("request")
        }
    };

    let target = format!("{}{GET_ALLOWED}", server.root_url);
    let resp = sign(format!("{target}\n")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(resp.text().await.expect("body"), location);
    let bewit = location
        .strip_prefix(&format!("{target}?bewit="))
        .unwrap_or_else(|| panic!("{location} is not {target} with a bewit"));
    let decoded =
        String::from_utf8(URL_SAFE_NO_PAD.decode(bewit).expect("base64url")).expect("utf8");
    let expiry: u64 = decoded
        .split('\\')
        .nth(1)
        .expect("exp")
        .parse()
        .expect("number");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        (3590..=3610).contains(&(expiry - now)),
        "bewit expires in {}s",
        expiry - now
    );

    // Anyone with the URL reads the secret, without any header; without the bewit, nobody.
    let (status, body) = get(location).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["secret"], json!({ "v": "one" }));
    assert_eq!(get(target).await.0, StatusCode::FORBIDDEN);

    // The bewit carries authorizedScopes too, so it cannot reach beyond the task's scopes; a
    // query already in the URL is kept and signed.
    let denied = sign(format!("{}{GET_DENIED}?x=1", server.root_url)).await;
    let location = denied.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(location.contains("?x=1&bewit="), "{location}");
    assert_eq!(get(location).await.0, StatusCode::FORBIDDEN);

    let (status, body) = json_of(sign("not a url".into()).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "InvalidRequestArguments");
    assert_eq!(body["requestInfo"]["path"], "/bewit");
}

#[tokio::test]
async fn swapped_credentials_sign_the_next_calls() {
    let server = server_with_secrets().await;
    let good = temp_creds(&server, &["secrets:get:allowed/*"]);
    let proxy = start_proxy(&server.root_url, good.clone(), &["secrets:get:allowed/*"]).await;
    let read = || get(format!("{}{GET_ALLOWED}", proxy.url()));
    assert_eq!(read().await.0, StatusCode::OK);

    // Credentials that lack the task's scopes: Taskcluster refuses them outright (they do not
    // satisfy authorizedScopes), so the very next call fails to authenticate.
    proxy
        .update_credentials(temp_creds(&server, &["secrets:get:other/*"]).into())
        .expect("swap");
    let (status, body) = read().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "AuthenticationFailed");

    // The worker's HTTP form of the same swap, back to good credentials.
    let resp = put_credentials(
        &proxy,
        json!({
            "clientId": good.client_id,
            "accessToken": good.access_token,
            "certificate": good.certificate,
        })
        .to_string(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(read().await.0, StatusCode::OK);

    // Broken credentials are refused and the working ones kept.
    let broken = TaskCredentials {
        certificate: Some("{not json".into()),
        ..TaskCredentials::from(good)
    };
    assert!(proxy.update_credentials(broken).is_err());
    let resp = put_credentials(&proxy, r#"{"clientId": "x"}"#.into()).await;
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "InputError");
    assert_eq!(read().await.0, StatusCode::OK);
}

#[tokio::test]
async fn other_paths_get_taskclusters_404() {
    let server = TestServer::start().await;
    let proxy = start_proxy(&server.root_url, temp_creds(&server, &[]), &[]).await;
    for path in ["/nope", "/api/queue/v1", "/example.com/v1/ping"] {
        let (status, body) = get(format!("{}{path}", proxy.url())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["code"], "ResourceNotFound");
        assert_eq!(body["requestInfo"]["method"], "GET");
        assert_eq!(body["requestInfo"]["path"], path);
    }
    let (status, body) = get(format!("{}/bewit", proxy.url())).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(body["code"].is_string(), "{body}");
}

/// A request as the scripted upstream saw it.
#[derive(Debug, Clone)]
struct Seen {
    path_and_query: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Upstream {
    seen: Mutex<Vec<Seen>>,
    flaky_calls: AtomicU32,
    arrived: Notify,
    release: Notify,
}

impl Upstream {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

/// Scripted answers under `/api/fake/v1/`: what a proxy must pass on untouched.
async fn upstream_answer(State(up): State<Arc<Upstream>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    up.seen.lock().expect("seen").push(Seen {
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|pq| pq.to_string())
            .unwrap_or_default(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: body.to_vec(),
    });
    match parts.uri.path() {
        "/api/fake/v1/echo" => (
            [("content-type", "text/plain"), ("x-taskcluster-foo", "bar")],
            "echoed",
        )
            .into_response(),
        "/api/fake/v1/redirect" => (
            StatusCode::SEE_OTHER,
            [("location", "https://elsewhere.example/artifact")],
        )
            .into_response(),
        "/api/fake/v1/plain-404" => (StatusCode::NOT_FOUND, "no such thing").into_response(),
        "/api/fake/v1/flaky" if up.flaky_calls.fetch_add(1, Ordering::SeqCst) == 0 => {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        "/api/fake/v1/flaky" => "recovered".into_response(),
        "/api/fake/v1/down" => {
            (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response()
        }
        "/api/fake/v1/hold" => {
            up.arrived.notify_one();
            up.release.notified().await;
            "released".into_response()
        }
        _ => StatusCode::IM_A_TEAPOT.into_response(),
    }
}

async fn start_upstream() -> (String, Arc<Upstream>) {
    let up = Arc::new(Upstream::default());
    let app = Router::new()
        .fallback(any(upstream_answer))
        .with_state(Arc::clone(&up));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), up)
}

fn permanent(client_id: &str) -> TaskCredentials {
    TaskCredentials {
        client_id: client_id.into(),
        access_token: "an-access-token".into(),
        certificate: None,
    }
}

/// The `ext` of a Hawk `Authorization` header, decoded.
fn ext_of(authorization: &str) -> (String, Value) {
    let header = hawk::Header::from_str(authorization.strip_prefix("Hawk ").expect("Hawk"))
        .expect("Hawk header");
    let ext = STANDARD.decode(header.ext.expect("ext")).expect("base64");
    (
        header.id.expect("id"),
        serde_json::from_slice(&ext).expect("JSON"),
    )
}

#[tokio::test]
async fn answers_come_back_verbatim_and_redirects_are_not_followed() {
    let (root_url, up) = start_upstream().await;
    let certificate = json!({ "version": 1, "scopes": ["a:b"], "seed": "s" }).to_string();
    let creds = TaskCredentials {
        certificate: Some(certificate),
        ..permanent("task-client")
    };
    let proxy = start_proxy(&root_url, creds, &["a:b"]).await;

    let resp = no_redirects()
        .post(format!("{}/api/fake/v1/echo?a=1&b=%2F", proxy.url()))
        .header("authorization", "Bearer the-tasks-own")
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"x":1}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-taskcluster-foo"], "bar");
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.headers()["content-length"], "6");
    assert_eq!(
        resp.headers()["x-taskcluster-proxy-temp-scopes"],
        r#"["a:b"]"#
    );
    assert_eq!(resp.text().await.expect("body"), "echoed");

    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path_and_query, "/api/fake/v1/echo?a=1&b=%2F");
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(seen[0].body, br#"{"x":1}"#);
    let authorization = seen[0].authorization.clone().expect("signed");
    assert!(authorization.contains("hash=\""), "{authorization}");
    let (id, ext) = ext_of(&authorization);
    assert_eq!(id, "task-client");
    assert_eq!(
        ext,
        json!({
            "certificate": { "version": 1, "scopes": ["a:b"], "seed": "s" },
            "authorizedScopes": ["a:b"],
        })
    );

    // The legacy form, to a redirect: passed back, not followed.
    let resp = no_redirects()
        .get(format!("{}/fake/v1/redirect", proxy.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()["location"],
        "https://elsewhere.example/artifact"
    );
    let paths: Vec<String> = up.seen().into_iter().map(|s| s.path_and_query).collect();
    assert_eq!(
        paths,
        ["/api/fake/v1/echo?a=1&b=%2F", "/api/fake/v1/redirect"]
    );

    // Not JSON, yet not rewritten into Taskcluster's error shape either.
    let resp = fetch(format!("{}/api/fake/v1/plain-404", proxy.url())).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.text().await.expect("body"), "no such thing");
    proxy.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_and_the_last_one_relayed() {
    let (root_url, up) = start_upstream().await;
    let proxy = start_proxy(&root_url, permanent("perm/client"), &[]).await;

    let resp = fetch(format!("{}/api/fake/v1/flaky", proxy.url())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["x-taskcluster-proxy-perm-clientid"],
        "perm/client"
    );
    assert_eq!(resp.text().await.expect("body"), "recovered");
    assert_eq!(up.flaky_calls.load(Ordering::SeqCst), 2);

    let resp = fetch(format!("{}/api/fake/v1/down", proxy.url())).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.text().await.expect("body"), "down for maintenance");
    let downs = up
        .seen()
        .iter()
        .filter(|s| s.path_and_query == "/api/fake/v1/down")
        .count();
    assert_eq!(downs, 5);
}

#[tokio::test]
async fn an_unreachable_server_is_a_502() {
    // A port that was free a moment ago and has nobody listening now.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let root_url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let proxy = start_proxy(&root_url, permanent("perm/client"), &[]).await;
    let (status, body) = get(format!("{}/api/queue/v1/ping", proxy.url())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["requestInfo"]["path"], "/api/queue/v1/ping");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&format!("{root_url}/api/queue/v1/ping")),
        "{message}"
    );
}

#[tokio::test]
async fn calls_under_way_keep_their_credentials_and_do_not_block_a_swap() {
    let (root_url, up) = start_upstream().await;
    let proxy = start_proxy(&root_url, permanent("first"), &[]).await;
    let held = tokio::spawn(fetch(format!("{}/api/fake/v1/hold", proxy.url())));
    up.arrived.notified().await;

    proxy.update_credentials(permanent("second")).expect("swap");
    let swap_over_http = put_credentials(
        &proxy,
        r#"{"clientId": "third", "accessToken": "t", "certificate": ""}"#.into(),
    )
    .await;
    assert_eq!(swap_over_http.status(), StatusCode::OK);
    let resp = fetch(format!("{}/api/fake/v1/echo", proxy.url())).await;
    assert_eq!(resp.status(), StatusCode::OK);

    up.release.notify_one();
    let resp = held.await.expect("task");
    assert_eq!(resp.text().await.expect("body"), "released");
    let ids: Vec<String> = up
        .seen()
        .iter()
        .map(|s| ext_of(s.authorization.as_deref().expect("signed")).0)
        .collect();
    assert_eq!(ids, ["first", "third"]);
}

/// True once nothing accepts connections at `addr` any more (an abort takes effect when the
/// runtime next runs the serving task, so this waits a little).
async fn stops_listening(addr: std::net::SocketAddr) -> bool {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn the_proxy_stops_on_shutdown_and_on_drop() {
    let (root_url, _up) = start_upstream().await;
    let proxy = start_proxy(&root_url, permanent("perm/client"), &[]).await;
    let addr = proxy.addr();
    assert_eq!(proxy.url(), format!("http://{addr}"));
    let resp = fetch(format!("{}/api/fake/v1/echo", proxy.url())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    proxy.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let proxy = start_proxy(&root_url, permanent("perm/client"), &[]).await;
    let addr = proxy.addr();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    drop(proxy);
    assert!(stops_listening(addr).await, "still listening after drop");
}

#[tokio::test]
async fn credentials_that_cannot_sign_are_refused_at_start() {
    let bad_id = TaskCredentials {
        client_id: "has \"quotes\"".into(),
        ..permanent("x")
    };
    assert!(TaskProxy::start("http://127.0.0.1:1", bad_id, Vec::new())
        .await
        .is_err());
    let bad_cert = TaskCredentials {
        certificate: Some("[]".into()),
        ..permanent("x")
    };
    assert!(TaskProxy::start("http://127.0.0.1:1", bad_cert, Vec::new())
        .await
        .is_err());
    assert!(TaskProxy::start("not a url", permanent("x"), Vec::new())
        .await
        .is_err());
    assert!(TaskProxy::start("ftp://host", permanent("x"), Vec::new())
        .await
        .is_err());
}
