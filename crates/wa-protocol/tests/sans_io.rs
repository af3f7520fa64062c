//! wa-protocol stays sans-IO: its normal dependency tree has no async runtime, socket, storage or
//! HTTP crate (architecture principle 1). This asks cargo itself.

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "async-std",
    "sled",
    "axum",
    "hyper",
    "tungstenite",
    "tokio-tungstenite",
    "reqwest",
    "rand",
    "getrandom",
];

#[test]
fn dependency_tree_has_no_io_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "wa-protocol",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"wa-protocol"), "unexpected output: {tree}");
    assert!(crates.contains(&"prost"), "the tree is read: {tree}");
    for bad in FORBIDDEN {
        assert!(
            !crates.contains(bad),
            "wa-protocol depends on {bad}; it must stay sans-IO:\n{tree}"
        );
    }
}
