//! The talker's prompt, built as upstream's `generate` builds it: two tracks
//! summed position by position, text (projected text embeddings) over codec
//! (codec embeddings).
//!
//! ```text
//! text : <|im_start|> assistant \n | pad  pad  ...  pad  tts_bos | t0
//! codec:                           | think think_bos lang think_eos [spk] pad | bos
//! ```
//!
//! The role prefix has text only. In streaming mode (upstream's default for
//! cloned voices) the first text token sits over codec `bos` and the rest of
//! the text, then `tts_eos`, is added to the talker input one token per
//! generated frame (the *trailing* text), then `tts_pad`. In non-streaming
//! mode the whole text and `tts_eos` lie over codec `pad` in the prompt,
//! followed by `tts_pad` over `bos`. With a reference clip's codes (in-context
//! cloning) the reference transcript joins the text and the clip's frames
//! follow codec `bos`.

use candle_core::{IndexOp, Tensor};

use super::model::Qwen3TtsModel;
use crate::{Error, Result};

/// Who speaks.
#[derive(Debug, Clone, Copy)]
pub enum SpeakerPrompt<'a> {
    /// No speaker slot (a voice described by an instruction).
    None,
    /// A built-in speaker of a CustomVoice checkpoint: its codec id.
    Named(u32),
    /// A cloned voice: the speaker encoder's x-vector, `(hidden,)`.
    Embedding(&'a Tensor),
}

/// A reference clip for in-context cloning.
#[derive(Debug, Clone, Copy)]
pub struct ReferencePrompt<'a> {
    /// Token ids of [`reference_prompt`](super::tokenizer::reference_prompt) of its transcript.
    pub text_ids: &'a [u32],
    /// Its codes, `frames x groups`.
    pub codes: &'a [Vec<u32>],
}

/// What the prompt is built from.
#[derive(Debug, Clone, Copy)]
pub struct PromptRequest<'a> {
    /// Token ids of [`assistant_prompt`](super::tokenizer::assistant_prompt) of the sentence.
    pub text_ids: &'a [u32],
    /// Codec id of the language; `None` lets the model pick (upstream "auto").
    pub language: Option<u32>,
    /// Who speaks.
    pub speaker: SpeakerPrompt<'a>,
    /// Token ids of [`instruct_prompt`](super::tokenizer::instruct_prompt), put before everything.
    pub instruct_ids: Option<&'a [u32]>,
    /// In-context cloning from a reference clip's codes.
    pub reference: Option<ReferencePrompt<'a>>,
    /// All text in the prompt instead of one token per frame.
    pub non_streaming: bool,
}

impl<'a> PromptRequest<'a> {
    /// `text_ids` spoken by `speaker` with upstream's defaults for a cloned
    /// voice: streaming text, the language left to the model, no
    /// instruction, no reference codes.
    pub fn new(text_ids: &'a [u32], speaker: SpeakerPrompt<'a>) -> Self {
        Self {
            text_ids,
            language: None,
            speaker,
            instruct_ids: None,
            reference: None,
            non_streaming: false,
        }
    }
}

/// A built prompt: what the talker is prefilled with, and what is added to
/// its input frame by frame.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// `(1, L, hidden)`.
    pub prefill: Tensor,
    /// Text added to the talker input of frame `i` (`(1, T, hidden)`); after
    /// it, [`Prompt::tts_pad`].
    pub trailing: Tensor,
    /// The projected `tts_pad` text embedding, `(1, 1, hidden)`.
    pub tts_pad: Tensor,
    /// How many leading positions of `prefill` depend on the voice alone
    /// (instruction, role, codec tags and speaker), not on the sentence:
    /// their key/value cache can be computed once per voice.
    pub voice_len: usize,
}

/// Splits `<|im_start|> assistant \n BODY <|im_end|> \n <|im_start|> assistant
/// \n` into its body, checking the frame (upstream slices blindly).
fn sentence_body<'a>(model: &Qwen3TtsModel, ids: &'a [u32]) -> Result<&'a [u32]> {
    let cfg = model.config();
    let n = ids.len();
    if n < 9 || ids[0] != cfg.im_start_token_id || ids[n - 5] != cfg.im_end_token_id {
        return Err(Error::InvalidArgument(format!(
            "sentence ids must be the tokens of `<|im_start|>assistant\\n{{text}}<|im_end|>\\n\
             <|im_start|>assistant\\n` with a non-empty text ({n} ids given)"
        )));
    }
    Ok(&ids[3..n - 5])
}

/// Builds the talker's prompt for one sentence.
pub fn build_prompt(model: &Qwen3TtsModel, req: &PromptRequest) -> Result<Prompt> {
    let cfg = model.config();
    let tc = &cfg.talker_config;
    let body = sentence_body(model, req.text_ids)?;

    let special = model.text_embeds(&[
        cfg.tts_bos_token_id,
        cfg.tts_eos_token_id,
        cfg.tts_pad_token_id,
    ])?;
    let tts_bos = special.i((.., 0..1))?;
    let tts_eos = special.i((.., 1..2))?;
    let tts_pad = special.i((.., 2..3))?;

    // codec track: think / language tags, speaker, pad, bos
    let tags = match req.language {
        Some(lang) => vec![
            tc.codec_think_id,
            tc.codec_think_bos_id,
            lang,
            tc.codec_think_eos_id,
        ],
        None => vec![
            tc.codec_nothink_id,
            tc.codec_think_bos_id,
            tc.codec_think_eos_id,
        ],
    };
    let mut codec = vec![model.codec_embeds(&tags)?];
    match req.speaker {
        SpeakerPrompt::None => {}
        SpeakerPrompt::Named(id) => codec.push(model.codec_embeds(&[id])?),
        SpeakerPrompt::Embedding(x) => {
            let hidden = tc.hidden_size;
            if x.elem_count() != hidden {
                return Err(Error::InvalidArgument(format!(
                    "the speaker embedding has {} values, the talker {hidden}",
                    x.elem_count()
                )));
            }
            codec.push(x.to_dtype(model.dtype())?.reshape((1, 1, hidden))?);
        }
    }
    codec.push(model.codec_embeds(&[tc.codec_pad_id, tc.codec_bos_id])?);
    let codec = Tensor::cat(&codec, 1)?;
    let l = codec.dim(1)?;

    // text over the codec prefix (all but its bos): pads, then tts_bos
    let pads = tts_pad.repeat((1, l - 2, 1))?;
    let over_codec = (Tensor::cat(&[&pads, &tts_bos], 1)? + codec.i((.., ..l - 1))?)?;
    let role = model.text_embeds(&req.text_ids[..3])?;
    let mut parts = Vec::new();
    if let Some(instruct) = req.instruct_ids {
        if !instruct.is_empty() {
            parts.push(model.text_embeds(instruct)?);
        }
    }
    parts.push(role);
    parts.push(over_codec);
    let voice_len = parts
        .iter()
        .map(|p| p.dim(1))
        .sum::<candle_core::Result<usize>>()?;
    let codec_bos = codec.i((.., l - 1..l))?;

    let trailing = if let Some(reference) = req.reference {
        let (icl, trailing) = icl_prompt(model, body, &reference, &tts_pad, &tts_eos, req)?;
        parts.push(icl);
        trailing
    } else if req.non_streaming {
        let n = body.len();
        let text = Tensor::cat(&[&model.text_embeds(body)?, &tts_eos], 1)?;
        let under = model.codec_embeds(&vec![tc.codec_pad_id; n + 1])?;
        parts.push((text + under)?);
        parts.push((&tts_pad + codec_bos)?);
        tts_pad.clone()
    } else {
        parts.push((model.text_embeds(&body[..1])? + codec_bos)?);
        let rest = &body[1..];
        if rest.is_empty() {
            tts_eos.clone()
        } else {
            Tensor::cat(&[&model.text_embeds(rest)?, &tts_eos], 1)?
        }
    };
    Ok(Prompt {
        prefill: Tensor::cat(&parts, 1)?,
        trailing,
        tts_pad,
        voice_len,
    })
}

/// The in-context part (upstream `generate_icl_prompt`): reference
/// transcript + sentence + `tts_eos` as text, codec `bos` + the reference
/// frames as codec; returns it and the trailing text.
fn icl_prompt(
    model: &Qwen3TtsModel,
    body: &[u32],
    reference: &ReferencePrompt,
    tts_pad: &Tensor,
    tts_eos: &Tensor,
    req: &PromptRequest,
) -> Result<(Tensor, Tensor)> {
    let cfg = model.config();
    let tc = &cfg.talker_config;
    let r = reference.text_ids;
    let n = r.len();
    // `<|im_start|> assistant \n REF <|im_end|> \n`
    if n < 6 || r[0] != cfg.im_start_token_id || r[n - 2] != cfg.im_end_token_id {
        return Err(Error::InvalidArgument(format!(
            "reference ids must be the tokens of `<|im_start|>assistant\\n{{text}}<|im_end|>\\n` \
             with a non-empty text ({n} ids given)"
        )));
    }
    if reference.codes.is_empty() {
        return Err(Error::InvalidArgument(
            "the reference clip has no code frames".into(),
        ));
    }
    let ids: Vec<u32> = r[3..n - 2].iter().chain(body).copied().collect();
    let text = Tensor::cat(&[&model.text_embeds(&ids)?, tts_eos], 1)?;
    let codec = Tensor::cat(
        &[
            &model.codec_embeds(&[tc.codec_bos_id])?,
            &model.frame_embeds(reference.codes)?,
        ],
        1,
    )?;
    let (text_len, codec_len) = (text.dim(1)?, codec.dim(1)?);
    if req.non_streaming {
        let under = model.codec_embeds(&vec![tc.codec_pad_id; text_len])?;
        let icl = Tensor::cat(&[&(text + under)?, &codec.broadcast_add(tts_pad)?], 1)?;
        Ok((icl, tts_pad.clone()))
    } else if text_len > codec_len {
        let icl = (text.i((.., ..codec_len))? + codec)?;
        Ok((icl, text.i((.., codec_len..))?))
    } else {
        let pads = tts_pad.repeat((1, codec_len - text_len, 1))?;
        let icl = (Tensor::cat(&[&text, &pads], 1)? + codec)?;
        Ok((icl, tts_pad.clone()))
    }
}
