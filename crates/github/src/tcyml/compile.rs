//! Taskcluster-GitHub's completion of rendered tasks: default ids and group, `created`,
//! `schedulerId`, the reporting route, and dependency order.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::TcYmlError;

pub const SCHEDULER_ID: &str = "taskcluster-github";
pub const STATUSES_ROUTE: &str = "statuses";
pub const CHECKS_ROUTE: &str = "checks";

/// One task ready for `createTask(taskId, task)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEntry {
    pub task_id: String,
    pub task: Value,
}

pub(super) fn compile_tasks(
    tasks: Option<Value>,
    checks: bool,
    now: &str,
) -> Result<Vec<TaskEntry>, TcYmlError> {
    let tasks = match tasks {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(tasks)) => tasks,
        Some(_) => return Err(TcYmlError::TasksNotAList),
    };
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let mut objects = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.into_iter().enumerate() {
        match task {
            Value::Object(map) => objects.push(map),
            _ => return Err(TcYmlError::TaskNotAnObject(i)),
        }
    }
    let fresh = relyard_core::ids::slugid;
    // One task: it is its own group (it looks like a decision task). Several: a new group that
    // is none of them. Either can be overridden by the tasks themselves.
    let (mut default_task_id, default_group) = if objects.len() == 1 {
        let given = |k: &str| {
            objects[0]
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match (given("taskId"), given("taskGroupId")) {
            (Some(_), Some(_)) => (fresh(), fresh()),
            (Some(id), None) => (fresh(), id),
            (None, Some(group)) => (group.clone(), group),
            (None, None) => {
                let id = fresh();
                (id.clone(), id)
            }
        }
    } else {
        (fresh(), fresh())
    };
    let route = if checks { CHECKS_ROUTE } else { STATUSES_ROUTE };

    let mut entries = Vec::with_capacity(objects.len());
    for mut task in objects {
        let mut routes: Vec<Value> = match task.remove("routes") {
            Some(Value::Array(r)) => r,
            _ => Vec::new(),
        };
        if !routes.iter().any(|r| r.as_str() == Some(route)) {
            routes.push(Value::String(route.into()));
        }
        let task_id = match task.remove("taskId") {
            Some(Value::String(id)) => id,
            _ => default_task_id.clone(),
        };
        default_task_id = fresh();
        let mut complete = Map::new();
        complete.insert("schedulerId".into(), SCHEDULER_ID.into());
        complete.insert("taskGroupId".into(), default_group.clone().into());
        complete.insert("created".into(), now.into());
        complete.extend(task);
        complete.insert("routes".into(), Value::Array(routes));
        entries.push(TaskEntry {
            task_id,
            task: Value::Object(complete),
        });
    }
    dependency_order(entries)
}

/// Orders tasks so that each comes after the tasks of this graph it depends on (dependencies on
/// tasks outside the graph are the queue's business); a cycle is an error.
fn dependency_order(entries: Vec<TaskEntry>) -> Result<Vec<TaskEntry>, TcYmlError> {
    let mut index = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if index.insert(e.task_id.clone(), i).is_some() {
            return Err(TcYmlError::DuplicateTaskId(e.task_id.clone()));
        }
    }
    let deps: Vec<Vec<usize>> = entries
        .iter()
        .map(|e| {
            e.task
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().and_then(|d| index.get(d).copied()))
                .collect()
        })
        .collect();
    let mut placed = vec![false; entries.len()];
    let mut order = Vec::with_capacity(entries.len());
    // Repeated passes in file order keep the file's order wherever dependencies allow it.
    while order.len() < entries.len() {
        let before = order.len();
        for i in 0..entries.len() {
            if !placed[i] && deps[i].iter().all(|&d| placed[d]) {
                placed[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            let cycle: HashSet<usize> = (0..entries.len()).filter(|&i| !placed[i]).collect();
            let mut ids: Vec<String> = cycle.iter().map(|&i| entries[i].task_id.clone()).collect();
            ids.sort();
            return Err(TcYmlError::Cycle(ids));
        }
    }
    let mut slots: Vec<Option<TaskEntry>> = entries.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}
