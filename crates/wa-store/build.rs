//! Compiles the storage schema `proto/store.proto` with prost through protox (no `protoc` needed).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let proto_dir = manifest.join("../../proto");
    let schema = proto_dir.join("store.proto");
    println!("cargo:rerun-if-changed={}", schema.display());
    let fds = protox::compile([&schema], [&proto_dir]).expect("proto/store.proto compiles");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut config = prost_build::Config::new();
    config.out_dir(out_dir);
    config.compile_fds(fds).expect("prost code generation");
}
