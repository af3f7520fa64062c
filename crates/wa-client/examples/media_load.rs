//! Media throughput and the 100 MB memory proof (issue 13), against a wa-sim in another
//! process (this example again with `--serve-sim`).
//!
//! ```sh
//! cargo build --release -p wa-client --example media_load
//! target/release/examples/media_load --rounds 5 --sizes-mb 1,50          # throughput
//! target/release/examples/media_load --memory --size-mb 100              # memory proof
//! ```
//!
//! **Throughput** (default): one gateway account linked to a sim phone. For each size, a file
//! of pseudo-random bytes is written once; each round then measures, in this order, on the
//! same machine: the bare AES-256-CBC + HMAC-SHA256 primitives on memory, wa-protocol's
//! streaming encrypt and decrypt paths on memory (adding the two SHA-256 hashes), then
//! `Gateway::upload_media` of the file (encrypt into a staging file, POST to the sim) and
//! `Gateway::download_media` of what it uploaded (GET, decrypt, verify, plaintext into a
//! temporary file). One line of JSON per size: medians of the rounds in MB/s (1 MB = 2^20
//! bytes of plaintext), the ratios of the in-memory paths to the transfers (the goal: within
//! 2×), and CPU per MB of this process and of the sim's. Options: `--rounds N` (5),
//! `--sizes-mb a,b` (1,50), `--kind document|video` (document; video adds the sidecar).
//!
//! **Memory** (`--memory`): after linking, the peak RSS is reset (`/proc/self/clear_refs`) and
//! `VmRSS` read; the gateway sends a `--size-mb` (100) video from a file to the contact's
//! phone (which downloads and checks it: its inbox shows the SHA-256), and the contact's phone
//! sends one of the same size to the gateway, which downloads it into a temporary file and
//! verifies it. The phone's request body (base64 JSON) is written to a file and posted by
//! `curl`, so only the gateway's own work is in this process. Prints `VmRSS` before, `VmHWM`
//! after and the growth.

#[path = "support/media_crypto.rs"]
mod media_crypto;
#[path = "support/media_fixture.rs"]
mod media_fixture;
#[path = "support/sim_process.rs"]
mod sim_process;

use std::path::Path;
use std::time::{Duration, Instant};

use wa_client::{EventKind, MediaSource, OutgoingMedia, SendOptions};
use wa_protocol::media::{encrypt, MediaKey, MediaType};
use wa_protocol::message::{Content, DocumentInfo, Media, MediaKind, VideoInfo};

use media_fixture::{Fixture, PHONE_A, PHONE_B};
use sim_process::{cpu_of, own_cpu, SimProcess};

/// Bytes in a MB, as the harness counts them.
const MIB: u64 = 1 << 20;
/// How long the sim phone may take to fetch and check a file.
const PHONE_DEADLINE: Duration = Duration::from_secs(300);

/// Command-line options.
struct Args {
    rounds: usize,
    sizes_mb: Vec<u64>,
    video: bool,
    memory: bool,
    size_mb: u64,
    serve_sim: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        rounds: 5,
        sizes_mb: vec![1, 50],
        video: false,
        memory: false,
        size_mb: 100,
        serve_sim: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => args.rounds = value().parse().expect("--rounds N"),
            "--sizes-mb" => {
                args.sizes_mb = value()
                    .split(',')
                    .map(|s| s.trim().parse().expect("--sizes-mb a,b"))
                    .collect();
            }
            "--kind" => args.video = value() == "video",
            "--memory" => args.memory = true,
            "--size-mb" => args.size_mb = value().parse().expect("--size-mb N"),
            "--serve-sim" => args.serve_sim = true,
            other => panic!("unknown option {other}"),
        }
    }
    assert!(args.rounds > 0, "--rounds must be at least 1");
    args
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if args.serve_sim {
        runtime.block_on(media_fixture::serve_sim());
    } else if args.memory {
        runtime.block_on(memory(&args));
    } else {
        runtime.block_on(throughput(&args));
    }
}

fn json(fields: &[(&'static str, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The message kind of a benchmark file.
fn kind_of(video: bool) -> (MediaType, MediaKind) {
    if video {
        (MediaType::Video, MediaKind::Video(VideoInfo::default()))
    } else {
        (
            MediaType::Document,
            MediaKind::Document(DocumentInfo::default()),
        )
    }
}

async fn throughput(args: &Args) {
    let sim = media_fixture::spawn_sim();
    let dir = tempfile::tempdir().expect("temp dir");
    let fx = media_fixture::link(&sim, dir.path()).await;
    for &mb in &args.sizes_mb {
        let fields = one_size(&fx, &sim, dir.path(), mb, args).await;
        println!("{}", json(&fields));
    }
    fx.gateway.shutdown(Duration::from_secs(30)).await;
}

/// Seconds per round of each measurement, and the CPU the transfers took.
#[derive(Default)]
struct Rounds {
    raw: Vec<f64>,
    enc: Vec<f64>,
    dec: Vec<f64>,
    up: Vec<f64>,
    down: Vec<f64>,
    up_cpu: [Duration; 2],
    down_cpu: [Duration; 2],
}

/// CPU of this process and of the sim so far.
fn cpus(sim: &SimProcess) -> [Duration; 2] {
    [own_cpu(), sim.pid.and_then(cpu_of).unwrap_or_default()]
}

fn add_since(total: &mut [Duration; 2], before: [Duration; 2], sim: &SimProcess) {
    let now = cpus(sim);
    for i in 0..2 {
        total[i] += now[i].saturating_sub(before[i]);
    }
}

async fn one_size(
    fx: &Fixture,
    sim: &SimProcess,
    dir: &Path,
    mb: u64,
    args: &Args,
) -> Vec<(&'static str, String)> {
    let len = mb * MIB;
    let src = dir.join(format!("source-{mb}"));
    let sha = media_fixture::write_file(&src, len, mb);
    let plain = std::fs::read(&src).expect("source");
    let (ty, kind) = kind_of(args.video);
    let key = MediaKey::from([3u8; 32]);
    let (body, _) = encrypt(&key, ty, &plain);
    let mut r = Rounds::default();
    for _ in 0..args.rounds {
        r.raw.push(media_crypto::raw_cbc_hmac(&plain));
        r.enc.push(media_crypto::encrypt_path(&key, ty, &plain));
        r.dec.push(media_crypto::decrypt_path(&key, ty, &body));
        let before = cpus(sim);
        let start = Instant::now();
        let uploaded = fx
            .gateway
            .upload_media(&fx.id, MediaSource::Path(src.clone()), ty)
            .await
            .expect("upload");
        r.up.push(start.elapsed().as_secs_f64());
        add_since(&mut r.up_cpu, before, sim);
        let media = Media {
            kind: kind.clone(),
            file: uploaded.file,
            reply: None,
            mentions: Vec::new(),
        };
        let before = cpus(sim);
        let start = Instant::now();
        let got = fx
            .gateway
            .download_media(&fx.id, &media)
            .await
            .expect("download");
        r.down.push(start.elapsed().as_secs_f64());
        add_since(&mut r.down_cpu, before, sim);
        assert_eq!(got.verified.file_sha256, sha, "the download is the file");
    }
    drop(plain);
    let _ = std::fs::remove_file(&src);
    expire_all(sim).await;
    size_fields(mb, &r, args)
}

/// Drops the sim's stored files (they are deleted on expiry; the child sim is killed at the
/// end, so its temporary directory is not removed).
async fn expire_all(sim: &SimProcess) {
    let (status, _) = wa_testkit::http::request(
        sim.admin,
        "POST",
        "/admin/media/expire",
        Some(("application/json", "{\"all\":true}")),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(status, 200, "expire all");
}

fn size_fields(mb: u64, r: &Rounds, args: &Args) -> Vec<(&'static str, String)> {
    let rate = |secs: &[f64]| mb as f64 / median(secs);
    let (raw, enc, dec) = (rate(&r.raw), rate(&r.enc), rate(&r.dec));
    let (up, down) = (rate(&r.up), rate(&r.down));
    let per_mb = |cpu: Duration| cpu.as_secs_f64() * 1e3 / (mb as f64 * args.rounds as f64);
    let f1 = |x: f64| format!("{x:.1}");
    let f2 = |x: f64| format!("{x:.2}");
    vec![
        ("size_mb", mb.to_string()),
        (
            "kind",
            format!("\"{}\"", if args.video { "video" } else { "document" }),
        ),
        ("rounds", args.rounds.to_string()),
        ("raw_cbc_hmac_mb_s", f1(raw)),
        ("encrypt_mem_mb_s", f1(enc)),
        ("decrypt_mem_mb_s", f1(dec)),
        ("upload_mb_s", f1(up)),
        ("download_mb_s", f1(down)),
        ("upload_vs_encrypt_mem", f2(enc / up)),
        ("download_vs_decrypt_mem", f2(dec / down)),
        ("upload_vs_raw", f2(raw / up)),
        ("download_vs_raw", f2(raw / down)),
        ("upload_client_cpu_ms_per_mb", f2(per_mb(r.up_cpu[0]))),
        ("upload_sim_cpu_ms_per_mb", f2(per_mb(r.up_cpu[1]))),
        ("download_client_cpu_ms_per_mb", f2(per_mb(r.down_cpu[0]))),
        ("download_sim_cpu_ms_per_mb", f2(per_mb(r.down_cpu[1]))),
    ]
}

async fn memory(args: &Args) {
    let sim = media_fixture::spawn_sim();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut fx = media_fixture::link(&sim, dir.path()).await;
    let len = args.size_mb * MIB;
    let out_file = dir.path().join("outgoing.mp4");
    let out_sha = media_fixture::write_file(&out_file, len, 1);
    let in_file = dir.path().join("incoming.mp4");
    let in_sha = media_fixture::write_file(&in_file, len, 2);
    let send_body = dir.path().join("phone-send.json");
    media_fixture::write_send_body(&send_body, PHONE_A, "video", "video/mp4", &in_file);
    std::fs::remove_file(&in_file).expect("remove");
    let reset = media_fixture::reset_peak();
    let rss_before = media_fixture::status_kib("self", "VmRSS");
    let start = Instant::now();
    send_video(&fx, &sim, &out_file, out_sha).await;
    let sent = start.elapsed();
    let start = Instant::now();
    receive_video(&mut fx, &sim, &send_body, in_sha).await;
    let received = start.elapsed();
    let hwm = media_fixture::status_kib("self", "VmHWM");
    let rss_after = media_fixture::status_kib("self", "VmRSS");
    let growth = hwm.saturating_sub(rss_before);
    let fields = vec![
        ("size_mb", args.size_mb.to_string()),
        ("peak_reset", reset.to_string()),
        ("vm_rss_before_kib", rss_before.to_string()),
        ("vm_hwm_after_kib", hwm.to_string()),
        ("vm_rss_after_kib", rss_after.to_string()),
        ("growth_mib", format!("{:.1}", growth as f64 / 1024.0)),
        ("send_s", format!("{:.2}", sent.as_secs_f64())),
        ("receive_s", format!("{:.2}", received.as_secs_f64())),
        (
            "sim_vm_hwm_kib",
            sim.pid.map_or("null".to_owned(), |p| {
                media_fixture::status_kib(&p.to_string(), "VmHWM").to_string()
            }),
        ),
    ];
    println!("{}", json(&fields));
    // The sim child is killed, not stopped: its stored files go now.
    expire_all(&sim).await;
    fx.gateway.shutdown(Duration::from_secs(30)).await;
}

/// The gateway sends `file` as a video to the contact; waits until the contact's phone
/// downloaded it and checked its SHA-256.
async fn send_video(fx: &Fixture, sim: &SimProcess, file: &Path, sha: [u8; 32]) {
    let media = OutgoingMedia {
        source: MediaSource::Path(file.to_path_buf()),
        kind: MediaKind::Video(VideoInfo {
            caption: Some("memory proof".to_owned()),
            ..VideoInfo::default()
        }),
        mimetype: "video/mp4".to_owned(),
        reply: None,
        mentions: Vec::new(),
    };
    fx.gateway
        .send_media(&fx.id, fx.contact.clone(), media, SendOptions::default())
        .await
        .expect("the video is sent");
    let want = hex::encode(sha);
    let path = format!("/admin/phones/{PHONE_B}/messages");
    let admin = sim.admin;
    wa_testkit::poll_until(PHONE_DEADLINE, "the phone checks the video", || {
        let (path, want) = (path.clone(), want.clone());
        async move {
            let deadline = Duration::from_secs(30);
            let (status, inbox) =
                wa_testkit::http::request(admin, "GET", &path, None, deadline).await;
            assert_eq!(status, 200, "inbox");
            let entry = inbox
                .as_array()?
                .iter()
                .find(|m| m["kind"] == "video")?
                .clone();
            assert!(entry["media_error"].is_null(), "phone: {entry}");
            entry["sha256"].as_str().map(|s| assert_eq!(s, want))
        }
    })
    .await
    .expect("the phone downloads the video");
}

/// The contact's phone sends the video in `body`; the gateway downloads and verifies it.
async fn receive_video(fx: &mut Fixture, sim: &SimProcess, body: &Path, sha: [u8; 32]) {
    let path = format!("/admin/phones/{PHONE_B}/send");
    let (sim_admin, body) = (sim.admin, body.to_path_buf());
    let status =
        tokio::task::spawn_blocking(move || media_fixture::post_file(sim_admin, &path, &body))
            .await
            .expect("curl task");
    assert_eq!(status, 200, "the phone sends the video");
    let media = loop {
        let event = media_fixture::next_event(&mut fx.events).await;
        if let EventKind::Message(m) = event.kind {
            if let Content::Media(media) = m.content {
                break media;
            }
        }
    };
    let got = fx
        .gateway
        .download_media(&fx.id, &media)
        .await
        .expect("the gateway downloads the video");
    assert_eq!(got.verified.file_sha256, sha, "verified hash");
    assert_eq!(
        media_fixture::hash_file(got.path()),
        sha,
        "the file's bytes"
    );
}
