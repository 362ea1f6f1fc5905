-- Bytes of the queue's `s3` artifacts live in the object store; this table records each finished
-- upload: its size, SHA-256, the content type it was signed for, the Content-Encoding it was sent
-- with ('' for none) and when it finished (milliseconds since the epoch).
CREATE TABLE blobs (
    key TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_encoding TEXT NOT NULL DEFAULT '',
    uploaded BIGINT NOT NULL
);
