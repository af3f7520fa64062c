//! Temporary directories that clean up after themselves.

use tempfile::TempDir;

/// A new empty directory under the system's temp dir, named after `tag`, removed with its
/// contents when the returned guard is dropped (also when the test fails).
///
/// # Panics
/// If the directory cannot be created.
pub fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wagate-test-{tag}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temp dir for {tag}: {e}"))
}
