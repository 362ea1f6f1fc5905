//! createTask.

use std::collections::HashMap;

use relyard_auth::scopes::ScopeExpr;
use relyard_core::error::ApiResult;
use relyard_core::{ApiError, Timestamp};

use crate::events::TaskExchange;
use crate::model::{priorities_at_least, ReasonCreated, TaskDef, TaskRow, TaskStatus};
use crate::store::{deps, groups, tasks};
use crate::validate::{self, CreateTaskRequest};
use crate::Queue;

impl Queue {
    /// Checks a createTask body and fills in defaults (400 naming the field on failure).
    pub fn task_definition(&self, task_id: &str, body: &[u8]) -> ApiResult<TaskDef> {
        let req: CreateTaskRequest = validate::parse_body(body)?;
        validate::task_definition(task_id, req, Timestamp::now())
    }

    /// The scopes createTask requires for `def`.
    pub fn create_task_scopes(def: &TaskDef) -> ScopeExpr {
        let mut all: Vec<ScopeExpr> = def
            .scopes
            .iter()
            .map(|s| ScopeExpr::scope(s.as_str()))
            .collect();
        all.extend(
            def.routes
                .iter()
                .map(|r| ScopeExpr::scope(format!("queue:route:{r}"))),
        );
        all.push(ScopeExpr::scope(format!(
            "queue:create-task:project:{}",
            def.project_id
        )));
        all.push(ScopeExpr::scope(format!(
            "queue:scheduler-id:{}",
            def.scheduler_id
        )));
        all.push(ScopeExpr::any_of(
            priorities_at_least(&def.priority).iter().map(|p| {
                ScopeExpr::scope(format!(
                    "queue:create-task:{p}:{}/{}",
                    def.provisioner_id, def.worker_type
                ))
            }),
        ));
        ScopeExpr::all_of(all)
    }

    /// Creates a task (idempotently for an identical definition) and returns its status.
    ///
    /// One transaction: the group (schedulerId and seal checked), the task, its dependency edges,
    /// run 0 when nothing blocks it, and the task-defined / task-pending events.
    pub async fn create_task(&self, task_id: &str, def: &TaskDef) -> ApiResult<TaskStatus> {
        let now = Timestamp::now();
        let mut w = self.begin().await?;

        if let Some(existing) = tasks::get_definition(&mut w.tx, task_id).await? {
            drop(w);
            if &existing != def {
                return Err(ApiError::conflict(format!(
                    "taskId `{task_id}` already used by another task.\nThis could be the result of faulty idempotency!"
                )));
            }
            let row = tasks::get(self.db.reader(), task_id, "")
                .await?
                .ok_or_else(|| super::no_task(task_id))?;
            return Ok(row.status());
        }

        let group = groups::add_task(
            &mut w.tx,
            &def.task_group_id,
            &def.scheduler_id,
            def.expires,
        )
        .await?;
        if group.scheduler_id != def.scheduler_id {
            return Err(ApiError::conflict(format!(
                "Task group `{}` contains tasks with a schedulerId other than `{}`. All tasks in the same \
                 task-group must have the same schedulerId.",
                def.task_group_id, def.scheduler_id
            )));
        }
        if group.sealed.is_some() {
            return Err(ApiError::conflict(format!(
                "Task group `{}` is sealed and does not accept new tasks.",
                def.task_group_id
            )));
        }

        // Which dependencies exist, and which already resolved in a way `requires` accepts.
        let states: HashMap<String, String> = tasks::states(&mut w.tx, &def.dependencies)
            .await?
            .into_iter()
            .collect();
        let missing: Vec<&str> = def
            .dependencies
            .iter()
            .filter(|d| d.as_str() != task_id && !states.contains_key(d.as_str()))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).copied().collect();
            return Err(ApiError::input(format!(
                "`dependencies` references {} task(s) that do not exist: {}",
                missing.len(),
                shown.join(", ")
            )));
        }
        let edges: Vec<(String, bool)> = def
            .dependencies
            .iter()
            .map(|d| {
                let state = states.get(d).map(String::as_str).unwrap_or("unscheduled");
                let ok = match def.requires.as_str() {
                    "all-resolved" => matches!(state, "completed" | "failed" | "exception"),
                    _ => state == "completed",
                };
                (d.clone(), ok)
            })
            .collect();
        let blocked = edges.iter().any(|(_, ok)| !ok);

        let mut row = TaskRow {
            task_id: task_id.to_string(),
            task_group_id: def.task_group_id.clone(),
            scheduler_id: def.scheduler_id.clone(),
            project_id: def.project_id.clone(),
            task_queue_id: def.task_queue_id.clone(),
            priority: def.priority.clone(),
            requires: def.requires.clone(),
            retries: def.retries,
            retries_left: def.retries,
            deadline: def.deadline,
            expires: def.expires,
            runs: Vec::new(),
            routes: def.routes.clone(),
            tags: serde_json::Value::Object(def.tags.clone()),
            scopes: def.scopes.clone(),
        };
        if let Err(e) = tasks::insert(&mut w.tx, &row, def).await {
            if e.is_unique_violation() {
                // Created concurrently by an identical or different call: Taskcluster answers 409 too.
                return Err(ApiError::conflict(format!(
                    "taskId `{task_id}` already used by another task."
                )));
            }
            return Err(e.into());
        }
        if !edges.is_empty() {
            deps::insert(&mut w.tx, task_id, &def.requires, &edges).await?;
        }
        w.task_event(TaskExchange::Defined, &row, None).await?;
        if !blocked {
            let run_id = w
                .add_pending_run(&mut row, ReasonCreated::Scheduled, now)
                .await?;
            w.save_and_announce_pending(&row, run_id).await?;
        }
        self.commit(w).await?;
        Ok(row.status())
    }
}
