//! taskQueueIds in paths: `/claim-work/<provisionerId>/<workerType>` is one route parameter,
//! `<taskQueueId>`, in Taskcluster's API. The official clients percent-encode it
//! (`proj%2Fci`) while other callers send the raw slash; routes here have two segments, so the
//! encoded slash is decoded before routing. Authentication has already checked the Hawk MAC
//! on the raw request target by then.

use axum::extract::Request;
use axum::Router;
use http::Uri;
use tower::ServiceBuilder;

const PREFIXES: [&str; 3] = ["/claim-work/", "/pending/", "/task-queues/"];

/// Wraps the queue's routes so that an encoded taskQueueId reaches them as two segments.
pub fn accept_encoded(routes: Router) -> Router {
    Router::new().fallback_service(
        ServiceBuilder::new()
            .map_request(decode_task_queue_id)
            .service(routes),
    )
}

fn decode_task_queue_id(mut req: Request) -> Request {
    if let Some(uri) = rewritten(req.uri()) {
        *req.uri_mut() = uri;
    }
    req
}

fn rewritten(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let prefix = PREFIXES.iter().find(|p| path.starts_with(*p))?;
    let rest = &path[prefix.len()..];
    let segment_end = rest.find('/').unwrap_or(rest.len());
    let segment = &rest[..segment_end];
    let at = segment.to_ascii_lowercase().find("%2f")?;
    let new_path = format!(
        "{prefix}{}/{}{}",
        &segment[..at],
        &segment[at + 3..],
        &rest[segment_end..]
    );
    let new = match uri.query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    new.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(s: &str) -> Option<String> {
        rewritten(&s.parse().unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn decodes_only_the_task_queue_segment() {
        assert_eq!(
            rw("/claim-work/proj%2Fci").as_deref(),
            Some("/claim-work/proj/ci")
        );
        assert_eq!(
            rw("/task-queues/proj%2fci/counts").as_deref(),
            Some("/task-queues/proj/ci/counts")
        );
        assert_eq!(
            rw("/task-queues/p%2Fw/pending?limit=2").as_deref(),
            Some("/task-queues/p/w/pending?limit=2")
        );
        assert_eq!(rw("/claim-work/proj/ci"), None);
        assert_eq!(rw("/task/abc/artifacts/public%2Fx"), None);
    }
}
