//! The console's commands: one table (name, arguments, help line) and the parser from
//! a typed line to a `Command`. Unknown commands, missing, extra and bad arguments are
//! errors that say what was expected, and the nearest word when one is close. Running a command is the kernel's business
//! (`scenario/shell.rs`); `set` values are checked there by the command-line parser.

use core::fmt;

use super::complete::{choices, nearest};

/// What `run` starts in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// `scenario=reclaim`'s workload: anonymous memory of twice the RAM.
    Pressure,
    /// `scenario=bench`: sync against async on the app-switching workload.
    Bench,
    /// `scenario=apps`: app-switch latency, kills and cold starts per mode.
    Apps,
}

impl RunKind {
    pub const ALL: &[RunKind] = &[RunKind::Pressure, RunKind::Bench, RunKind::Apps];

    pub fn name(self) -> &'static str {
        match self {
            RunKind::Pressure => "pressure",
            RunKind::Bench => "bench",
            RunKind::Apps => "apps",
        }
    }
}

/// `trace on|off|dump`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceOp {
    On,
    Off,
    Dump,
}

/// A parsed console line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Help,
    Meminfo,
    Vmstat,
    Pressure,
    Zram,
    Buddyinfo,
    Zoneinfo,
    Top,
    Show,
    /// `key=value` words, at least one, each with a `=` (the values are checked by
    /// whoever applies them).
    Set(Words<'a>),
    Run(RunKind),
    /// Stop reading input until the background run ends.
    Wait,
    /// Stop reading input for this many seconds.
    Sleep(u64),
    Trace(TraceOp),
    Poweroff,
}

/// The arguments of `set`: whitespace-separated `key=value` words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words<'a>(&'a str);

impl<'a> Words<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a str> {
        self.0.split_ascii_whitespace()
    }
}

/// Longest `sleep`, in seconds.
pub const SLEEP_MAX_S: u64 = 3600;

/// One console command: how it is typed and what it does.
pub struct Help {
    pub name: &'static str,
    pub args: &'static str,
    pub about: &'static str,
}

/// Every command, in `help` order.
pub const COMMANDS: &[Help] = &[
    Help {
        name: "help",
        args: "",
        about: "this list",
    },
    Help {
        name: "meminfo",
        args: "",
        about: "memory in kB, /proc/meminfo's fields",
    },
    Help {
        name: "vmstat",
        args: "",
        about: "event counters summed over the CPUs, /proc/vmstat's names",
    },
    Help {
        name: "pressure",
        args: "",
        about: "memory stall of the workloads since boot, /proc/pressure/memory",
    },
    Help {
        name: "zram",
        args: "",
        about: "the compressed store: zram's mm_stat, in its order",
    },
    Help {
        name: "buddyinfo",
        args: "",
        about: "free blocks per order, /proc/buddyinfo's format",
    },
    Help {
        name: "zoneinfo",
        args: "",
        about: "free pages against the min/low/high watermarks",
    },
    Help {
        name: "top",
        args: "",
        about: "what each core runs and its busy share since the last top",
    },
    Help {
        name: "show",
        args: "",
        about: "the current settings, as key=value words",
    },
    Help {
        name: "set",
        args: "key=value...",
        about: "change settings for the next run (the command line's keys)",
    },
    Help {
        name: "run",
        args: "pressure|bench|apps",
        about: "start a run in the background; the console stays live",
    },
    Help {
        name: "wait",
        args: "",
        about: "read no input until the background run has ended",
    },
    Help {
        name: "sleep",
        args: "SECONDS",
        about: "read no input for that long (runs go on)",
    },
    Help {
        name: "trace",
        args: "on|off|dump",
        about: "record reclaim events per core; dump them to the console",
    },
    Help {
        name: "poweroff",
        args: "",
        about: "print the session's RESULT line and power off",
    },
];

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    Unknown(&'a str),
    /// A required argument is missing.
    Missing {
        command: &'static str,
        expected: &'static str,
    },
    /// An argument that is not one of `expected`.
    Bad {
        command: &'static str,
        arg: &'a str,
        expected: &'static str,
    },
    /// More arguments than the command takes; `arg` is the first extra one.
    Extra {
        command: &'static str,
        arg: &'a str,
    },
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(name) => {
                write!(f, "unknown command \"{name}\"")?;
                if let Some(near) = nearest(name, COMMANDS.iter().map(|c| c.name)) {
                    write!(f, ": did you mean {near}?")?;
                }
                f.write_str(" (type help for the list)")
            }
            ParseError::Missing { command, expected } => {
                write!(f, "{command}: expected {expected}")
            }
            ParseError::Bad {
                command,
                arg,
                expected,
            } => {
                write!(f, "{command}: bad argument \"{arg}\": expected {expected}")?;
                match nearest(arg, choices(expected)) {
                    Some(near) => write!(f, ": did you mean {near}?"),
                    None => Ok(()),
                }
            }
            ParseError::Extra { command, arg } => {
                write!(f, "{command}: unexpected argument \"{arg}\"")
            }
        }
    }
}

/// Parses one line: `Ok(None)` for a blank line.
pub fn parse(line: &str) -> Result<Option<Command<'_>>, ParseError<'_>> {
    let line = line.trim_ascii();
    let Some(name) = line.split_ascii_whitespace().next() else {
        return Ok(None);
    };
    let rest = line[name.len()..].trim_ascii_start();
    let mut args = rest.split_ascii_whitespace();
    let help = COMMANDS
        .iter()
        .find(|c| c.name == name)
        .ok_or(ParseError::Unknown(name))?;
    let command = help.name;
    let missing = ParseError::Missing {
        command,
        expected: help.args,
    };
    let bad = |arg| ParseError::Bad {
        command,
        arg,
        expected: help.args,
    };
    let parsed = match command {
        "help" => Command::Help,
        "meminfo" => Command::Meminfo,
        "vmstat" => Command::Vmstat,
        "pressure" => Command::Pressure,
        "zram" => Command::Zram,
        "buddyinfo" => Command::Buddyinfo,
        "zoneinfo" => Command::Zoneinfo,
        "top" => Command::Top,
        "show" => Command::Show,
        "wait" => Command::Wait,
        "poweroff" => Command::Poweroff,
        "set" => {
            if rest.is_empty() {
                return Err(missing);
            }
            if let Some(word) = args.find(|w| {
                w.split_once('=')
                    .is_none_or(|(key, value)| key.is_empty() || value.is_empty())
            }) {
                return Err(bad(word));
            }
            return Ok(Some(Command::Set(Words(rest))));
        }
        "run" => {
            let arg = args.next().ok_or(missing)?;
            let kind = RunKind::ALL
                .iter()
                .copied()
                .find(|k| k.name() == arg)
                .ok_or(bad(arg))?;
            Command::Run(kind)
        }
        "sleep" => {
            let arg = args.next().ok_or(missing)?;
            let secs = (!arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()))
                .then(|| arg.parse::<u64>().ok())
                .flatten()
                .filter(|s| (1..=SLEEP_MAX_S).contains(s))
                .ok_or(ParseError::Bad {
                    command,
                    arg,
                    expected: "whole seconds, 1 to 3600",
                })?;
            Command::Sleep(secs)
        }
        "trace" => {
            let arg = args.next().ok_or(missing)?;
            Command::Trace(match arg {
                "on" => TraceOp::On,
                "off" => TraceOp::Off,
                "dump" => TraceOp::Dump,
                _ => return Err(bad(arg)),
            })
        }
        _ => unreachable!("every entry of COMMANDS is parsed above"),
    };
    match args.next() {
        Some(arg) => Err(ParseError::Extra { command, arg }),
        None => Ok(Some(parsed)),
    }
}

/// Writes `help`'s text: one line per command.
pub fn write_help(out: &mut impl fmt::Write) -> fmt::Result {
    const USAGE_WIDTH: usize = 22;
    for c in COMMANDS {
        let sep = if c.args.is_empty() { "" } else { " " };
        let used = c.name.len() + sep.len() + c.args.len();
        let pad = USAGE_WIDTH.saturating_sub(used) + 1;
        writeln!(out, "  {}{sep}{}{:pad$}{}", c.name, c.args, "", c.about)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(line: &str) -> String {
        parse(line).unwrap_err().to_string()
    }

    #[test]
    fn every_command_parses() {
        let samples = [
            ("help", Command::Help),
            (" meminfo ", Command::Meminfo),
            ("vmstat", Command::Vmstat),
            ("pressure", Command::Pressure),
            ("zram", Command::Zram),
            ("buddyinfo", Command::Buddyinfo),
            ("zoneinfo", Command::Zoneinfo),
            ("top", Command::Top),
            ("show", Command::Show),
            ("run pressure", Command::Run(RunKind::Pressure)),
            ("run  bench", Command::Run(RunKind::Bench)),
            ("wait", Command::Wait),
            ("sleep 5", Command::Sleep(5)),
            ("trace on", Command::Trace(TraceOp::On)),
            ("trace off", Command::Trace(TraceOp::Off)),
            ("trace dump", Command::Trace(TraceOp::Dump)),
            ("poweroff", Command::Poweroff),
        ];
        for (line, want) in samples {
            assert_eq!(parse(line), Ok(Some(want)), "{line}");
        }
        // Every command of the table has a sample.
        for c in COMMANDS {
            assert!(
                c.name == "set" || samples.iter().any(|(l, _)| l.trim().starts_with(c.name)),
                "{}",
                c.name
            );
        }
        let Ok(Some(Command::Set(words))) = parse("set reclaim=sync  ring_full=oldest") else {
            panic!("set did not parse");
        };
        assert_eq!(
            words.iter().collect::<Vec<_>>(),
            ["reclaim=sync", "ring_full=oldest"]
        );
        assert_eq!(parse("   "), Ok(None));
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert_eq!(
            err("meminf"),
            "unknown command \"meminf\": did you mean meminfo? (type help for the list)"
        );
        assert_eq!(
            err("vmstatt -a"),
            "unknown command \"vmstatt\": did you mean vmstat? (type help for the list)"
        );
        assert_eq!(
            err("frobnicate"),
            "unknown command \"frobnicate\" (type help for the list)"
        );
        assert_eq!(
            err("run presure"),
            "run: bad argument \"presure\": expected pressure|bench|apps: did you mean pressure?"
        );
        assert_eq!(
            err("trace dupm"),
            "trace: bad argument \"dupm\": expected on|off|dump: did you mean dump?"
        );
        assert_eq!(err("run"), "run: expected pressure|bench|apps");
        assert_eq!(
            err("run fast"),
            "run: bad argument \"fast\": expected pressure|bench|apps"
        );
        assert_eq!(err("vmstat -a"), "vmstat: unexpected argument \"-a\"");
        assert_eq!(
            err("pressure memory"),
            "pressure: unexpected argument \"memory\""
        );
        assert_eq!(err("run bench now"), "run: unexpected argument \"now\"");
        assert_eq!(err("set"), "set: expected key=value...");
        assert_eq!(
            err("set reclaim=sync fast"),
            "set: bad argument \"fast\": expected key=value..."
        );
        assert!(err("set =1").starts_with("set: bad argument \"=1\""));
        assert!(err("set reclaim=").starts_with("set: bad argument \"reclaim=\""));
        for bad in ["0", "-1", "1.5", "3601", "99999999999999999999", "x"] {
            assert_eq!(
                err(&format!("sleep {bad}")),
                format!("sleep: bad argument \"{bad}\": expected whole seconds, 1 to 3600")
            );
        }
        assert_eq!(
            err("trace maybe"),
            "trace: bad argument \"maybe\": expected on|off|dump"
        );
        assert_eq!(
            err("HELP"),
            "unknown command \"HELP\" (type help for the list)"
        );
    }

    #[test]
    fn help_lists_every_command_once() {
        let mut text = String::new();
        write_help(&mut text).unwrap();
        assert_eq!(text.lines().count(), COMMANDS.len());
        for c in COMMANDS {
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with(c.name) && l.contains(c.about)),
                "{}",
                c.name
            );
        }
        assert!(text.contains("  run pressure|bench|apps "));
    }

    proptest! {
        #[test]
        fn any_line_parses_or_errors_without_panicking(line in "[ -~]{0,80}") {
            match parse(&line) {
                Ok(None) => prop_assert!(line.trim().is_empty()),
                Ok(Some(_)) => {}
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }

        #[test]
        fn unknown_words_are_refused(word in "[a-z]{1,12}") {
            prop_assume!(COMMANDS.iter().all(|c| c.name != word));
            prop_assert_eq!(parse(&word), Err(ParseError::Unknown(&word)));
        }
    }
}
