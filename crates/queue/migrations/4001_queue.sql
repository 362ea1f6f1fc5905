-- Tasks: one row per task. Runs live in the row as a JSON array (as in Taskcluster), so each
-- state change is one read and one write of one row. `state` is the derived task state (the last
-- run's state, or `unscheduled`) kept as a column so the reaper and group checks can index it.
CREATE TABLE queue_tasks (
    task_id TEXT PRIMARY KEY,
    task_group_id TEXT NOT NULL,
    scheduler_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    task_queue_id TEXT NOT NULL,
    priority TEXT NOT NULL,
    requires TEXT NOT NULL,
    retries BIGINT NOT NULL,
    retries_left BIGINT NOT NULL,
    created BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    state TEXT NOT NULL,
    runs TEXT NOT NULL,
    routes TEXT NOT NULL,
    tags TEXT NOT NULL,
    scopes TEXT NOT NULL,
    definition TEXT NOT NULL
);
CREATE INDEX queue_tasks_group ON queue_tasks (task_group_id, task_id);
CREATE INDEX queue_tasks_active_deadline ON queue_tasks (deadline)
    WHERE state IN ('unscheduled', 'pending', 'running');
CREATE INDEX queue_tasks_expires ON queue_tasks (expires);

-- Pending runs waiting for a worker; a row is deleted when the run is claimed. Claims read the
-- head of one queue in index order: most urgent priority first, then oldest.
CREATE TABLE queue_pending (
    task_id TEXT PRIMARY KEY,
    run_id BIGINT NOT NULL,
    task_queue_id TEXT NOT NULL,
    priority_rank BIGINT NOT NULL,
    inserted BIGINT NOT NULL
);
CREATE INDEX queue_pending_order ON queue_pending (task_queue_id, priority_rank, inserted, task_id);

-- Running runs: what the claim reaper watches and what listClaimedTasks shows.
CREATE TABLE queue_claimed (
    task_id TEXT PRIMARY KEY,
    run_id BIGINT NOT NULL,
    task_queue_id TEXT NOT NULL,
    worker_group TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    claimed BIGINT NOT NULL,
    taken_until BIGINT NOT NULL
);
CREATE INDEX queue_claimed_taken_until ON queue_claimed (taken_until);
CREATE INDEX queue_claimed_queue ON queue_claimed (task_queue_id, claimed, task_id);

-- Dependency edges. `satisfied` becomes 1 when the required task resolves in a way the
-- dependent's `requires` accepts; a dependent is ready when none of its edges is unsatisfied.
CREATE TABLE queue_dependencies (
    required_task_id TEXT NOT NULL,
    dependent_task_id TEXT NOT NULL,
    requires TEXT NOT NULL,
    satisfied BIGINT NOT NULL,
    PRIMARY KEY (required_task_id, dependent_task_id)
);
CREATE INDEX queue_dependencies_dependent ON queue_dependencies (dependent_task_id, satisfied);

-- Task groups. `active` counts tasks that are unscheduled, pending or running; the transaction
-- that brings it to 0 publishes task-group-resolved (the row lock makes that exactly one).
CREATE TABLE queue_task_groups (
    task_group_id TEXT PRIMARY KEY,
    scheduler_id TEXT NOT NULL,
    expires BIGINT NOT NULL,
    sealed BIGINT,
    active BIGINT NOT NULL
);
CREATE INDEX queue_task_groups_expires ON queue_task_groups (expires);

-- Artifact records (the bytes of `s3` artifacts live in the blob store).
CREATE TABLE queue_artifacts (
    task_id TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    storage_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    expires BIGINT NOT NULL,
    details TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (task_id, run_id, name)
);
CREATE INDEX queue_artifacts_expires ON queue_artifacts (expires);
