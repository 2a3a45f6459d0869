"""Parity fixtures for the Qwen3-TTS text tokenizer (src/models/qwen3_tts/tokenizer.rs).

Regenerate (from the repository root; the venv is made by scripts/qwen3_fixtures.sh):

    bash scripts/qwen3_fixtures.sh tokenizer
    # or, with the venv already in place:
    .venv-qwenref/bin/python scripts/qwen3_tokenizer_fixtures.py [--out tests/fixtures/qwen3]

The real Qwen2 vocabulary (151 643 byte-level BPE tokens) cannot be downloaded
here, so this script TRAINS a small byte-level BPE (about 3000 tokens) with the
`tokenizers` library on a corpus built into this file, and saves it in exactly
the layout of a Qwen3-TTS checkpoint directory:

    <out>/tokenizer/vocab.json             token -> id, ids 0..V-1 (byte alphabet first)
    <out>/tokenizer/merges.txt             "#version: 0.2" + one merge per line, by rank
    <out>/tokenizer/tokenizer_config.json  Qwen2Tokenizer, added_tokens_decoder with the
                                           33 added tokens of Qwen3-TTS at ids V..V+32
                                           (real ids 151643..151675), same order and flags
    <out>/tokenizer/config.json            {"model_type": "qwen3_tts", ...} and
    <out>/tokenizer/preprocessor_config.json
                                           just enough for AutoProcessor to load the
                                           directory the way qwen-tts loads a checkpoint
    <out>/tokenizer/expected.json          reference ids (below)

The reference tokenizer is loaded exactly as qwen-tts 0.1.1 does
(`Qwen3TTSModel.from_pretrained`): `AutoProcessor.from_pretrained(dir,
fix_mistral_regex=True)` -> Qwen3TTSProcessor -> Qwen2TokenizerFast converted
from the slow Qwen2Tokenizer (checkpoints ship no tokenizer.json). Every
sentence is also encoded by the slow Qwen2Tokenizer; the two must agree.

`fix_mistral_regex=True` (transformers 4.57.3, `_patch_mistral_regex`): for a
tokenizer whose base vocabulary is over 100 000 tokens, loaded from a LOCAL
directory whose config.json has no transformers_version, or one in
(4.57.2, 5.0.0), or a mistral model_type, it REPLACES the Qwen2 split regex
of the fast tokenizer with a different one (upper/lower-case runs split,
no contraction alternative, combining marks kept in words). So qwen-tts
tokenizes a real checkpoint directory with that pattern, and a hub id (where
the check asks the hub for "mistralai" tags and finds none) with the Qwen2 one.
The small fixture vocabulary is under the 100 000 threshold, so expected.json
records both:
  "qwen2":       AutoProcessor load of the fixture directory (not patched);
  "mistral_fix": the same tokenizer after transformers' own `_patch_mistral_regex`
                 with fix_mistral_regex=True (what a full-size checkpoint gets);
and "split_rule" records, for throwaway directories with a 100 000 / 100 001
token vocabulary and various config.json files, which pattern the real
AutoProcessor load ended up with, so the Rust decision rule is checked too.

Deterministic: the corpus is generated with a seeded random.Random, the BPE
trainer is deterministic, JSON is written with fixed key order. Two runs give
byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from importlib.metadata import version as pkg_version
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = Path(__file__).resolve().parents[1]

# the pattern of the Qwen2 converter / slow Qwen2Tokenizer (transformers 4.57.3)
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
VOCAB_SIZE = 3000

# Added tokens of the Qwen3-TTS checkpoints, in id order from 151643 (the
# Qwen3 list, then the audio/TTS tokens), with their "special" flag. The
# TTS ids used by the model config: im_start 151644, im_end 151645,
# tts_pad 151671, tts_bos 151672, tts_eos 151673.
ADDED_TOKENS = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
    ("<|audio_start|>", True),
    ("<|audio_end|>", True),
    ("<tts_pad>", True),
    ("<tts_text_bos>", True),
    ("<tts_text_eod>", True),
    ("<tts_text_bos_single>", True),
    ("<|audio_pad|>", True),
]
ADDITIONAL_SPECIAL = [
    "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<|audio_start|>", "<|audio_end|>",
    "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>", "<tts_text_bos_single>", "<|audio_pad|>",
]

# ---------------------------------------------------------------------------
# training corpus

EN_WORDS = (
    "the a an and or but if then when while because so of to in on at by for with from into over under "
    "about after before between through during without within again further once here there where why how "
    "all any both each few more most other some such no nor not only own same than too very can will just "
    "should now I you he she it we they me him her us them my your his its our their this that these those "
    "am is are was were be been being have has had having do does did doing would could might must shall "
    "hello world good morning evening night today tomorrow yesterday weather sunny rainy cloudy windy cold "
    "warm hot time people year way day man woman child children life hand part place case week company "
    "system program question work government number point home water room mother father area money story "
    "fact month lot right study book eye job word business issue side kind head house service friend power "
    "hour game line end member law car city community name president team minute idea kid body information "
    "back parent face others level office door health person art war history party result change reason "
    "research girl guy moment air teacher force education speech voice sound music model language text "
    "reading speaking listening synthesis neural network engine token tokenizer computer phone phones "
    "running jumped quickly slowly happily beautiful wonderful important different small large big little "
    "great new old long short high low early late young open close closed please thank thanks sorry welcome "
    "yes okay maybe never always sometimes often usually quite really actually simply nothing everything "
    "something anything everyone someone learn learned learning play played playing write wrote written "
    "go went gone come came take took taken make made see saw seen know knew known think thought say said"
).split()
EN_CONTRACTIONS = "don't can't won't isn't aren't wasn't I'm you're we're they're it's he's she's I've we've I'll you'll I'd we'd let's that's what's".split()
ZH_PHRASES = (
    "你好 世界 今天 天气 很好 我们 他们 你们 中国 北京 上海 语音 合成 模型 文本 声音 音乐 学习 工作 时间 "
    "问题 朋友 老师 学生 电脑 手机 网络 明天 昨天 早上 晚上 下午 中午 非常 喜欢 不是 没有 可以 知道 "
    "现在 已经 因为 所以 但是 如果 虽然 然后 还是 或者 一起 一个 一些 这个 那个 什么 为什么 怎么 哪里 "
    "谢谢 对不起 没关系 再见 欢迎 请问 大家 开始 结束 发展 经济 社会 文化 历史 科学 技术 人工智能 "
    "阿里云 通义千问 开源 大模型 我叫 是的 好的 吃饭 睡觉 看书 写字 说话 唱歌 跳舞 跑步 游泳 旅行 "
    "春天 夏天 秋天 冬天 下雨 下雪 刮风 晴天 阴天 太阳 月亮 星星 山 水 花 草 树 鸟 鱼 猫 狗"
).split()
# mixed-case words: trained as one pre-token under the Qwen2 pattern, split in
# two by the mistral_fix one, so the two patterns give different ids for them
EN_CAMEL = (
    "iPhone YouTube PowerPoint OpenAI McDonald HelloWorld JavaScript GitHub LinkedIn PlayStation "
    "iPad MacBook WiFi eBay TikTok WeChat camelCase"
).split()
ZH_PUNCT = ["，", "。", "！", "？", "、", "：", "；", "“", "”", "（", "）", "……"]
EN_PUNCT = [",", ".", "!", "?", ";", ":", " -", "...", " (", ")", "\"", "'"]


def build_corpus() -> list[str]:
    """~2100 lines: English, Chinese and mixed sentences, digits, punctuation."""
    rng = random.Random(20240601)
    lines: list[str] = []
    for _ in range(700):
        n = rng.randint(4, 14)
        words = [rng.choice(EN_WORDS) for _ in range(n)]
        if rng.random() < 0.3:
            words[rng.randrange(n)] = rng.choice(EN_CONTRACTIONS)
        if rng.random() < 0.5:
            words[0] = words[0].capitalize()
        s = " ".join(words) + rng.choice([".", "!", "?", ","])
        lines.append(s)
    for _ in range(700):
        n = rng.randint(3, 10)
        parts = []
        for _ in range(n):
            parts.append(rng.choice(ZH_PHRASES))
            if rng.random() < 0.25:
                parts.append(rng.choice(ZH_PUNCT))
        lines.append("".join(parts) + rng.choice(["。", "！", "？"]))
    for _ in range(300):
        n = rng.randint(4, 10)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.4:
                parts.append(rng.choice(ZH_PHRASES))
            elif r < 0.8:
                parts.append(" " + rng.choice(EN_WORDS) + " ")
            else:
                parts.append(str(rng.randint(0, 99999)))
        lines.append("".join(parts).strip() + rng.choice(EN_PUNCT + ZH_PUNCT))
    for _ in range(300):
        n = rng.randint(3, 8)
        words = [rng.choice(EN_WORDS) for _ in range(n)]
        words[rng.randrange(n)] = rng.choice(EN_CAMEL)
        lines.append(" ".join(words) + rng.choice([".", "!", "?"]))
    # the chat roles of the prompts qwen-tts builds: single tokens in the
    # real vocabulary, which its prompt slicing (`input_id[:, :3]`) relies on
    lines += ["assistant\n", "user\n"] * 100
    for _ in range(100):
        lines.append(
            f"{rng.randint(1, 31)}/{rng.randint(1, 12)}/{rng.randint(1990, 2030)} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} ${rng.randint(1, 999)}.{rng.randint(0, 99):02d} "
            f"{rng.randint(1, 100)}% #{rng.randint(1, 9999)}"
        )
    return lines


def train_bpe(lines: list[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE with the Qwen2 normalizer and pre-tokenizer."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(lines, trainer)
    model = json.loads(tok.to_str())["model"]
    vocab = dict(sorted(model["vocab"].items(), key=lambda kv: kv[1]))
    assert sorted(vocab.values()) == list(range(len(vocab))), "vocab ids must be 0..V-1"
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return vocab, merges


# ---------------------------------------------------------------------------
# checkpoint-layout files


def tokenizer_config(vocab_len: int) -> dict:
    added = {}
    for i, (content, special) in enumerate(ADDED_TOKENS):
        added[str(vocab_len + i)] = {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": special,
        }
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": ADDITIONAL_SPECIAL,
        "audio_bos_token": "<|audio_start|>",
        "audio_eos_token": "<|audio_end|>",
        "audio_token": "<|audio_pad|>",
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "processor_class": "Qwen3TTSProcessor",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def write_json(path: Path, obj, ensure_ascii: bool = True, indent: int | None = 1) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=ensure_ascii, indent=indent) + "\n", encoding="utf-8")


def write_expected(path: Path, expected: dict) -> None:
    """JSON with one line per sentence / rule case (keeps the file small and diffable)."""
    lines = ["{"]
    items = list(expected.items())
    for k, (key, value) in enumerate(items):
        comma = "," if k + 1 < len(items) else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f" {json.dumps(key)}: [")
            for j, item in enumerate(value):
                tail = "," if j + 1 < len(value) else ""
                lines.append("  " + json.dumps(item, ensure_ascii=True) + tail)
            lines.append(" ]" + comma)
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=True)}{comma}")
    lines.append("}")
    json.loads("\n".join(lines))  # well-formed
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_checkpoint_dir(d: Path, vocab: dict[str, int], merges: list[tuple[str, str]], config: dict | None) -> None:
    d.mkdir(parents=True, exist_ok=True)
    # compact and UTF-8, like the released vocab.json
    (d / "vocab.json").write_text(
        json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    with open(d / "merges.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    write_json(d / "tokenizer_config.json", tokenizer_config(len(vocab)), ensure_ascii=False, indent=2)
    write_json(d / "preprocessor_config.json", {"processor_class": "Qwen3TTSProcessor"}, indent=2)
    if config is not None:
        write_json(d / "config.json", config, indent=2)


# ---------------------------------------------------------------------------
# reference loading


def register_qwen_tts() -> None:
    """What `Qwen3TTSModel.from_pretrained` registers before loading."""
    from transformers import AutoConfig, AutoProcessor

    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSProcessor

    AutoConfig.register("qwen3_tts", Qwen3TTSConfig)
    AutoProcessor.register(Qwen3TTSConfig, Qwen3TTSProcessor)


def load_reference(d: Path):
    """The processor exactly as qwen-tts 0.1.1 loads it."""
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(str(d), fix_mistral_regex=True)


def split_pattern(fast) -> str:
    state = json.loads(fast.backend_tokenizer.to_str())
    pre = state["pre_tokenizer"]
    assert pre["type"] == "Sequence", pre
    split, byte_level = pre["pretokenizers"]
    assert split["type"] == "Split" and split["behavior"] == "Isolated" and not split["invert"], split
    assert byte_level == {
        "type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False,
    }, byte_level
    return split["pattern"]["Regex"]


def pieces(fast, text: str) -> list[str]:
    return [p for p, _ in fast.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)]


def processor_ids(proc, text: str) -> list[int]:
    """What `Qwen3TTSModel._tokenize_texts` feeds the model, as a list."""
    out = proc(text=text, return_tensors="pt", padding=True)
    return [int(x) for x in out["input_ids"][0].tolist()]


# ---------------------------------------------------------------------------
# sentences


PROMPTS: dict[str, dict] = {}


def sentences() -> list[str]:
    from qwen_tts.inference.qwen3_tts_model import Qwen3TTSModel as W

    # the prompt builders of qwen_tts/inference/qwen3_tts_model.py (they do not
    # use self); the builder and its argument are recorded with the sentence so
    # the Rust prompt builders are checked too
    def builder(kind, fn):
        def build(t):
            text = fn(None, t)
            PROMPTS[text] = {"kind": kind, "text": t}
            return text
        return build

    assistant = builder("assistant", W._build_assistant_text)
    ref = builder("ref", W._build_ref_text)
    instruct = builder("instruct", W._build_instruct_text)
    s = [
        # English
        "Hello world",
        " Hello world",
        "Hello, world! How are you today?",
        "The quick brown fox jumps over the lazy dog.",
        "I think that the weather will be sunny tomorrow morning.",
        "Text to speech synthesis with a neural network engine.",
        # contractions (the Qwen2 pattern has a case-insensitive alternative for them)
        "don't can't won't isn't I'm you're they've we'll he'd it's",
        "DON'T SHOUT, I'M LISTENING! WE'LL SEE. IT'S LOUD.",
        "it'sa trap; she'dn't; rock'n'roll; o'clock",
        "'s 't 're 've 'm 'll 'd",
        # upper/lower-case runs: where the patched (mistral_fix) pattern splits
        "iPhone McDonald's YouTube PowerPoint OpenAI HelloWorld camelCaseWords",
        "I watch YouTube on my iPad and MacBook over WiFi.",
        "Find us on GitHub, LinkedIn, TikTok and WeChat!",
        "ÉCOLE École école ΑΘΗΝΑ Αθήνα",
        # Chinese
        "你好，世界！",
        "今天天气很好，我们一起去公园散步吧。",
        "我叫通义千问，是阿里云的开源大模型。",
        "人工智能正在改变我们的生活和工作方式。",
        "春天来了，花开了，鸟儿在树上唱歌。",
        # mixed
        "我喜欢用iPhone听music，你呢？",
        "Qwen3-TTS支持中文和English混合输入。",
        "今天是2025年1月1日，temperature是25°C。",
        "这个model的speech synthesis效果非常好!",
        # digits / numbers
        "1234567890",
        "The price is $1,234.56 (about 8,888 yuan), up 12.5% since 2024.",
        "Call me at +1 (555) 010-9999 or 138-0013-8000.",
        "３．１４ and ①②③ and ½ and ٣٤٥ and Ⅻ",
        "Version 3.10.2, build 20240601-rc1",
        # punctuation
        "Wait... what?! No -- really?? (yes) [no] {maybe} <ok> \"quoted\" 'single'",
        "Email: someone@example.com, URL: https://example.com/path?q=1&x=2#frag",
        "“中文引号”‘单引号’《书名号》【方括号】——破折号……省略号",
        "a/b/c\\d|e_f-g+h=i*j^k~l`m",
        # emoji and other scripts
        "I love you ❤️😊👍🏽 👨‍👩‍👧‍👦 🇨🇳🇺🇸",
        "こんにちは、世界。カタカナとひらがな。",
        "안녕하세요 세계",
        "Привет, мир! Как дела?",
        "مرحبا بالعالم",
        "नमस्ते दुनिया, हिन्दी में बोलिए",
        "สวัสดีครับ ภาษาไทย",
        "Ünïcödé àccénts: café, naïve, façade, Zürich, São Paulo",
        # NFC: decomposed input must tokenize like the composed one
        "cafe\u0301 nai\u0308ve e\u0301cole",
        "café naïve école",
        "\u1100\u1161\u11a8 \u304b\u3099",
        # whitespace
        "  leading spaces",
        "trailing spaces   ",
        "multiple    spaces   between     words",
        "tabs\tand\t\ttabs",
        "line one\nline two\n\nline four\n",
        "\n\nleading newlines",
        "windows\r\nline\r\nendings",
        "   \n   \n",
        " ",
        "\u00a0non-breaking\u00a0space and\u3000ideographic space\u2003em space",
        "x" + " " * 300 + "y",
        "mixed \t \n \t whitespace  \n  runs",
        "\x1c\x1d\x1e\x1f\x85 separators",
        # added tokens
        "<|im_start|>",
        "<|im_start|>user\nhello<|im_end|>",
        "text with <|im_start|> inside and <|im_end|> too",
        "<|endoftext|><|endoftext|>",
        "<tts_pad><tts_text_bos>speak this<tts_text_eod>",
        "<|audio_start|><|audio_pad|><|audio_end|>",
        "<think>\n\n</think>\n\n",
        "almost special: <|im_start <im_start|> <|IM_START|> < |im_end| > <tts_pad",
        "<|im_start|><|im_start|>assistant",
        "a<|im_end|>b<|im_end|>",
        # the prompts qwen-tts builds (_build_assistant_text / _build_ref_text / _build_instruct_text)
        assistant("Hello, this is a test of the text to speech system."),
        assistant("我叫通义千问，是阿里云的开源大模型。"),
        assistant("Mixed 中英文 text, with numbers 123 and emoji 😊!"),
        assistant(""),
        assistant("  spaced  out  "),
        ref("This is the reference transcript."),
        ref("这是参考音频的文本。"),
        instruct("Speak in a calm, warm female voice with a slight smile."),
        instruct("用温柔的语气说话"),
        # edge cases
        "",
        "a",
        "A",
        "😊",
        "\u200b\u200c\u200d zero width",
        "\ufeffBOM at start",
        "ﬁ ligature ﬀ and Ｆｕｌｌｗｉｄｔｈ",
    ]
    return s


# ---------------------------------------------------------------------------
# the split_rule table: which pattern the real AutoProcessor load ends with


RULE_CASES = [
    # (base vocabulary size, config.json or None)
    (100_001, {"model_type": "qwen3_tts", "transformers_version": "4.57.3"}),
    (100_000, {"model_type": "qwen3_tts", "transformers_version": "4.57.3"}),
    (100_001, None),
    (100_001, {"model_type": "qwen3_tts"}),
    (100_001, {"model_type": "qwen3_tts", "transformers_version": "4.57.2"}),
    (100_001, {"model_type": "qwen3_tts", "transformers_version": "4.51.0"}),
    (100_001, {"model_type": "qwen3_tts", "transformers_version": "4.57.2.post1"}),
    (100_001, {"model_type": "qwen3_tts", "transformers_version": "5.0.0"}),
    (100_001, {"model_type": "qwen3_tts", "transformers_version": "5.0.0.dev0"}),
    (100_001, {"model_type": "qwen3_tts", "transformers_version": "4.57"}),
    (100_001, {"transformers_version": "4.50.0"}),
    (100_001, {"model_type": "mistral", "transformers_version": "4.50.0"}),
]


def big_vocab(n: int) -> dict[str, int]:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    i = 0
    while len(vocab) < n:
        vocab[f"tok{i}"] = len(vocab)
        i += 1
    return vocab


def split_rule(patterns: dict[str, str]) -> list[dict]:
    by_pattern = {v: k for k, v in patterns.items()}
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (n, cfg) in enumerate(RULE_CASES):
            d = Path(tmp) / f"case{i}"
            write_checkpoint_dir(d, big_vocab(n), [], cfg)
            if cfg is not None and "model_type" in cfg and cfg["model_type"] != "qwen3_tts":
                # AutoProcessor would try to build that model's processor; the
                # tokenizer load (where the patch happens) is the same call
                from qwen_tts.core.models import Qwen3TTSProcessor

                proc = Qwen3TTSProcessor.from_pretrained(str(d), fix_mistral_regex=True)
            else:
                proc = load_reference(d)
            assert proc.tokenizer.vocab_size == n
            out.append({
                "vocab_size": n,
                "config": cfg,
                "split": by_pattern[split_pattern(proc.tokenizer)],
            })
            print(f"split rule: vocab {n} config {cfg} -> {out[-1]['split']}", file=sys.stderr)
    return out


# ---------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "qwen3"),
                    help="the qwen3 fixture root; files go to <out>/tokenizer")
    # accepted with the other fixtures' arguments: the trained tokenizer and
    # its reference ids do not depend on a seed
    ap.add_argument("--seed", type=int, default=None, help="ignored")
    args = ap.parse_args()
    out = Path(args.out) / "tokenizer"

    import transformers.utils.logging as tlog

    tlog.set_verbosity_error()
    register_qwen_tts()
    from transformers import Qwen2Tokenizer, Qwen2TokenizerFast

    vocab, merges = train_bpe(build_corpus())
    if out.exists():
        shutil.rmtree(out)
    # transformers_version in (4.57.2, 5.0.0): a checkpoint written by 4.57.3
    write_checkpoint_dir(out, vocab, merges, {"model_type": "qwen3_tts", "transformers_version": "4.57.3"})

    proc = load_reference(out)
    fast = proc.tokenizer
    assert isinstance(fast, Qwen2TokenizerFast), type(fast)
    qwen2_pattern = split_pattern(fast)
    assert qwen2_pattern == QWEN2_PATTERN, "small vocabulary: fix_mistral_regex must not apply"
    slow = Qwen2Tokenizer.from_pretrained(str(out))

    # what a >100k-token checkpoint directory gets: transformers' own patch routine
    patched = Qwen2TokenizerFast.from_pretrained(str(out))
    patched = Qwen2TokenizerFast._patch_mistral_regex(
        patched, str(out), _is_local=True, init_kwargs=dict(patched.init_kwargs), fix_mistral_regex=True
    )
    mistral_pattern = split_pattern(patched)
    assert mistral_pattern != QWEN2_PATTERN, "the patch did not apply"
    patterns = {"qwen2": QWEN2_PATTERN, "mistral_fix": mistral_pattern}

    vocab_len = len(vocab)
    added = {content: vocab_len + i for i, (content, _) in enumerate(ADDED_TOKENS)}
    for content, i in added.items():
        assert fast.convert_tokens_to_ids(content) == i, content
        assert slow.convert_tokens_to_ids(content) == i, content
    special = sorted(fast.all_special_tokens)

    cases = []
    differ = 0
    for text in sentences():
        ids = processor_ids(proc, text)
        assert ids == fast.encode(text), text
        slow_ids = slow.encode(text)
        assert ids == slow_ids, f"slow/fast disagree on {text!r}: {slow_ids} vs {ids}"
        mids = patched.encode(text)
        differ += mids != ids
        case = {
            "text": text,
            "qwen2": ids,
            "mistral_fix": mids,
            # the raw pre-tokenizer pieces (split + byte-level mapping, no
            # normalizer, no added-token extraction) of each pattern: checks the
            # regex engine itself, whatever merges the small vocabulary has
            "pieces_qwen2": pieces(fast, text),
            "pieces_mistral_fix": pieces(patched, text),
            "decode": fast.decode(ids),
            "decode_skip_special": fast.decode(ids, skip_special_tokens=True),
        }
        if text in PROMPTS:
            case["prompt"] = PROMPTS[text]
        assert case["decode"] == slow.decode(ids), text
        assert case["decode_skip_special"] == slow.decode(ids, skip_special_tokens=True), text
        cases.append(case)
    print(f"{len(cases)} sentences, {differ} tokenized differently by the mistral_fix pattern", file=sys.stderr)
    assert differ > 0

    expected = {
        "generator": "scripts/qwen3_tokenizer_fixtures.py",
        "versions": {
            "python": ".".join(map(str, sys.version_info[:3])),
            **{p: pkg_version(p) for p in ("qwen-tts", "transformers", "tokenizers", "regex")},
        },
        "vocab_size": vocab_len,
        "merges": len(merges),
        "added_tokens": added,
        "special_tokens": special,
        "patterns": patterns,
        "split_rule": split_rule(patterns),
        "sentences": cases,
    }
    write_expected(out / "expected.json", expected)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
