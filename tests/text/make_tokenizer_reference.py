#!/usr/bin/python3
"""SentencePiece oracle for llmtune's tokenizers (Llama-2 and Mistral v1).

Writes, deterministically (fixed seed, no dependence on time, locale or hash order):

  OUT/corpus.jsonl    {"text": ..., "category": ...}: the test strings (SQL data, English,
                      whitespace, numbers, many scripts, emoji, byte-fallback characters,
                      special-token look-alikes, long strings, random mixtures)
  OUT/llama2.jsonl    per corpus line, in order: {"ids", "pieces", "decoded", "roundtrip"}
  OUT/mistral.jsonl   the same for the Mistral tokenizer
                      ids      = SentencePieceProcessor.encode(text)  (no BOS/EOS)
                      pieces   = id_to_piece(id) for each id
                      decoded  = decode(ids);  roundtrip = (decoded == text)
  OUT/special.jsonl   {"text", "ids_llama2", "ids_mistral"}: Hugging Face *legacy* Llama/Mistral
                      behaviour when special tokens in the text are parsed, without the BOS that
                      add_special_tokens=True would add: the text is split on "<s>", "</s>",
                      "<unk>" (left to right, longest first), every non-empty other segment is
                      encoded on its own with SentencePiece (so each gets the dummy prefix "▁"),
                      and the special ids are emitted in between.

Only Debian's python3 with python3-sentencepiece and the standard library.

usage: /usr/bin/python3 tests/text/make_tokenizer_reference.py --shared SHARED_DIR --out OUT_DIR
"""
import argparse
import collections
import json
import os
import random
import sys
import time
import unicodedata

import sentencepiece as spm

SEED = 20240611

# --------------------------------------------------------------------------------------------
# Text pools
# --------------------------------------------------------------------------------------------

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world!",
    "Hello world",
    "hello",
    "Hello",
    "HELLO",
    "I can't believe it's already Friday.",
    "We're going to the park, and they've said they'll come too.",
    "She'd have known if he'd told her; I'm sure of it.",
    "DON'T SHOUT. I'M RIGHT HERE. IT'S FINE, WE'LL MANAGE, THEY'VE GONE.",
    "O'Brien's dog ate Mr. O'Neil's sandwich.",
    "Rock 'n' roll isn't dead, y'all.",
    "The year 1999 was followed by 2000, not 19100.",
    "Please find attached the Q3 report (draft v2.1).",
    "e.g. this, i.e. that, etc. -- and so on...",
    "What's the capital of France? Paris, of course!",
    "A man, a plan, a canal: Panama.",
    "To be, or not to be: that is the question.",
    "It was the best of times, it was the worst of times.",
    "Call me Ishmael.",
    "Send an e-mail to john.doe@example.com or visit https://example.com/path?q=1&r=2#frag.",
    "The function returns None when the list is empty.",
    "def square(x):\n    return x ** 2\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "if (a != b && c >= d || !e) { return -1; }",
    "{\"key\": \"value\", \"list\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "# Heading\n\n* item one\n* item two\n\n```python\nprint('hi')\n```",
    "He said, \"Stop!\" -- and then he left.",
    "Prices rose 3.5% in March; analysts expected 2.9%.",
    "The meeting is at 10:30 a.m. on 2024-03-15.",
    "Temperature: -40 degrees (both C and F).",
    "Multiple   spaces   between   words.",
    "Tabs\tbetween\twords.",
    "Trailing space ",
    " Leading space",
    "  Two leading and two trailing  ",
    "Ends with a newline\n",
    "\nStarts with a newline",
    "Line one\nLine two\nLine three",
    "Windows\r\nline\r\nendings\r\n",
    "Mixed\n\r\n\rline endings",
    "ALL CAPS SENTENCE WITH NUMBERS 123 AND SYMBOLS #@!",
    "camelCaseIdentifier and snake_case_identifier and kebab-case-identifier",
    "TheQuickBrownFox",
    "supercalifragilisticexpialidocious",
    "antidisestablishmentarianism",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word.",
    "I'll've done it by then, shouldn't I?",
    "It's 'quoted' and \"double quoted\" and `backticked`.",
    "Wait... what?!",
    "Semicolons; colons: dashes - and en-dashes – and em-dashes —.",
    "The list: apples, oranges, pears, and plums.",
    "Question marks??? Exclamation marks!!!",
    "(parenthetical) [bracketed] {braced} <angled>",
    "a",
    "I",
    "x y z",
    "A B C D E F G",
    "one two three four five six seven eight nine ten",
    "Numbers like 1, 22, 333, 4444 and 55555 are split into digits.",
    "The total was $1,234,567.89 (USD).",
    "user@host:~$ ls -la /usr/local/bin | grep python",
    "C:\\Program Files\\App\\app.exe --flag=value",
    "SELECT is also an English word: select the best option.",
    "New York, N.Y.; Washington, D.C.; St. Louis, Mo.",
    "Hyphenated-word, well-known, state-of-the-art, mother-in-law.",
    "Ellipsis… and typographic ‘quotes’ and “double quotes”.",
    "Copyright © 2024, Trademark ™, Registered ®.",
    "5 × 3 = 15; 10 ÷ 2 = 5; ±1; ≠; ≤; ≥; ∞.",
    "Section § 3, paragraph ¶ 2, dagger †.",
    "Bullet • point, middle · dot.",
]

ENGLISH_WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from "
    "or one had by word but not what all were we when your can said there use an each which she "
    "do how their if will up other about out many then them these so some her would make like him "
    "into time has look two more write go see number no way could people my than first water been "
    "call who oil its now find long down day did get come made may part table query select count "
    "average maximum name state school year team player score city country record"
).split()

GREEK = ["Η γρήγορη καφέ αλεπού πηδά πάνω από το τεμπέλικο σκυλί.", "Καλημέρα κόσμε",
         "αβγδεζηθικλμνξοπρστυφχψω ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ", "ἀρχὴ ἥμισυ παντός"]
CYRILLIC = ["Съешь же ещё этих мягких французских булок, да выпей чаю.", "Привет, мир!",
            "Ёжик в тумане", "Україна, Беларусь, Србија, България", "МОСКВА москва"]
CJK = ["我能吞下玻璃而不伤身体。", "你好，世界！", "中华人民共和国", "漢字と仮名", "机器学习模型的微调",
       "数据库查询语句：选择所有列", "繁體中文測試", "一二三四五六七八九十"]
KANA = ["いろはにほへと ちりぬるを わかよたれそ つねならむ", "カタカナとひらがな", "こんにちは、世界！",
        "トークナイザーのテスト", "ｶﾀｶﾅ(半角)", "東京都渋谷区"]
KOREAN = ["다람쥐 헌 쳇바퀴에 타고파", "안녕하세요, 세계!", "한국어 토크나이저 테스트", "ㄱㄴㄷㄹㅁㅂㅅ"]
ARABIC = ["نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر", "مرحبا بالعالم",
          "السلام عليكم", "العدد ١٢٣٤٥٦٧٨٩٠"]
HEBREW = ["שלום עולם", "עברית מימין לשמאל"]
INDIC = ["नमस्ते दुनिया", "हिन्दी भाषा", "বাংলা ভাষা", "தமிழ் மொழி"]
THAI = ["สวัสดีชาวโลก", "ภาษาไทยไม่มีช่องว่างระหว่างคำ"]
LATIN_ACCENTS = [
    "Größe, Straße, Übermäßig, öffentlich", "déjà vu, naïve façade, crème brûlée, œuvre, cœur",
    "¿Qué tal? ¡Olé! Año, niño, señor", "Zażółć gęślą jaźń", "Příliš žluťoučký kůň úpěl ďábelské ódy",
    "İstanbul, ıi, Iı, ŞşĞğ", "Þú ert ðað, Æsir, Ørsted, Ångström", "Tiếng Việt có dấu: người, được, những",
    "café résumé fiancée", "ÀÁÂÃÄÅ àáâãäå ÈÉÊË èéêë ÌÍÎÏ ìíîï ÒÓÔÕÖ òóôõö ÙÚÛÜ ùúûü Ññ Çç",
    "Ǆ ǅ ǆ ﬁ ﬂ", "Ω Å K (ohm, angstrom, kelvin signs)",
]
MISC_SYMBOLS = [
    "∀x∈ℝ: x²≥0", "E = mc²", "H₂O and CO₂", "½ ¼ ¾ ⅓", "Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ", "①②③", "ＡＢＣ１２３ｘｙｚ",
    "→ ← ↑ ↓ ⇒ ⇔", "♠ ♣ ♥ ♦", "★☆✓✗", "€100 £50 ¥1000 ₹500 ₿1", "°C °F", "«guillemets» „Anführungszeichen“",
    "١٢٣ ४५६ ໑໒໓ ১২৩", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕳𝖊𝖑𝖑𝖔 𝟙𝟚𝟛", "ℕ ℤ ℚ ℝ ℂ", "…‥", "‰ ′ ″",
]
EMOJI = [
    "😀", "😂🤣😊", "👍", "👍🏻👍🏼👍🏽👍🏾👍🏿", "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏿‍💻", "🏳️‍🌈", "🏴‍☠️", "🇺🇸🇯🇵🇩🇪🇫🇷🇬🇧",
    "🇺🇸", "❤️", "❤", "1️⃣ 2️⃣ #️⃣", "✌️", "☕", "🎉 Party time! 🎉", "I ❤️ SQL 🚀", "👋🏽 hi",
    "🤷‍♀️", "🙆🏽‍♂️", "🫠", "😀😀😀😀😀", "🐍 + 🦀 = 💡",
]
BYTE_FALLBACK = [
    "𠀀", "𠀁𠀂", "𪚥", "𡨸漢", "𠜎𠜱𠝹𠱓", "\ue000", "\ue000\ue001\uf8ff", "\U0010ffff", "\U000f0000",
    "\U0010fffd", "\x01", "\x00", "a\x00b", "\x1b[31mred\x1b[0m", "\x7f", "\x80\x85\x9f",
    "\ufeff", "\ufeffBOM at start", "BOM\ufeffinside", "\u200b", "zero\u200bwidth\u200cnon\u200djoiner",
    "\u2060word joiner", "\ufffd", "\ufffe\uffff", "𝄞 music", "\U0001f9ff", "\u0301", "\u0301\u0302\u0303",
    "\x08\x07\x06", "\x1c\x1d\x1e\x1f", "\x0b\x0c", "\u00ad soft hyphen", "\u061c\u200e\u200f marks",
    "\U000e0041\U000e0042 tags", "ꙮ", "\u1680ogham space", "\U00020000\U0002a6d6\U0002b734",
]
SPECIAL_LITERALS = [
    "<s>", "</s>", "<unk>", "<s></s>", "<s> </s>", "<s><s>", "</s></s>", "<s>hello</s>", "Hello <s>.",
    "Hello <s>. How are you</s>", "<s>[INST] Hello [/INST]Hi</s>", "<s>[INST] Hello [/INST]",
    "<s> [INST] Hello [/INST] Fine</s>", "[INST]", "[/INST]", "[INST] Hello [/INST]", "[/INST]Hi</s>",
    "<|im_start|>", "<|im_end|>", "<|im_start|>user\nhi<|im_end|>\n", "▁", "▁▁", "▁▁▁", "a▁b", "▁hello",
    "hello▁", "▁ ▁", " ▁", "<<s>>", "<s", "s>", "</s", "<unk", "<UNK>", "< s >", "</ s>", "<s >",
    "<<unk>>", "<unk><unk>", "x<unk>y", "<s></s><unk>", "</s><s>", "<</s>", "<s>>", "<|begin_of_text|>",
    "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|begin_of_text|><|begin_of_text|>", "<|eot_id|><|start_header_id|>", "<|begin_of_text",
    "<0x41>", "<0x0A>", "<pad>", "[SQL] SELECT 1 [/SQL]", "<|user|>\nQ</s>\n<|assistant|>\nA</s>\n",
    "<<SYS>>\nYou are helpful.\n<</SYS>>\n\n", "</s>\n", "\n<s>", " <s> ", "  </s>  ", "<s>\n</s>",
]
WHITESPACE = [
    "", " ", "  ", "   ", "    ", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r", "\t", "\t\t", " \t \n ",
    "a  b", "a   b", "  leading", "trailing  ", "  both  ", "a\tb", "a\nb", "a\r\nb", "a \n b",
    "line1\r\nline2\r\n", "\n  indented\n    more", " \n", "\n ", "  \n  ", "\t\n\t", "\u00a0", "a\u00a0b",
    "\u3000", "全角\u3000スペース", "\u2028\u2029", "\u2003em\u2002en\u2009thin", "\x0b", "\x0c",
    "\x85next line", "\u202fnarrow", " \u00a0 ", "\n\t\r\n \r",
]


def number_strings(rng):
    out = ["0", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
           "3.14159", "-42", "+7", "1e10", "6.022e23", "1,234,567.89", "2024-01-15", "10:30:00",
           "0x1F", "0b1010", "$1,000", "99%", "v1.2.3", "192.168.0.1", "+1 (555) 123-4567",
           "007", "000000", "1/2", "3rd 2nd 1st 4th", "1.0.0-beta+exp.sha.5114f85", "١٢٣", "１２３",
           "π ≈ 3.141592653589793238462643383279", "2^64 = 18446744073709551616"]
    for _ in range(70):
        n = rng.randint(1, 40)
        s = "".join(rng.choice("0123456789") for _ in range(n))
        if rng.random() < 0.3:
            s = " " + s
        if rng.random() < 0.3:
            s = s + rng.choice([" apples", ".", ",", "%", " items", "\n"])
        out.append(s)
    return out


def emoji_extra(rng):
    base = ["😀", "👍", "👋", "🧑", "👩", "👨", "🙆"]
    tones = ["", "\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff"]
    flags = ["🇺🇸", "🇯🇵", "🇩🇪", "🇫🇷", "🇧🇷", "🇮🇳", "🇰🇷"]
    out = []
    for _ in range(50):
        k = rng.randint(1, 4)
        parts = []
        for _ in range(k):
            r = rng.random()
            if r < 0.4:
                parts.append(rng.choice(base) + rng.choice(tones))
            elif r < 0.6:
                parts.append(rng.choice(flags))
            elif r < 0.8:
                parts.append("👨‍👩‍👧‍👦" if rng.random() < 0.5 else "👩\u200d💻")
            else:
                parts.append(rng.choice(EMOJI))
        out.append(rng.choice(["", " ", "Hi "]).join(parts) if rng.random() < 0.5 else " ".join(parts))
    return out


def english_generated(rng, n):
    out = []
    for _ in range(n):
        k = rng.randint(3, 18)
        words = [rng.choice(ENGLISH_WORDS) for _ in range(k)]
        words[0] = words[0].capitalize()
        s = " ".join(words) + rng.choice([".", "?", "!", "", ",", ";"])
        out.append(s)
    return out


def scripts_and_nfd(rng):
    """Every script sample in NFC and NFD form (when they differ), plus mixtures."""
    pools = GREEK + CYRILLIC + CJK + KANA + KOREAN + ARABIC + HEBREW + INDIC + THAI + LATIN_ACCENTS
    out = []
    for s in pools:
        nfc = unicodedata.normalize("NFC", s)
        nfd = unicodedata.normalize("NFD", s)
        out.append((s, "unicode_nfc" if s == nfc else "unicode"))
        if nfc != s:
            out.append((nfc, "unicode_nfc"))
        if nfd != nfc:
            out.append((nfd, "unicode_nfd"))
    for s in MISC_SYMBOLS:
        out.append((s, "unicode_symbols"))
    for _ in range(60):
        parts = rng.sample(pools, rng.randint(2, 4))
        s = rng.choice([" ", "", "\n", ", "]).join(parts)
        if rng.random() < 0.5:
            s = unicodedata.normalize("NFD", s)
            out.append((s, "unicode_nfd"))
        else:
            out.append((s, "unicode_nfc" if s == unicodedata.normalize("NFC", s) else "unicode"))
    return out


def byte_fallback_extra(rng):
    chars = [chr(c) for c in (list(range(0x01, 0x09)) + [0x0e, 0x0f, 0x10, 0x1b, 0x7f, 0x80, 0x9f])]
    chars += ["\ue000", "\uf8ff", "\U0010ffff", "\U000f0000", "\ufeff", "\U00020000", "\U0002a6d6",
              "\U00023456", "\U0002000b", "\u200b", "\ufffd", "𝄞"]
    out = []
    for _ in range(50):
        s = ""
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.5:
                s += rng.choice(chars)
            elif r < 0.8:
                s += rng.choice(["abc", " ", "x", "漢字", "é", "42", "SELECT"])
            else:
                s += rng.choice(chars) * rng.randint(2, 4)
        out.append(s)
    return out


def special_extra(rng):
    toks = ["<s>", "</s>", "<unk>", "[INST]", "[/INST]", "<|im_start|>", "<|im_end|>", "▁",
            "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|end_of_text|>"]
    fill = ["Hello", " ", "", "\n", " world ", "SELECT *", "é", "漢", "  ", "x", ".", "<", ">", "s", "/"]
    out = []
    for _ in range(70):
        s = ""
        for _ in range(rng.randint(2, 7)):
            s += rng.choice(toks) if rng.random() < 0.5 else rng.choice(fill)
        out.append(s)
    return out


# --------------------------------------------------------------------------------------------
# SQL data and chat renderings
# --------------------------------------------------------------------------------------------

SYSTEM = "You are a helpful programmer assistant that excels at SQL."


def prompt_of(row):
    # The blog's user prompt: instruction = question, input = context; ends with a space.
    return f"Task: {row['question']}\nSQL table: {row['context']}\nSQL query: "


def query_of(row):
    a = row["answer"]
    assert a.startswith("[SQL] ") and a.endswith(" [/SQL]"), a
    return a[len("[SQL] "):-len(" [/SQL]")]


def mistral_chat(turns):
    """Mistral-7B-Instruct-v0.2 original template (INTEROP §4.4): <s>[INST] u [/INST]a</s>..."""
    s = "<s>"
    for u, a in turns:
        s += "[INST] " + u + " [/INST]"
        if a is not None:
            s += a + "</s>"
    return s


def zephyr_chat(turns, gen=False):
    s = ""
    for u, a in turns:
        s += "<|user|>\n" + u + "</s>\n"
        if a is not None:
            s += "<|assistant|>\n" + a + "</s>\n"
    if gen:
        s += "<|assistant|>\n"
    return s


def chatml_chat(system, turns):
    s = "\n<|im_start|>system\n" + system.strip() + "<|im_end|>\n"
    for u, a in turns:
        s += "<|im_start|>user\n" + u.strip() + "<|im_end|>\n"
        if a is not None:
            s += "<|im_start|>assistant\n" + a + "<|im_end|>\n"
    return s


def llama3_chat(system, turns, gen=False):
    s = "<|begin_of_text|>"
    if system is not None:
        s += "<|start_header_id|>system<|end_header_id|>\n\n" + system.strip() + "<|eot_id|>"
    for u, a in turns:
        s += "<|start_header_id|>user<|end_header_id|>\n\n" + u.strip() + "<|eot_id|>"
        if a is not None:
            s += "<|start_header_id|>assistant<|end_header_id|>\n\n" + a.strip() + "<|eot_id|>"
    if gen:
        s += "<|start_header_id|>assistant<|end_header_id|>\n\n"
    return s


def fragment(rng, s):
    if len(s) < 2:
        return s
    if rng.random() < 0.5:  # character slice
        a = rng.randrange(len(s))
        b = rng.randint(a + 1, min(len(s), a + 1 + rng.randint(1, 60)))
        return s[a:b]
    words = s.split(" ")  # word slice, keeps the original single spaces
    a = rng.randrange(len(words))
    b = rng.randint(a + 1, min(len(words), a + 6))
    out = " ".join(words[a:b])
    if rng.random() < 0.3:
        out = " " + out
    if rng.random() < 0.3:
        out = out + " "
    return out


def build_corpus(shared):
    rng = random.Random(SEED)
    with open(os.path.join(shared, "data", "sql-create-context-4k.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if len(rows) < 100 or not all({"question", "context", "answer"} <= set(r) for r in rows):
        sys.exit("unexpected SQL data layout")

    items = []  # (text, category)

    def add(text, cat):
        assert isinstance(text, str)
        text.encode("utf-8")  # no lone surrogates
        items.append((text, cat))

    # Rows with non-ASCII text first, then a seeded sample.
    non_ascii = [r for r in rows if any(ord(c) > 127 for v in r.values() for c in v)]
    sample = non_ascii + rng.sample(rows, 800)
    for r in sample[:300]:
        add(r["question"], "sql_question")
    for r in sample[300:500]:
        add(r["context"], "sql_context")
    for r in sample[500:650]:
        add(r["answer"], "sql_answer")
    for r in sample[650:800]:
        add(query_of(r), "sql_query")
    for r in rng.sample(rows, 300):
        add(prompt_of(r), "sql_prompt")
    for _ in range(300):
        r = rng.choice(rows)
        field = rng.choice(["question", "context", "answer", "prompt"])
        s = prompt_of(r) if field == "prompt" else r[field]
        add(fragment(rng, s), "sql_fragment")

    # Chat renderings of SQL records.
    for _ in range(80):
        r = rng.choice(rows)
        user = prompt_of(r)
        if rng.random() < 0.5:
            user = SYSTEM + "\n" + user  # the blog folds the system prompt into the user turn
        turns = [(user, query_of(r) if rng.random() < 0.8 else r["answer"])]
        if rng.random() < 0.2:
            r2 = rng.choice(rows)
            turns.append((prompt_of(r2), query_of(r2)))
        if rng.random() < 0.1:
            turns[-1] = (turns[-1][0], None)
        add(mistral_chat(turns), "chat_mistral")
    for _ in range(25):
        r = rng.choice(rows)
        add(zephyr_chat([(prompt_of(r), query_of(r))], gen=rng.random() < 0.2), "chat_zephyr")
    for _ in range(25):
        r = rng.choice(rows)
        add(chatml_chat(SYSTEM, [(prompt_of(r), query_of(r))]), "chat_chatml")
    for _ in range(40):
        r = rng.choice(rows)
        system = SYSTEM if rng.random() < 0.6 else None
        gen = rng.random() < 0.2
        add(llama3_chat(system, [(prompt_of(r), None if gen else query_of(r))], gen), "chat_llama3")

    # English.
    for s in ENGLISH:
        add(s, "english")
    for s in english_generated(rng, 150):
        add(s, "english")

    # Whitespace.
    for s in WHITESPACE:
        add(s, "whitespace")
    for k in range(5, 21):
        add(" " * k, "whitespace")
    for _ in range(60):
        ws = [" ", "  ", "\n", "\t", "\r\n", "   ", "\n\n", " \n"]
        words = ["a", "word", "SELECT", "é", "漢字", "42", ".", "(x)"]
        s = ""
        for _ in range(rng.randint(1, 8)):
            s += rng.choice(ws) if rng.random() < 0.55 else rng.choice(words)
        add(s, "whitespace")

    for s in number_strings(rng):
        add(s, "numbers")
    for s, cat in scripts_and_nfd(rng):
        add(s, cat)
    for s in EMOJI + emoji_extra(rng):
        add(s, "emoji")
    for s in BYTE_FALLBACK + byte_fallback_extra(rng):
        add(s, "byte_fallback")
    for s in SPECIAL_LITERALS + special_extra(rng):
        add(s, "special_literal")

    # Long strings (a few thousand characters).
    sql_block = ""
    for r in rows[:40]:
        sql_block += prompt_of(r) + query_of(r) + "\n\n"
    longs = [
        sql_block[:3500],
        "a" * 3000,
        " " * 2500,
        "\n" * 1000,
        "1234567890" * 300,
        "ab" * 1500,
        "The quick brown fox jumps over the lazy dog. " * 70,
        "漢字かなカナ한국어" * 300,
        "😀👍🏽🇺🇸" * 300,
        "éè" * 1000,
        unicodedata.normalize("NFD", "éèêëàâäôöûüç" * 200),
        "x" + " " * 2000 + "y",
        "\t" * 1000 + "tabbed",
        "SELECT " + ", ".join(f"col_{i}" for i in range(400)) + " FROM t",
        "<s>" * 500,
        "▁" * 1000,
        ("\U0010ffff\ue000\x01" * 500),
        "Supercalifragilisticexpialidocious" * 80,
    ]
    for s in longs:
        add(s, "long")
    pool_all = ENGLISH + GREEK + CYRILLIC + CJK + KANA + KOREAN + ARABIC + EMOJI + BYTE_FALLBACK + \
        SPECIAL_LITERALS + WHITESPACE + MISC_SYMBOLS + LATIN_ACCENTS
    for _ in range(12):
        s = ""
        while len(s) < 3000:
            s += rng.choice(pool_all) + rng.choice(["", " ", "\n", "  "])
        add(s, "long")

    # Random mixtures of everything.
    for _ in range(320):
        parts = []
        for _ in range(rng.randint(2, 8)):
            r = rng.random()
            if r < 0.3:
                row = rng.choice(rows)
                parts.append(fragment(rng, prompt_of(row) + query_of(row)))
            else:
                parts.append(rng.choice(pool_all))
        s = ""
        for p in parts:
            s += p + rng.choice(["", " ", "  ", "\n", "\t", "\r\n"])
        if rng.random() < 0.3:
            s = unicodedata.normalize(rng.choice(["NFC", "NFD"]), s)
        add(s, "mixture")
    return items


# --------------------------------------------------------------------------------------------
# SentencePiece and the legacy special-token split
# --------------------------------------------------------------------------------------------

SPECIAL = {"<s>": 1, "</s>": 2, "<unk>": 0}
SPECIAL_BY_LENGTH = sorted(SPECIAL, key=lambda t: (-len(t), t))


def split_special(text):
    """[(segment, is_special)], scanning left to right and trying the longest token first."""
    out, buf, i = [], "", 0
    while i < len(text):
        for tok in SPECIAL_BY_LENGTH:
            if text.startswith(tok, i):
                if buf:
                    out.append((buf, False))
                    buf = ""
                out.append((tok, True))
                i += len(tok)
                break
        else:
            buf += text[i]
            i += 1
    if buf:
        out.append((buf, False))
    return out


def legacy_encode(sp, text):
    ids = []
    for seg, special in split_special(text):
        ids.extend([SPECIAL[seg]] if special else sp.encode(seg))
    return ids


def check_interop(sps):
    """The examples from INTEROP §4.1, §4.3 and §4.6; exits non-zero when they do not match."""
    llama, mistral = sps["llama2"], sps["mistral"]
    checks = [
        ("llama2 legacy 'Hello <s>.' with BOS", [1] + legacy_encode(llama, "Hello <s>."),
         [1, 15043, 29871, 1, 869]),
        ("mistral '[INST]'", mistral.encode("[INST]"), [733, 16289, 28793]),
        ("mistral '[/INST]'", mistral.encode("[/INST]"), [733, 28748, 16289, 28793]),
        ("mistral legacy '[INST]'", legacy_encode(mistral, "[INST]"), [733, 16289, 28793]),
        ("mistral legacy '[/INST]'", legacy_encode(mistral, "[/INST]"), [733, 28748, 16289, 28793]),
        ("llama2 piece 29871", [llama.piece_to_id("▁")], [29871]),
        ("mistral piece 28705", [mistral.piece_to_id("▁")], [28705]),
        ("mistral '\\n' byte", [mistral.piece_to_id("<0x0A>")], [13]),
        ("mistral BOS/EOS/UNK", [mistral.bos_id(), mistral.eos_id(), mistral.unk_id()], [1, 2, 0]),
        ("llama2 BOS/EOS/UNK", [llama.bos_id(), llama.eos_id(), llama.unk_id()], [1, 2, 0]),
    ]
    # §4.6: the blog's Mistral stream starts [1, 1, 733, 16289, 28793] (a double BOS) and the
    # answer ends with </s>.
    chat = [1] + legacy_encode(mistral, "<s>[INST] Hello [/INST]Hi</s>")
    checks.append(("mistral chat prefix (double BOS)", chat[:5], [1, 1, 733, 16289, 28793]))
    checks.append(("mistral chat ends with </s>", chat[-1:], [2]))
    # "<s>[INST] Hello [/INST]Hi</s>" = BOS, <s>, ▁[ INST ] ▁Hello ▁[ / INST ] Hi... </s>: the segment
    # between <s> and </s> is one SentencePiece call.
    mid = mistral.encode("[INST] Hello [/INST]Hi")
    checks.append(("mistral chat = [1, 1] + encode(middle) + [2]", chat, [1, 1] + mid + [2]))
    checks.append(("mistral chat middle has [/INST]", mid[4:8], [733, 28748, 16289, 28793]))
    failed = False
    for name, got, want in checks:
        ok = got == want
        failed |= not ok
        print(f"  check {name:48s} {got} {'ok' if ok else 'FAIL, want ' + str(want)}")
    if failed:
        sys.exit("INTEROP examples do not match: the legacy emulation is wrong")


def write_jsonl(path, objs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for o in objs:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", required=True, help="the shared dir (fixtures/, data/)")
    ap.add_argument("--out", required=True, help="output dir (created)")
    args = ap.parse_args()
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)

    sps = {}
    for name in ("llama2", "mistral"):
        path = os.path.join(args.shared, "fixtures", f"{name}-tokenizer", "tokenizer.model")
        sps[name] = spm.SentencePieceProcessor(model_file=path)
        if sps[name].get_piece_size() != 32000:
            sys.exit(f"{path}: expected 32000 pieces, got {sps[name].get_piece_size()}")
    print(f"sentencepiece {spm.__version__}")
    check_interop(sps)

    items = build_corpus(args.shared)
    if len(items) < 2500:
        sys.exit(f"corpus too small: {len(items)}")
    write_jsonl(os.path.join(args.out, "corpus.jsonl"),
                ({"text": t, "category": c} for t, c in items))

    for name, sp in sps.items():
        objs, bad = [], 0
        for text, _ in items:
            ids = sp.encode(text)
            decoded = sp.decode(ids)
            bad += decoded != text
            objs.append({"ids": ids, "pieces": [sp.id_to_piece(i) for i in ids],
                         "decoded": decoded, "roundtrip": decoded == text})
        write_jsonl(os.path.join(args.out, f"{name}.jsonl"), objs)
        print(f"{name}.jsonl: {len(objs)} lines, {sum(len(o['ids']) for o in objs)} ids, "
              f"{bad} lines that do not round-trip")

    # special.jsonl: every corpus string with a special-token literal, explicit cases, and a
    # seeded sample of other lines (there the ids equal the plain encode).
    rng = random.Random(SEED + 1)
    texts = [t for t, _ in items if any(tok in t for tok in SPECIAL)]
    texts += ["Hello <s>.", "<s>[INST] Hello [/INST]Hi</s>", "<s>[INST] Hello [/INST]",
              "<s> [INST] Hello [/INST] Fine</s>", "[INST]", "[/INST]", "<s>", "</s>", "<unk>",
              "<s><s>", "</s></s>", "<s> </s>", "<s>  x  </s>", "<s>\n", "a<s>b</s>c<unk>d",
              "<s>▁</s>", "<s>[INST] Task: x\nSQL table: y\nSQL query:  [/INST]SELECT 1</s>",
              "<s>[INST] q1 [/INST]a1</s>[INST] q2 [/INST]a2</s>", "<|user|>\nQ</s>\n<|assistant|>\nA</s>\n",
              "</s>", "", " ", "x"]
    others = [t for t, _ in items if not any(tok in t for tok in SPECIAL)]
    texts += rng.sample(others, 60)
    seen, special = set(), []
    for t in texts:
        if t in seen:
            continue
        seen.add(t)
        special.append({"text": t, "ids_llama2": legacy_encode(sps["llama2"], t),
                        "ids_mistral": legacy_encode(sps["mistral"], t)})
    write_jsonl(os.path.join(args.out, "special.jsonl"), special)
    n_with = sum(1 for o in special if any(tok in o["text"] for tok in SPECIAL))
    print(f"special.jsonl: {len(special)} lines ({n_with} with <s>/</s>/<unk>)")

    # The shared llama2 tokenizer.json (Hugging Face form of the same model) is not a perfect
    # copy of tokenizer.model: list the pieces it lacks and the lines that contain them, where a
    # tokenizer.json reader (byte fallback) must differ from the ids above.
    json_path = os.path.join(args.shared, "fixtures", "llama2-tokenizer", "tokenizer.json")
    if os.path.exists(json_path):
        with open(json_path, encoding="utf-8") as f:
            vocab = json.load(f)["model"]["vocab"]
        sp = sps["llama2"]
        missing = [i for i in range(sp.get_piece_size())
                   if vocab.get(sp.id_to_piece(i)) != i]
        by_id = {i: t for t, i in vocab.items()}
        chars = [sp.id_to_piece(i) for i in missing]
        div = {
            "why": "pieces of llama2 tokenizer.model whose string is not in the shared "
                   "tokenizer.json vocab with the same id; tokenizer.json readers byte-fall-back "
                   "on them, so their ids differ from llama2.jsonl / special.jsonl on these lines",
            "pieces": [{"id": i, "sentencepiece": sp.id_to_piece(i), "tokenizer_json": by_id.get(i)}
                       for i in missing],
            "corpus_lines": [n for n, (t, _) in enumerate(items) if any(c in t for c in chars)],
            "special_lines": [n for n, o in enumerate(special)
                              if any(c in o["text"] for c in chars)],
        }
        with open(os.path.join(args.out, "llama2_tokenizer_json_divergent.json"), "w",
                  encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(div, indent=2) + "\n")
        print(f"llama2 tokenizer.json lacks {len(missing)} piece(s) "
              f"{[(d['id'], d['sentencepiece'], d['tokenizer_json']) for d in div['pieces']]}: "
              f"corpus lines {div['corpus_lines']}, special lines {div['special_lines']}")

    counts = collections.Counter(c for _, c in items)
    print(f"corpus.jsonl: {len(items)} lines, {sum(len(t) for t, _ in items)} characters")
    for cat, n in sorted(counts.items()):
        print(f"  {cat:18s} {n:5d}")
    print(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
