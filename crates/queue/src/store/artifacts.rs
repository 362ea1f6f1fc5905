//! `queue_artifacts`: one row per artifact of a run. The bytes of `s3` artifacts live in the blob
//! store under [`blob_key`]; reads join the `blobs` table for their recorded size and SHA-256.

use relyard_core::Timestamp;
use relyard_store::{Row, StoreResult, Tx};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Any;

use super::{json, placeholders, CHUNK};

/// The blob-store key of an `s3` artifact's bytes (Taskcluster's object name for artifacts).
pub fn blob_key(task_id: &str, run_id: u32, name: &str) -> String {
    format!("t/{task_id}/{run_id}/{name}")
}

/// An artifact record, with what the blob store recorded of its bytes once they were uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub task_id: String,
    pub run_id: u32,
    pub name: String,
    /// `s3`, `reference`, `link` or `error`.
    pub storage_type: String,
    pub content_type: String,
    pub expires: Timestamp,
    /// `{}` (s3), `{url}` (reference), `{artifact}` (link), `{reason, message}` (error).
    pub details: Value,
    /// The `contentLength` the worker reported when creating the artifact, if any.
    pub reported_length: Option<i64>,
    /// Size in bytes of the uploaded `s3` bytes (`None` before the upload and for other types).
    pub size: Option<i64>,
    /// Lower-case hex SHA-256 of the uploaded `s3` bytes.
    pub sha256: Option<String>,
    pub created: Timestamp,
}

impl Artifact {
    pub fn blob_key(&self) -> String {
        blob_key(&self.task_id, self.run_id, &self.name)
    }

    /// The content length Taskcluster reports: the stored size once uploaded, else what the
    /// worker said.
    pub fn content_length(&self) -> Option<i64> {
        self.size.or(self.reported_length)
    }

    /// Taskcluster's `artifact-response` shape: `{storageType, name, expires, contentType,
    /// contentLength?}`, plus relyard's `contentSha256` once the bytes are uploaded.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "storageType": self.storage_type,
            "name": self.name,
            "expires": self.expires,
            "contentType": self.content_type,
        });
        if let Some(n) = self.content_length() {
            v["contentLength"] = json!(n);
        }
        // What the queue itself hashed while the bytes arrived: a consumer checking a chain of
        // trust compares what it downloaded with this, not with a header of the download.
        if let Some(h) = &self.sha256 {
            v["contentSha256"] = json!(h);
        }
        v
    }

    /// The `artifact` of an artifact-created message (no contentLength in that schema).
    pub fn to_message_json(&self) -> Value {
        json!({
            "storageType": self.storage_type,
            "name": self.name,
            "expires": self.expires,
            "contentType": self.content_type,
        })
    }
}

/// The artifact columns joined with the recorded blob (if any). The key is built the same way
/// as [`blob_key`].
const SELECT: &str =
    "SELECT a.task_id, a.run_id, a.name, a.storage_type, a.content_type, a.expires, a.details, \
     a.content_length, a.created, b.size AS blob_size, b.sha256 AS blob_sha256 \
     FROM queue_artifacts a LEFT JOIN blobs b ON a.storage_type = 's3' \
     AND b.key = ('t/' || a.task_id || '/' || CAST(a.run_id AS TEXT) || '/' || a.name)";

fn decode(r: &AnyRow) -> StoreResult<Artifact> {
    let details: String = r.try_get("details")?;
    let run_id: i64 = r.try_get("run_id")?;
    Ok(Artifact {
        task_id: r.try_get("task_id")?,
        run_id: run_id as u32,
        name: r.try_get("name")?,
        storage_type: r.try_get("storage_type")?,
        content_type: r.try_get("content_type")?,
        expires: Timestamp::from_millis(r.try_get("expires")?),
        details: json(&details)?,
        reported_length: r.try_get("content_length")?,
        size: r.try_get("blob_size")?,
        sha256: r.try_get("blob_sha256")?,
        created: Timestamp::from_millis(r.try_get("created")?),
    })
}

/// One artifact.
pub async fn get<'e, E>(
    e: E,
    task_id: &str,
    run_id: u32,
    name: &str,
) -> StoreResult<Option<Artifact>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!("{SELECT} WHERE a.task_id = $1 AND a.run_id = $2 AND a.name = $3");
    let row = sqlx::query(&sql)
        .bind(task_id)
        .bind(run_id as i64)
        .bind(name)
        .fetch_optional(e)
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn insert(tx: &mut Tx, a: &Artifact) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO queue_artifacts (task_id, run_id, name, storage_type, content_type, expires, details, \
         created, content_length) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&a.task_id)
    .bind(a.run_id as i64)
    .bind(&a.name)
    .bind(&a.storage_type)
    .bind(&a.content_type)
    .bind(a.expires.millis())
    .bind(a.details.to_string())
    .bind(a.created.millis())
    .bind(a.reported_length)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a compatible repeated createArtifact may change: the storage type (reference → link),
/// the details (a reference's url) and a later `expires`.
pub async fn update(tx: &mut Tx, a: &Artifact) -> StoreResult<()> {
    sqlx::query(
        "UPDATE queue_artifacts SET storage_type = $1, expires = $2, details = $3 \
         WHERE task_id = $4 AND run_id = $5 AND name = $6",
    )
    .bind(&a.storage_type)
    .bind(a.expires.millis())
    .bind(a.details.to_string())
    .bind(&a.task_id)
    .bind(a.run_id as i64)
    .bind(&a.name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of a run's artifacts in name order, after `after`.
pub async fn list(
    pool: &sqlx::AnyPool,
    task_id: &str,
    run_id: u32,
    after: &str,
    limit: usize,
) -> StoreResult<Vec<Artifact>> {
    let sql = format!(
        "{SELECT} WHERE a.task_id = $1 AND a.run_id = $2 AND a.name > $3 ORDER BY a.name LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(task_id)
        .bind(run_id as i64)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// `(taskId, runId, name, storageType)` of artifacts whose `expires` is before `now`.
pub async fn expired(
    pool: &sqlx::AnyPool,
    now: Timestamp,
    limit: usize,
) -> StoreResult<Vec<(String, u32, String, String)>> {
    let rows = sqlx::query(
        "SELECT task_id, run_id, name, storage_type FROM queue_artifacts WHERE expires < $1 \
         ORDER BY expires LIMIT $2",
    )
    .bind(now.millis())
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let run_id: i64 = r.try_get("run_id")?;
            Ok((
                r.try_get("task_id")?,
                run_id as u32,
                r.try_get("name")?,
                r.try_get("storage_type")?,
            ))
        })
        .collect()
}

/// Deletes one artifact if it is still expired at `now` (a repeated createArtifact may have
/// extended it meanwhile). Returns whether it did.
pub async fn delete_if_expired(
    tx: &mut Tx,
    task_id: &str,
    run_id: u32,
    name: &str,
    now: Timestamp,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "DELETE FROM queue_artifacts WHERE task_id = $1 AND run_id = $2 AND name = $3 AND expires < $4",
    )
    .bind(task_id)
    .bind(run_id as i64)
    .bind(name)
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes every artifact of the tasks `ids`.
pub async fn delete_for_tasks(tx: &mut Tx, ids: &[String]) -> StoreResult<u64> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM queue_artifacts WHERE task_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        n += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(n)
}
