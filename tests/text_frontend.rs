//! The text front end: sentence splitting and normalization, case by case,
//! plus invariants over random input and timing on megabytes of text.

use std::time::{Duration, Instant};

use ishowtts::text::normalize::{normalize_en, normalize_zh};
use ishowtts::text::split::{split_sentences, SplitOptions};
use ishowtts::text::{normalize, Language};

fn split_with(text: &str, opts: &SplitOptions) -> Vec<String> {
    split_sentences(text, opts)
        .into_iter()
        .map(|r| text[r].to_owned())
        .collect()
}

/// Sentence detection alone: no merging of short fragments.
fn detect(text: &str) -> Vec<String> {
    let opts = SplitOptions {
        min_chars: 0,
        ..Default::default()
    };
    split_with(text, &opts)
}

/// With the default options (fragments under 8 merged).
fn split(text: &str) -> Vec<String> {
    split_with(text, &SplitOptions::default())
}

fn check_detect(cases: &[(&str, &[&str])]) {
    for (text, want) in cases {
        assert_eq!(detect(text), *want, "input {text:?}");
    }
}

#[test]
fn english_terminators() {
    check_detect(&[
        (
            "Hello there. How are you?",
            &["Hello there.", "How are you?"],
        ),
        ("One! Two? Three.", &["One!", "Two?", "Three."]),
        ("Really?! I had no idea.", &["Really?!", "I had no idea."]),
        ("Wow!!! That was close.", &["Wow!!!", "That was close."]),
        ("What?? No way!!", &["What??", "No way!!"]),
        ("No terminator at the end", &["No terminator at the end"]),
        (
            "  Leading and trailing spaces.  ",
            &["Leading and trailing spaces."],
        ),
        ("Glued!Together here.", &["Glued!Together here."]),
        ("Visit Yahoo!Mail today.", &["Visit Yahoo!Mail today."]),
        (
            "lowercase chat. more chat",
            &["lowercase chat.", "more chat"],
        ),
        ("The end.", &["The end."]),
    ]);
}

#[test]
fn english_abbreviations() {
    check_detect(&[
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
            "We visited St. Louis last year.",
            &["We visited St. Louis last year."],
        ),
        (
            "Martin Luther King Jr. was born in Atlanta.",
            &["Martin Luther King Jr. was born in Atlanta."],
        ),
        (
            "I met Martin Luther King Jr. He spoke well.",
            &["I met Martin Luther King Jr.", "He spoke well."],
        ),
        (
            "It was Lakers vs. Celtics tonight.",
            &["It was Lakers vs. Celtics tonight."],
        ),
        (
            "I read books, e.g. Dune and Emma.",
            &["I read books, e.g. Dune and Emma."],
        ),
        (
            "Use a tool, i.e. A hammer.",
            &["Use a tool, i.e. A hammer."],
        ),
        // "etc." ends a sentence only before a capitalised word.
        (
            "Apples, pears, etc. are fruit.",
            &["Apples, pears, etc. are fruit."],
        ),
        (
            "I bought apples, pears, etc. Then I left.",
            &["I bought apples, pears, etc.", "Then I left."],
        ),
        (
            "Fig. 3 shows it. See Vol. 2 too.",
            &["Fig. 3 shows it.", "See Vol. 2 too."],
        ),
        ("Item no. 5 is sold out.", &["Item no. 5 is sold out."]),
        ("No. I will not go.", &["No.", "I will not go."]),
        (
            "Smith et al. found it. Others agreed.",
            &["Smith et al. found it.", "Others agreed."],
        ),
    ]);
}

#[test]
fn english_initials_and_dotted_words() {
    check_detect(&[
        (
            "J. R. R. Tolkien wrote books.",
            &["J. R. R. Tolkien wrote books."],
        ),
        (
            "I met John F. Kennedy once.",
            &["I met John F. Kennedy once."],
        ),
        (
            "A novel by J. K. Rowling sold well.",
            &["A novel by J. K. Rowling sold well."],
        ),
        (
            "It was written in C. Then it was ported.",
            &["It was written in C.", "Then it was ported."],
        ),
        (
            "He left. J. Smith came in.",
            &["He left.", "J. Smith came in."],
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
            "See https://example.org/a.html now.",
            &["See https://example.org/a.html now."],
        ),
        (
            "Mail bob@mail.example.org now.",
            &["Mail bob@mail.example.org now."],
        ),
        (
            "It costs $3.50 today. Cheap enough!",
            &["It costs $3.50 today.", "Cheap enough!"],
        ),
        (
            "I was born in 1999. It was cold.",
            &["I was born in 1999.", "It was cold."],
        ),
        ("1. Buy milk\n2. Call mom", &["1. Buy milk", "2. Call mom"]),
    ]);
}

#[test]
fn english_ellipses_quotes_and_lines() {
    check_detect(&[
        ("Wait... What happened?", &["Wait...", "What happened?"]),
        ("Well... maybe not.", &["Well... maybe not."]),
        ("Hmm… Not sure.", &["Hmm…", "Not sure."]),
        ("And then…", &["And then…"]),
        ("So....  Anyway, hi.", &["So....", "Anyway, hi."]),
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
            "He shouted 'Run!' and we ran.",
            &["He shouted 'Run!' and we ran."],
        ),
        ("“Go home.” He went home.", &["“Go home.”", "He went home."]),
        ("First line\nSecond line", &["First line", "Second line"]),
        ("Para one.\n\nPara two.", &["Para one.", "Para two."]),
        ("Windows\r\nline ends", &["Windows", "line ends"]),
    ]);
}

#[test]
fn chinese_and_mixed_sentences() {
    check_detect(&[
        ("你好。今天天气很好！", &["你好。", "今天天气很好！"]),
        ("你吃饭了吗？我吃了。", &["你吃饭了吗？", "我吃了。"]),
        (
            "他说：「走吧。」然后走了。",
            &["他说：「走吧。」", "然后走了。"],
        ),
        (
            "他问：“你来吗？”我说来。",
            &["他问：“你来吗？”", "我说来。"],
        ),
        ("真的吗！？太好了。", &["真的吗！？", "太好了。"]),
        ("先做这个；再做那个。", &["先做这个；", "再做那个。"]),
        ("嗯……我想想。", &["嗯……", "我想想。"]),
        ("我喜欢Python。你呢？", &["我喜欢Python。", "你呢？"]),
        (
            "Hello你好。Nice to meet you.",
            &["Hello你好。", "Nice to meet you."],
        ),
        ("I like tea. 我喜欢茶。", &["I like tea.", "我喜欢茶。"]),
        ("Great!好的。", &["Great!", "好的。"]),
        (
            "今天是2024年1月15日。天气晴。",
            &["今天是2024年1月15日。", "天气晴。"],
        ),
        ("圆周率是3.14。对吧？", &["圆周率是3.14。", "对吧？"]),
        ("（笑）好的。", &["（笑）好的。"]),
        ("没有标点的中文句子", &["没有标点的中文句子"]),
        ("第一行\n第二行", &["第一行", "第二行"]),
        (
            "こんにちは。元気ですか？",
            &["こんにちは。", "元気ですか？"],
        ),
    ]);
}

#[test]
fn long_sentences_are_cut_at_clauses() {
    let opts = SplitOptions {
        max_chars: 40,
        min_chars: 0,
        ..Default::default()
    };
    let text = "This sentence is long, it has several clauses; each one could stand alone, and it keeps going.";
    assert_eq!(
        split_with(text, &opts),
        [
            "This sentence is long,",
            "it has several clauses;",
            "each one could stand alone,",
            "and it keeps going."
        ]
    );
    // "1,234,567" is not cut at its commas.
    let numbers = "The total was 1,234,567 units and the margin was 3,456 units this year";
    let parts = split_with(numbers, &opts);
    assert!(parts.iter().any(|p| p.contains("1,234,567")), "{parts:?}");
    // No clause marks: cut at spaces.
    let words = "word ".repeat(30);
    let parts = split_with(&words, &opts);
    assert_eq!(parts.len(), 4);
    for p in &parts {
        assert!(p.chars().count() <= 40 && p.ends_with("word"), "{p:?}");
    }
    // CJK with no punctuation at all: cut anywhere, on char boundaries.
    let cjk = "字".repeat(100);
    let parts = split_with(&cjk, &opts);
    assert_eq!(parts.concat(), cjk);
    assert_eq!(
        parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
        [40, 40, 20]
    );
    // Chinese clause marks.
    let zh = "我们今天讨论的内容很多，包括天气、交通和饮食，还有明天的计划，请大家认真听讲，不要走神，谢谢大家的配合";
    let parts = split_with(
        zh,
        &SplitOptions {
            max_chars: 20,
            min_chars: 0,
            ..Default::default()
        },
    );
    assert_eq!(
        parts,
        [
            "我们今天讨论的内容很多，包括天气、",
            "交通和饮食，还有明天的计划，",
            "请大家认真听讲，不要走神，谢谢大家的配合"
        ]
    );
    // Accents stay with their letter at a hard cut.
    let accents = "e\u{301}".repeat(30);
    let parts = split_with(
        &accents,
        &SplitOptions {
            max_chars: 7,
            min_chars: 0,
            ..Default::default()
        },
    );
    assert!(parts.iter().all(|p| p.starts_with('e')), "{parts:?}");
    assert_eq!(parts.concat(), accents);
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
        ("One! Two? Three. Four.", &["One! Two?", "Three. Four."]),
        (
            "Good morning everyone. Welcome back to the show.",
            &["Good morning everyone.", "Welcome back to the show."],
        ),
        // A CJK character weighs two: short Chinese sentences stand alone.
        ("你好。今天天气很好！", &["你好。今天天气很好！"]),
        (
            "今天天气很好！我们去公园。",
            &["今天天气很好！", "我们去公园。"],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(split(text), *want, "input {text:?}");
    }
    // A merge never makes a sentence longer than max_chars.
    let opts = SplitOptions {
        max_chars: 14,
        min_chars: 8,
        ..Default::default()
    };
    assert_eq!(
        split_with("Ok. A longer one.", &opts),
        ["Ok.", "A longer one."]
    );
}

#[test]
fn the_first_chunk_can_be_short() {
    let opts = SplitOptions {
        short_first: true,
        first_max_chars: 30,
        ..Default::default()
    };
    let text =
        "When the weather is good, we walk along the river, and then we rest. Then we go home.";
    assert_eq!(
        split_with(text, &opts),
        [
            "When the weather is good,",
            "we walk along the river, and then we rest.",
            "Then we go home."
        ]
    );
    // The first clause, not the last one under the target.
    let text = "Well, you see, the thing is that nobody knew where it went.";
    assert_eq!(
        split_with(text, &opts)[0],
        "Well, you see,",
        "{:?}",
        split_with(text, &opts)
    );
    // No clause mark: a space.
    let text = "The quick brown fox jumps over the lazy dog again and again.";
    assert_eq!(split_with(text, &opts)[0], "The quick brown fox jumps over");
    // Already short: unchanged.
    assert_eq!(
        split_with("Short one. Another.", &opts),
        split("Short one. Another.")
    );
    // A cut that would leave a scrap is not made.
    let text = "This sentence is just over thirty.";
    assert_eq!(split_with(text, &opts), [text]);
    // Off by default.
    let long = "When the weather is good, we walk along the river, and then we rest.";
    assert_eq!(split(long), [long]);
}

fn check_normalize(f: fn(&str) -> String, cases: &[(&str, &str)]) {
    for (input, want) in cases {
        assert_eq!(f(input), *want, "input {input:?}");
    }
}

#[test]
fn english_numbers() {
    check_normalize(
        normalize_en,
        &[
            ("I have 3 apples.", "I have three apples."),
            (
                "There were 1,234,567 people.",
                "There were one million two hundred thirty-four thousand five hundred sixty-seven people.",
            ),
            ("It is 0 degrees.", "It is zero degrees."),
            ("Pi is 3.14.", "Pi is three point one four."),
            ("About .5 of it.", "About point five of it."),
            ("It fell to -5 today.", "It fell to minus five today."),
            ("It was −3.5 outside.", "It was minus three point five outside."),
            ("The 1st and 2nd place.", "The first and second place."),
            ("Her 23rd birthday.", "Her twenty-third birthday."),
            ("The 101st time.", "The one hundred first time."),
            ("The 12th man.", "The twelfth man."),
            ("Pages 10-20.", "Pages ten to twenty."),
            ("From 1990-1995 it grew.", "From nineteen ninety to nineteen ninety-five it grew."),
            ("Agent 007 here.", "Agent zero zero seven here."),
            ("Order 123456789 shipped.", "Order one two three four five six seven eight nine shipped."),
            ("Play mp3 files.", "Play mp three files."),
            ("Version 2.0.1 is out.", "Version two point zero point one is out."),
            ("Add 1/2 cup.", "Add one half cup."),
            ("Add 3/4 cup.", "Add three quarters cup."),
            ("Open 24/7.", "Open twenty-four seven."),
            ("About 1½ hours.", "About one and a half hours."),
            ("It is ~5 km.", "It is about five km."),
            ("Room #5 please.", "Room number five please."),
            ("Ask for No. 7 now.", "Ask for number seven now."),
            ("A 2:1 ratio.", "A two to one ratio."),
            ("Ping 192.168.1.1 now.", "Ping one hundred ninety-two dot one hundred sixty-eight dot one dot one now."),
            ("Plain words stay.", "Plain words stay."),
        ],
    );
}

#[test]
fn english_money_and_percent() {
    check_normalize(
        normalize_en,
        &[
            ("It costs $5.", "It costs five dollars."),
            ("Only $1.", "Only one dollar."),
            ("It costs $3.50.", "It costs three dollars and fifty cents."),
            ("Just $0.99 each.", "Just ninety-nine cents each."),
            ("It was $5.00 flat.", "It was five dollars flat."),
            (
                "Raised $1.2 million.",
                "Raised one point two million dollars.",
            ),
            ("Paid $5k.", "Paid five thousand dollars."),
            ("It cost $1,000,000.", "It cost one million dollars."),
            ("Pay £20 now.", "Pay twenty pounds now."),
            (
                "That is €9.99.",
                "That is nine euros and ninety-nine cents.",
            ),
            ("It is 5€ each.", "It is five euros each."),
            ("Price ¥500.", "Price five hundred yen."),
            ("Lost -$20 today.", "Lost minus twenty dollars today."),
            (
                "Now $999, or less.",
                "Now nine hundred ninety-nine dollars, or less.",
            ),
            ("Only €3,50 each.", "Only three euros and fifty cents each."),
            ("Only 50¢.", "Only fifty cents."),
            ("Up 50% today.", "Up fifty percent today."),
            ("A 3.5% rate.", "A three point five percent rate."),
            ("Down -2% now.", "Down minus two percent now."),
        ],
    );
}

#[test]
fn english_times_and_dates() {
    check_normalize(
        normalize_en,
        &[
            ("Meet at 3:30.", "Meet at three thirty."),
            ("Meet at 10:05 a.m.", "Meet at ten oh five a.m."),
            ("Meet at 10:30 PM today.", "Meet at ten thirty p.m. today."),
            ("Leave at 3 p.m.", "Leave at three p.m."),
            ("Leave at 7pm.", "Leave at seven p.m."),
            ("Meet at 9:30am today.", "Meet at nine thirty a.m. today."),
            ("At 14:00 sharp.", "At fourteen hundred sharp."),
            ("At 9:00.", "At nine o'clock."),
            ("It took 1:02:03.", "It took one oh two and three seconds."),
            (
                "Score 25:99 is odd.",
                "Score twenty-five to ninety-nine is odd.",
            ),
            (
                "Born on 2024-01-15.",
                "Born on January fifteenth, twenty twenty-four.",
            ),
            (
                "Due 1/15/2024.",
                "Due January fifteenth, twenty twenty-four.",
            ),
            (
                "Due 15/1/2024.",
                "Due January fifteenth, twenty twenty-four.",
            ),
            (
                "Due 15.01.2024.",
                "Due January fifteenth, twenty twenty-four.",
            ),
            (
                "On January 5, 2024 we met.",
                "On January fifth, twenty twenty-four we met.",
            ),
            ("On Dec. 25 we rest.", "On December twenty-fifth we rest."),
            (
                "On 3 March 2020 it began.",
                "On the third of March, twenty twenty it began.",
            ),
            ("On the 4th of July.", "On the fourth of July."),
            (
                "Date 2024-13-45 is wrong.",
                "Date two thousand twenty-four-thirteen-forty-five is wrong.",
            ),
            ("In 1999 we met.", "In nineteen ninety-nine we met."),
            ("Since 2005, it grew.", "Since two thousand five, it grew."),
            ("By 2024 it was done.", "By twenty twenty-four it was done."),
            ("In 1905 it began.", "In nineteen oh five it began."),
            ("In 1900 it ended.", "In nineteen hundred it ended."),
            ("In 2000 it ended.", "In two thousand it ended."),
            ("The 1990s were fun.", "The nineteen nineties were fun."),
            ("The '80s were loud.", "The eighties were loud."),
            ("Built 500 BC.", "Built five hundred BC."),
            (
                "He sold 1999 cars.",
                "He sold one thousand nine hundred ninety-nine cars.",
            ),
        ],
    );
}

#[test]
fn english_symbols_and_phones() {
    check_normalize(
        normalize_en,
        &[
            ("Salt & pepper.", "Salt and pepper."),
            ("We do R&D.", "We do R and D."),
            ("Mail bob@example.com now.", "Mail bob at example.com now."),
            ("2 + 2 = 4", "two plus two equals four"),
            ("1+1=2", "one plus one equals two"),
            ("3×4 is 12.", "three times four is twelve."),
            ("2*4 is 8, *really*.", "two times four is eight, *really*."),
            (
                "It is 20°C outside.",
                "It is twenty degrees Celsius outside.",
            ),
            (
                "It is 68 °F outside.",
                "It is sixty-eight degrees Fahrenheit outside.",
            ),
            ("Turn 90° left.", "Turn ninety degrees left."),
            ("Call 555-1234.", "Call five five five, one two three four."),
            (
                "Call (555) 123-4567 now.",
                "Call five five five, one two three, four five six seven now.",
            ),
            (
                "Call +1 555 123 4567 now.",
                "Call plus one, five five five, one two three, four five six seven now.",
            ),
            (
                "Pages 100-1000 matter.",
                "Pages one hundred to one thousand matter.",
            ),
            ("Keep  two  spaces & more.", "Keep  two  spaces and more."),
            ("C++ and C# stay.", "C++ and C# stay."),
            ("It is ٣ here.", "It is ٣ here."),
        ],
    );
    assert_eq!(
        normalize("I have 2 cats.", Language::English),
        "I have two cats."
    );
}

#[test]
fn chinese_numbers() {
    check_normalize(
        normalize_zh,
        &[
            ("我有1234个苹果", "我有一千二百三十四个苹果"),
            ("他10岁了", "他十岁了"),
            ("15个人", "十五个人"),
            ("110号", "一百一十号"),
            ("1005米", "一千零五米"),
            ("人口100000", "人口十万"),
            ("10010元", "一万零一十元"),
            ("20000步", "两万步"),
            ("走了2000米", "走了两千米"),
            ("12000人", "一万两千人"),
            ("共1,234,567人", "共一百二十三万四千五百六十七人"),
            ("我有2个苹果", "我有两个苹果"),
            ("第2个", "第二个"),
            ("读2年级", "读二年级"),
            ("圆周率3.14", "圆周率三点一四"),
            ("气温-5度", "气温零下五度"),
            ("亏损-300", "亏损负三百"),
            ("3-5个", "三到五个"),
            ("3/4的人", "四分之三的人"),
            ("1+1=2", "一加一等于二"),
            ("比分3:2", "比分三比二"),
            ("版本1.2.3", "版本一点二点三"),
            ("共１２３个", "共一百二十三个"),
            ("没有数字", "没有数字"),
        ],
    );
}

#[test]
fn chinese_dates_times_money() {
    check_normalize(
        normalize_zh,
        &[
            ("2024年", "二零二四年"),
            ("1999年到2005年", "一九九九年到二零零五年"),
            ("2020-2024年", "二零二零到二零二四年"),
            ("工作了10年", "工作了十年"),
            ("2024年1月15日", "二零二四年一月十五日"),
            ("2024-01-15", "二零二四年一月十五日"),
            ("2024/1/15出发", "二零二四年一月十五日出发"),
            ("2024年1月15号", "二零二四年一月十五号"),
            ("3月8号", "三月八号"),
            ("现在10:30", "现在十点三十分"),
            ("早上8:05", "早上八点零五分"),
            ("12:00开会", "十二点开会"),
            ("下午2:00见", "下午两点见"),
            ("营业9:00-17:00", "营业九点到十七点"),
            ("90后和00后", "九零后和零零后"),
            ("用时1:02:03", "用时一点零二分三秒"),
            ("涨了50%", "涨了百分之五十"),
            ("利率3.5%", "利率百分之三点五"),
            ("跌了-2%", "跌了百分之负二"),
            ("价格¥100", "价格一百元"),
            ("只要￥3.50", "只要三点五元"),
            ("一共100元", "一共一百元"),
            ("花了$5", "花了五美元"),
            ("赚了¥5万", "赚了五万元"),
            ("气温-5℃", "气温零下五摄氏度"),
            ("体温37.5°C", "体温三十七点五摄氏度"),
        ],
    );
}

#[test]
fn chinese_codes_digit_by_digit() {
    check_normalize(
        normalize_zh,
        &[
            ("电话13812345678", "电话一三八一二三四五六七八"),
            ("电话138-1234-5678", "电话一三八 一二三四 五六七八"),
            ("座机010-12345678", "座机零一零 一二三四五六七八"),
            ("QQ号12345678", "QQ号一二三四五六七八"),
            (
                "身份证110105194912310021",
                "身份证一一零一零五一九四九一二三一零零二一",
            ),
            ("投资了12345678元", "投资了一千二百三十四万五千六百七十八元"),
            ("人口14000000", "人口一千四百万"),
            ("编号007", "编号零零七"),
        ],
    );
    assert_eq!(normalize("共3个", Language::Chinese), "共三个");
    assert_eq!(normalize("Es ist 3 Uhr.", Language::Other), "Es ist 3 Uhr.");
}

#[test]
fn language_codes() {
    for code in ["en", "en_US", "en-us", "en-gb-x-rp", "EN"] {
        assert_eq!(Language::from_code(code), Language::English, "{code}");
    }
    for code in ["zh", "zh_CN", "cmn", "yue", "zh-yue"] {
        assert_eq!(Language::from_code(code), Language::Chinese, "{code}");
    }
    for code in ["de", "fr_FR", "", "english"] {
        assert_eq!(Language::from_code(code), Language::Other, "{code}");
    }
    assert_eq!(Language::default(), Language::English);
}

/// English number words back to the number: an independent check of
/// [`cardinal`]'s readings.
fn parse_en_words(words: &str) -> u64 {
    const SMALL: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    const SCALES: [&str; 5] = ["thousand", "million", "billion", "trillion", "quadrillion"];
    let (mut total, mut current) = (0u64, 0u64);
    for w in words.split([' ', '-']) {
        if w == "hundred" {
            current *= 100;
        } else if let Some(i) = SCALES.iter().position(|s| *s == w) {
            total += current * 1000u64.pow(i as u32 + 1);
            current = 0;
        } else if let Some(i) = TENS.iter().position(|s| *s == w) {
            current += 20 + 10 * i as u64;
        } else {
            current += SMALL.iter().position(|s| *s == w).expect(w) as u64;
        }
    }
    total + current
}

/// Chinese numerals back to the number: an independent check of
/// [`cardinal_zh`]'s readings.
fn parse_zh_numeral(s: &str) -> u64 {
    let (mut total, mut section, mut digit) = (0u64, 0u64, 0u64);
    for c in s.chars() {
        match c {
            '零' => digit = 0,
            '两' => digit = 2,
            '十' => {
                section += digit.max(1) * 10;
                digit = 0;
            }
            '百' | '千' => {
                section += digit * if c == '百' { 100 } else { 1000 };
                digit = 0;
            }
            '万' | '亿' | '兆' => {
                let unit = match c {
                    '万' => 1_0000,
                    '亿' => 1_0000_0000,
                    _ => 1_0000_0000_0000,
                };
                total += (section + digit) * unit;
                section = 0;
                digit = 0;
            }
            _ => {
                digit = "零一二三四五六七八九"
                    .chars()
                    .position(|d| d == c)
                    .expect("a digit") as u64
            }
        }
    }
    total + section + digit
}

#[test]
fn numerals_read_back_to_their_value() {
    use ishowtts::text::normalize::en::cardinal;
    use ishowtts::text::normalize::zh::cardinal_zh;
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let random = (0..20_000).map(|_| match rng.below(3) {
        0 => rng.next() % 1_000_000_000_000_000_000,
        1 => rng.next() % 10_000_000_000_000_000,
        _ => rng.next() % 100_000_000,
    });
    for n in (0..=100_000).chain(random) {
        let en = cardinal(n);
        assert_eq!(parse_en_words(&en), n, "{n}: {en}");
        if n < 10_000_000_000_000_000 {
            let zh = cardinal_zh(n);
            assert_eq!(parse_zh_numeral(&zh), n, "{n}: {zh}");
            // Said as a reader says it: one 零 for a run of zeros, none at
            // the end, no 一十 at the start, 两 only before 千 万 亿 兆.
            assert!(
                !zh.contains("零零") && (n == 0 || !zh.ends_with('零')),
                "{n}: {zh}"
            );
            assert!(!zh.starts_with("一十"), "{n}: {zh}");
            let chars: Vec<char> = zh.chars().collect();
            for (i, &c) in chars.iter().enumerate() {
                if c == '两' {
                    assert!(
                        matches!(chars.get(i + 1), Some('千' | '万' | '亿' | '兆')),
                        "{n}: {zh}"
                    );
                }
            }
        }
    }
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

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `len` pieces from `alphabet`, or any char at all one time in eight.
    fn text(&mut self, alphabet: &[&str], len: usize) -> String {
        (0..len)
            .map(|_| {
                if self.below(8) == 0 {
                    char::from_u32(self.below(0x11_0000) as u32)
                        .unwrap_or('\u{FFFD}')
                        .to_string()
                } else {
                    alphabet[self.below(alphabet.len())].to_owned()
                }
            })
            .collect()
    }
}

const ALPHABET: &[&str] = &[
    "a", "B", " ", " ", "\n", "\r", ".", ".", "!", "?", "…", "。", "！", "？", "；", "，", ",",
    ";", ":", "\"", "”", "」", "(", ")", "'", "1", "9", "0", "2", "$", "%", "-", "−", "/", "+",
    "=", "你", "好", "😀", "\u{7}", "é", "e\u{301}", "\u{200D}", "Dr", "U.S.", "e.g.", "p.m.", "J",
    "¥", "€", "£", "#", "&", "@", "°", "℃", "\t", "１", "：", "½", "٣", " the ", "年", "月", "日",
    "点",
];

#[test]
fn split_invariants_over_random_text() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let len = rng.below(80);
        let text = rng.text(ALPHABET, len);
        let opts = SplitOptions {
            max_chars: 1 + rng.below(40),
            min_chars: rng.below(10),
            short_first: round % 2 == 0,
            first_max_chars: 1 + rng.below(30),
        };
        let spans = split_sentences(&text, &opts);
        let mut covered = 0;
        let mut prev_end = 0;
        for r in &spans {
            assert!(r.start >= prev_end && r.start < r.end, "{text:?} {spans:?}");
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            let s = &text[r.clone()];
            assert_eq!(s, s.trim(), "{text:?}: {s:?} not trimmed");
            assert!(s.chars().count() <= opts.max_chars, "{s:?} {opts:?}");
            covered += s.chars().filter(|c| !c.is_whitespace()).count();
            prev_end = r.end;
        }
        let total = text.chars().filter(|c| !c.is_whitespace()).count();
        assert_eq!(covered, total, "{text:?} {spans:?}");
    }
}

#[test]
fn normalize_invariants_over_random_text() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    // Text without digits or handled symbols.
    let plain: &[&str] = &[
        "a", "Z", " ", "\n", ".", "!", "?", "。", "你", "好", "é", "😀", ",", "-", "/", ":", "'",
        "“", "e\u{301}", "\t", "*", "٣",
    ];
    for _ in 0..2000 {
        let len = rng.below(60);
        let text = rng.text(ALPHABET, len);
        for lang in [Language::English, Language::Chinese] {
            let out = normalize(&text, lang);
            // Every ASCII digit (and, for Chinese, full-width one) is read.
            assert!(
                !out.chars()
                    .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c)),
                "{lang:?} {text:?} -> {out:?}"
            );
        }
        assert_eq!(normalize(&text, Language::Other), text);
        let len = rng.below(60);
        let words: String = (0..len).map(|_| plain[rng.below(plain.len())]).collect();
        for lang in [Language::English, Language::Chinese, Language::Other] {
            assert_eq!(normalize(&words, lang), words, "{lang:?}");
        }
    }
}

/// Splits `text` and checks it took well under the limit even in a debug
/// build: the splitter must stay linear whatever the input looks like.
fn split_quickly(text: &str, opts: &SplitOptions) -> Vec<std::ops::Range<usize>> {
    let t = Instant::now();
    let spans = split_sentences(text, opts);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{took:?} for {} bytes starting {:?}",
        text.len(),
        &text[..text.floor_char_boundary(40)]
    );
    spans
}

#[test]
fn megabytes_split_quickly() {
    let prose = "The quick brown fox jumps over the lazy dog at 3 p.m. today. ".repeat(35_000);
    assert!(prose.len() > 2_000_000);
    let spans = split_quickly(&prose, &SplitOptions::default());
    assert_eq!(spans.len(), 35_000);
    assert_eq!(
        normalize(&prose[spans[0].clone()], Language::English),
        "The quick brown fox jumps over the lazy dog at three p.m. today."
    );
    let opts = SplitOptions::default();
    let run_on = "word ".repeat(420_000);
    let spans = split_quickly(&run_on, &opts);
    assert!(spans.iter().all(|r| run_on[r.clone()].len() <= 300));
    let cjk = "字".repeat(700_000);
    assert_eq!(split_quickly(&cjk, &opts).len(), 700_000 / 300 + 1);
}

/// Inputs that would make a naive scanner quadratic: a quarter megabyte
/// each, which takes milliseconds when linear and minutes when not.
#[test]
fn adversarial_input_splits_quickly() {
    const N: usize = 1 << 18;
    let opts = SplitOptions::default();
    let dots = format!("{}and more", ".".repeat(N));
    // No space anywhere: only max_chars cuts it.
    assert_eq!(split_quickly(&dots, &opts).len(), (N + 8).div_ceil(300));
    let bangs = "!a".repeat(N / 2);
    assert_eq!(split_quickly(&bangs, &opts).len(), N.div_ceil(300));
    let closers = "a.)".repeat(N / 3);
    split_quickly(&closers, &opts);
    let initials = "A. ".repeat(N / 3);
    split_quickly(&initials, &opts);
    let spaces = format!("Hi.{}There.", " ".repeat(N));
    assert_eq!(split_quickly(&spaces, &opts).len(), 2);
    let accents = "e\u{301}".repeat(N / 3);
    split_quickly(&accents, &opts);
    let long_word = format!("A. {}", "x".repeat(N));
    split_quickly(&long_word, &opts);
    let short = "Hi. ".repeat(N / 4);
    split_quickly(
        &short,
        &SplitOptions {
            min_chars: 1_000_000,
            short_first: true,
            ..Default::default()
        },
    );
}

#[test]
fn normalization_is_linear() {
    let en = "On 2024-01-15 at 10:30 a.m. we paid $3.50 for 2 items, 50% off. ".repeat(16_000);
    let t = Instant::now();
    let out = normalize_en(&en);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!out.contains(|c: char| c.is_ascii_digit()));
    let zh = "2024年1月15日10:30，我们花了¥3.50买了2个苹果，打了50%的折。".repeat(16_000);
    let t = Instant::now();
    let out = normalize_zh(&zh);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!out.contains(|c: char| c.is_ascii_digit()));
}
