//! The console's settings: the command line's keys, changed with `set` and listed with
//! `show`. `set` takes the command-line parser's checks (`CmdLine::set`) and
//! `key=default`, applies all its words or none, and refuses the keys that pick what
//! boots and how it ends. Knows each key's default; starting runs is the kernel's.

use core::fmt;

use mm::frame::watermark::WATERMARK_SCALE_FACTOR_DEFAULT;
use mm::pagegen::PageMix;
use mm::reclaim::policy::DEFAULT_RING_SIZE;
use platform::ArrayVec;
use platform::cmdline::{self, CmdLine, CmdLineError, CmdLineErrorKind, Key};

use super::command::Words;
use super::complete::{choices, nearest};

/// The value `set` takes for "back to the default": `set seed=default`.
pub const DEFAULT_WORD: &str = "default";

/// Keys fixed for the boot: `scenario=`, `exit=` and the console's.
pub fn is_tunable(key: Key) -> bool {
    !matches!(
        key,
        Key::Scenario | Key::Exit | Key::Console | Key::Earlycon
    )
}

/// Why `set` changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetError<'a> {
    /// `scenario=` or `exit=`.
    NotTunable(&'a str),
    /// The same key twice in one `set`.
    Twice(&'a str),
    CmdLine(CmdLineError<'a>),
}

impl fmt::Display for SetError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::NotTunable(word) => write!(
                f,
                "set: \"{word}\" is fixed for this boot (it belongs on the kernel command line)"
            ),
            SetError::Twice(word) => write!(f, "set: key given twice (at \"{word}\")"),
            SetError::CmdLine(e) => {
                let (key, value) = e.word.split_once('=').unwrap_or((e.word, ""));
                let near = match e.kind {
                    CmdLineErrorKind::UnknownKey => {
                        let keys = Key::ALL.iter().filter(|&&k| is_tunable(k));
                        if let Some(near) = nearest(key, keys.map(|k| k.name())) {
                            return write!(f, "set: unknown key \"{key}\": did you mean {near}?");
                        }
                        None
                    }
                    CmdLineErrorKind::BadValue { expected } => nearest(value, choices(expected)),
                    _ => None,
                };
                write!(f, "set: {e}")?;
                match near {
                    Some(near) => write!(f, ": did you mean {near}?"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Applies every `key=value` (or `key=default`) of `words` to `settings`, or none of
/// them. Returns the keys set, in order.
pub fn apply<'a>(
    settings: &mut CmdLine,
    words: Words<'a>,
) -> Result<ArrayVec<Key, { Key::ALL.len() }>, SetError<'a>> {
    let mut next = settings.clone();
    let mut keys = ArrayVec::new();
    for word in words.iter() {
        let key = match word.split_once('=') {
            Some((name, DEFAULT_WORD)) => {
                let key = Key::from_name(name).ok_or(SetError::CmdLine(CmdLineError {
                    word,
                    kind: CmdLineErrorKind::UnknownKey,
                }))?;
                next.reset(key);
                key
            }
            _ => next.set(word).map_err(SetError::CmdLine)?,
        };
        if !is_tunable(key) {
            return Err(SetError::NotTunable(word));
        }
        if keys.contains(&key) || keys.try_push(key).is_err() {
            return Err(SetError::Twice(word));
        }
    }
    *settings = next;
    Ok(keys)
}

/// What a key left unset means when the run decides it: no single value to show.
fn rule(key: Key) -> Option<&'static str> {
    Some(match key {
        Key::Ops => "one per page of RAM for run pressure, 12 app switches for run bench",
        Key::Pace => "none: the workload is CPU-bound",
        Key::WorkloadCpu => {
            "the cores free of CPU 0, kswapd and kcompressd; run bench takes the first"
        }
        Key::BenchWorkers => "1, and all of kcompressd_cpu when it lists several",
        Key::BenchBudgetS => "none: every round runs",
        Key::Console | Key::Earlycon => "the UART the DTB's /chosen/stdout-path names",
        _ => return None,
    })
}

/// Writes `key=value` for `key` in `settings`: the value in force, as the command line
/// spells it (an unset key's default), followed by `sep` and a note in parentheses
/// when it is a tunable key's default; for a default the run decides, `key`, `sep`
/// and the rule.
pub fn write_setting(
    out: &mut impl fmt::Write,
    settings: &CmdLine,
    key: Key,
    sep: &str,
) -> fmt::Result {
    let given = settings.given(key);
    if !given && let Some(rule) = rule(key) {
        return write!(out, "{}{sep}(default: {rule})", key.name());
    }
    write!(out, "{}=", key.name())?;
    let num = |out: &mut dyn fmt::Write, v: Option<u64>, default: u64| {
        write!(out, "{}", v.unwrap_or(default))
    };
    let some = |out: &mut dyn fmt::Write, v: Option<u64>| match v {
        Some(v) => write!(out, "{v}"),
        None => Ok(()),
    };
    let bench_ram = settings.bench_ram.unwrap_or(cmdline::DEFAULT_BENCH_RAM_MIB);
    match key {
        Key::Scenario => out.write_str(settings.scenario.name())?,
        Key::Exit => out.write_str(settings.exit.name())?,
        Key::Reclaim => out.write_str(settings.reclaim.name())?,
        Key::KswapdCpu => write!(out, "{}", settings.kswapd_cpu)?,
        Key::KcompressdCpu => write_list(out, &settings.kcompressd_cpu)?,
        Key::RingFull => out.write_str(settings.ring_full.name())?,
        Key::Lru => out.write_str(settings.lru.name())?,
        Key::LruGenMinTtlMs => write!(out, "{}", settings.lru_gen_min_ttl_ms)?,
        Key::SoakS => num(out, settings.soak_s, cmdline::DEFAULT_SOAK_S)?,
        Key::Seed => num(out, settings.seed, cmdline::DEFAULT_SEED)?,
        Key::BenchRuns => num(out, settings.bench_runs, cmdline::DEFAULT_BENCH_RUNS)?,
        Key::BenchRam => write!(out, "{bench_ram}")?,
        Key::BenchAnon => num(out, settings.bench_anon, 2 * bench_ram)?,
        Key::Trace => out.write_str(if settings.trace { "on" } else { "off" })?,
        Key::Lmk => out.write_str(if settings.lmk { "on" } else { "off" })?,
        Key::Ring => num(out, settings.ring.map(u64::from), DEFAULT_RING_SIZE as u64)?,
        Key::WatermarkScaleFactor => num(
            out,
            settings.watermark_scale_factor.map(u64::from),
            u64::from(WATERMARK_SCALE_FACTOR_DEFAULT),
        )?,
        Key::Placement => out.write_str(settings.placement.name())?,
        Key::Mix => {
            let m = PageMix::DEFAULT;
            let [a, b, c, d, e] =
                settings
                    .mix
                    .unwrap_or([m.zero, m.same_filled, m.text, m.structured, m.random]);
            write!(out, "{a},{b},{c},{d},{e}")?
        }
        // Given here: an unset one has a rule instead.
        Key::Ops => some(out, settings.ops)?,
        Key::Pace => some(out, settings.pace)?,
        Key::BenchBudgetS => some(out, settings.bench_budget_s)?,
        Key::WorkloadCpu => write_list(out, settings.workload_cpu.as_deref().unwrap_or(&[]))?,
        Key::BenchWorkers => write_list(out, settings.bench_workers.as_deref().unwrap_or(&[]))?,
        Key::Console => some_text(out, settings.console.as_ref())?,
        Key::Earlycon => some_text(out, settings.earlycon.as_ref())?,
    }
    match key {
        // The fixed keys are marked as such by `show`.
        _ if given || !is_tunable(key) => Ok(()),
        Key::BenchAnon => write!(out, "{sep}(default: twice bench_ram)"),
        _ => write!(out, "{sep}(default)"),
    }
}

/// The value as the command line spells it, or nothing.
fn some_text(out: &mut impl fmt::Write, value: Option<&impl fmt::Display>) -> fmt::Result {
    match value {
        Some(v) => write!(out, "{v}"),
        None => Ok(()),
    }
}

/// `1,2,4`, as the command line spells a list.
fn write_list(out: &mut impl fmt::Write, items: &[u32]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        write!(out, "{item}")?;
    }
    Ok(())
}

/// Writes `show`: one `key=value` line per key, the tunable ones first, each default
/// marked.
pub fn write_settings(out: &mut impl fmt::Write, settings: &CmdLine) -> fmt::Result {
    let tunable = Key::ALL.iter().filter(|k| is_tunable(**k));
    let fixed = Key::ALL.iter().filter(|k| !is_tunable(**k));
    for &key in tunable {
        write_setting(out, settings, key, "  ")?;
        out.write_char('\n')?;
    }
    for &key in fixed {
        write_setting(out, settings, key, "  ")?;
        out.write_str("  (fixed for this boot)\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::command::{Command, parse};
    use platform::cmdline::ReclaimMode;
    use proptest::prelude::*;

    fn words(line: &str) -> Words<'_> {
        match parse(line) {
            Ok(Some(Command::Set(w))) => w,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn set_applies_every_word_or_none() {
        let mut s = CmdLine::parse("scenario=shell reclaim=async").unwrap();
        let keys = apply(&mut s, words("set reclaim=sync ring=64 mix=0,0,50,50,0")).unwrap();
        assert_eq!(keys.as_slice(), [Key::Reclaim, Key::Ring, Key::Mix]);
        assert_eq!(s.reclaim, ReclaimMode::Sync);
        assert_eq!(s.ring, Some(64));
        let before = s.clone();
        for (line, error) in [
            (
                "set reclaim=async reclaim=fast",
                "set: bad value in command-line word \"reclaim=fast\": expected sync|async",
            ),
            (
                "set ring=8 scenario=boot",
                "set: \"scenario=boot\" is fixed for this boot (it belongs on the kernel command line)",
            ),
            ("set exit=psci", "set: \"exit=psci\" is fixed"),
            ("set ring=8 ring=9", "set: key given twice (at \"ring=9\")"),
            (
                "set speed=9",
                "set: unknown key \"speed\": did you mean seed?",
            ),
            (
                "set frob=9",
                "set: unknown command-line key \"frob\" (known: ",
            ),
        ] {
            let e = apply(&mut s, words(line)).unwrap_err().to_string();
            assert!(e.starts_with(error), "{line}: {e}");
            assert_eq!(s, before, "{line}");
        }
    }

    fn show(s: &CmdLine) -> String {
        let mut text = String::new();
        write_settings(&mut text, s).unwrap();
        text
    }

    #[test]
    fn show_lists_every_key_once_with_the_value_in_force() {
        let s = CmdLine::parse(
            "scenario=shell reclaim=sync kcompressd_cpu=2,3 ops=500 mix=10,0,30,60,0 trace=on",
        )
        .unwrap();
        let text = show(&s);
        assert_eq!(text.lines().count(), Key::ALL.len());
        for key in Key::ALL {
            assert_eq!(
                text.lines()
                    .filter(|l| l.starts_with(key.name())
                        && l[key.name().len()..].starts_with(['=', ' ']))
                    .count(),
                1,
                "{}",
                key.name()
            );
        }
        assert!(text.starts_with("reclaim=sync\n"));
        for line in [
            "kcompressd_cpu=2,3",
            "mix=10,0,30,60,0",
            "ops=500",
            "kswapd_cpu=1  (default)",
            "seed=1  (default)",
            "ring=256  (default)",
            "watermark_scale_factor=10  (default)",
            "bench_ram=64  (default)",
            "bench_anon=128  (default: twice bench_ram)",
            "bench_runs=3  (default)",
            "soak_s=60  (default)",
            "placement=fixed  (default)",
            "lmk=off  (default)",
            "pace  (default: none: the workload is CPU-bound)",
            "scenario=shell  (fixed for this boot)",
            "exit=psci  (fixed for this boot)",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        // No Rust formatting: no `Some(`, no `None`.
        assert!(!text.contains("Some") && !text.contains("None"), "{text}");
        let d = show(&CmdLine::default());
        assert!(d.contains("\nmix=3,1,30,59,7  (default)\n"), "{d}");
        assert!(d.contains("\nops  (default: one per page of RAM"), "{d}");
    }

    #[test]
    fn every_shown_value_reads_back() {
        let s = CmdLine::parse(
            "scenario=shell reclaim=sync kcompressd_cpu=2,3 ops=500 pace=9 \
             workload_cpu=3 bench_workers=1,2 bench_budget_s=5 bench_anon=7",
        )
        .unwrap();
        let text = show(&s);
        // Every value `show` prints is a word `set` takes back, default or not.
        let mut again = CmdLine::default();
        for line in text.lines().filter(|l| !l.contains("fixed")) {
            let word = line.split(' ').next().unwrap();
            if word.contains('=') {
                again.set(word).unwrap();
            }
        }
        for line in text
            .lines()
            .filter(|l| !l.contains("(default") && !l.contains("fixed"))
        {
            let word = line.split(' ').next().unwrap();
            assert!(s.given(Key::from_name(word.split('=').next().unwrap()).unwrap()));
        }
        assert_eq!(again.ops, Some(500));
        assert_eq!(again.pace, Some(9));
        assert_eq!(again.bench_anon, Some(7));
        assert_eq!(again.seed, Some(1));
    }

    #[test]
    fn set_default_puts_a_key_back() {
        let mut s = CmdLine::parse("scenario=shell seed=9 kswapd_cpu=3").unwrap();
        let keys = apply(&mut s, words("set seed=5 ring=64")).unwrap();
        assert_eq!(keys.as_slice(), [Key::Seed, Key::Ring]);
        assert!(show(&s).contains("\nseed=5\n"));
        apply(&mut s, words("set seed=default kswapd_cpu=default")).unwrap();
        assert_eq!(s.seed, None);
        assert!(!s.given(Key::Seed) && !s.given(Key::KswapdCpu) && s.given(Key::Ring));
        assert_eq!(s.kswapd_cpu, 1);
        let text = show(&s);
        assert!(text.contains("\nseed=1  (default)\n"), "{text}");
        assert!(text.contains("\nring=64\n"), "{text}");
        let mut line = String::new();
        write_setting(&mut line, &s, Key::Seed, " ").unwrap();
        assert_eq!(line, "seed=1 (default)");
        for (bad, error) in [
            ("set scenario=default", "set: \"scenario=default\" is fixed"),
            (
                "set nokey=default",
                "set: unknown command-line key \"nokey\"",
            ),
            ("set seed=default seed=2", "set: key given twice"),
        ] {
            let before = s.clone();
            let e = apply(&mut s, words(bad)).unwrap_err().to_string();
            assert!(e.starts_with(error), "{bad}: {e}");
            assert_eq!(s, before);
        }
    }

    #[test]
    fn near_misses_get_a_suggestion() {
        let mut s = CmdLine::default();
        let e = |s: &mut CmdLine, line| apply(s, words(line)).unwrap_err().to_string();
        assert_eq!(
            e(&mut s, "set sed=5"),
            "set: unknown key \"sed\": did you mean seed?"
        );
        assert_eq!(
            e(&mut s, "set seeed=default"),
            "set: unknown key \"seeed\": did you mean seed?"
        );
        assert_eq!(
            e(&mut s, "set reclaim=asinc"),
            "set: bad value in command-line word \"reclaim=asinc\": expected sync|async: did you mean async?"
        );
        // Far from every key: the list of keys instead.
        assert!(e(&mut s, "set frobnicate=1").contains("(known: scenario|exit|"));
        // A number has no word to suggest.
        assert!(e(&mut s, "set ring=x").ends_with("expected 1..=1024"));
        // A fixed key is not suggested.
        assert!(!e(&mut s, "set scenari=boot").contains("did you mean"));
    }

    proptest! {
        #[test]
        fn set_never_panics_and_keeps_settings_on_error(line in "set( [a-z_]{1,12}=[a-z0-9,]{0,8}){1,4}") {
            let mut s = CmdLine::default();
            let before = s.clone();
            if let Ok(Some(Command::Set(w))) = parse(&line)
                && apply(&mut s, w).is_err()
            {
                prop_assert_eq!(s, before);
            }
        }
    }
}
