//! OAuth2 client credentials: a client trades its accessToken for a short-lived JWT and calls
//! the API with `Authorization: Bearer`; errors have RFC 6749's shape.

mod common;

use base64::Engine;
use common::{call_with_authorization, make_client, root_auth};
use relyard_testing::TestServer;
use serde_json::{json, Value};

const TOKEN_PATH: &str = "/api/auth/v1/oauth/token";

/// Posts a form to the token endpoint; returns status, headers and JSON body.
async fn token_form(
    server: &TestServer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = reqwest::Client::new()
        .post(format!("{}{TOKEN_PATH}", server.root_url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", enc(id), enc(secret));
        let header = base64::engine::general_purpose::STANDARD.encode(pair);
        req = req.header("Authorization", format!("Basic {header}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

async fn token_json(server: &TestServer, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{TOKEN_PATH}", server.root_url))
        .json(body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn current_scopes(server: &TestServer, jwt: &str) -> (u16, Value) {
    call_with_authorization(
        server,
        "GET",
        "/api/auth/v1/scopes/current",
        &format!("Bearer {jwt}"),
    )
    .await
}

#[tokio::test]
async fn token_then_bearer_calls() {
    let server = TestServer::start().await;
    root_auth(&server)
        .createRole("web", &json!({"description": "d", "scopes": ["web:*"]}))
        .await
        .unwrap();
    let secret = make_client(
        &server,
        "test/oauth",
        &["auth:current-scopes", "assume:web"],
    )
    .await;

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "test/oauth"),
        ("client_secret", secret.as_str()),
        ("audience", "balrog"),
    ];
    let (status, headers, body) = token_form(&server, &form, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(expires_in > 3500 && expires_in <= 3600, "{expires_in}");
    assert_eq!(headers["cache-control"], "no-store");
    let jwt = body["access_token"].as_str().unwrap().to_string();

    // The token carries the expanded scopes (roles applied) and the anonymous role is added.
    let (status, scopes) = current_scopes(&server, &jwt).await;
    assert_eq!(status, 200, "{scopes}");
    assert_eq!(
        scopes["scopes"],
        json!([
            "assume:anonymous",
            "assume:web",
            "auth:current-scopes",
            "queue:get-artifact:public/*",
            "web:*"
        ])
    );

    // Scopes it does not carry are still refused with 403.
    let (status, err) = call_with_authorization(
        &server,
        "GET",
        "/api/auth/v1/clients/",
        &format!("Bearer {jwt}"),
    )
    .await;
    assert_eq!(status, 200, "listClients needs no scopes: {err}");
    let (status, err) = call_with_authorization(
        &server,
        "DELETE",
        "/api/auth/v1/clients/somebody",
        &format!("Bearer {jwt}"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(err["code"], "InsufficientScopes");

    // A tampered token is not accepted.
    let mut tampered = jwt.clone();
    tampered.push('x');
    assert_eq!(current_scopes(&server, &tampered).await.0, 401);
    assert_eq!(current_scopes(&server, "not-a-jwt").await.0, 401);

    // Disabling, resetting or deleting the client ends its tokens at once.
    let root = root_auth(&server);
    root.disableClient("test/oauth").await.unwrap();
    assert_eq!(current_scopes(&server, &jwt).await.0, 401);
    root.enableClient("test/oauth").await.unwrap();
    assert_eq!(current_scopes(&server, &jwt).await.0, 200);
    root.resetAccessToken("test/oauth").await.unwrap();
    assert_eq!(current_scopes(&server, &jwt).await.0, 401);
}

#[tokio::test]
async fn json_body_basic_auth_and_scope_narrowing() {
    let server = TestServer::start().await;
    let secret = make_client(&server, "test/narrow", &["auth:current-scopes", "foo:*"]).await;

    let (status, body) = token_json(
        &server,
        &json!({
            "grant_type": "client_credentials",
            "client_id": "test/narrow",
            "client_secret": secret,
            "scope": "auth:current-scopes foo:bar",
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, scopes) = current_scopes(&server, body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        scopes["scopes"],
        json!([
            "assume:anonymous",
            "auth:current-scopes",
            "foo:bar",
            "queue:get-artifact:public/*"
        ])
    );

    let (status, _, body) = token_form(
        &server,
        &[("grant_type", "client_credentials")],
        Some(("test/narrow", &secret)),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Asking for more than the client holds.
    let (status, body) = token_json(
        &server,
        &json!({
            "grant_type": "client_credentials",
            "client_id": "test/narrow",
            "client_secret": secret,
            "scope": "bar:x",
        }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_scope");
}

#[tokio::test]
async fn oauth_errors() {
    let server = TestServer::start().await;
    let secret = make_client(&server, "test/err", &["auth:current-scopes"]).await;

    let (status, headers, body) = token_form(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "test/err"),
            ("client_secret", "wrong"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].is_string());
    assert!(headers.contains_key("www-authenticate"));

    // Unknown clients look exactly like wrong secrets.
    let (status, _, unknown) = token_form(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "test/nobody"),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!((status, &unknown), (401, &body));

    let (status, _, body) = token_form(
        &server,
        &[
            ("grant_type", "password"),
            ("client_id", "test/err"),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");

    let (status, _, body) = token_form(&server, &[("client_id", "test/err")], None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    // A disabled client gets no token.
    root_auth(&server).disableClient("test/err").await.unwrap();
    let (status, _, body) = token_form(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "test/err"),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn tokens_of_another_deployment_are_refused() {
    let first = TestServer::start().await;
    let secret = make_client(&first, "test/shared", &["auth:current-scopes"]).await;
    let (_, _, body) = token_form(
        &first,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "test/shared"),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    let jwt = body["access_token"].as_str().unwrap();
    // Another server with another root token does not accept it.
    let other = TestServer::start().await;
    assert_eq!(current_scopes(&other, jwt).await.0, 401);
    assert_eq!(current_scopes(&first, jwt).await.0, 200);
}
