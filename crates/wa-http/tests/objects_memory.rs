//! A 100 MB media file streams to S3 (moto, started by the test) with this process's peak
//! resident memory growing by less than 32 MiB (issue 13's bound): parts of 5 MiB, two in
//! flight. Its own test binary, so no other test's memory counts.

use std::io::Write;

mod objects_support;

use objects_support::{contact, s3_config, state_with_account};
use wa_http::objects::{store_media, Direction};
use wa_testkit::{temp_dir, Moto};

/// Peak resident memory of this process in KiB since the last [`reset_peak`] (Linux).
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Resets the peak (`VmHWM`) to the current resident size (Linux `clear_refs` 5).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_file_streams_to_s3_in_bounded_memory() {
    let moto = Moto::start().await;
    moto.create_bucket("wagate-big").await;
    let dir = temp_dir("objects-big");
    let (state, mut account) = state_with_account(&dir.path().join("media")).await;
    account.s3 = s3_config(&moto, "wagate-big");
    let path = dir.path().join("big.mp4");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        for _ in 0..100 {
            file.write_all(&chunk).expect("write");
        }
        file.flush().expect("flush");
    }
    reset_peak();
    let before = rss_kib();
    let stored = store_media(
        &state.objects,
        &account,
        Direction::Inbox,
        &contact(),
        "3EB0C0FFEE0BIG",
        &path,
        "video/mp4",
    )
    .await
    .expect("store 100 MB");
    let growth_mib = peak_kib().saturating_sub(before) / 1024;
    println!("100 MB upload to S3: peak resident memory grew by {growth_mib} MiB");
    assert_eq!(stored.size, 100 << 20);
    assert_eq!(
        moto.keys("wagate-big", &stored.key).await,
        vec![stored.key.clone()]
    );
    assert!(growth_mib < 32, "peak RSS grew by {growth_mib} MiB");
}
