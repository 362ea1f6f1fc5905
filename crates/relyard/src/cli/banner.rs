//! What the long-running commands (`up`, `signing-server`) print on stdout once each part
//! listens. `println!` panics when stdout is a pipe nobody reads any more (Rust ignores
//! SIGPIPE, so the write fails with EPIPE); a server must not stop, or stop half-started,
//! because whoever started it closed the pipe, so these lines are written and any error
//! dropped. The server's log goes to stderr through `tracing` either way.

/// Like `println!`, but a failed write is ignored.
macro_rules! banner {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub(crate) use banner;
