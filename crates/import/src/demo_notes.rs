//! A generated Markdown vault (Obsidian flavour) for benchmarks and the demo: notes with
//! Latin or Chinese titles, Zipf-distributed links (a few notes are linked from everywhere,
//! most from few), and plain-text mentions of titles, distributed the same way.

use crate::demo::Rng;
use std::io;
use std::path::Path;

/// What was written.
#[derive(Debug, Clone)]
pub struct GeneratedVault {
    /// Note titles, by note number (the file is `<title>.md`).
    pub titles: Vec<String>,
    pub bytes: u64,
    pub links: u64,
    pub mentions: u64,
}

const SYLLABLES: [&str; 40] = [
    "ka", "ri", "mo", "ta", "ne", "lo", "su", "vi", "pe", "da", "zu", "fo", "gi", "ha", "je", "ku",
    "la", "mi", "no", "po", "ra", "se", "ti", "ul", "ve", "wa", "xo", "yu", "ze", "bri", "cha",
    "dre", "fla", "gro", "kle", "mar", "nor", "pra", "sti", "tor",
];

/// Common Chinese characters to make words from.
const HAN: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质";

fn latin_word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(3) as usize;
    (0..n)
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
        .collect()
}

/// Frequent characters first in running text (`skewed`), any character in titles.
fn han_word(rng: &mut Rng, han: &[char], len: usize, skewed: bool) -> String {
    (0..len)
        .map(|_| {
            let n = han.len() as u64;
            han[if skewed { rng.skewed(n) } else { rng.below(n) } as usize]
        })
        .collect()
}

/// Writes `notes` notes of about `note_bytes` each into `dir`.
pub fn write_vault(
    dir: &Path,
    notes: usize,
    note_bytes: usize,
    seed: u64,
) -> io::Result<GeneratedVault> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(seed);
    let han: Vec<char> = HAN.chars().collect();
    // A vocabulary whose first words are the most frequent in text; titles take their words
    // from below the 2,000 commonest, as real titles avoid stop words.
    let mut vocab: Vec<String> = Vec::with_capacity(20_000);
    let mut words = std::collections::HashSet::new();
    while vocab.len() < 20_000 {
        let w = latin_word(&mut rng);
        if words.insert(w.clone()) {
            vocab.push(w);
        }
    }
    let mut titles: Vec<String> = Vec::with_capacity(notes);
    let mut seen = std::collections::HashSet::new();
    let mut cjk = Vec::with_capacity(notes);
    for i in 0..notes {
        let chinese = rng.below(5) == 0;
        let mut t = if chinese {
            let len = 2 + rng.below(3) as usize;
            han_word(&mut rng, &han, len, false)
        } else {
            let words = 1 + rng.below(3) as usize;
            (0..words)
                .map(|_| {
                    let w = &vocab[2_000 + rng.below(vocab.len() as u64 - 2_000) as usize];
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !seen.insert(t.to_lowercase()) {
            t = format!("{t} {i}");
            seen.insert(t.to_lowercase());
        }
        titles.push(t);
        cjk.push(chinese);
    }
    let mut out = GeneratedVault {
        titles: titles.clone(),
        bytes: 0,
        links: 0,
        mentions: 0,
    };
    // Popularity: note k is the k-th most linked (and mentioned).
    let pick = |rng: &mut Rng| rng.skewed(notes as u64) as usize;
    for i in 0..notes {
        let mut text = String::with_capacity(note_bytes + 256);
        text.push_str(&format!("# {}\n\n", titles[i]));
        let mut para = 0;
        while text.len() < note_bytes {
            if para % 4 == 3 {
                text.push_str(&format!("## {}\n\n", latin_word(&mut rng)));
            }
            let list = para % 3 == 2;
            let sentences = 2 + rng.below(3);
            for _ in 0..sentences {
                if list {
                    text.push_str("- ");
                }
                let words = 6 + rng.below(10);
                for w in 0..words {
                    if w > 0 && !cjk[i] {
                        text.push(' ');
                    }
                    let roll = rng.below(100);
                    if roll < 4 {
                        let t = pick(&mut rng);
                        if t != i {
                            if rng.below(4) == 0 {
                                // A label, as people write one: the title in lower case.
                                text.push_str(&format!(
                                    "[[{}|{}]]",
                                    titles[t],
                                    titles[t].to_lowercase()
                                ));
                            } else {
                                text.push_str(&format!("[[{}]]", titles[t]));
                            }
                            out.links += 1;
                        }
                    } else if roll < 6 {
                        let t = pick(&mut rng);
                        text.push_str(&titles[t]);
                        out.mentions += 1;
                    } else if cjk[i] {
                        let len = 1 + rng.below(3) as usize;
                        text.push_str(&han_word(&mut rng, &han, len, true));
                    } else {
                        text.push_str(&vocab[rng.skewed(vocab.len() as u64) as usize]);
                    }
                }
                text.push_str(if cjk[i] { "。" } else { "." });
                text.push(if list { '\n' } else { ' ' });
            }
            text.push_str("\n\n");
            para += 1;
        }
        out.bytes += text.len() as u64;
        std::fs::write(dir.join(format!("{}.md", titles[i])), text)?;
    }
    Ok(out)
}
