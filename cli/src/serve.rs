//! `ishowtts serve`: the speech service (see the `ishowtts-server` crate).

use std::path::PathBuf;

use clap::Args;
use ishowtts_server::ServeConfig;

/// Flags of `ishowtts serve`; each overrides the config file's value.
#[derive(Args)]
pub struct ServeArgs {
    /// Settings file (TOML; docs/server.md lists every key).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR")]
    host: Option<String>,
    /// Port (0: a free one, printed at start).
    #[arg(long)]
    port: Option<u16>,
    /// Require `Authorization: Bearer KEY` on /v1/* (also $ISHOWTTS_API_KEY).
    #[arg(
        long,
        value_name = "KEY",
        env = "ISHOWTTS_API_KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,
    /// Folder of voices cloned through POST /v1/voices.
    #[arg(long, value_name = "DIR")]
    voices_dir: Option<PathBuf>,
    /// The default Piper voice (`.onnx`).
    #[arg(long, value_name = "PATH")]
    voice: Option<PathBuf>,
    /// Also serve the Wyoming protocol, e.g. tcp://127.0.0.1:10200.
    #[arg(long, value_name = "URI")]
    wyoming: Option<String>,
    /// Unload models after this many idle seconds (0: never).
    #[arg(long, value_name = "SECONDS")]
    idle_unload: Option<u64>,
    /// Requests queued or running at once; more get 429.
    #[arg(long, value_name = "N")]
    queue_limit: Option<usize>,
    /// Device: cpu or cuda:N.
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
    /// Worker threads, each with its own copy of the models it serves
    /// (default 1; 2 or more for Piper on a CPU under concurrent load).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

/// The config file with the flags on top.
fn config(args: ServeArgs) -> Result<ServeConfig, String> {
    let mut c = match &args.config {
        Some(path) => ServeConfig::from_file(path)?,
        None => ServeConfig::default(),
    };
    if let Some(h) = args.host {
        c.host = h;
    }
    if let Some(p) = args.port {
        c.port = p;
    }
    if args.api_key.is_some() {
        c.api_key = args.api_key;
    }
    if let Some(d) = args.voices_dir {
        c.voices_dir = d;
    }
    if args.voice.is_some() {
        c.engine.default_voice = args.voice;
    }
    if args.wyoming.is_some() {
        c.wyoming = args.wyoming;
    }
    if let Some(s) = args.idle_unload {
        c.engine.idle_unload_secs = s;
    }
    if let Some(n) = args.queue_limit {
        c.engine.queue_limit = n;
    }
    if let Some(d) = args.device {
        c.engine.device = d;
    }
    if let Some(n) = args.workers {
        c.engine.workers = n;
    }
    Ok(c)
}

/// Runs the service until SIGINT or SIGTERM.
pub fn serve(args: ServeArgs) -> Result<(), String> {
    let config = config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(ishowtts_server::run(config, |addr| {
        // On stdout, flushed: scripts and tests read the port from it.
        println!("ishowtts serve: listening on http://{addr}");
    }))
}
