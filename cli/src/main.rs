//! `ishowtts`: speak text to a WAV file with a Piper voice, in a voice
//! cloned by F5-TTS, or with Qwen3-TTS.
//!
//! ```text
//! ishowtts say "Hello there." -o hello.wav
//! echo "Long text…" | ishowtts say -o long.wav --voice path/to/voice.onnx
//! ishowtts say "Streamed to a player." --sample-rate 16000 -o - | aplay
//! ishowtts say --model f5 --ref-audio me.wav --ref-text "What I say in it." "New words." -o out.wav
//! ishowtts say --model qwen3 --model-dir Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice --speaker vivian --language english "Hi." -o hi.wav
//! ishowtts say --model qwen3 --model-dir ./Qwen3-TTS-12Hz-0.6B-Base --ref-audio me.wav "Hi." -o hi.wav
//! ```

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod serve;

use clap::{Args, Parser, Subcommand};
use ishowtts::audio::format::SampleFormat;
use ishowtts::audio::join::SentenceGap;
use ishowtts::audio::wav::{samples_to_le_bytes, streaming_wav_header, WavFileWriter};
use ishowtts::candle::Device;
use ishowtts::engine::{
    CacheLimits, Chunk, DeviceSpec, Engine, EngineConfig, RequestOptions, SynthesisOptions,
    VoiceSpec,
};
use ishowtts::models::piper::backend::PiperLoader;
use ishowtts::timing::subtitles::{self, SentenceWord};
use ishowtts::timing::PhonemeTiming;
use ishowtts::{Error, PiperVoice};

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
    /// Speak text (an argument, or standard input) into a WAV file or stdout.
    Say(Box<SayArgs>),
    /// Print a voice's configuration and network hyper-parameters.
    Info(InfoArgs),
    /// Run the speech service: OpenAI-compatible HTTP, a web page, live
    /// text over WebSocket, Wyoming, Prometheus metrics.
    Serve(Box<serve::ServeArgs>),
}

#[derive(Args)]
struct InfoArgs {
    #[command(flatten)]
    voice: VoiceArgs,
    /// Describe a Qwen3-TTS checkpoint instead (a folder in the upstream
    /// layout, or a repository id in the Hugging Face cache): its type,
    /// shapes, speakers, languages and tokenizer. Reads the config files
    /// and the tokenizer, not the weights.
    #[arg(long, value_name = "DIR_OR_REPO")]
    qwen3: Option<String>,
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

/// Which model speaks.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ModelKind {
    /// A Piper voice (`--voice`).
    Piper,
    /// F5-TTS, cloning the voice of `--ref-audio`.
    F5,
    /// Qwen3-TTS (`--model-dir`): a built-in `--speaker` (CustomVoice), a
    /// cloned `--ref-audio` (Base) or an `--instruct` (VoiceDesign).
    Qwen3,
}

#[derive(Args)]
struct Qwen3Args {
    /// Qwen3-TTS checkpoint: a folder in the upstream layout, or a
    /// repository id in the Hugging Face cache (no network).
    #[arg(long, value_name = "DIR_OR_REPO", required_if_eq("model", "qwen3"))]
    model_dir: Option<String>,
    /// Language of the text (`english`, `chinese`, … as the checkpoint
    /// names them; default `auto`: the model picks).
    #[arg(long, value_name = "NAME")]
    language: Option<String>,
    /// Style instruction; for a VoiceDesign checkpoint, the voice's
    /// description.
    #[arg(long, value_name = "TEXT")]
    instruct: Option<String>,
    /// Sampling temperature (default 0.9).
    #[arg(long, value_name = "X")]
    temperature: Option<f32>,
    /// Sample among the K likeliest codes (default 50).
    #[arg(long, value_name = "K")]
    top_k: Option<u32>,
    /// Nucleus sampling mass (default 1.0).
    #[arg(long, value_name = "P")]
    top_p: Option<f32>,
    /// Penalty on repeated codes (default 1.05).
    #[arg(long, value_name = "X")]
    repetition_penalty: Option<f32>,
}

#[derive(Args)]
struct F5Args {
    /// Reference recording to clone (WAV, MP3, FLAC, OGG; up to 30 s):
    /// F5-TTS, or a Qwen3-TTS Base checkpoint.
    #[arg(long, value_name = "FILE", required_if_eq("model", "f5"))]
    ref_audio: Option<PathBuf>,
    /// What is said in the reference recording (F5-TTS).
    #[arg(long, value_name = "TEXT", required_if_eq("model", "f5"))]
    ref_text: Option<String>,
    /// F5-TTS checkpoint folder (`model_*.safetensors` + `vocab.txt`);
    /// default: F5TTS_v1_Base in the Hugging Face cache.
    #[arg(long, value_name = "PATH")]
    f5_checkpoint: Option<PathBuf>,
    /// Network shape (upstream YAML or JSON) for a checkpoint that is not
    /// F5TTS_v1_Base.
    #[arg(long, value_name = "PATH")]
    f5_config: Option<PathBuf>,
    /// The checkpoint is the first release, F5TTS_Base.
    #[arg(long)]
    f5_base: bool,
    /// Vocos folder (`config.yaml` + weights); default:
    /// charactr/vocos-mel-24khz in the Hugging Face cache.
    #[arg(long, value_name = "PATH")]
    vocoder: Option<PathBuf>,
    /// Flow steps, 1..=128 (default 32; 16 is faster, nearly as good).
    #[arg(long, value_name = "N")]
    nfe: Option<u32>,
    /// Classifier-free guidance strength (default 2).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    cfg: Option<f32>,
    /// Sway sampling coefficient (default -1).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    sway: Option<f32>,
    /// Total seconds per sentence, reference included, instead of the
    /// estimate from the text.
    #[arg(long, value_name = "SECONDS")]
    fix_duration: Option<f32>,
}

#[derive(Args)]
struct SayArgs {
    /// Text to speak; read from standard input when absent or `-`.
    text: Option<String>,
    /// Output WAV file; `-` streams a WAV to standard output (header with
    /// unknown length, then samples as each sentence is ready).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The model: a Piper voice, F5-TTS cloning a reference recording, or
    /// Qwen3-TTS.
    #[arg(long, value_enum, default_value = "piper")]
    model: ModelKind,
    #[command(flatten)]
    voice: VoiceArgs,
    #[command(flatten)]
    f5: F5Args,
    #[command(flatten)]
    qwen3: Qwen3Args,
    /// Speaker of a multi-speaker voice: its id (Piper), or its name
    /// (Qwen3-TTS CustomVoice).
    #[arg(long, value_name = "N|NAME", allow_negative_numbers = true)]
    speaker: Option<String>,
    /// Speaking rate, >1 is faster (default 1: the voice's own pace).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    speed: Option<f32>,
    /// Piper's duration factor, >1 is slower (the inverse of --speed).
    #[arg(
        long,
        value_name = "X",
        allow_negative_numbers = true,
        conflicts_with = "speed"
    )]
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
    /// Output sample rate (8000, 16000, 22050, 24000, 44100, 48000);
    /// default: the voice's own.
    #[arg(long, value_name = "HZ")]
    sample_rate: Option<u32>,
    /// Write 32-bit float samples instead of 16-bit integers.
    #[arg(long)]
    float: bool,
    /// Silence between sentences, in milliseconds.
    #[arg(long, value_name = "MS", conflicts_with = "crossfade_ms")]
    silence_ms: Option<u64>,
    /// Cross-fade between sentences, in milliseconds.
    #[arg(long, value_name = "MS")]
    crossfade_ms: Option<u64>,
    /// Cut the first sentence short at a clause to start audio sooner.
    #[arg(long)]
    short_first: bool,
    /// Cut a first sentence longer than this many chars at a clause
    /// (implies --short-first; default 60 with it).
    #[arg(long, value_name = "CHARS")]
    first_chunk_max_chars: Option<usize>,
    /// Write when each word is heard as JSON (seconds; estimated for
    /// models without durations, and marked so).
    #[arg(long, value_name = "FILE")]
    timings: Option<PathBuf>,
    /// Write subtitles from the word timings: WebVTT for `.vtt`, SRT for
    /// `.srt`.
    #[arg(long, value_name = "FILE")]
    subtitles: Option<PathBuf>,
    /// Add phoneme timings and visemes (Piper voices) to --timings.
    #[arg(long, requires = "timings")]
    phonemes: bool,
    /// Where the model runs: `cpu`, or `cuda` / `cuda:N` (an NVIDIA GPU,
    /// in a build with the `cuda` feature).
    #[arg(long, value_name = "DEVICE", default_value = "cpu", value_parser = parse_device)]
    device: DeviceSpec,
    /// No progress lines.
    #[arg(short, long)]
    quiet: bool,
}

/// `cpu`, `cuda` (GPU 0) or `cuda:N`.
fn parse_device(s: &str) -> Result<DeviceSpec, String> {
    match s {
        "cpu" => Ok(DeviceSpec::Cpu),
        "cuda" => Ok(DeviceSpec::Cuda(0)),
        _ => s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(DeviceSpec::Cuda)
            .ok_or_else(|| format!("{s:?}: use cpu, cuda or cuda:N")),
    }
}

// mimalloc keeps freed pages for reuse: the decoder's multi-MB activations
// would otherwise be fresh, page-faulting allocations on every sentence.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ISHOWTTS_LOG").unwrap_or_else(|_| {
        // the service logs its requests; the other commands only what
        // goes wrong
        let serving = std::env::args().nth(1).as_deref() == Some("serve");
        tracing_subscriber::EnvFilter::new(if serving { "info" } else { "warn" })
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // one JSON object per line for log collectors (ISHOWTTS_LOG_FORMAT=json)
    if std::env::var("ISHOWTTS_LOG_FORMAT").as_deref() == Ok("json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Say(args) => say(*args),
        Command::Info(args) => info(args),
        Command::Serve(args) => serve::serve(*args).map_err(Error::InvalidArgument),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn model_path(args: &VoiceArgs) -> Result<PathBuf, Error> {
    match &args.voice {
        Some(v) => Ok(v.clone()),
        None => ishowtts::paths::default_voice(),
    }
}

fn config_path(args: &VoiceArgs, model: &std::path::Path) -> PathBuf {
    args.config
        .clone()
        .unwrap_or_else(|| ishowtts::models::piper::voice::config_path_for(model))
}

fn load_voice(args: &VoiceArgs) -> Result<PiperVoice, Error> {
    let model = model_path(args)?;
    PiperVoice::load_with(&model, &config_path(args, &model), &Device::Cpu)
}

fn voice_spec(args: &VoiceArgs) -> Result<VoiceSpec, Error> {
    let model = model_path(args)?;
    let loader = PiperLoader::with_config(&model, &config_path(args, &model))?;
    Ok(VoiceSpec::new(Arc::new(loader)))
}

fn qwen3_voice_spec(args: &SayArgs) -> Result<VoiceSpec, Error> {
    use ishowtts::models::qwen3_tts::Qwen3VoiceConfig;
    let q = &args.qwen3;
    let dir = q.model_dir.as_deref().ok_or_else(|| {
        Error::InvalidArgument("--model qwen3 needs --model-dir DIR_OR_REPO".into())
    })?;
    let reference = match &args.f5.ref_audio {
        Some(path) => Some(ishowtts::engine::Reference {
            audio: std::fs::read(path).map_err(|e| Error::io(path, e))?.into(),
            text: args.f5.ref_text.clone().unwrap_or_default(),
        }),
        None => None,
    };
    VoiceSpec::qwen3(
        dir,
        Qwen3VoiceConfig {
            speaker: args.speaker.clone(),
            reference,
            language: q.language.clone(),
            instruct: q.instruct.clone(),
        },
    )
}

fn f5_voice_spec(args: &F5Args) -> Result<VoiceSpec, Error> {
    use ishowtts::models::f5::{backend::F5Paths, config::Variant};
    let (Some(audio), Some(text)) = (&args.ref_audio, &args.ref_text) else {
        return Err(Error::InvalidArgument(
            "--model f5 needs --ref-audio and --ref-text".into(),
        ));
    };
    let paths = F5Paths {
        checkpoint: args.f5_checkpoint.clone(),
        variant: if args.f5_base {
            Variant::Base
        } else {
            Variant::V1Base
        },
        config: args.f5_config.clone(),
        vocoder: args.vocoder.clone(),
    };
    let reference = ishowtts::engine::Reference {
        audio: std::fs::read(audio)
            .map_err(|e| Error::io(audio, e))?
            .into(),
        text: text.clone(),
    };
    VoiceSpec::f5(paths, reference)
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

fn request_options(args: &SayArgs) -> Result<RequestOptions, Error> {
    let speed = match args.length_scale {
        Some(ls) if !(ls.is_finite() && (0.1..=10.0).contains(&ls)) => {
            return Err(Error::InvalidParameter {
                name: "length_scale",
                value: ls.to_string(),
                reason: "must be a finite number in [0.1, 10]",
            })
        }
        Some(ls) => Some(1.0 / ls),
        None => args.speed,
    };
    let gap = match (args.silence_ms, args.crossfade_ms) {
        (Some(ms), _) => SentenceGap::Silence(Duration::from_millis(ms)),
        (None, Some(ms)) => SentenceGap::Crossfade(Duration::from_millis(ms)),
        (None, None) => SentenceGap::None,
    };
    // a Qwen3 speaker is named, and part of the voice
    let speaker = match (&args.speaker, args.model) {
        (Some(_), ModelKind::Qwen3) | (None, _) => None,
        (Some(s), _) => Some(
            s.trim()
                .parse::<i64>()
                .map_err(|_| Error::InvalidParameter {
                    name: "speaker",
                    value: s.clone(),
                    reason: "must be a speaker id (a number) for this model",
                })?,
        ),
    };
    let q = &args.qwen3;
    Ok(RequestOptions {
        voice: None,
        synthesis: SynthesisOptions {
            speed,
            noise_scale: args.noise_scale,
            noise_w: args.noise_w,
            speaker,
            seed: args.seed,
            nfe_step: args.f5.nfe,
            cfg_strength: args.f5.cfg,
            sway_sampling_coef: args.f5.sway,
            fix_duration: args.f5.fix_duration,
            // language and instruction belong to the Qwen3 voice
            language: None,
            instruct: None,
            temperature: q.temperature,
            top_k: q.top_k,
            top_p: q.top_p,
            repetition_penalty: q.repetition_penalty,
        },
        sample_rate: args.sample_rate,
        format: if args.float {
            SampleFormat::F32
        } else {
            SampleFormat::I16
        },
        gap,
        short_first_chunk: args.short_first,
        first_chunk_max_chars: args.first_chunk_max_chars,
        word_timings: args.timings.is_some() || args.subtitles.is_some(),
        phoneme_timings: args.phonemes,
        use_cache: false,
    })
}

/// Where the audio goes: a WAV file (header fixed at the end) or standard
/// output (a streaming header, then raw samples as they come).
enum Sink {
    File(WavFileWriter),
    Stdout(std::io::StdoutLock<'static>, SampleFormat),
}

impl Sink {
    fn write(&mut self, chunk: &Chunk, first: bool) -> Result<(), Error> {
        match self {
            Sink::File(w) => w.write(&chunk.samples),
            Sink::Stdout(out, format) => {
                let io = |e| Error::io("<stdout>", e);
                if first {
                    out.write_all(&streaming_wav_header(chunk.sample_rate, *format))
                        .map_err(io)?;
                }
                out.write_all(&samples_to_le_bytes(&chunk.samples))
                    .map_err(io)?;
                out.flush().map_err(io)
            }
        }
    }
}

/// The subtitle format a file name asks for.
fn subtitle_format(path: &std::path::Path) -> Result<SubtitleFormat, Error> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("vtt") => Ok(SubtitleFormat::WebVtt),
        Some(e) if e.eq_ignore_ascii_case("srt") => Ok(SubtitleFormat::Srt),
        _ => Err(Error::InvalidArgument(format!(
            "--subtitles {}: the file name must end in .vtt or .srt",
            path.display()
        ))),
    }
}

#[derive(Clone, Copy)]
enum SubtitleFormat {
    WebVtt,
    Srt,
}

/// Writes the timing and subtitle files asked for.
fn write_timings(
    args: &SayArgs,
    words: &[SentenceWord],
    phonemes: &[PhonemeTiming],
    sample_rate: u32,
) -> Result<(), Error> {
    if let Some(path) = &args.timings {
        let json = subtitles::timings_json(words, phonemes, sample_rate);
        let text = serde_json::to_string_pretty(&json).expect("JSON values serialize");
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))?;
    }
    if let Some(path) = &args.subtitles {
        let cues = subtitles::cues(words, sample_rate);
        let text = match subtitle_format(path)? {
            SubtitleFormat::WebVtt => subtitles::webvtt(&cues),
            SubtitleFormat::Srt => subtitles::srt(&cues),
        };
        std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

fn say(args: SayArgs) -> Result<(), Error> {
    let text = read_text(args.text.clone())?;
    let started = Instant::now();
    let options = request_options(&args)?;
    if let Some(path) = &args.subtitles {
        subtitle_format(path)?;
    }
    let engine = Engine::new(EngineConfig {
        device: args.device,
        output_cache: CacheLimits::DISABLED,
        ..Default::default()
    })?;
    let spec = match args.model {
        ModelKind::Piper => voice_spec(&args.voice)?,
        ModelKind::F5 => f5_voice_spec(&args.f5)?,
        ModelKind::Qwen3 => qwen3_voice_spec(&args)?,
    };
    engine.add_voice("voice", spec)?;
    // Text and options are checked here, before the output file exists.
    let stream = engine.stream(&text, &options)?;
    let to_stdout = args.output.as_os_str() == "-";
    let mut sink: Option<Sink> = None;
    let (mut audio_s, mut synth_s, mut count) = (0.0f64, 0.0f64, 0usize);
    // chunks of the current sentence so far (Qwen3 streams within one)
    let mut piece = 0usize;
    let mut words: Vec<SentenceWord> = Vec::new();
    let mut phonemes: Vec<PhonemeTiming> = Vec::new();
    let mut rate = 0;
    for chunk in stream {
        let mut chunk = chunk?;
        rate = chunk.sample_rate;
        words.extend(chunk.words.drain(..).map(|timing| SentenceWord {
            sentence: chunk.sentence_index,
            timing,
        }));
        phonemes.append(&mut chunk.phonemes);
        let first = sink.is_none();
        let sink = match &mut sink {
            Some(s) => s,
            None => sink.insert(if to_stdout {
                Sink::Stdout(std::io::stdout().lock(), options.format)
            } else {
                Sink::File(WavFileWriter::create(
                    &args.output,
                    chunk.sample_rate,
                    options.format,
                )?)
            }),
        };
        sink.write(&chunk, first)?;
        let secs = chunk.duration().as_secs_f64();
        let synth = chunk.timings.synthesis.as_secs_f64();
        audio_s += secs;
        synth_s += synth;
        count += usize::from(chunk.ends_sentence);
        piece += 1;
        if !args.quiet {
            let part = if chunk.ends_sentence && piece == 1 {
                String::new()
            } else {
                format!(", part {piece}")
            };
            eprintln!(
                "[sentence {}{part}] {:.2} s of audio in {:.3} s (RTF {:.3}); {:.1} s total",
                chunk.sentence_index + 1,
                secs,
                synth,
                synth / secs.max(1e-9),
                audio_s,
            );
        }
        if chunk.ends_sentence {
            piece = 0;
        }
    }
    if let Some(Sink::File(w)) = sink {
        w.finish()?;
    }
    write_timings(&args, &words, &phonemes, rate)?;
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

fn info(args: InfoArgs) -> Result<(), Error> {
    if let Some(ckpt) = &args.qwen3 {
        return qwen3_info(ckpt);
    }
    let voice = load_voice(&args.voice)?;
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

fn qwen3_info(dir_or_repo: &str) -> Result<(), Error> {
    use ishowtts::models::qwen3_tts::{
        CheckpointFiles, DecoderConfig, Qwen3TtsConfig, TextTokenizer,
    };
    let files = CheckpointFiles::locate(dir_or_repo)?;
    let cfg = Qwen3TtsConfig::from_file(&files.config)?;
    let dcfg = DecoderConfig::from_file(&files.speech_config)?;
    let tokenizer = TextTokenizer::from_dir(files.tokenizer_dir())?;
    let t = &cfg.talker_config;
    let p = &t.code_predictor_config;
    println!("checkpoint: {}", files.tokenizer_dir().display());
    println!(
        "type: {}",
        cfg.tts_model_type.as_deref().unwrap_or("(not given)")
    );
    println!(
        "talker: {} layers, hidden {}, {} heads x {} ({} key/value), MLP {}, codec vocab {}",
        t.num_hidden_layers,
        t.hidden_size,
        t.num_attention_heads,
        t.head_dim(),
        t.num_key_value_heads,
        t.intermediate_size,
        t.vocab_size
    );
    println!(
        "code predictor: {} layers, hidden {}, {} codebooks of {}",
        p.num_hidden_layers, p.hidden_size, p.num_code_groups, p.vocab_size
    );
    println!(
        "speech decoder: {} quantizers of {}, {} samples per frame, {} Hz",
        dcfg.num_quantizers,
        dcfg.codebook_size,
        dcfg.total_upsample(),
        ishowtts::models::qwen3_tts::SAMPLE_RATE
    );
    println!(
        "speaker encoder: {}",
        if cfg.is_base() && cfg.speaker_encoder_config.is_some() {
            "yes (clones a reference clip)"
        } else {
            "no"
        }
    );
    println!("speakers: {}", t.speaker_names().join(", "));
    println!("languages: auto, {}", t.language_names().join(", "));
    println!(
        "tokenizer: {} ids, split pattern {:?}",
        tokenizer.vocab_size(),
        tokenizer.split_regex()
    );
    Ok(())
}
