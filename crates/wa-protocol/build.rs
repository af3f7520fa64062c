//! Generates code from the data files: protobuf schemas in `proto/` (prost through protox, so no
//! `protoc` binary is needed) and the binary-XML token tables from `data/tokens.json`.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    compile_protos(&root.join("proto"), &out_dir);
    tokens::generate_tokens(&out_dir);
}

fn compile_protos(proto_dir: &Path, out_dir: &Path) {
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(proto_dir)
        .expect("read proto/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        // wa-store compiles its own storage schema.
        .filter(|p| p.file_name().is_none_or(|n| n != "store.proto"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [proto_dir]).expect("proto/ schemas compile");
    let mut config = prost_build::Config::new();
    config.out_dir(out_dir);
    config.compile_fds(fds).expect("prost code generation");
}

mod tokens {
    include!("build_tokens.rs");
}
