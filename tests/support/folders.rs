//! Workflow folders of a test, removed with whatever a node wrote in them.

use std::path::PathBuf;

/// A folder `distorch-{name}-{pid}` in the temporary directory holding
/// `{definition}.yaml`; removed, with whatever a node wrote in it (its
/// SQLite file), when dropped, whether the test passed or not.
pub fn workflows_folder(name: &str, definition: &str, yaml: &str) -> TempFolder {
    let dir = std::env::temp_dir().join(format!("distorch-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{definition}.yaml")), yaml).unwrap();
    TempFolder(dir)
}

/// A folder removed when dropped.
#[derive(Debug)]
pub struct TempFolder(PathBuf);

impl std::ops::Deref for TempFolder {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempFolder {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
