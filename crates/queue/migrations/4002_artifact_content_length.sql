-- The size a worker reported in createArtifact (`contentLength`, informational, as in
-- Taskcluster); NULL when it did not say. The size and SHA-256 of uploaded `s3` bytes are in
-- `blobs`, under the key `t/<taskId>/<runId>/<name>`.
ALTER TABLE queue_artifacts ADD COLUMN content_length BIGINT;
