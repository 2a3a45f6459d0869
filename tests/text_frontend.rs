//! The text front end: sentence splitting and normalization, case by case,
//! plus invariants over random input.

use ishowtts::text::normalize::{normalize_en, normalize_zh};
use ishowtts::text::split::{split_sentences, SplitOptions};
use ishowtts::text::{normalize, Language};

fn split_with(text: &str, opts: &SplitOptions) -> Vec<String> {
    split_sentences(text, opts)
        .into_iter()
        .map(|r| text[r].to_owned())
        .collect()
}

fn split(text: &str) -> Vec<String> {
    split_with(text, &SplitOptions::default())
}

#[test]
fn english_sentences() {
    let cases: &[(&str, &[&str])] = &[
        (
            "Hello there. How are you?",
            &["Hello there.", "How are you?"],
        ),
        ("One! Two? Three.", &["One!", "Two?", "Three."]),
        ("No. Go.", &["No. Go."]), // fragments under min_chars merge
        (
            "Stop right there! Who goes?",
            &["Stop right there!", "Who goes?"],
        ),
        ("Really?! I had no idea.", &["Really?!", "I had no idea."]),
        ("Wow!!! That was close.", &["Wow!!!", "That was close."]),
        (
            "Dr. Smith called at 3 p.m. today.",
            &["Dr. Smith called at 3 p.m. today."],
        ),
        (
            "Mr. and Mrs. Jones arrived.",
            &["Mr. and Mrs. Jones arrived."],
        ),
        (
            "Ask Prof. Lee or Ms. Park.",
            &["Ask Prof. Lee or Ms. Park."],
        ),
        (
            "He lives on Baker St. near the park.",
            &["He lives on Baker St. near the park."],
        ),
        (
            "J. R. R. Tolkien wrote books.",
            &["J. R. R. Tolkien wrote books."],
        ),
        (
            "I read it, e.g. Dune and Emma.",
            &["I read it, e.g. Dune and Emma."],
        ),
        (
            "Use a tool, i.e. A hammer.",
            &["Use a tool, i.e. A hammer."],
        ),
        ("The U.S.A. is large.", &["The U.S.A. is large."]),
        (
            "I moved to the U.S. Then I worked.",
            &["I moved to the U.S.", "Then I worked."],
        ),
        ("Pi is 3.14 roughly.", &["Pi is 3.14 roughly."]),
        (
            "Version 2.0.1 is out. Update now.",
            &["Version 2.0.1 is out.", "Update now."],
        ),
        ("Meet at 10:30 a.m. sharp.", &["Meet at 10:30 a.m. sharp."]),
        (
            "It ends at 5 p.m. Then we eat.",
            &["It ends at 5 p.m.", "Then we eat."],
        ),
        (
            "Visit example.com for more. Thanks.",
            &["Visit example.com for more.", "Thanks."],
        ),
        (
            "Mail bob@mail.example.org now.",
            &["Mail bob@mail.example.org now."],
        ),
        ("Wait... What happened?", &["Wait...", "What happened?"]),
        ("Well... maybe not.", &["Well... maybe not."]),
        ("Hmm… Not sure.", &["Hmm…", "Not sure."]),
        (
            "He said \"Stop!\" Then he left.",
            &["He said \"Stop!\"", "Then he left."],
        ),
        (
            "She asked (quietly.) Nobody heard.",
            &["She asked (quietly.)", "Nobody heard."],
        ),
        ("“Is it true?” she asked.", &["“Is it true?” she asked."]),
        (
            "Apples, pears, etc. are fruit.",
            &["Apples, pears, etc. are fruit."],
        ),
        (
            "I bought apples, pears, etc. Then I left.",
            &["I bought apples, pears, etc.", "Then I left."],
        ),
        ("First line\nSecond line", &["First line", "Second line"]),
        ("Para one.\n\nPara two.", &["Para one.", "Para two."]),
        ("No terminator at the end", &["No terminator at the end"]),
        (
            "  Leading and trailing spaces.  ",
            &["Leading and trailing spaces."],
        ),
        (
            "Fig. 3 shows it. See Vol. 2 too.",
            &["Fig. 3 shows it.", "See Vol. 2 too."],
        ),
        ("It costs $3.50. Cheap!", &["It costs $3.50.", "Cheap!"]),
        (
            "It costs $3.50 today. Cheap enough!",
            &["It costs $3.50 today.", "Cheap enough!"],
        ),
        (
            "Call me at 555-1234. Or not.",
            &["Call me at 555-1234.", "Or not."],
        ),
        ("Item no. 5 is sold out.", &["Item no. 5 is sold out."]),
        ("The end.", &["The end."]),
    ];
    for (text, want) in cases {
        assert_eq!(split(text), *want, "{text:?}");
    }
}

#[test]
fn chinese_and_mixed_sentences() {
    let cases: &[(&str, &[&str])] = &[
        ("你好。今天天气很好！", &["你好。", "今天天气很好！"]),
        ("你吃饭了吗？我吃了。", &["你吃饭了吗？", "我吃了。"]),
        (
            "他说：「走吧。」然后走了。",
            &["他说：「走吧。」", "然后走了。"],
        ),
        ("真的吗！？太好了。", &["真的吗！？", "太好了。"]),
        ("我喜欢Python。你呢？", &["我喜欢Python。", "你呢？"]),
        (
            "Hello你好。Nice to meet you.",
            &["Hello你好。", "Nice to meet you."],
        ),
        (
            "欢迎来到直播间！感谢关注！",
            &["欢迎来到直播间！", "感谢关注！"],
        ),
        (
            "今天是2024年1月15日。天气晴。",
            &["今天是2024年1月15日。", "天气晴。"],
        ),
        ("（笑）好的。", &["（笑）好的。"]),
        ("没有标点的中文句子", &["没有标点的中文句子"]),
        ("第一行\n第二行", &["第一行", "第二行"]),
        ("嗯……我想想。好吧。", &["嗯……我想想。", "好吧。"]),
    ];
    for (text, want) in cases {
        assert_eq!(split(text), *want, "{text:?}");
    }
}

#[test]
fn long_sentences_are_cut_at_clauses() {
    let opts = SplitOptions {
        max_chars: 40,
        ..Default::default()
    };
    let text = "This sentence is long, it has several clauses; each one could stand alone, and it keeps going.";
    let parts = split_with(text, &opts);
    assert!(parts.len() >= 3, "{parts:?}");
    for p in &parts {
        assert!(p.chars().count() <= 40, "{p:?}");
    }
    assert!(parts[0].ends_with(','), "{parts:?}");
    // No clause marks: cut at spaces.
    let words = "word ".repeat(30);
    for p in split_with(&words, &opts) {
        assert!(p.chars().count() <= 40 && !p.starts_with(' ') && p.ends_with("word"));
    }
    // CJK with no punctuation at all: cut anywhere, on char boundaries.
    let cjk = "字".repeat(100);
    let parts = split_with(&cjk, &opts);
    assert_eq!(parts.concat(), cjk);
    assert!(parts.iter().all(|p| p.chars().count() <= 40));
    // Chinese clause marks.
    let zh = "我们今天讨论的内容很多，包括天气、交通和饮食，还有明天的计划；请大家认真听讲，不要走神，谢谢大家的配合";
    let parts = split_with(
        zh,
        &SplitOptions {
            max_chars: 20,
            ..Default::default()
        },
    );
    assert!(parts.len() >= 3, "{parts:?}");
    assert!(
        parts[..parts.len() - 1]
            .iter()
            .all(|p| p.ends_with(['，', '、', '；'])),
        "{parts:?}"
    );
}

#[test]
fn short_fragments_are_merged() {
    let cases: &[(&str, &[&str])] = &[
        (
            "Hi. How are you doing today?",
            &["Hi. How are you doing today?"],
        ),
        (
            "What a day it has been. Ok.",
            &["What a day it has been. Ok."],
        ),
        ("Yes.", &["Yes."]),
        ("A. B. C. D.", &["A. B. C. D."]),
    ];
    for (text, want) in cases {
        assert_eq!(split(text), *want, "{text:?}");
    }
    let no_merge = SplitOptions {
        min_chars: 0,
        ..Default::default()
    };
    assert_eq!(split_with("Hi. Yo.", &no_merge), ["Hi.", "Yo."]);
}

#[test]
fn the_first_chunk_can_be_short() {
    let opts = SplitOptions {
        short_first: true,
        first_max_chars: 30,
        ..Default::default()
    };
    let text = "When the weather is good, we walk along the river for an hour. Then we rest.";
    let parts = split_with(text, &opts);
    assert_eq!(parts[0], "When the weather is good,");
    assert_eq!(parts[1], "we walk along the river for an hour.");
    assert_eq!(parts[2], "Then we rest.");
    // Already short: unchanged.
    assert_eq!(
        split_with("Short one. Another.", &opts),
        split("Short one. Another.")
    );
}

#[test]
fn english_normalization() {
    let cases: &[(&str, &str)] = &[
        ("I have 3 apples.", "I have three apples."),
        ("There were 1,234,567 people.", "There were one million two hundred thirty-four thousand five hundred sixty-seven people."),
        ("It is 0 degrees.", "It is zero degrees."),
        ("Pi is 3.14.", "Pi is three point one four."),
        ("It fell to -5 today.", "It fell to minus five today."),
        ("The 1st and 2nd place.", "The first and second place."),
        ("Her 23rd birthday.", "Her twenty-third birthday."),
        ("The 101st time.", "The one hundred first time."),
        ("It costs $5.", "It costs five dollars."),
        ("Only $1.", "Only one dollar."),
        ("It costs $3.50.", "It costs three dollars and fifty cents."),
        ("A $0.01 coin.", "A zero dollars and one cent coin."),
        ("Raised $1.2 million.", "Raised one point two million dollars."),
        ("Pay £20 now.", "Pay twenty pounds now."),
        ("That is €9.99.", "That is nine euros and ninety-nine cents."),
        ("Price ¥500.", "Price five hundred yen."),
        ("Up 50% today.", "Up fifty percent today."),
        ("A 3.5% rate.", "A three point five percent rate."),
        ("Meet at 3:30.", "Meet at three thirty."),
        ("Meet at 10:05 a.m.", "Meet at ten oh five a.m."),
        ("Leave at 3 p.m.", "Leave at three p.m."),
        ("Leave at 7pm.", "Leave at seven p.m."),
        ("At 14:00 sharp.", "At fourteen hundred sharp."),
        ("At 9:00.", "At nine o'clock."),
        ("Born on 2024-01-15.", "Born on January fifteenth, twenty twenty-four."),
        ("Due 1/15/2024.", "Due January fifteenth, twenty twenty-four."),
        ("In 1999 we met.", "In nineteen ninety-nine we met."),
        ("Since 2005, it grew.", "Since two thousand five, it grew."),
        ("By 2024 it was done.", "By twenty twenty-four it was done."),
        ("In 1905 it began.", "In nineteen oh five it began."),
        ("The 1990s were fun.", "The nineteen nineties were fun."),
        ("He sold 1999 cars.", "He sold one thousand nine hundred ninety-nine cars."),
        ("Pages 10-20.", "Pages ten to twenty."),
        ("Call 555-1234.", "Call five five five, one two three four."),
        ("Agent 007 here.", "Agent zero zero seven here."),
        ("Salt & pepper.", "Salt and pepper."),
        ("2 + 2 = 4", "two plus two equals four"),
        ("It is 20°C outside.", "It is twenty degrees Celsius outside."),
        ("Room #5 please.", "Room number five please."),
        ("Plain words stay.", "Plain words stay."),
    ];
    for (input, want) in cases {
        assert_eq!(normalize_en(input), *want, "{input:?}");
    }
    assert_eq!(
        normalize("I have 2 cats.", Language::English),
        "I have two cats."
    );
}

#[test]
fn chinese_normalization() {
    let cases: &[(&str, &str)] = &[
        ("我有1234个苹果", "我有一千二百三十四个苹果"),
        ("他10岁了", "他十岁了"),
        ("15个人", "十五个人"),
        ("110号", "一百一十号"),
        ("1005米", "一千零五米"),
        ("人口100000", "人口十万"),
        ("10010元", "一万零一十元"),
        ("20000步", "二万步"),
        ("2024年", "二零二四年"),
        ("1999年到2005年", "一九九九年到二零零五年"),
        ("2024年1月15日", "二零二四年一月十五日"),
        ("2024-01-15", "二零二四年一月十五日"),
        ("3月8号", "三月八号"),
        ("现在10:30", "现在十点三十分"),
        ("早上8:05", "早上八点零五分"),
        ("12:00开会", "十二点开会"),
        ("圆周率3.14", "圆周率三点一四"),
        ("涨了50%", "涨了百分之五十"),
        ("利率3.5%", "利率百分之三点五"),
        ("价格¥100", "价格一百元"),
        ("一共100元", "一共一百元"),
        ("气温-5度", "气温负五度"),
        ("电话13812345678", "电话一三八一二三四五六七八"),
        ("没有数字", "没有数字"),
    ];
    for (input, want) in cases {
        assert_eq!(normalize_zh(input), *want, "{input:?}");
    }
    assert_eq!(normalize("共3个", Language::Chinese), "共三个");
    assert_eq!(normalize("Es ist 3 Uhr.", Language::Other), "Es ist 3 Uhr.");
}

/// xorshift: random but reproducible input.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const ALPHABET: &[&str] = &[
    "a", "B", " ", " ", "\n", ".", ".", "!", "?", "…", "。", "！", "，", ",", "\"", "”", "」", "(",
    ")", "1", "9", "0", "$", "%", ":", "-", "/", "你", "好", "😀", "\u{7}", "é", "Dr", "U.S.",
    "e.g.", "p.m.", "¥", "€", "#", "&", "°", "\t",
];

#[test]
fn invariants_over_random_text() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for round in 0..2000 {
        let len = (rng.next() % 60) as usize;
        let text: String = (0..len)
            .map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize])
            .collect();
        let opts = SplitOptions {
            max_chars: 8 + (rng.next() % 40) as usize,
            min_chars: (rng.next() % 6) as usize,
            short_first: round % 2 == 0,
            first_max_chars: 8 + (rng.next() % 20) as usize,
        };
        let spans = split_sentences(&text, &opts);
        let mut covered = 0;
        let mut prev_end = 0;
        for r in &spans {
            assert!(r.start >= prev_end && r.start < r.end, "{text:?} {spans:?}");
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            let s = &text[r.clone()];
            assert_eq!(s, s.trim(), "{text:?}: {s:?} not trimmed");
            covered += s.chars().filter(|c| !c.is_whitespace()).count();
            prev_end = r.end;
        }
        let total = text.chars().filter(|c| !c.is_whitespace()).count();
        assert_eq!(covered, total, "{text:?} {spans:?}");
        for lang in [Language::English, Language::Chinese, Language::Other] {
            let _ = normalize(&text, lang);
        }
    }
}

#[test]
fn megabytes_split_quickly() {
    let text = "The quick brown fox jumps over the lazy dog at 3 p.m. today. ".repeat(35_000);
    assert!(text.len() > 2_000_000);
    let t = std::time::Instant::now();
    let spans = split_sentences(&text, &SplitOptions::default());
    assert_eq!(spans.len(), 35_000);
    let n = normalize(&text[spans[0].clone()], Language::English);
    assert_eq!(
        n,
        "The quick brown fox jumps over the lazy dog at three p.m. today."
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
}
