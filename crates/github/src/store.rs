//! SQL of the GitHub service: `github_builds` (one row per task group the webhook created) and
//! `github_checks` (one check run per task). Portable SQL for SQLite and PostgreSQL.

use relyard_core::Timestamp;
use relyard_store::{Db, Row, StoreResult};
use sqlx::any::AnyRow;

pub fn migrations() -> relyard_store::Migrations {
    relyard_store::migrations!("github", portable)
}

/// Build states, as Taskcluster-GitHub names them.
pub const PENDING: &str = "pending";
pub const SUCCESS: &str = "success";
pub const FAILURE: &str = "failure";
pub const CANCELLED: &str = "cancelled";
pub const ERROR: &str = "error";

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub task_group_id: String,
    pub organization: String,
    pub repository: String,
    pub sha: String,
    pub state: String,
    pub event_type: String,
    pub event_id: String,
    pub installation_id: Option<i64>,
    pub pull_request_number: Option<i64>,
    pub branch: Option<String>,
    /// `statuses` or `checks`.
    pub reporting: String,
    pub created: Timestamp,
    pub updated: Timestamp,
}

const BUILD_COLUMNS: &str = "task_group_id, organization, repository, sha, state, event_type, \
    event_id, installation_id, pull_request_number, branch, reporting, created, updated";

fn build_of(r: AnyRow) -> StoreResult<Build> {
    Ok(Build {
        task_group_id: r.try_get("task_group_id")?,
        organization: r.try_get("organization")?,
        repository: r.try_get("repository")?,
        sha: r.try_get("sha")?,
        state: r.try_get("state")?,
        event_type: r.try_get("event_type")?,
        event_id: r.try_get("event_id")?,
        installation_id: r.try_get("installation_id")?,
        pull_request_number: r.try_get("pull_request_number")?,
        branch: r.try_get("branch")?,
        reporting: r.try_get("reporting")?,
        created: Timestamp::from_millis(r.try_get("created")?),
        updated: Timestamp::from_millis(r.try_get("updated")?),
    })
}

/// Records a build; a second delivery of the same group keeps the first row.
pub async fn insert_build(db: &Db, b: &Build) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO github_builds ({BUILD_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (task_group_id) DO NOTHING"
    ))
    .bind(&b.task_group_id)
    .bind(&b.organization)
    .bind(&b.repository)
    .bind(&b.sha)
    .bind(&b.state)
    .bind(&b.event_type)
    .bind(&b.event_id)
    .bind(b.installation_id)
    .bind(b.pull_request_number)
    .bind(&b.branch)
    .bind(&b.reporting)
    .bind(b.created.millis())
    .bind(b.updated.millis())
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get_build(db: &Db, task_group_id: &str) -> StoreResult<Option<Build>> {
    sqlx::query(&format!(
        "SELECT {BUILD_COLUMNS} FROM github_builds WHERE task_group_id = $1"
    ))
    .bind(task_group_id)
    .fetch_optional(db.reader())
    .await?
    .map(build_of)
    .transpose()
}

/// Moves a build to `state` unless it is there already or was cancelled. True when this call
/// made the change: only that caller reports it, so a state is posted once even when several
/// servers (or a redelivered event) see the same transition.
pub async fn set_build_state(db: &Db, task_group_id: &str, state: &str) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE github_builds SET state = $1, updated = $2 \
         WHERE task_group_id = $3 AND state <> $1 AND state <> $4",
    )
    .bind(state)
    .bind(Timestamp::now().millis())
    .bind(task_group_id)
    .bind(CANCELLED)
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a build cancelled whatever its state (autoCancel, cancelBuilds).
pub async fn cancel_build(db: &Db, task_group_id: &str) -> StoreResult<()> {
    sqlx::query("UPDATE github_builds SET state = $1, updated = $2 WHERE task_group_id = $3")
        .bind(CANCELLED)
        .bind(Timestamp::now().millis())
        .bind(task_group_id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// What `builds` lists; each filter narrows when given.
#[derive(Debug, Default, Clone)]
pub struct BuildFilter {
    pub organization: Option<String>,
    pub repository: Option<String>,
    pub sha: Option<String>,
    pub pull_request: Option<i64>,
}

/// A page of builds, newest first, after `offset` rows.
pub async fn list_builds(
    db: &Db,
    filter: &BuildFilter,
    offset: i64,
    limit: i64,
) -> StoreResult<Vec<Build>> {
    // Absent filters compare a NULL parameter, so one statement serves every combination.
    sqlx::query(&format!(
        "SELECT {BUILD_COLUMNS} FROM github_builds \
         WHERE ($1 IS NULL OR organization = $1) AND ($2 IS NULL OR repository = $2) \
           AND ($3 IS NULL OR sha = $3) AND ($4 IS NULL OR pull_request_number = $4) \
         ORDER BY created DESC, task_group_id LIMIT $5 OFFSET $6"
    ))
    .bind(&filter.organization)
    .bind(&filter.repository)
    .bind(&filter.sha)
    .bind(filter.pull_request)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.reader())
    .await?
    .into_iter()
    .map(build_of)
    .collect()
}

/// The newest build of a push to `branch`.
pub async fn latest_push_build(
    db: &Db,
    organization: &str,
    repository: &str,
    branch: &str,
) -> StoreResult<Option<Build>> {
    sqlx::query(&format!(
        "SELECT {BUILD_COLUMNS} FROM github_builds \
         WHERE organization = $1 AND repository = $2 AND branch = $3 \
         ORDER BY created DESC, task_group_id LIMIT 1"
    ))
    .bind(organization)
    .bind(repository)
    .bind(branch)
    .fetch_optional(db.reader())
    .await?
    .map(build_of)
    .transpose()
}

/// Unfinished builds of one pull request, for autoCancelPreviousChecks.
pub async fn pending_pull_request_builds(
    db: &Db,
    organization: &str,
    repository: &str,
    pull_request: i64,
) -> StoreResult<Vec<Build>> {
    sqlx::query(&format!(
        "SELECT {BUILD_COLUMNS} FROM github_builds \
         WHERE organization = $1 AND repository = $2 AND pull_request_number = $3 AND state = $4"
    ))
    .bind(organization)
    .bind(repository)
    .bind(pull_request)
    .bind(PENDING)
    .fetch_all(db.reader())
    .await?
    .into_iter()
    .map(build_of)
    .collect()
}

/// A check run's state: `rank` orders queued (0) < in_progress (1) < completed (2) within a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    pub run: i64,
    pub rank: i64,
    pub status: String,
    pub conclusion: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub task_id: String,
    pub check_run_id: Option<i64>,
    pub wanted: CheckState,
    /// `(run, rank)` last sent to GitHub.
    pub posted: Option<(i64, i64)>,
}

/// Claims the task's check run: true when this call inserted the row (and so must create it).
pub async fn claim_check(
    db: &Db,
    task_group_id: &str,
    task_id: &str,
    s: &CheckState,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO github_checks (task_id, task_group_id, wanted_run, wanted_rank, \
         wanted_status, wanted_conclusion) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (task_id) DO NOTHING",
    )
    .bind(task_id)
    .bind(task_group_id)
    .bind(s.run)
    .bind(s.rank)
    .bind(&s.status)
    .bind(&s.conclusion)
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a newer wanted state; false when the row already wants this state or a later one
/// (events may arrive out of order when several servers deliver them).
pub async fn want_check(db: &Db, task_id: &str, s: &CheckState) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE github_checks SET wanted_run = $1, wanted_rank = $2, wanted_status = $3, \
         wanted_conclusion = $4 WHERE task_id = $5 \
         AND (wanted_run < $1 OR (wanted_run = $1 AND wanted_rank < $2))",
    )
    .bind(s.run)
    .bind(s.rank)
    .bind(&s.status)
    .bind(&s.conclusion)
    .bind(task_id)
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_check(db: &Db, task_id: &str) -> StoreResult<Option<CheckRow>> {
    let row = sqlx::query(
        "SELECT task_id, check_run_id, wanted_run, wanted_rank, wanted_status, \
         wanted_conclusion, posted_run, posted_rank FROM github_checks WHERE task_id = $1",
    )
    .bind(task_id)
    .fetch_optional(db.writer())
    .await?;
    row.map(|r| {
        let posted_run: Option<i64> = r.try_get("posted_run")?;
        let posted_rank: Option<i64> = r.try_get("posted_rank")?;
        Ok(CheckRow {
            task_id: r.try_get("task_id")?,
            check_run_id: r.try_get("check_run_id")?,
            wanted: CheckState {
                run: r.try_get("wanted_run")?,
                rank: r.try_get("wanted_rank")?,
                status: r.try_get("wanted_status")?,
                conclusion: r.try_get("wanted_conclusion")?,
            },
            posted: posted_run.zip(posted_rank),
        })
    })
    .transpose()
}

/// Notes what was sent (never moving `posted` backwards) and, once known, the check run id.
pub async fn mark_check_posted(
    db: &Db,
    task_id: &str,
    check_run_id: i64,
    posted: (i64, i64),
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE github_checks SET check_run_id = $1, posted_run = $2, posted_rank = $3 \
         WHERE task_id = $4 AND (posted_run IS NULL OR posted_run < $2 \
           OR (posted_run = $2 AND posted_rank < $3))",
    )
    .bind(check_run_id)
    .bind(posted.0)
    .bind(posted.1)
    .bind(task_id)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Gives up a claim whose check run could not be created, so a later event creates it.
pub async fn release_check(db: &Db, task_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM github_checks WHERE task_id = $1 AND check_run_id IS NULL")
        .bind(task_id)
        .execute(db.writer())
        .await?;
    Ok(())
}
