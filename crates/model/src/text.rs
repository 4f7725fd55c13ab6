//! Tokens of note text for the mention index. One rule serves both sides: the store files
//! every page under the tokens of its blocks' text, and a mention search looks up the tokens
//! of the phrase it wants, then checks the candidates' text itself.
//!
//! - Text is lower-cased (Unicode), so matching is case-insensitive.
//! - A run of letters and digits outside the CJK scripts is one token (a word): Latin,
//!   Cyrillic and Greek words have boundaries, and `block` is not found inside `blocks`.
//! - Chinese, Japanese and Korean have no word boundaries: every character of a CJK run is
//!   a token, and so is every pair of neighbouring characters. A phrase of two or more CJK
//!   characters is looked up by its pairs, a single character by itself. (Triples would
//!   make longer phrases exact but multiply the distinct tokens of CJK text.)
//! - Everything else (spaces, punctuation, symbols) separates tokens and is not indexed; a
//!   phrase made only of such characters has no tokens and cannot be searched.

/// Whether `c` belongs to a script written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // half-width Katakana
        | 0x20000..=0x3134F) // CJK Extensions B–G
}

/// A character that belongs to a word (letters, digits, marks; not CJK).
pub fn is_word_char(c: char) -> bool {
    !is_cjk(c) && (c.is_alphanumeric() || c == '_')
}

enum Run {
    Word(String),
    Cjk(Vec<char>),
}

fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            cjk.push(c);
        } else {
            if !cjk.is_empty() {
                out.push(Run::Cjk(std::mem::take(&mut cjk)));
            }
            if is_word_char(c) {
                word.push(c);
            } else if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
        }
    }
    if !word.is_empty() {
        out.push(Run::Word(word));
    }
    if !cjk.is_empty() {
        out.push(Run::Cjk(cjk));
    }
    out
}

/// Every token of `text`, as the index files it (unsorted, may repeat).
pub fn index_tokens(text: &str, mut each: impl FnMut(&str)) {
    let mut buf = String::new();
    for run in runs(text) {
        match run {
            Run::Word(w) => each(&w),
            Run::Cjk(cs) => {
                for i in 0..cs.len() {
                    buf.clear();
                    for c in cs.iter().skip(i).take(2) {
                        buf.push(*c);
                        each(&buf);
                    }
                }
            }
        }
    }
}

/// Blocks whose text can mention something: headings, paragraphs and tables (SiYuan's
/// `h`, `p`, `t`). Containers repeat their children's text; code is not prose.
pub fn is_text_block(kind: &str) -> bool {
    matches!(kind, "h" | "p" | "t")
}

/// A block's own words: its text without the anchor texts of the references it makes
/// (each anchor taken out once, where it first occurs).
pub fn own_text<'a>(content: &str, anchors: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = content.to_string();
    for a in anchors {
        if a.is_empty() {
            continue;
        }
        if let Some(i) = text.find(a) {
            text.replace_range(i..i + a.len(), " ");
        }
    }
    text
}

/// Marks the tokens of a block's name, aliases and memo, kept apart from its text's.
pub const NAME_MARK: char = '\u{1}';

/// Every token the mention index files a block under: for a text block, the tokens of its
/// own words, and of its name, aliases and memo marked with [`NAME_MARK`]; other blocks
/// have none. `anchors` are the anchor texts of the references the block makes.
pub fn block_tokens<'a>(
    b: &crate::BlockRecord,
    anchors: impl IntoIterator<Item = &'a str>,
    mut each: impl FnMut(&str),
) {
    if !is_text_block(&b.kind) {
        return;
    }
    index_tokens(&own_text(&b.content, anchors), &mut each);
    let mut marked = String::new();
    let mut named = |t: &str| {
        marked.clear();
        marked.push(NAME_MARK);
        marked.push_str(t);
        each(&marked);
    };
    index_tokens(&b.name, &mut named);
    for a in &b.aliases {
        index_tokens(a, &mut named);
    }
    index_tokens(&b.memo, &mut named);
}

/// Whether the blocks holding every token of `phrase` are exactly the blocks whose own words
/// contain it ([`contains_phrase`]), with no check of the text needed: one word, or one or
/// two CJK characters.
pub fn tokens_are_exact(phrase: &str) -> bool {
    let t = query_tokens(phrase);
    t.len() == 1 && t[0] == fold(phrase)
}

/// The tokens a page must hold to contain `phrase`, deduplicated, in phrase order.
pub fn query_tokens(phrase: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    for run in runs(phrase) {
        match run {
            Run::Word(w) => push(w),
            Run::Cjk(cs) if cs.len() <= 2 => push(cs.iter().collect()),
            Run::Cjk(cs) => {
                for pair in cs.windows(2) {
                    push(pair.iter().collect());
                }
            }
        }
    }
    out
}

/// Lower-cases as the tokens do.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Whether `text` contains `phrase` as the index means it: case-insensitive, and a phrase
/// that starts (ends) with a word character must not continue a word of `text` on that side.
/// Both sides are folded here; pass [`fold`]ed strings to [`contains_folded`] in loops.
pub fn contains_phrase(text: &str, phrase: &str) -> bool {
    contains_folded(&fold(text), &fold(phrase))
}

/// [`contains_phrase`] on already folded strings.
pub fn contains_folded(text: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let first_word = phrase.chars().next().is_some_and(is_word_char);
    let last_word = phrase.chars().next_back().is_some_and(is_word_char);
    let mut from = 0;
    while let Some(i) = text[from..].find(phrase) {
        let start = from + i;
        let end = start + phrase.len();
        let before_ok = !first_word || !text[..start].chars().next_back().is_some_and(is_word_char);
        let after_ok = !last_word || !text[end..].chars().next().is_some_and(is_word_char);
        if before_ok && after_ok {
            return true;
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        index_tokens(s, |t| v.push(t.to_string()));
        v
    }

    #[test]
    fn words_and_cjk() {
        assert_eq!(tokens("Content Block, ok"), ["content", "block", "ok"]);
        assert_eq!(tokens("内容块"), ["内", "内容", "容", "容块", "块"]);
        assert_eq!(tokens("SiYuan笔记"), ["siyuan", "笔", "笔记", "记"]);
        assert_eq!(query_tokens("内容块"), ["内容", "容块"]);
        assert!(tokens_are_exact("内容") && tokens_are_exact("Word"));
        assert!(!tokens_are_exact("内容块") && !tokens_are_exact("two words"));
        assert_eq!(query_tokens("块"), ["块"]);
        assert_eq!(query_tokens("Über uns über"), ["über", "uns"]);
        assert!(query_tokens("++ --").is_empty());
    }

    #[test]
    fn phrases_respect_word_boundaries() {
        assert!(contains_phrase(
            "See the Content block here",
            "content Block"
        ));
        assert!(!contains_phrase("Content Blocks", "Content Block"));
        assert!(!contains_phrase("MyContent Block", "Content Block"));
        assert!(contains_phrase(
            "Content Blocks and Content Block.",
            "Content Block"
        ));
        assert!(contains_phrase("这是内容块的说明", "内容块"));
        assert!(contains_phrase("(.NET)", ".net"));
        assert!(!contains_phrase("anything", ""));
    }

    #[test]
    fn every_query_token_is_an_index_token() {
        for s in ["内容块 abc", "Ünïcödé wörds", "a", "日本語のテキスト"] {
            let all = tokens(s);
            for q in query_tokens(s) {
                assert!(all.contains(&q), "{q} of {s}");
            }
        }
    }
}
