//! Helpers the runner's tests share: real shell scripts in a temporary directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes `#!/bin/sh` + `body` to `dir/name` with mode 0755 and returns its path.
pub(crate) fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// The lines of `path`, or none when it does not exist (nothing wrote to it).
pub(crate) fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    }
}
