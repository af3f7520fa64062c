//! Replays every committed fuzz seed (`fuzz/corpus/<target>/*`) on the stable toolchain, so a
//! crash the fuzzer once found stays fixed under plain `cargo test`.

use std::path::Path;

#[test]
fn every_fuzz_corpus_replays() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut total = 0;
    for target in wa_protocol::fuzzing::TARGETS {
        let dir = corpus.join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let path = entry.expect("dir entry").path();
            let data = std::fs::read(&path).expect("read seed");
            assert!(wa_protocol::fuzzing::run(target, &data));
            count += 1;
        }
        assert!(count > 0, "target {target} has no seeds");
        total += count;
    }
    assert!(total >= wa_protocol::fuzzing::TARGETS.len());
}
