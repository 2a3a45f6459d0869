//! `ishowtts`: speak text to a WAV file with a Piper voice.
//!
//! ```text
//! ishowtts say "Hello there." -o hello.wav
//! echo "Long text…" | ishowtts say -o long.wav --voice path/to/voice.onnx
//! ```

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use ishowtts::audio::WavStreamWriter;
use ishowtts::{Error, PiperVoice, SynthesisParams};

#[derive(Parser)]
#[command(
    name = "ishowtts",
    version,
    about = "Neural text-to-speech with Piper voices, sentence by sentence"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Speak text (an argument, or standard input) into a 16-bit WAV file.
    Say(SayArgs),
    /// Print a voice's configuration and network hyper-parameters.
    Info(VoiceArgs),
}

#[derive(Args)]
struct VoiceArgs {
    /// Piper voice model (`.onnx`, with `.onnx.json` beside it); default:
    /// $ISHOWTTS_VOICE, else the installed en_US-joe-medium.
    #[arg(long, value_name = "PATH")]
    voice: Option<PathBuf>,
    /// Voice config, when not at `<voice>.onnx.json`.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct SayArgs {
    /// Text to speak; read from standard input when absent or `-`.
    text: Option<String>,
    /// Output WAV file.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    voice: VoiceArgs,
    /// Speaker id of a multi-speaker voice.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    speaker: Option<i64>,
    /// Speaking-rate factor, >1 is slower (voice default: usually 1.0).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    length_scale: Option<f32>,
    /// Voice variation, 0 for the flattest (voice default: usually 0.667).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    noise_scale: Option<f32>,
    /// Rhythm variation, 0 for the flattest (voice default: usually 0.8).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    noise_w: Option<f32>,
    /// Seed for reproducible output.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// No progress lines.
    #[arg(short, long)]
    quiet: bool,
}

// mimalloc keeps freed pages for reuse: the decoder's multi-MB activations
// would otherwise be fresh, page-faulting allocations on every sentence.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ISHOWTTS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Say(args) => say(args),
        Command::Info(args) => info(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_voice(args: &VoiceArgs) -> Result<PiperVoice, Error> {
    let model = match &args.voice {
        Some(v) => v.clone(),
        None => ishowtts::paths::default_voice()?,
    };
    let config = args
        .config
        .clone()
        .unwrap_or_else(|| ishowtts::models::piper::voice::config_path_for(&model));
    PiperVoice::load_with(&model, &config, &ishowtts::candle::Device::Cpu)
}

fn read_text(arg: Option<String>) -> Result<String, Error> {
    match arg {
        Some(t) if t != "-" => Ok(t),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::Io {
                    path: "<stdin>".into(),
                    source: e,
                })?;
            String::from_utf8(buf).map_err(|e| Error::Io {
                path: "<stdin>".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "input is not valid UTF-8 (byte {})",
                        e.utf8_error().valid_up_to()
                    ),
                ),
            })
        }
    }
}

fn say(args: SayArgs) -> Result<(), Error> {
    let text = read_text(args.text)?;
    let started = Instant::now();
    let voice = load_voice(&args.voice)?;
    let params = SynthesisParams {
        speaker_id: args.speaker,
        noise_scale: args.noise_scale,
        length_scale: args.length_scale,
        noise_w: args.noise_w,
        seed: args.seed,
    };
    // validate everything before the output file is created
    let sentences = voice.synthesize(&text, &params)?;
    let mut wav = WavStreamWriter::create(&args.output, voice.sample_rate())?;
    let (mut audio_s, mut synth_s, mut count) = (0.0f64, 0.0f64, 0usize);
    for sentence in sentences {
        let s = sentence?;
        wav.write(&s.samples)?;
        audio_s += s.duration().as_secs_f64();
        synth_s += s.synthesis_time.as_secs_f64();
        count += 1;
        if !args.quiet {
            eprintln!(
                "[sentence {}] {:.2} s of audio in {:.3} s (RTF {:.3}); {:.1} s total",
                s.index + 1,
                s.duration().as_secs_f64(),
                s.synthesis_time.as_secs_f64(),
                s.synthesis_time.as_secs_f64() / s.duration().as_secs_f64().max(1e-9),
                audio_s,
            );
        }
    }
    wav.finish()?;
    if !args.quiet {
        eprintln!(
            "wrote {} ({count} sentence(s), {audio_s:.2} s of audio, synthesis RTF {:.3}, {:.2} s wall)",
            args.output.display(),
            synth_s / audio_s.max(1e-9),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn info(args: VoiceArgs) -> Result<(), Error> {
    let voice = load_voice(&args)?;
    let c = voice.config();
    println!("sample_rate: {}", c.audio.sample_rate);
    println!("quality: {}", c.audio.quality.as_deref().unwrap_or("?"));
    println!(
        "espeak voice: {}",
        c.espeak.as_ref().map_or("?", |e| e.voice.as_str())
    );
    println!("speakers: {}", voice.num_speakers());
    println!(
        "inference defaults: noise_scale {} length_scale {} noise_w {}",
        c.inference.noise_scale, c.inference.length_scale, c.inference.noise_w
    );
    println!("model: {:#?}", voice.model_config());
    Ok(())
}
