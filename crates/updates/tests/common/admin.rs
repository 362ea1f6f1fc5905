//! The admin API as the server mounts it: `/api/updates/v1` and `/api/auth/v1` behind
//! relyard's authentication layer on 127.0.0.1:0, over a test database (SQLite, or PostgreSQL
//! with `TEST_DATABASE_URL`). Callers are real auth clients calling with Bearer tokens from
//! the OAuth2 token endpoint, as balrogclient does; root calls are Hawk-signed.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use relyard_auth::{AuthConfig, AuthService, Cipher};
use relyard_events::{Bus, BusConfig};
use relyard_testing::TestDb;
use relyard_updates::admin::{router, AdminState};
use relyard_updates::UpdatesService;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const ROOT_TOKEN: &str = "root-token-for-updates-admin-tests-0123456789";

pub struct Admin {
    pub base: String,
    pub db: relyard_store::Db,
    pub service: UpdatesService,
    addr: SocketAddr,
    shutdown: CancellationToken,
    http: reqwest::Client,
    _tdb: TestDb,
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Admin {
    pub async fn start() -> Admin {
        let tdb = TestDb::new().await;
        let db = tdb.db.clone();
        for m in [
            relyard_events::migrations(),
            relyard_auth::migrations(),
            relyard_updates::migrations(),
        ] {
            db.migrate(&m).await.expect("migrate");
        }
        let shutdown = CancellationToken::new();
        let bus = Bus::start(db.clone(), BusConfig::default(), shutdown.clone())
            .await
            .expect("bus");
        let cipher =
            Cipher::new(&[("k1".into(), "an updates admin test key".into())]).expect("cipher");
        let config = AuthConfig {
            root_access_token: ROOT_TOKEN.into(),
            cipher,
        };
        let auth = AuthService::start(db.clone(), bus, config, shutdown.clone())
            .await
            .expect("auth");
        let service = UpdatesService::from_db(db.clone(), Arc::new(|| 0u8))
            .await
            .expect("updates service");
        let state = AdminState::new(db.clone(), service.clone()).with_auth(Arc::clone(&auth));
        let app = Router::new()
            .nest("/api/updates/v1", router(state))
            .nest("/api/auth/v1", relyard_auth::router(Arc::clone(&auth)))
            .layer(from_fn_with_state(auth, relyard_auth::authenticate))
            .merge(relyard_updates::router(service.clone()))
            .layer(from_fn(relyard_core::error::request_info_layer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let make = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, make)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        Admin {
            base: format!("http://{addr}"),
            db,
            service,
            addr,
            shutdown,
            http: reqwest::Client::new(),
            _tdb: tdb,
        }
    }

    fn root_hawk(&self, method: &str, path: &str) -> String {
        self.hawk(relyard_auth::ROOT_CLIENT_ID, ROOT_TOKEN, method, path)
    }

    /// A Hawk `Authorization` header of `client_id` for `method path` (the full path).
    pub fn hawk(&self, client_id: &str, access_token: &str, method: &str, path: &str) -> String {
        let credentials = hawk::Credentials {
            id: client_id.to_string(),
            key: hawk::Key::new(access_token.as_bytes(), hawk::DigestAlgorithm::Sha256)
                .expect("hawk key"),
        };
        let ip = self.addr.ip().to_string();
        let header = hawk::RequestBuilder::new(method, &ip, self.addr.port(), path)
            .request()
            .make_header(&credentials)
            .expect("hawk header");
        format!("Hawk {header}")
    }

    /// Makes auth client `client_id` with `scopes` and answers a Bearer token for it, got from
    /// the OAuth2 token endpoint with a JSON body as balrogclient sends it.
    pub async fn bearer(&self, client_id: &str, scopes: &[&str]) -> String {
        let secret = self.make_client(client_id, scopes).await;
        let resp = self
            .http
            .post(format!("{}/api/auth/v1/oauth/token", self.base))
            .json(&json!({
                "client_id": client_id, "client_secret": secret,
                "audience": "balrog", "grant_type": "client_credentials",
            }))
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status().as_u16(), 200, "token for {client_id}");
        let token: Value = resp.json().await.expect("token JSON");
        format!(
            "Bearer {}",
            token["access_token"].as_str().expect("access_token")
        )
    }

    /// Makes auth client `client_id` with `scopes` (as root); answers its access token.
    pub async fn make_client(&self, client_id: &str, scopes: &[&str]) -> String {
        let path = format!("/api/auth/v1/clients/{}", client_id.replace('/', "%2F"));
        let expires = relyard_core::Timestamp::now().plus_days(1).to_string();
        let resp = self
            .http
            .put(format!("{}{path}", self.base))
            .header("Authorization", self.root_hawk("PUT", &path))
            .json(&json!({"expires": expires, "description": "test", "scopes": scopes}))
            .send()
            .await
            .expect("createClient");
        assert_eq!(resp.status().as_u16(), 200, "createClient {client_id}");
        let created: Value = resp.json().await.expect("client JSON");
        created["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_string()
    }

    /// One admin call signed with Hawk as `client_id`.
    pub async fn call_hawk(
        &self,
        (client_id, access_token): (&str, &str),
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let full = format!("/api/updates/v1{path}");
        let header = self.hawk(client_id, access_token, method, &full);
        self.call(Some(&header), method, path, body).await
    }

    /// One admin call (`path` under `/api/updates/v1`) with a JSON body.
    pub async fn call(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.call_raw(auth, method, path, raw.as_deref(), "application/json")
            .await
    }

    pub async fn call_raw(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: &str,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}/api/updates/v1{path}", self.base));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", content_type).body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// A public `/update/...` URL.
    pub async fn public(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }
}

impl Admin {
    /// Creates release `name` of `product` with `blob` through `PUT /releases/<name>`.
    pub async fn put_release(&self, auth: &str, name: &str, product: &str, blob: Value) {
        let body = json!({"name": name, "product": product, "blob": blob});
        let path = format!("/releases/{name}");
        let r = self.call(Some(auth), "PUT", &path, Some(&body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    /// A Firefox release-channel rule mapping to `release`, protected by `signoffs` sign-offs
    /// of role relman; answers the rule_id.
    pub async fn protected_rule(&self, auth: &str, release: &str, signoffs: i64) -> i64 {
        let rule = json!({"mapping": release, "product": "Firefox", "channel": "release",
                          "priority": 100, "backgroundRate": 100, "update_type": "minor"});
        let made = self.call(Some(auth), "POST", "/rules", Some(&rule)).await;
        assert_eq!(made.status, 200, "{}", made.text);
        self.require_signoffs(auth, "Firefox", "release", "relman", signoffs)
            .await;
        made.text.trim().parse().expect("rule id")
    }

    /// Makes `channel` of `product` require `signoffs` sign-offs of `role`.
    pub async fn require_signoffs(
        &self,
        auth: &str,
        product: &str,
        channel: &str,
        role: &str,
        signoffs: i64,
    ) {
        let rs = json!({"product": product, "channel": channel, "role": role,
                        "signoffs_required": signoffs});
        let r = self
            .call(Some(auth), "POST", "/required_signoffs/product", Some(&rs))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}

/// A schema-1 release blob with no platforms yet.
pub fn empty_blob(name: &str) -> Value {
    json!({"name": name, "schema_version": 1, "hashFunction": "sha512", "appv": "1.0",
           "extv": "1.0", "platforms": {}})
}
