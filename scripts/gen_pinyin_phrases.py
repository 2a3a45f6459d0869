#!/usr/bin/env python3
"""Writes src/models/f5/pinyin_phrases.txt, the phrase table of the F5-TTS
Chinese front end (src/models/f5/pinyin.rs).

F5-TTS turns each jieba word into pinyin with
`pypinyin.lazy_pinyin(word, style=Style.TONE3, tone_sandhi=True)`. pypinyin
splits the word again by forward maximum matching over its phrase
dictionary, reads phrases from that dictionary and other characters one by
one (their first reading), and applies tone sandhi inside each piece. The
per-character readings are the `pinyin` crate's data (identical to
pypinyin's); what the Rust side lacks is the phrase dictionary. This table
holds the part of it that changes the result:

- every phrase whose pinyin (after sandhi) differs from reading its
  characters one by one, however rare: jieba's HMM joins characters into
  words its dictionary lacks (系好), and rare dictionary words (弹钢琴,
  好好学习) are still cut whole, so a frequency cut loses real words;
- "blockers": phrases whose own pinyin is the per-character one but which
  the Rust matcher, seeing only this table, must still know, until every
  word of jieba's dictionary and every pypinyin phrase comes out as
  pypinyin reads it. Either the phrase is a piece pypinyin cuts whole, so
  that a table phrase overlapping it does not match instead (所有权 keeps
  suo3 you3, not the sandhi of 所有), or it is the shortest phrase that
  extends the rest of a word, for pypinyin's rule that reads a rest which
  is only the start of some phrase character by character (天有不测, start
  of 天有不测风云).

A word outside both sets (an HMM word that is no pypinyin phrase) is not
checked: it differs only if it needs a blocker that no checked word needs.

Each line: the phrase, then its final TONE3 syllables, space-separated.

Run (any machine with PyPI and the crate sources in the cargo registry;
about three minutes):

    python3 -m venv /tmp/pyref && /tmp/pyref/bin/pip install pypinyin==0.55.0
    /tmp/pyref/bin/python scripts/gen_pinyin_phrases.py

(the `.venv-f5ref` of scripts/f5_fixtures.sh has pypinyin 0.55.0 too).

Sources: pypinyin 0.55.0 (MIT, phrase data from mozillazg/phrase-pinyin-data)
and the jieba dictionary shipped in jieba-rs 0.11.0 (MIT).
"""

import glob
import os
import sys

import pypinyin
from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT, RE_HANS

OUT = os.path.join(os.path.dirname(__file__), "..", "src", "models", "f5", "pinyin_phrases.txt")


def tone3(text):
    return lazy_pinyin(text, style=Style.TONE3, tone_sandhi=True)


def per_char(text):
    return [tone3(c)[0] for c in text]


def jieba_freqs():
    paths = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/jieba-rs-0.11.0/src/data/dict.txt"))
    if not paths:
        sys.exit("jieba-rs 0.11.0 is not in the cargo registry: run `cargo fetch` first")
    freqs = {}
    with open(paths[0], encoding="utf-8") as f:
        for line in f:
            word, freq = line.split()[:2]
            freqs[word] = int(freq)
    return freqs


def prefixes_of(phrases):
    return {p[:i] for p in phrases for i in range(1, len(p) + 1)}


def max_match(text, table, prefixes):
    """The Rust side's matching (`han_run_pinyin`: pypinyin's strict mmseg
    over the table only, a rest that only starts a phrase read character by
    character)."""
    out = []
    rest = text
    while rest:
        best = 0
        whole_rest_is_prefix = True
        for end in range(1, len(rest) + 1):
            if rest[:end] not in prefixes:
                whole_rest_is_prefix = False
                break
            if rest[:end] in table:
                best = end
        if best:
            out.extend(table[rest[:best]])
            rest = rest[best:]
        elif whole_rest_is_prefix:
            out.extend(per_char(rest))
            rest = ""
        else:
            out.append(per_char(rest[0])[0])
            rest = rest[1:]
    return out


def pypinyin_blockers(text, dict_prefixes, extension):
    """The phrases the Rust matcher needs to cut `text` as pypinyin's mmseg
    (`pypinyin.seg.mmseg.Seg.cut`, strict) does: its multi-character
    pieces, and for each rest it reads one character at a time because
    that rest only starts a phrase, a phrase that rest starts."""
    needed = []
    rest = text
    while rest:
        best = 0
        for end in range(1, len(rest) + 1):
            if rest[:end] not in dict_prefixes:
                break
            if rest[:end] in PHRASES_DICT:
                best = end
        else:
            if not best:
                needed.append(extension[rest])
                return needed
        if best > 1:
            needed.append(rest[:best])
        rest = rest[max(best, 1):]
    return needed


def main():
    assert pypinyin.__version__ == "0.55.0", pypinyin.__version__
    freqs = jieba_freqs()
    readings = {}

    def reading(text):
        if text not in readings:
            readings[text] = tone3(text)
        return readings[text]

    table = {}
    for phrase in PHRASES_DICT:
        pys = reading(phrase)
        if len(pys) == len(phrase) and pys != per_char(phrase):
            table[phrase] = pys
    # What must come out right: every pypinyin phrase and every Chinese word
    # of jieba's dictionary.
    words = set(PHRASES_DICT)
    words.update(w for w in freqs if len(w) > 1 and RE_HANS.fullmatch(w))
    dict_prefixes = prefixes_of(PHRASES_DICT)
    # Shortest phrase (then first in code point order) starting with each
    # prefix, for the rests pypinyin reads one character at a time.
    extension = {}
    for phrase in sorted(PHRASES_DICT, key=lambda p: (len(p), p)):
        for i in range(1, len(phrase) + 1):
            extension.setdefault(phrase[:i], phrase)
    # Blockers, until no word comes out wrong.
    while True:
        prefixes = prefixes_of(table)
        added = {}
        wrong = []
        for word in sorted(words):
            # A word no table phrase can start in is read per character by both.
            if not any(c in prefixes for c in word):
                continue
            if max_match(word, table, prefixes) == reading(word):
                continue
            missing = [p for p in pypinyin_blockers(word, dict_prefixes, extension) if p not in table]
            if missing:
                added.update((p, reading(p)) for p in missing)
            else:
                wrong.append(word)
        if not added:
            break
        table.update(added)
    if wrong:
        sys.exit(f"{len(wrong)} words still differ, e.g. {wrong[:10]}")
    order = sorted(table, key=lambda p: (-freqs.get(p, 0), p))
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("# Generated by scripts/gen_pinyin_phrases.py: do not edit by hand.\n")
        f.write(f"# pypinyin {pypinyin.__version__} phrases whose TONE3 + tone_sandhi pinyin is not\n")
        f.write("# the per-character one, and blockers; most frequent in jieba first.\n")
        for phrase in order:
            f.write(phrase + " " + " ".join(table[phrase]) + "\n")
    print(f"{len(order)} phrases, {os.path.getsize(OUT)} bytes -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
