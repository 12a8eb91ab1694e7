//! The words the console knows, for Tab completion and "did you mean": the command
//! names, their fixed arguments (`run pressure|bench|apps`, `trace on|off|dump`), `set`'s
//! keys and their word values. Holds no state and writes nothing: the line editor
//! inserts what `candidates` offers, the parser and `set` quote what `nearest` finds.

use platform::cmdline::{Key, LruKind, OnOff, Placement, ReclaimMode, RingFull};

use super::command::COMMANDS;
use super::settings::{DEFAULT_WORD, is_tunable};

/// A word Tab may complete to, and the byte that follows it once it is whole (a
/// space, or `=` after a `set` key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub word: &'static str,
    pub then: u8,
}

/// Where a word being completed starts in `before` (the line up to the cursor): after
/// the last space or `=`.
pub fn word_start(before: &str) -> usize {
    before.rfind([' ', '=']).map_or(0, |at| at + 1)
}

/// Offers to `found` every word that may stand where the word being completed starts,
/// given `context`, the line before that word (`&line[..word_start(line)]`): the
/// commands first, then a command's fixed arguments, `set`'s keys and, after `key=`,
/// that key's word values and `default`. The caller keeps those its word begins.
pub fn candidates(context: &str, found: &mut dyn FnMut(Candidate)) {
    let mut words = context.split_ascii_whitespace();
    let Some(command) = words.next() else {
        for c in COMMANDS {
            found(Candidate {
                word: c.name,
                then: b' ',
            });
        }
        return;
    };
    let word = |word| Candidate { word, then: b' ' };
    if command == "set" {
        if let Some(key) = context.strip_suffix('=') {
            let key = key
                .rsplit(' ')
                .next()
                .and_then(Key::from_name)
                .filter(|&k| is_tunable(k));
            if let Some(key) = key {
                value_words(key)
                    .split('|')
                    .filter(|w| !w.is_empty())
                    .for_each(|w| found(word(w)));
                found(word(DEFAULT_WORD));
            }
        } else {
            for &key in Key::ALL.iter().filter(|&&k| is_tunable(k)) {
                found(Candidate {
                    word: key.name(),
                    then: b'=',
                });
            }
        }
        return;
    }
    // A command's second word, when its arguments are words to pick from.
    if words.next().is_none()
        && let Some(c) = COMMANDS.iter().find(|c| c.name == command)
    {
        choices(c.args).for_each(|w| found(word(w)));
    }
}

/// The words `expected` offers when it is a `|`-separated list of lowercase words
/// (`pressure|bench|apps`); none for a description (`SECONDS`, `key=value...`).
pub fn choices(expected: &'static str) -> impl Iterator<Item = &'static str> {
    let words = !expected.is_empty()
        && expected
            .bytes()
            .all(|b| b == b'|' || b.is_ascii_lowercase());
    expected.split('|').filter(move |w| words && !w.is_empty())
}

/// The word values a `set` key takes (`|`-separated), or "" for numbers and lists.
fn value_words(key: Key) -> &'static str {
    match key {
        Key::Reclaim => ReclaimMode::EXPECTED,
        Key::RingFull => RingFull::EXPECTED,
        Key::Lru => LruKind::EXPECTED,
        Key::Trace | Key::Lmk => OnOff::EXPECTED,
        Key::Placement => Placement::EXPECTED,
        _ => "",
    }
}

/// Longest word `nearest` compares; longer ones get no suggestion.
const MAX_WORD: usize = 32;

/// The word of `known` closest to `word` by edit distance (insertions, deletions,
/// substitutions and swaps of two neighbours each count one), if it is close: at most
/// one edit per three letters typed, and at least one allowed. The first of equals wins.
pub fn nearest<'k>(word: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let mut best: Option<(usize, &'k str)> = None;
    for candidate in known {
        let Some(d) = distance(word.as_bytes(), candidate.as_bytes()) else {
            continue;
        };
        let limit = (word.len() / 3).max(1);
        if d > 0 && d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, w)| w)
}

/// The optimal-string-alignment distance of `a` and `b`; `None` when one is longer
/// than `MAX_WORD`.
fn distance(a: &[u8], b: &[u8]) -> Option<usize> {
    if a.len() > MAX_WORD || b.len() > MAX_WORD {
        return None;
    }
    // Three rows of the table: i-2, i-1 and i.
    let mut rows = [[0usize; MAX_WORD + 1]; 3];
    for (j, cell) in rows[0].iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (cur, prev, before) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        rows[cur][0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev][j] + 1)
                .min(rows[cur][j - 1] + 1)
                .min(rows[prev][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[before][j - 2] + 1);
            }
            rows[cur][j] = d;
        }
    }
    Some(rows[a.len() % 3][b.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The candidates for `line` (the cursor at its end) that its last word begins.
    fn complete(line: &str) -> Vec<String> {
        let start = word_start(line);
        let mut out = Vec::new();
        candidates(&line[..start], &mut |c| {
            if c.word.starts_with(&line[start..]) {
                out.push(format!("{}{}", c.word, c.then as char));
            }
        });
        out
    }

    #[test]
    fn completes_commands_arguments_keys_and_values() {
        assert_eq!(complete("zon"), ["zoneinfo "]);
        assert_eq!(complete("pr"), ["pressure "]);
        assert_eq!(complete("p"), ["pressure ", "poweroff "]);
        assert_eq!(complete("  tr"), ["trace "]);
        assert_eq!(complete("s"), ["show ", "set ", "sleep "]);
        assert_eq!(complete("").len(), COMMANDS.len());
        assert_eq!(complete("run "), ["pressure ", "bench ", "apps "]);
        assert_eq!(complete("run b"), ["bench "]);
        assert_eq!(complete("trace d"), ["dump "]);
        assert!(complete("run bench ").is_empty());
        assert!(complete("sleep ").is_empty());
        assert!(complete("vmstat ").is_empty());
        assert!(complete("frob ").is_empty());
        assert_eq!(complete("set rec"), ["reclaim="]);
        assert_eq!(complete("set ring"), ["ring_full=", "ring="]);
        // scenario= and exit= are fixed for the boot.
        assert!(complete("set sc").is_empty());
        assert!(complete("set exit=").is_empty());
        assert_eq!(
            complete("set ops=2 reclaim="),
            ["sync ", "async ", "default "]
        );
        assert_eq!(complete("set trace=o"), ["on ", "off "]);
        assert_eq!(complete("set lmk="), ["on ", "off ", "default "]);
        assert_eq!(complete("set lru"), ["lru=", "lru_gen_min_ttl_ms="]);
        assert_eq!(complete("set lru=m"), ["mglru "]);
        assert_eq!(complete("set seed="), ["default "]);
        assert!(complete("set nokey=").is_empty());
    }

    #[test]
    fn nearest_suggests_close_words_only() {
        let commands = || COMMANDS.iter().map(|c| c.name);
        assert_eq!(nearest("vmstatt", commands()), Some("vmstat"));
        assert_eq!(nearest("meminf", commands()), Some("meminfo"));
        assert_eq!(nearest("zoneinof", commands()), Some("zoneinfo"));
        assert_eq!(nearest("tpo", commands()), Some("top"));
        assert_eq!(nearest("presure", commands()), Some("pressure"));
        assert_eq!(nearest("frobnicate", commands()), None);
        assert_eq!(
            nearest("vmstat", commands()),
            None,
            "an exact word is no miss"
        );
        assert_eq!(nearest("x", commands()), None);
        let keys = || Key::ALL.iter().map(|k| k.name());
        assert_eq!(nearest("sed", keys()), Some("seed"));
        assert_eq!(nearest("watermark_scale", keys()), None);
        assert_eq!(nearest("bench_ran", keys()), Some("bench_ram"));
        assert_eq!(nearest(&"y".repeat(40), keys()), None);
    }

    #[test]
    fn distance_counts_each_edit_once() {
        let d = |a: &str, b: &str| distance(a.as_bytes(), b.as_bytes()).unwrap();
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("ab", "ba"), 1);
        assert_eq!(d("vmstat", "vmsatt"), 1);
        assert_eq!(distance(&[b'a'; 33], b"a"), None);
    }

    proptest! {
        #[test]
        fn distance_is_a_symmetric_bound(a in "[a-c]{0,10}", b in "[a-c]{0,10}") {
            let d = distance(a.as_bytes(), b.as_bytes()).unwrap();
            prop_assert_eq!(Some(d), distance(b.as_bytes(), a.as_bytes()));
            prop_assert!(d <= a.len().max(b.len()));
            prop_assert!(d >= a.len().abs_diff(b.len()));
            prop_assert_eq!(d == 0, a == b);
        }

        #[test]
        fn candidates_never_panic(line in "[ -~]{0,40}") {
            let start = word_start(&line);
            candidates(&line[..start], &mut |c| assert!(!c.word.is_empty()));
        }
    }
}
