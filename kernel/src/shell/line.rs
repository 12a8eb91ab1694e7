//! The console's line editor: bytes from the UART in, echo bytes and finished lines
//! out. Knows printable ASCII, backspace/DEL, Ctrl-U (kill line), Ctrl-C (cancel),
//! CR or LF (end of line, CR LF counts once) and skips ANSI escape sequences (arrow
//! keys). Does no I/O itself: the caller writes the echo and runs the lines.

/// What one input byte completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<const N: usize> {
    /// A line ended (CR or LF); it holds printable ASCII only.
    Line(Line<N>),
    /// A line ended that was longer than the buffer: it is refused whole.
    TooLong,
    /// Ctrl-C: the line was thrown away.
    Cancelled,
}

/// A finished line: up to `N` printable ASCII bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Line<N> {
    pub fn as_str(&self) -> &str {
        // Only printable ASCII (0x20..=0x7e) is ever stored.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

/// Where the editor is inside an escape sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// After ESC [ or ESC O: parameters until a final byte 0x40..=0x7e.
    Sequence,
}

pub const BACKSPACE: u8 = 0x08;
pub const DEL: u8 = 0x7f;
pub const CTRL_C: u8 = 0x03;
pub const CTRL_U: u8 = 0x15;
pub const ESC: u8 = 0x1b;
/// What the terminal gets for each character rubbed out.
pub const RUB_OUT: &[u8] = b"\x08 \x08";
/// The bell, rung once when a line outgrows the buffer.
pub const BELL: u8 = 0x07;

/// A line being typed, at most `N` bytes.
pub struct LineEditor<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// More than `N` bytes were typed: the line is refused when it ends.
    overflow: bool,
    /// The last byte was CR: a LF right after it ends no second line.
    after_cr: bool,
    escape: Escape,
}

impl<const N: usize> Default for LineEditor<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineEditor<N> {
    /// The longest line accepted.
    pub const CAPACITY: usize = N;

    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflow: false,
            after_cr: false,
            escape: Escape::None,
        }
    }

    /// What the line holds so far (after an overflow: the part that fit, shown but
    /// refused when the line ends).
    pub fn pending(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// Takes one input byte; writes what the terminal should show to `echo`.
    pub fn feed(&mut self, byte: u8, echo: &mut impl FnMut(&[u8])) -> Option<Event<N>> {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match self.escape {
            Escape::Start => {
                self.escape = if byte == b'[' || byte == b'O' {
                    Escape::Sequence
                } else {
                    Escape::None
                };
                return None;
            }
            Escape::Sequence => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                return None;
            }
            Escape::None => {}
        }
        match byte {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                echo(b"\r\n");
                let event = if self.overflow {
                    Event::TooLong
                } else {
                    let mut bytes = [0; N];
                    bytes[..self.len].copy_from_slice(&self.buf[..self.len]);
                    Event::Line(Line {
                        bytes,
                        len: self.len,
                    })
                };
                self.clear();
                Some(event)
            }
            CTRL_C => {
                echo(b"^C\r\n");
                self.clear();
                Some(Event::Cancelled)
            }
            CTRL_U => {
                for _ in 0..self.len {
                    echo(RUB_OUT);
                }
                self.clear();
                None
            }
            BACKSPACE | DEL => {
                if self.len > 0 && !self.overflow {
                    self.len -= 1;
                    echo(RUB_OUT);
                }
                None
            }
            ESC => {
                self.escape = Escape::Start;
                None
            }
            b'\t' | 0x20..=0x7e => {
                let printable = if byte == b'\t' { b' ' } else { byte };
                if self.overflow {
                    return None;
                }
                if self.len == N {
                    self.overflow = true;
                    echo(&[BELL]);
                    return None;
                }
                self.buf[self.len] = printable;
                self.len += 1;
                echo(&[printable]);
                None
            }
            // Other control bytes and non-ASCII: ignored.
            _ => None,
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Editor = LineEditor<16>;

    /// Feeds `input`; returns the events and everything echoed.
    fn run(ed: &mut Editor, input: &[u8]) -> (Vec<Event<16>>, Vec<u8>) {
        let mut echoed = Vec::new();
        let events = input
            .iter()
            .filter_map(|&b| ed.feed(b, &mut |e: &[u8]| echoed.extend_from_slice(e)))
            .collect();
        (events, echoed)
    }

    fn lines(input: &[u8]) -> Vec<String> {
        run(&mut Editor::new(), input)
            .0
            .into_iter()
            .map(|e| match e {
                Event::Line(l) => l.as_str().to_string(),
                Event::TooLong => "<too long>".to_string(),
                Event::Cancelled => "<cancelled>".to_string(),
            })
            .collect()
    }

    #[test]
    fn cr_lf_and_crlf_end_one_line_each() {
        assert_eq!(
            lines(b"help\rvmstat\nzram\r\n\n"),
            ["help", "vmstat", "zram", ""]
        );
    }

    #[test]
    fn backspace_and_del_rub_out() {
        let (events, echo) = run(&mut Editor::new(), b"vmsx\x08tat\x7f\x7ft\r");
        assert_eq!(events, [Event::Line(line("vmstt"))]);
        assert_eq!(echo, b"vmsx\x08 \x08tat\x08 \x08\x08 \x08t\r\n");
        assert_eq!(lines(b"\x08\x7fa\r"), ["a"]);
    }

    fn line(s: &str) -> Line<16> {
        let mut bytes = [0; 16];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Line {
            bytes,
            len: s.len(),
        }
    }

    #[test]
    fn ctrl_u_kills_and_ctrl_c_cancels() {
        let (events, echo) = run(&mut Editor::new(), b"abc\x15top\r");
        assert_eq!(events, [Event::Line(line("top"))]);
        assert_eq!(echo, b"abc\x08 \x08\x08 \x08\x08 \x08top\r\n");
        assert_eq!(lines(b"poweroff\x03help\r"), ["<cancelled>", "help"]);
    }

    #[test]
    fn overlong_line_is_refused_whole_then_editing_goes_on() {
        let long = [b'x'; 17];
        let mut input = long.to_vec();
        input.extend_from_slice(b"\x08\x08\rmeminfo\r");
        assert_eq!(lines(&input), ["<too long>", "meminfo"]);
        // Exactly the capacity is fine.
        assert_eq!(lines(&[b'y'; 16]).len(), 0);
        let mut exact = [b'y'; 16].to_vec();
        exact.push(b'\n');
        assert_eq!(lines(&exact), ["y".repeat(16)]);
        // Ctrl-U forgets the overflow.
        let mut killed = long.to_vec();
        killed.extend_from_slice(b"\x15ok\r");
        assert_eq!(lines(&killed), ["ok"]);
    }

    #[test]
    fn escape_sequences_and_other_bytes_are_skipped() {
        assert_eq!(lines(b"to\x1b[Ap\x1b[1;5C\x1bOA\x01\xc3\xa9\r"), ["top"]);
        assert_eq!(lines(b"set\treclaim=sync\r"), ["set reclaim=sync"]);
    }

    /// The reference model: printable characters minus deletions, per line.
    fn model(input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut overflow = false;
        let mut after_cr = false;
        for &b in input {
            let was_cr = std::mem::replace(&mut after_cr, b == b'\r');
            match b {
                b'\n' if was_cr => {}
                b'\r' | b'\n' => {
                    out.push(if overflow {
                        "<too long>".to_string()
                    } else {
                        String::from_utf8(cur.clone()).unwrap()
                    });
                    cur.clear();
                    overflow = false;
                }
                CTRL_C => {
                    out.push("<cancelled>".to_string());
                    cur.clear();
                    overflow = false;
                }
                CTRL_U => {
                    cur.clear();
                    overflow = false;
                }
                BACKSPACE | DEL if !overflow => {
                    cur.pop();
                }
                0x20..=0x7e if !overflow => {
                    if cur.len() == 16 {
                        overflow = true;
                    } else {
                        cur.push(b);
                    }
                }
                _ => {}
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_lines_are_printable(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut ed = Editor::new();
            let (events, echo) = run(&mut ed, &input);
            for e in events {
                if let Event::Line(l) = e {
                    prop_assert!(l.as_str().len() <= 16);
                    prop_assert!(l.as_str().bytes().all(|b| (0x20..=0x7e).contains(&b)));
                }
            }
            prop_assert!(echo.iter().all(|&b| b == b'\r' || b == b'\n' || b == BELL || b == BACKSPACE || (0x20..=0x7e).contains(&b)));
        }

        #[test]
        fn editor_matches_the_model(input in proptest::collection::vec(
            prop_oneof![
                (0x20u8..=0x7e),
                Just(b'\r'), Just(b'\n'), Just(BACKSPACE), Just(DEL), Just(CTRL_U), Just(CTRL_C),
            ],
            0..120,
        )) {
            prop_assert_eq!(lines(&input), model(&input));
        }

        #[test]
        fn echo_replays_to_the_pending_line(input in proptest::collection::vec(
            prop_oneof![(0x20u8..=0x7e), Just(BACKSPACE), Just(CTRL_U)],
            0..40,
        )) {
            // A terminal that prints the echo (backspace moves left) shows what the
            // editor holds.
            let mut ed = Editor::new();
            let (_, echo) = run(&mut ed, &input);
            let mut screen: Vec<u8> = Vec::new();
            let mut col = 0;
            for &b in &echo {
                match b {
                    BACKSPACE => col -= 1,
                    BELL => {}
                    _ => {
                        screen.truncate(col);
                        screen.push(b);
                        col += 1;
                    }
                }
            }
            let shown = String::from_utf8(screen[..col].to_vec()).unwrap();
            prop_assert_eq!(shown.as_str(), ed.pending());
        }
    }
}
