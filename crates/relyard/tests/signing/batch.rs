//! Many inputs in one request (`POST /api/signing/v1/batch/<format>`) and uploads answered with
//! their output (`Prefer: wait=N`): outputs verify with gpg and minisign, every input is signed
//! once with one audit line, and one bad input refuses the whole batch before anything is signed.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn token_for(env: &Env, url: &str, id: &str, formats: &[&str]) -> String {
    signing_token(env, url, id, formats).await
}

fn item(name: &str, data: &[u8]) -> Value {
    json!({ "name": name, "sha256": sha256_hex(data), "data": B64.encode(data) })
}

/// Sends a batch; (status, JSON body).
async fn batch(url: &str, format: &str, token: Option<&str>, items: Vec<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/api/signing/v1/batch/{format}"))
        .json(&json!({ "inputs": items }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("batch request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The output of one `done` result, checked against its `output_sha256`.
fn output_of(result: &Value) -> Vec<u8> {
    assert_eq!(result["status"], "done", "{result}");
    let output = B64
        .decode(result["output"].as_str().expect("output"))
        .expect("base64");
    assert_eq!(result["output_sha256"], sha256_hex(&output).as_str());
    output
}

#[tokio::test]
async fn a_batch_signs_each_input_once_and_the_signatures_verify() {
    let env = Env::new().await;
    let s = env.signing("batch", &["127.0.0.0/8"]).await;
    let token = token_for(&env, &s.url, "project/batcher", &["gpg"]).await;
    let names = ["a.txt", "b.txt", "c.bin"];
    for name in names {
        std::fs::write(env.path(name), format!("contents of {name}\n")).expect("write");
    }
    let read = |name: &str| std::fs::read(env.path(name)).expect("read");
    // `a.txt` twice: signed once, answered twice.
    let items: Vec<Value> = ["a.txt", "b.txt", "c.bin", "a.txt"]
        .iter()
        .map(|n| item(n, &read(n)))
        .collect();
    let (status, body) = batch(&s.url, "gpg", Some(&token), items.clone()).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    let home = gpg_home(env.dir.path());
    for (name, result) in names.iter().zip(results) {
        assert_eq!(result["sha256"], sha256_hex(&read(name)).as_str());
        let sig = env.path(&format!("{name}.asc"));
        std::fs::write(&sig, output_of(result)).expect("write");
        assert!(gpg_verifies(&home, &sig, &env.path(name)), "{name}");
    }
    assert_eq!(output_of(&results[3]), output_of(&results[0]));
    let audit = relyard_signing::audit::AuditLog::read(&s.audit_log).expect("audit log");
    assert_eq!(audit.len(), 3);
    assert!(audit.iter().all(|e| e.owner == "project/batcher"));
    assert_eq!(s.server.results().len(), 3);

    // Again: all from the result store, nothing signed.
    let (status, body) = batch(&s.url, "gpg", Some(&token), items).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|r| r["status"] == "done"));
    assert_eq!(s.audit_lines(), 3);
    // A single upload of a batch-signed input is answered from the store too.
    let (status, body) = upload(&s.url, "gpg", &token, "b.txt", &read("b.txt")).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("done")));

    tamper(&env.path("b.txt"));
    assert!(!gpg_verifies(
        &home,
        &env.path("b.txt.asc"),
        &env.path("b.txt")
    ));
}

#[tokio::test]
async fn one_bad_input_refuses_the_whole_batch() {
    let env = Env::new().await;
    let s = env.signing("batch-checks", &["127.0.0.0/8"]).await;
    let token = token_for(&env, &s.url, "project/careful", &["gpg", "sha256sums"]).await;
    let good = item("good.txt", b"good\n");

    let mut wrong_hash = item("bad.txt", b"bad\n");
    wrong_hash["sha256"] = json!(sha256_hex(b"something else"));
    let too_big = item("big.bin", &vec![0u8; 100_001]);
    let cases = [
        ("a wrong sha256", wrong_hash, 400),
        ("a name off the allow-list", item("setup.exe", b"x"), 403),
        ("an input over max_size", too_big, 413),
        (
            "data that is not base64",
            json!({"name": "x.txt", "sha256": sha256_hex(b"x"), "data": "%%%"}),
            400,
        ),
    ];
    for (what, bad, want) in cases {
        let (status, body) = batch(&s.url, "gpg", Some(&token), vec![good.clone(), bad]).await;
        assert_eq!(status, want, "{what}: {body}");
    }
    assert_eq!(batch(&s.url, "gpg", Some(&token), vec![]).await.0, 400);
    assert_eq!(batch(&s.url, "gpg", None, vec![good.clone()]).await.0, 401);
    let (status, _) = batch(&s.url, "minisign", Some(&token), vec![good.clone()]).await;
    assert_eq!(status, 403, "a format not in the token");
    assert_eq!(s.audit_lines(), 0);
    assert!(s.server.results().is_empty());

    // An input the format refuses fails alone, as a single upload would (400 at fetch).
    let manifest =
        relyard_signing::manifest_from_digests(&[("good.txt", [7u8; 32])]).expect("manifest");
    let (status, body) = batch(
        &s.url,
        "sha256sums",
        Some(&token),
        vec![
            item("SHA256SUMS", manifest.as_bytes()),
            item("SHA256SUMS", b"not a manifest\n"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    output_of(&body["results"][0]);
    assert_eq!(body["results"][1]["status"], "failed", "{body}");
    assert_eq!(body["results"][1]["error"]["status"], 400, "{body}");
    assert_eq!(s.audit_lines(), 1);
}

#[tokio::test]
async fn an_upload_preferring_to_wait_gets_its_output_in_the_answer() {
    let env = Env::new().await;
    let s = env.signing("prefer", &["127.0.0.0/8"]).await;
    let token = token_for(&env, &s.url, "project/waiter", &["minisign"]).await;
    let data = env.path("app.bin");
    std::fs::write(&data, b"the app\n").expect("write");
    let input = std::fs::read(&data).expect("read");
    for round in ["signed now", "from the result store"] {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/signing/v1/sign/minisign", s.url))
            .bearer_auth(&token)
            .header("X-Content-SHA256", sha256_hex(&input))
            .header("X-Filename", "app.bin")
            .header("Prefer", "wait=10")
            .body(input.clone())
            .send()
            .await
            .expect("upload");
        assert_eq!(resp.status().as_u16(), 200, "{round}");
        let claimed = resp
            .headers()
            .get("X-Content-SHA256")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let output = resp.bytes().await.expect("body").to_vec();
        assert_eq!(claimed, Some(sha256_hex(&output)), "{round}");
        let sig = env.path("app.bin.minisig");
        std::fs::write(&sig, &output).expect("write");
        assert!(minisign_verifies(env.dir.path(), &data, &sig), "{round}");
    }
    assert_eq!(s.audit_lines(), 1);
    // Without the preference the answer is the 202 of the issue's API.
    assert_eq!(
        upload(&s.url, "minisign", &token, "app.bin", &input)
            .await
            .0,
        202
    );
}

/// Some JSON encoders escape `/` (as `\/`), which base64 contains, and any string may carry
/// `\u` escapes: such a batch is read like any other (the server borrows only unescaped
/// strings from the body).
#[tokio::test]
async fn escaped_json_strings_in_a_batch_are_read_as_their_text() {
    let env = Env::new().await;
    let s = env.signing("batch-escapes", &["127.0.0.0/8"]).await;
    let token = token_for(&env, &s.url, "project/escaper", &["gpg"]).await;
    // Bytes whose base64 holds `/` and `+`.
    let data: Vec<u8> = (0u8..=255).rev().collect();
    let encoded = B64.encode(&data);
    assert!(encoded.contains('/'));
    let body = format!(
        r#"{{"inputs": [{{"name": "\u0065scaped.bin", "sha256": "{}", "data": "{}"}}]}}"#,
        sha256_hex(&data),
        encoded.replace('/', "\\/")
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/api/signing/v1/batch/gpg", s.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("batch request");
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.expect("JSON answer");
    let result = &answer["results"][0];
    std::fs::write(env.path("escaped.bin"), &data).expect("write");
    std::fs::write(env.path("escaped.bin.asc"), output_of(result)).expect("write");
    let home = gpg_home(env.dir.path());
    assert!(gpg_verifies(
        &home,
        &env.path("escaped.bin.asc"),
        &env.path("escaped.bin")
    ));
}
