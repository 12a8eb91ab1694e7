//! The console's settings: the command line's keys, changed with `set` and listed with
//! `show`. `set` takes the command-line parser's checks (`CmdLine::set`), applies all
//! its words or none, and refuses the keys that pick what boots and how it ends.

use core::fmt;

use platform::ArrayVec;
use platform::cmdline::{CmdLine, CmdLineError, Key};

use super::command::Words;

/// Keys fixed for the boot: `scenario=` and `exit=`.
pub fn is_tunable(key: Key) -> bool {
    !matches!(key, Key::Scenario | Key::Exit)
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
            SetError::CmdLine(e) => write!(f, "set: {e}"),
        }
    }
}

/// Applies every `key=value` of `words` to `settings`, or none of them. Returns the
/// keys set, in order.
pub fn apply<'a>(
    settings: &mut CmdLine,
    words: Words<'a>,
) -> Result<ArrayVec<Key, { Key::ALL.len() }>, SetError<'a>> {
    let mut next = settings.clone();
    let mut keys = ArrayVec::new();
    for word in words.iter() {
        let key = next.set(word).map_err(SetError::CmdLine)?;
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

/// Writes the value of `key` in `settings` as the command line spells it, or
/// `(default)` for an optional key left unset.
pub fn write_value(out: &mut impl fmt::Write, settings: &CmdLine, key: Key) -> fmt::Result {
    let opt = |out: &mut dyn fmt::Write, v: Option<u64>| match v {
        Some(v) => write!(out, "{v}"),
        None => out.write_str("(default)"),
    };
    match key {
        Key::Scenario => out.write_str(settings.scenario.name()),
        Key::Exit => out.write_str(settings.exit.name()),
        Key::Reclaim => out.write_str(settings.reclaim.name()),
        Key::KswapdCpu => write!(out, "{}", settings.kswapd_cpu),
        Key::KcompressdCpu => write_list(out, &settings.kcompressd_cpu),
        Key::WorkloadCpu => match &settings.workload_cpu {
            Some(cpus) => write_list(out, cpus),
            None => out.write_str("(default)"),
        },
        Key::BenchWorkers => match &settings.bench_workers {
            Some(counts) => write_list(out, counts),
            None => out.write_str("(default)"),
        },
        Key::BenchBudgetS => opt(out, settings.bench_budget_s),
        Key::RingFull => out.write_str(settings.ring_full.name()),
        Key::SoakS => opt(out, settings.soak_s),
        Key::Seed => opt(out, settings.seed),
        Key::Ops => opt(out, settings.ops),
        Key::BenchRuns => opt(out, settings.bench_runs),
        Key::BenchRam => opt(out, settings.bench_ram),
        Key::BenchAnon => opt(out, settings.bench_anon),
        Key::Pace => opt(out, settings.pace),
        Key::Trace => out.write_str(if settings.trace { "on" } else { "off" }),
        Key::Ring => opt(out, settings.ring.map(u64::from)),
        Key::WatermarkScaleFactor => opt(out, settings.watermark_scale_factor.map(u64::from)),
        Key::Placement => out.write_str(settings.placement.name()),
        Key::Mix => match settings.mix {
            Some([a, b, c, d, e]) => write!(out, "{a},{b},{c},{d},{e}"),
            None => out.write_str("(default)"),
        },
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

/// Writes `show`: one `key=value` line per key, the tunable ones first.
pub fn write_settings(out: &mut impl fmt::Write, settings: &CmdLine) -> fmt::Result {
    let tunable = Key::ALL.iter().filter(|k| is_tunable(**k));
    let fixed = Key::ALL.iter().filter(|k| !is_tunable(**k));
    for &key in tunable {
        write!(out, "{}=", key.name())?;
        write_value(out, settings, key)?;
        out.write_char('\n')?;
    }
    for &key in fixed {
        write!(out, "{}=", key.name())?;
        write_value(out, settings, key)?;
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
            ("set speed=9", "set: unknown command-line key \"speed\""),
        ] {
            let e = apply(&mut s, words(line)).unwrap_err().to_string();
            assert!(e.starts_with(error), "{line}: {e}");
            assert_eq!(s, before, "{line}");
        }
    }

    #[test]
    fn show_lists_every_key_once_and_reads_back() {
        let s = CmdLine::parse(
            "scenario=shell reclaim=sync kcompressd_cpu=2,3 ops=500 mix=10,0,30,60,0 trace=on",
        )
        .unwrap();
        let mut text = String::new();
        write_settings(&mut text, &s).unwrap();
        assert_eq!(text.lines().count(), Key::ALL.len());
        for key in Key::ALL {
            assert_eq!(
                text.lines()
                    .filter(|l| l.starts_with(&format!("{}=", key.name())))
                    .count(),
                1,
                "{}",
                key.name()
            );
        }
        assert!(text.starts_with("reclaim=sync\n"));
        assert!(text.contains("\nkcompressd_cpu=2,3\n"));
        assert!(text.contains("\nmix=10,0,30,60,0\n"));
        assert!(text.contains("\nseed=(default)\n"));
        assert!(text.contains("\nscenario=shell  (fixed for this boot)\n"));
        // Every line without "(default)" or the fixed note is a word `set` takes back.
        let mut again = CmdLine::default();
        for line in text.lines().filter(|l| !l.contains('(')) {
            again.set(line).unwrap();
        }
        again.scenario = s.scenario;
        // The same settings (which keys were given differs: `show` lists them all).
        let mut shown = String::new();
        write_settings(&mut shown, &again).unwrap();
        assert_eq!(shown, text);
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
