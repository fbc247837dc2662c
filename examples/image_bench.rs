//! Uploads a generated image file (2 GiB by default) to the embedded cloud the way stackform's
//! client streams one (create the image, then PUT its file from disk in pieces, never whole
//! in memory), then reports the throughput and the peak RSS of the uploading process and of
//! the cloud, and checks that the cloud's os_hash_value is the file's SHA-512.
//!
//! The cloud runs as a child process (this program started again with `serve`), so each
//! process's peak memory is its own.
//!
//! `cargo run --example image_bench [-- MIB]`

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use sha2::Digest;
use stackform::sim::{ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER, Sim, SimConfig};

/// The allocator of the `stackform` binary, so the figures are its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Failure = Box<dyn std::error::Error>;

/// The upload is read from disk and sent in pieces this large.
const PIECE: usize = 1 << 20;
/// The uploading process must stay under this (issue 12).
const RSS_LIMIT_KIB: u64 = 64 * 1024;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let dir = args.get(2).ok_or("serve needs a data folder")?;
        return serve(Path::new(dir)).await;
    }
    let mib: u64 = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(2048);
    let work = std::env::temp_dir().join(format!("image-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let outcome = run(&work, mib).await;
    // The generated file and the cloud's copy of it are several GiB: never left behind.
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

/// The cloud's process: serves until its standard input closes.
async fn serve(dir: &Path) -> Result<(), Failure> {
    let sim = Sim::open(SimConfig {
        data_dir: Some(dir.to_path_buf()),
        ..SimConfig::default()
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let stdin_closed = async {
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await;
    };
    sim.serve(listener, stdin_closed).await?;
    Ok(())
}

async fn run(work: &Path, mib: u64) -> Result<(), Failure> {
    let file = work.join("image.raw");
    let started = Instant::now();
    let sha512 = generate(&file, mib)?;
    println!(
        "generated {mib} MiB in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut cloud = Command::new(std::env::current_exe()?)
        .arg("serve")
        .arg(work.join("cloud"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut url = String::new();
    std::io::BufReader::new(cloud.stdout.take().ok_or("no stdout")?).read_line(&mut url)?;
    let base = url.trim().to_string();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build()?;
    let token = token(&http, &base).await?;
    let created: Value = http
        .post(format!("{base}/image/v2/images"))
        .header("X-Auth-Token", &token)
        .json(&json!({"name": "bench", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"].as_str().ok_or("no image id")?;

    let started = Instant::now();
    let size = std::fs::metadata(&file)?.len();
    let source = tokio::fs::File::open(&file).await?;
    let pieces = futures_util::stream::unfold(source, |mut source| async move {
        use tokio::io::AsyncReadExt;
        let mut piece = vec![0u8; PIECE];
        match source.read(&mut piece).await {
            Ok(0) => None,
            Ok(read) => {
                piece.truncate(read);
                Some((Ok::<_, std::io::Error>(piece), source))
            }
            Err(err) => Some((Err(err), source)),
        }
    });
    http.put(format!("{base}/image/v2/images/{id}/file"))
        .header("X-Auth-Token", &token)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", size)
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await?
        .error_for_status()?;
    let seconds = started.elapsed().as_secs_f64();
    let shown: Value = http
        .get(format!("{base}/image/v2/images/{id}"))
        .header("X-Auth-Token", &token)
        .send()
        .await?
        .json()
        .await?;
    drop(cloud.stdin.take());
    cloud.wait()?;

    let uploader_kib = peak_rss_kib(libc::RUSAGE_SELF);
    let cloud_kib = peak_rss_kib(libc::RUSAGE_CHILDREN);
    println!(
        "uploaded {mib} MiB in {seconds:.1} s: {:.0} MiB/s",
        mib as f64 / seconds
    );
    println!(
        "peak RSS: uploader {} MiB (limit {} MiB), embedded cloud {} MiB",
        uploader_kib / 1024,
        RSS_LIMIT_KIB / 1024,
        cloud_kib / 1024
    );
    println!(
        "image {}: status {}, size {}",
        id, shown["status"], shown["size"]
    );
    if shown["os_hash_value"] != json!(sha512) || shown["size"] != json!(size) {
        return Err("the cloud's size or os_hash_value is not the file's".into());
    }
    if uploader_kib >= RSS_LIMIT_KIB {
        return Err("the uploader's peak RSS is over 64 MiB".into());
    }
    Ok(())
}

/// Writes `mib` MiB of pseudo-random data (compressible by nothing), returning its SHA-512.
fn generate(path: &Path, mib: u64) -> Result<String, Failure> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut hash = sha2::Sha512::new();
    let mut rng = fastrand::Rng::with_seed(12);
    let mut piece = vec![0u8; PIECE];
    for _ in 0..mib {
        rng.fill(&mut piece);
        hash.update(&piece);
        out.write_all(&piece)?;
    }
    out.flush()?;
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

async fn token(http: &reqwest::Client, base: &str) -> Result<String, Failure> {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": ADMIN_USER, "domain": {"name": "Default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": ADMIN_PROJECT, "domain": {"name": "Default"}}}}});
    let reply = http
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    Ok(reply
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .ok_or("no token")?
        .to_string())
}

/// Peak resident set of `who` (this process, or its waited-for children), in KiB.
fn peak_rss_kib(who: libc::c_int) -> u64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return 0;
    }
    u64::try_from(usage.ru_maxrss).unwrap_or(0)
}
