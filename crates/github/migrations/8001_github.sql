-- One row per task group the webhook created: what it was for and how it went, so the builds /
-- badge / latest endpoints can answer and the reporter knows where to report (after restarts too).
CREATE TABLE github_builds (
    task_group_id TEXT PRIMARY KEY,
    organization TEXT NOT NULL,
    repository TEXT NOT NULL,
    sha TEXT NOT NULL,
    -- pending, success, failure, error or cancelled
    state TEXT NOT NULL,
    -- push, tag, pull_request.<action>, release, issue_comment.<action>
    event_type TEXT NOT NULL,
    -- X-GitHub-Delivery, or Unknown
    event_id TEXT NOT NULL,
    installation_id BIGINT,
    pull_request_number BIGINT,
    -- the pushed branch (push events only: what badge and latest look up)
    branch TEXT,
    -- statuses or checks
    reporting TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX github_builds_repository ON github_builds (organization, repository, created);
CREATE INDEX github_builds_branch ON github_builds (organization, repository, branch, created);
CREATE INDEX github_builds_pull_request ON github_builds (organization, repository, pull_request_number);

-- One check run per task (reporting: checks-v1). `wanted_*` is the newest state seen in events,
-- `posted_*` the newest sent to GitHub; the row is claimed by whoever inserts it, who creates the
-- check run, so several servers never create two for one task.
CREATE TABLE github_checks (
    task_id TEXT PRIMARY KEY,
    task_group_id TEXT NOT NULL,
    check_run_id BIGINT,
    wanted_run BIGINT NOT NULL,
    wanted_rank BIGINT NOT NULL,
    wanted_status TEXT NOT NULL,
    wanted_conclusion TEXT,
    posted_run BIGINT,
    posted_rank BIGINT
);
CREATE INDEX github_checks_group ON github_checks (task_group_id);
