//! The benchmark suite: what stackform costs at scale, measured through the embedded cloud
//! (with per-call latency and build times that model a real cloud) or against a real one.
//!
//!   cargo run --release --example bench -- plan --tenants 100 --rules 85 --servers 10
//!   cargo run --release --example bench -- plan --tenants 1000 --rules 1 --servers 0
//!   cargo run --release --example bench -- wide --tenants 10 --servers 10 --build-ms 2000
//!   cargo run --release --example bench -- validate --resources 10000
//!   cargo run --release --example bench -- real          (OS_* variables of a real cloud)
//!   cargo run --release --example bench -- image --size-mib 2048
//!
//! stackform and the embedded cloud run as processes of their own (this program, started
//! again as `stackform`), so that each one's wall time, CPU and peak RSS are its own. API
//! calls are counted by the embedded cloud's request log. Only reading and timing live here:
//! what is measured is the `stackform` command a user runs.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

/// The allocator of the `stackform` binary, so the figures are its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "stackform's benchmark suite")]
struct Bench {
    #[command(subcommand)]
    scenario: Scenario,
    /// The flavor of the servers.
    #[arg(long, global = true, default_value = "m1.tiny")]
    flavor: String,
    /// The image of the servers.
    #[arg(long, global = true, default_value = "cirros")]
    image: String,
    /// The external network of the routers' gateways.
    #[arg(long, global = true, default_value = "public")]
    external_network: String,
}

/// What the cloud must offer, by name.
struct Names {
    flavor: String,
    image: String,
    external_network: String,
}

#[derive(Subcommand)]
enum Scenario {
    /// Apply a topology (untimed), then time a no-op plan.
    Plan {
        #[command(flatten)]
        shape: Shape,
        /// Latency the embedded cloud adds to every call during the timed plan.
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
    },
    /// Time a wide apply against its critical path (measured by a probe making only the
    /// calls of the longest dependency chain, in the same cloud).
    Wide {
        #[command(flatten)]
        shape: Shape,
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        /// How long each server stays in BUILD.
        #[arg(long, default_value_t = 2000)]
        build_ms: u64,
        /// API calls in flight.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
    },
    /// Time `stackform validate` of a spec folder of this many resources.
    Validate {
        #[arg(long, default_value_t = 10_000)]
        resources: usize,
    },
    /// Apply one `[image.NAME]` of a generated file of this many MiB to the embedded cloud:
    /// the throughput of hashing and streaming it, and stackform's peak RSS (it must stay flat
    /// whatever the size).
    Image {
        #[arg(long, default_value_t = 2048)]
        size_mib: u64,
    },
    /// On the cloud of the OS_* variables: create, no-op plan and destroy of a small topology,
    /// and the critical path probe.
    Real {
        #[command(flatten)]
        shape: Shape,
    },
}

/// The topology: each tenant has a network, a subnet, a router with gateway and interface, a
/// security group with `rules` rules, and `servers` servers on the subnet.
#[derive(clap::Args, Clone, Copy)]
struct Shape {
    #[arg(long, default_value_t = 3)]
    tenants: usize,
    #[arg(long, default_value_t = 10)]
    rules: usize,
    #[arg(long, default_value_t = 2)]
    servers: usize,
    /// Routers without an external gateway (the embedded cloud's `public` network has
    /// addresses for about 250 gateways).
    #[arg(long)]
    no_gateway: bool,
}

impl Shape {
    fn resources(&self) -> usize {
        self.tenants * (5 + self.servers)
    }

    /// Cloud objects: resources plus the rules and the router interfaces.
    fn objects(&self) -> usize {
        self.tenants * (6 + self.servers + self.rules)
    }

    fn spec(&self, names: &Names, provider: &str, parallelism: usize) -> String {
        let mut spec = format!(
            "[provider]\n{provider}\nexternal_network = \"{}\"\nparallelism = {parallelism}\n",
            names.external_network
        );
        for t in 0..self.tenants {
            let rules: Vec<String> = (0..self.rules)
                .map(|r| {
                    format!(
                        "{{ protocol = \"tcp\", port_range = \"{}\", cidr = \"10.0.0.0/8\" }}",
                        1000 + r
                    )
                })
                .collect();
            spec.push_str(&format!(
                "\n[tenant.t{t}]\n\n[network.net-{t}]\ntenant = \"t{t}\"\n\n\
                 [subnet.sub-{t}]\nnetwork = \"net-{t}\"\ncidr = \"10.{}.{}.0/24\"\n\n\
                 [router.r-{t}]\ntenant = \"t{t}\"\nexternal_gateway = {}\nsubnets = [\"sub-{t}\"]\n\n\
                 [security_group.sg-{t}]\ntenant = \"t{t}\"\nrules = [{}]\n",
                t / 250,
                t % 250,
                !self.no_gateway,
                rules.join(", ")
            ));
            for s in 0..self.servers {
                spec.push_str(&format!(
                    "\n[instance.vm-{t}-{s}]\ntenant = \"t{t}\"\nflavor = \"{}\"\n\
                     image = \"{}\"\nsubnet = \"sub-{t}\"\nsecurity_groups = [\"sg-{t}\"]\n",
                    names.flavor, names.image
                ));
            }
        }
        spec
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // Started again as `stackform`: the measured process.
    if args.get(1).map(String::as_str) == Some("--as-stackform") {
        return as_stackform(&args[2..]);
    }
    let bench = Bench::parse();
    // reqwest is built without a TLS provider of its own; stackform uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let names = Names {
        flavor: bench.flavor,
        image: bench.image,
        external_network: bench.external_network,
    };
    match runtime.block_on(run(bench.scenario, &names)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn as_stackform(args: &[String]) -> ExitCode {
    use clap::Parser as _;
    let cli = stackform::cli::Cli::parse_from(
        std::iter::once("stackform".to_string()).chain(args.iter().cloned()),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(stackform::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.render(false));
            ExitCode::from(1)
        }
    }
}

type Result<T> = std::result::Result<T, String>;

async fn run(scenario: Scenario, names: &Names) -> Result<()> {
    match scenario {
        Scenario::Plan { shape, latency_ms } => plan(shape, names, latency_ms).await,
        Scenario::Wide {
            shape,
            latency_ms,
            build_ms,
            parallelism,
        } => wide(shape, names, latency_ms, build_ms, parallelism).await,
        Scenario::Validate { resources } => validate(resources, names),
        Scenario::Real { shape } => real(shape, names).await,
        Scenario::Image { size_mib } => image(size_mib),
    }
}

/// Writes `size_mib` MiB of varied bytes (1 MiB at a time), applies an image of them, and
/// reports the apply's wall time (SHA-512 of the file, then the streamed upload and Glance's
/// own hashing), throughput and peak RSS.
fn image(size_mib: u64) -> Result<()> {
    use std::io::Write;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cloud = EmbeddedCloud::start(&work.path().join("cloud"), 50)?;
    let path = work.path().join("disk.raw");
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| e.to_string())?);
    let mut block = vec![0u8; 1 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..size_mib {
        for chunk in block.chunks_mut(8) {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        file.write_all(&block).map_err(|e| e.to_string())?;
    }
    file.flush().map_err(|e| e.to_string())?;
    drop(file);
    write_spec(
        work.path(),
        "[provider]\ncloud = \"env\"\n\n[tenant.t]\n\n[image.big]\ntenant = \"t\"\nfile = \"../disk.raw\"\ndisk_format = \"raw\"\n",
    )?;
    let apply = stackform(work.path(), &cloud.env, &["apply", "--auto-approve"])?;
    apply.check("the image apply")?;
    let mib = size_mib as f64;
    println!("image apply of {size_mib} MiB (hash, then stream to the embedded Glance):");
    println!(
        "  wall {:.1} s, {:.0} MiB/s; stackform CPU {:.1} s, peak RSS {} MB",
        apply.wall.as_secs_f64(),
        mib / apply.wall.as_secs_f64(),
        apply.cpu.as_secs_f64(),
        apply.peak_rss_kb / 1024
    );
    println!(
        "  embedded cloud peak RSS {} MB",
        cloud.peak_rss_kb() / 1024
    );
    Ok(())
}

async fn plan(shape: Shape, names: &Names, latency_ms: u64) -> Result<()> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cloud = EmbeddedCloud::start(&work.path().join("cloud"), 50)?;
    let admin = Admin::connect(&cloud.env).await?;
    write_spec(work.path(), &shape.spec(names, "cloud = \"env\"", 16))?;
    let setup = stackform(work.path(), &cloud.env, &["apply", "--auto-approve"])?;
    setup.check("the setup apply")?;
    admin.latency(latency_ms).await?;
    admin.clear_requests().await?;
    let sim_cpu = cloud.cpu();
    let noop = stackform(work.path(), &cloud.env, &["plan", "--detailed-exitcode"])?;
    let sim_cpu = cloud.cpu() - sim_cpu;
    if noop.code != 0 {
        return Err(format!(
            "the plan is not empty (exit {}):\n{}",
            noop.code, noop.out
        ));
    }
    let calls = admin.calls().await?;
    println!(
        "no-op plan, {} tenants, {} resources, {} cloud objects, {latency_ms} ms per call:",
        shape.tenants,
        shape.resources(),
        shape.objects()
    );
    println!("  wall {:.2} s, API calls {calls}", noop.wall.as_secs_f64());
    println!(
        "  stackform CPU {:.0} ms, peak RSS {} MB",
        noop.cpu.as_secs_f64() * 1000.0,
        noop.peak_rss_kb / 1024
    );
    println!(
        "  embedded cloud CPU {:.0} ms, peak RSS {} MB (setup apply took {:.1} s)",
        sim_cpu.as_secs_f64() * 1000.0,
        cloud.peak_rss_kb() / 1024,
        setup.wall.as_secs_f64()
    );
    Ok(())
}

async fn wide(
    shape: Shape,
    names: &Names,
    latency_ms: u64,
    build_ms: u64,
    parallelism: usize,
) -> Result<()> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cloud = EmbeddedCloud::start(&work.path().join("cloud"), build_ms)?;
    let admin = Admin::connect(&cloud.env).await?;
    admin.latency(latency_ms).await?;
    let probe = critical_path(&admin, names).await?;
    write_spec(
        work.path(),
        &shape.spec(names, "cloud = \"env\"", parallelism),
    )?;
    admin.clear_requests().await?;
    let apply = stackform(work.path(), &cloud.env, &["apply", "--auto-approve"])?;
    apply.check("the apply")?;
    let calls = admin.calls().await?;
    // No apply can beat the chain, nor its calls at `parallelism` at once plus one build.
    let throughput =
        Duration::from_millis(calls as u64 * latency_ms / parallelism.max(1) as u64 + build_ms);
    let bound = probe.max(throughput);
    println!(
        "wide apply, {} tenants x {} servers ({} resources), {latency_ms} ms per call, {build_ms} ms builds, parallelism {parallelism}:",
        shape.tenants,
        shape.servers,
        shape.resources()
    );
    println!(
        "  wall {:.2} s; critical path (probe) {:.2} s; calls/parallelism + build {:.2} s",
        apply.wall.as_secs_f64(),
        probe.as_secs_f64(),
        throughput.as_secs_f64()
    );
    println!(
        "  ratio to its lower bound {:.2}; API calls {calls}; stackform CPU {:.0} ms, peak RSS {} MB",
        apply.wall.as_secs_f64() / bound.as_secs_f64(),
        apply.cpu.as_secs_f64() * 1000.0,
        apply.peak_rss_kb / 1024
    );
    Ok(())
}

fn validate(resources: usize, names: &Names) -> Result<()> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Tenants of 10 resources: network, subnet, router, security group, 6 servers.
    let tenants = resources.div_ceil(10);
    let shape = Shape {
        tenants,
        rules: 3,
        servers: 5,
        no_gateway: false,
    };
    write_spec(work.path(), &shape.spec(names, "cloud = \"embedded\"", 4))?;
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..5 {
        let run = stackform(work.path(), &[], &["validate"])?;
        run.check("validate")?;
        best = best.min(run.wall);
        last = Some(run);
    }
    let last = last.ok_or("no run")?;
    // The same work in this process, by phase: reading and checking the spec, then the graph.
    let (mut load, mut graph) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        let started = Instant::now();
        let desired =
            stackform::spec::load(&work.path().join("specs")).map_err(|d| d.render(false))?;
        let loaded = Instant::now();
        stackform::graph::build(&desired, &stackform::resources::Observed::default())
            .map_err(|d| d.render(false))?;
        load = load.min(loaded - started);
        graph = graph.min(loaded.elapsed());
    }
    println!(
        "validate, {} resources in one file: best of 5 {:.0} ms wall (process start included), peak RSS {} MB",
        shape.resources(),
        best.as_secs_f64() * 1000.0,
        last.peak_rss_kb / 1024
    );
    println!(
        "  of which loading and checking the spec {:.0} ms, the dependency graph {:.0} ms",
        load.as_secs_f64() * 1000.0,
        graph.as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn real(shape: Shape, names: &Names) -> Result<()> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("OS_"))
        .collect();
    if !env.iter().any(|(k, _)| k == "OS_AUTH_URL") {
        return Err("set the OS_* variables of the cloud to measure (source its openrc)".into());
    }
    let admin = Admin::connect(&env).await?;
    let probe = critical_path(&admin, names).await?;
    let same = same_work(&admin, names, shape.tenants, shape.servers).await?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    write_spec(
        work.path(),
        &shape.spec(names, "cloud = \"env\"\ntimeout = \"600s\"", 10),
    )?;
    let create = stackform(work.path(), &env, &["apply", "--auto-approve"])?;
    create.check("the create")?;
    let noop = stackform(work.path(), &env, &["plan", "--detailed-exitcode"])?;
    let destroy = stackform(work.path(), &env, &["destroy", "--auto-approve"])?;
    destroy.check("the destroy")?;
    println!(
        "real cloud, {} tenants x {} rules x {} servers:",
        shape.tenants, shape.rules, shape.servers
    );
    println!(
        "  critical path (probe) {:.1} s; the same work by a minimal client, all at once {:.1} s",
        probe.as_secs_f64(),
        same.as_secs_f64()
    );
    println!(
        "  create {:.1} s ({:.2}x the critical path, {:.2}x the same work); no-op plan {:.1} s (exit {}); destroy {:.1} s",
        create.wall.as_secs_f64(),
        create.wall.as_secs_f64() / probe.as_secs_f64(),
        create.wall.as_secs_f64() / same.as_secs_f64(),
        noop.wall.as_secs_f64(),
        noop.code,
        destroy.wall.as_secs_f64()
    );
    Ok(())
}

fn write_spec(dir: &Path, text: &str) -> Result<()> {
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).map_err(|e| e.to_string())?;
    std::fs::write(specs.join("bench.toml"), text).map_err(|e| e.to_string())
}

/// One finished `stackform` run.
struct Run {
    code: i32,
    out: String,
    wall: Duration,
    cpu: Duration,
    peak_rss_kb: u64,
}

impl Run {
    fn check(&self, what: &str) -> Result<()> {
        if self.code == 0 {
            Ok(())
        } else {
            Err(format!("{what} failed (exit {}):\n{}", self.code, self.out))
        }
    }
}

fn this_program() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))
}

/// Runs `stackform ARGS` in `dir`, measuring its own wall time, CPU and peak RSS.
fn stackform(dir: &Path, env: &[(String, String)], args: &[&str]) -> Result<Run> {
    let mut command = Command::new(this_program()?);
    command
        .arg("--as-stackform")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start stackform: {e}"))?;
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads while waiting: a full pipe would stall the child.
    let mut child = child;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(stdout.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let err = read(stderr.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped; both pointers are valid for the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if reaped != pid {
        return Err(format!(
            "waiting for stackform failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    std::mem::forget(child);
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    Ok(Run {
        code,
        out: format!("{out}{err}"),
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        peak_rss_kb: usage.ru_maxrss as u64,
    })
}

/// `stackform sim` as a process of its own, with the OS_* variables it printed.
struct EmbeddedCloud {
    child: Child,
    env: Vec<(String, String)>,
}

impl EmbeddedCloud {
    fn start(data: &Path, build_ms: u64) -> Result<EmbeddedCloud> {
        let mut child = Command::new(this_program()?)
            .args([
                "--as-stackform",
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--build-delay-ms",
            ])
            .arg(build_ms.to_string())
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the embedded cloud: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut env = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| e.to_string())?;
            let Some((k, v)) = line
                .strip_prefix("export ")
                .and_then(|kv| kv.split_once('='))
            else {
                return Err(format!("the embedded cloud said: {line}"));
            };
            env.push((k.to_string(), v.to_string()));
            if k == "OS_INTERFACE" {
                break;
            }
        }
        Ok(EmbeddedCloud { child, env })
    }

    /// CPU time used so far (user + system), from /proc.
    fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesized command name: utime and stime are the 12th and 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
            .sum();
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / per_second)
    }

    fn peak_rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for EmbeddedCloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin's HTTP access: the embedded cloud's hooks, and the critical path probe.
struct Admin {
    http: reqwest::Client,
    token: String,
    base: String,
    env: Vec<(String, String)>,
}

impl Admin {
    async fn connect(env: &[(String, String)]) -> Result<Admin> {
        let var = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let http = reqwest::Client::new();
        let auth_url = var("OS_AUTH_URL");
        let body = password_auth(
            &var("OS_USERNAME"),
            &var("OS_PASSWORD"),
            json!({"project": {"name": var("OS_PROJECT_NAME"), "domain": {"name": "Default"}}}),
        );
        let reply = http
            .post(format!("{}/auth/tokens", auth_url.trim_end_matches('/')))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("cannot reach Keystone: {e}"))?;
        let token = reply
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("Keystone refused the admin: {}", reply.status()))?
            .to_string();
        let base = auth_url
            .trim_end_matches('/')
            .trim_end_matches("/v3")
            .trim_end_matches("/identity")
            .to_string();
        Ok(Admin {
            http,
            token,
            base,
            env: env.to_vec(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value, Option<String>)> {
        let mut request = self
            .http
            .request(method.clone(), url)
            .header("X-Auth-Token", &self.token);
        if url.contains("/compute/") || url.contains(":8774") {
            request = request.header("OpenStack-API-Version", "compute 2.79");
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = reply.status().as_u16();
        let subject = reply
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = reply.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            return Err(format!("{method} {url}: {status} {body}"));
        }
        Ok((status, body, subject))
    }

    async fn latency(&self, ms: u64) -> Result<()> {
        self.call(
            reqwest::Method::PUT,
            &format!("{}/_sim/chaos", self.base),
            Some(json!({"latency_ms": [ms, ms]})),
        )
        .await
        .map(drop)
    }

    async fn clear_requests(&self) -> Result<()> {
        self.call(
            reqwest::Method::DELETE,
            &format!("{}/_sim/requests", self.base),
            None,
        )
        .await
        .map(drop)
    }

    /// Calls served since the log was cleared: the uncapped total where the cloud keeps one.
    async fn calls(&self) -> Result<usize> {
        let (_, log, _) = self
            .call(
                reqwest::Method::GET,
                &format!("{}/_sim/requests", self.base),
                None,
            )
            .await?;
        Ok(log["total"]
            .as_u64()
            .map(|n| n as usize)
            .unwrap_or_else(|| log["requests"].as_array().map_or(0, Vec::len)))
    }
}

fn password_auth(user: &str, password: &str, scope: Value) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}}}, "scope": scope}})
}

/// What the probe's chains look up before the clock starts, as a refresh would have them.
struct ProbeIds {
    catalog: Catalog,
    role: String,
    user: String,
    external: String,
    flavor: String,
    image: String,
}

async fn probe_ids(admin: &Admin, names: &Names) -> Result<ProbeIds> {
    use reqwest::Method;
    let catalog = Catalog::read(admin).await?;
    let (_, roles, _) = admin
        .call(
            Method::GET,
            &format!("{}/roles?name=member", catalog.identity),
            None,
        )
        .await?;
    let role = roles["roles"][0]["id"]
        .as_str()
        .ok_or("no member role")?
        .to_string();
    let (_, users, _) = admin
        .call(
            Method::GET,
            &format!(
                "{}/users?name={}",
                catalog.identity,
                var(&admin.env, "OS_USERNAME")
            ),
            None,
        )
        .await?;
    let user = users["users"][0]["id"]
        .as_str()
        .ok_or("no admin user")?
        .to_string();
    let (_, nets, _) = admin
        .call(
            Method::GET,
            &format!(
                "{}/v2.0/networks?name={}",
                catalog.network, names.external_network
            ),
            None,
        )
        .await?;
    let external = nets["networks"][0]["id"]
        .as_str()
        .ok_or("no such external network")?
        .to_string();
    let (_, flavors, _) = admin
        .call(Method::GET, &format!("{}/flavors", catalog.compute), None)
        .await?;
    let flavor = flavors["flavors"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == names.flavor.as_str()))
        .and_then(|f| f["id"].as_str())
        .ok_or("no such flavor")?
        .to_string();
    let (_, images, _) = admin
        .call(Method::GET, &format!("{}/v2/images", catalog.image), None)
        .await?;
    let image = images["images"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["name"] == names.image.as_str()))
        .and_then(|i| i["id"].as_str())
        .ok_or("no such image")?
        .to_string();
    Ok(ProbeIds {
        catalog,
        role,
        user,
        external,
        flavor,
        image,
    })
}

/// The longest dependency chain, made by a client that makes only its calls, one after the
/// other: project, role, project token, network, subnet, router with gateway, interface,
/// port, server, then polls (every 50 ms) until ACTIVE. Lookups (role, external network,
/// flavor, image) are made before the clock starts, as a refresh would have them.
async fn critical_path(admin: &Admin, names: &Names) -> Result<Duration> {
    same_work(admin, names, 1, 1).await
}

/// `tenants` such chains at once, each booting `servers` servers on its subnet: the work of
/// the bench's topology (less its security groups and tags), by a client that makes only
/// those calls. Where the cloud's own CPU limits how fast it builds (all of OpenStack on a
/// few cores), this, not one chain, is what an apply of the same topology can approach.
async fn same_work(
    admin: &Admin,
    names: &Names,
    tenants: usize,
    servers: usize,
) -> Result<Duration> {
    let ids = probe_ids(admin, names).await?;
    let started = Instant::now();
    let chains = (0..tenants).map(|t| chain(admin, &ids, t, servers));
    let made = futures_util::future::join_all(chains).await;
    let elapsed = started.elapsed();
    // Cleaned up untimed.
    for chain in made.iter().flatten() {
        chain.clean_up(admin, &ids.catalog).await;
    }
    for chain in made {
        chain?;
    }
    Ok(elapsed)
}

/// What one chain made, for its untimed clean-up.
struct Chain {
    tenant: Admin,
    project_id: String,
    net_id: String,
    sub_id: String,
    router_id: String,
    ports: Vec<String>,
    servers: Vec<String>,
}

async fn chain(admin: &Admin, ids: &ProbeIds, index: usize, servers: usize) -> Result<Chain> {
    use reqwest::Method;
    let catalog = &ids.catalog;
    let name = format!("probe-{}-{index}", std::process::id());
    let (_, project, _) = admin
        .call(
            Method::POST,
            &format!("{}/projects", catalog.identity),
            Some(json!({"project": {"name": name, "domain_id": "default"}})),
        )
        .await?;
    let project_id = project["project"]["id"]
        .as_str()
        .ok_or("no project id")?
        .to_string();
    admin
        .call(
            Method::PUT,
            &format!(
                "{}/projects/{project_id}/users/{}/roles/{}",
                catalog.identity, ids.user, ids.role
            ),
            None,
        )
        .await?;
    let token_body = password_auth(
        &var(&admin.env, "OS_USERNAME"),
        &var(&admin.env, "OS_PASSWORD"),
        json!({"project": {"id": project_id}}),
    );
    let (_, _, project_token) = admin
        .call(
            Method::POST,
            &format!("{}/auth/tokens", catalog.identity),
            Some(token_body),
        )
        .await?;
    let tenant = Admin {
        http: admin.http.clone(),
        token: project_token.ok_or("no project token")?,
        base: admin.base.clone(),
        env: admin.env.clone(),
    };
    let id_of = |reply: &Value, pointer: &str| -> Result<String> {
        Ok(reply
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no {pointer} in {reply}"))?
            .to_string())
    };
    let network = |path: &str| format!("{}/v2.0/{path}", catalog.network);
    let (_, net, _) = tenant
        .call(
            Method::POST,
            &network("networks"),
            Some(json!({"network": {"name": name}})),
        )
        .await?;
    let net_id = id_of(&net, "/network/id")?;
    let cidr = format!("10.250.{index}.0/24");
    let subnet =
        json!({"subnet": {"name": name, "network_id": net_id, "ip_version": 4, "cidr": cidr}});
    let (_, sub, _) = tenant
        .call(Method::POST, &network("subnets"), Some(subnet))
        .await?;
    let sub_id = id_of(&sub, "/subnet/id")?;
    let router =
        json!({"router": {"name": name, "external_gateway_info": {"network_id": ids.external}}});
    let (_, router, _) = tenant
        .call(Method::POST, &network("routers"), Some(router))
        .await?;
    let router_id = id_of(&router, "/router/id")?;
    tenant
        .call(
            Method::PUT,
            &network(&format!("routers/{router_id}/add_router_interface")),
            Some(json!({"subnet_id": sub_id})),
        )
        .await?;
    let boot = |n: usize| {
        let (tenant, name, net_id, sub_id) = (&tenant, &name, &net_id, &sub_id);
        let network = &network;
        async move {
            let port = json!({"port": {"name": format!("{name}-{n}"), "network_id": net_id, "fixed_ips": [{"subnet_id": sub_id}]}});
            let (_, port, _) = tenant
                .call(Method::POST, &network("ports"), Some(port))
                .await?;
            let port_id = id_of(&port, "/port/id")?;
            let server = json!({"server": {"name": format!("{name}-{n}"), "flavorRef": ids.flavor, "imageRef": ids.image, "networks": [{"port": port_id}]}});
            let (_, server, _) = tenant
                .call(
                    Method::POST,
                    &format!("{}/servers", catalog.compute),
                    Some(server),
                )
                .await?;
            let server_id = id_of(&server, "/server/id")?;
            loop {
                let (_, server, _) = tenant
                    .call(
                        Method::GET,
                        &format!("{}/servers/{server_id}", catalog.compute),
                        None,
                    )
                    .await?;
                match server["server"]["status"].as_str() {
                    Some("ACTIVE") => break,
                    Some("ERROR") => return Err(format!("the probe's server failed: {server}")),
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            Ok::<_, String>((port_id, server_id))
        }
    };
    let booted = futures_util::future::join_all((0..servers).map(boot)).await;
    let (ports, servers): (Vec<String>, Vec<String>) = booted
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    Ok(Chain {
        tenant,
        project_id,
        net_id,
        sub_id,
        router_id,
        ports,
        servers,
    })
}

impl Chain {
    /// Deletes what the chain made, in reverse.
    async fn clean_up(&self, admin: &Admin, catalog: &Catalog) {
        use reqwest::Method;
        let tenant = &self.tenant;
        let network = |path: &str| format!("{}/v2.0/{path}", catalog.network);
        for server_id in &self.servers {
            let server = format!("{}/servers/{server_id}", catalog.compute);
            let _ = tenant.call(Method::DELETE, &server, None).await;
            for _ in 0..600 {
                if tenant.call(Method::GET, &server, None).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        for port_id in &self.ports {
            let _ = tenant
                .call(Method::DELETE, &network(&format!("ports/{port_id}")), None)
                .await;
        }
        let _ = tenant
            .call(
                Method::PUT,
                &network(&format!(
                    "routers/{}/remove_router_interface",
                    self.router_id
                )),
                Some(json!({"subnet_id": self.sub_id})),
            )
            .await;
        let _ = tenant
            .call(
                Method::DELETE,
                &network(&format!("routers/{}", self.router_id)),
                None,
            )
            .await;
        let _ = tenant
            .call(
                Method::DELETE,
                &network(&format!("networks/{}", self.net_id)),
                None,
            )
            .await;
        let _ = admin
            .call(
                Method::DELETE,
                &format!("{}/projects/{}", catalog.identity, self.project_id),
                None,
            )
            .await;
    }
}

fn var(env: &[(String, String)], key: &str) -> String {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The public endpoints of the admin's catalog.
struct Catalog {
    identity: String,
    network: String,
    compute: String,
    image: String,
}

impl Catalog {
    async fn read(admin: &Admin) -> Result<Catalog> {
        let auth_url = var(&admin.env, "OS_AUTH_URL");
        let body = password_auth(
            &var(&admin.env, "OS_USERNAME"),
            &var(&admin.env, "OS_PASSWORD"),
            json!({"project": {"name": var(&admin.env, "OS_PROJECT_NAME"), "domain": {"name": "Default"}}}),
        );
        let reply: Value = admin
            .http
            .post(format!("{}/auth/tokens", auth_url.trim_end_matches('/')))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let endpoint = |kind: &str| -> Result<String> {
            reply["token"]["catalog"]
                .as_array()
                .and_then(|services| services.iter().find(|s| s["type"] == kind))
                .and_then(|s| s["endpoints"].as_array())
                .and_then(|e| e.iter().find(|e| e["interface"] == "public"))
                .and_then(|e| e["url"].as_str())
                .map(|u| u.trim_end_matches('/').to_string())
                .ok_or_else(|| format!("no public {kind} endpoint in the catalog"))
        };
        let network = endpoint("network")?;
        Ok(Catalog {
            identity: auth_url.trim_end_matches('/').to_string(),
            network: network.trim_end_matches("/v2.0").to_string(),
            compute: endpoint("compute")?,
            image: endpoint("image")?.trim_end_matches("/v2").to_string(),
        })
    }
}
