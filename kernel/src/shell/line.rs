//! The console's line editor, as readline behaves at a serial terminal: bytes from the
//! UART in, terminal output and finished lines out. Edits anywhere in the line (arrows,
//! Home/End, Delete, readline's Ctrl keys), recalls earlier lines (Up/Down), completes
//! words (Tab), reads escape sequences whole so Escape never eats a key, and redraws
//! the prompt and line on demand. Does no I/O: the caller writes the output and runs
//! the lines; which words Tab offers is the caller's `Complete`.

use super::complete::{Candidate, word_start};

/// What one input byte completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<const N: usize> {
    /// A line ended (CR or LF); it holds printable ASCII only.
    Line(Line<N>),
    /// A line ended that was longer than the buffer: it is refused whole.
    TooLong,
    /// Ctrl-C: the line was thrown away.
    Cancelled,
    /// Ctrl-D on an empty line: the end of input (a shell's logout). Nothing is
    /// written: the line is still open, for the caller to say what it does.
    EndOfInput,
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

/// Offers Tab's candidates for the word that starts after `context` (see
/// `complete::candidates`).
pub type Complete = fn(context: &str, found: &mut dyn FnMut(Candidate));

pub const CTRL_A: u8 = 0x01;
pub const CTRL_B: u8 = 0x02;
pub const CTRL_C: u8 = 0x03;
pub const CTRL_D: u8 = 0x04;
pub const CTRL_E: u8 = 0x05;
pub const CTRL_F: u8 = 0x06;
pub const BACKSPACE: u8 = 0x08;
pub const TAB: u8 = 0x09;
pub const CTRL_K: u8 = 0x0b;
pub const CTRL_L: u8 = 0x0c;
pub const CTRL_N: u8 = 0x0e;
pub const CTRL_P: u8 = 0x10;
pub const CTRL_U: u8 = 0x15;
pub const CTRL_W: u8 = 0x17;
pub const ESC: u8 = 0x1b;
pub const DEL: u8 = 0x7f;
/// The bell: a key that cannot act here (a full line, nothing to complete).
pub const BELL: u8 = 0x07;
/// Home the cursor and clear the screen (ECMA-48 CUP, ED 2): Ctrl-L.
pub const CLEAR_SCREEN: &[u8] = b"\x1b[H\x1b[2J";
/// Where Tab's list of candidates wraps.
const LIST_WIDTH: usize = 78;

/// What a key asks of the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Char(u8),
    Enter,
    Backspace,
    /// Delete, or Ctrl-D on a line that is not empty.
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    /// Ctrl-U: the text before the cursor.
    KillBefore,
    /// Ctrl-K: the text from the cursor on.
    KillAfter,
    /// Ctrl-W: the word before the cursor.
    KillWord,
    Tab,
    ClearScreen,
    Cancel,
    CtrlD,
    /// An escape sequence this editor does not act on (F keys, Insert, PgUp...).
    Ignored,
}

/// Where the decoder is inside an escape sequence (ECMA-48).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// After ESC [: parameter bytes 0x30..=0x3f and intermediates 0x20..=0x2f until a
    /// final byte 0x40..=0x7e; `param` is the first parameter's value, `more` says a
    /// `;` or an intermediate ended it.
    Csi {
        param: u16,
        more: bool,
    },
    /// After ESC O: one final byte.
    Ss3,
}

/// Lines typed before, newest last: at most `H`, each at most `N` bytes.
struct History<const N: usize, const H: usize> {
    lines: [[u8; N]; H],
    lens: [usize; H],
    /// Where the next line goes; the newest is just before it.
    next: usize,
    count: usize,
}

impl<const N: usize, const H: usize> History<N, H> {
    const fn new() -> Self {
        History {
            lines: [[0; N]; H],
            lens: [0; H],
            next: 0,
            count: 0,
        }
    }

    /// The `age`-th newest line (0 the newest).
    fn get(&self, age: usize) -> Option<&[u8]> {
        if age >= self.count {
            return None;
        }
        let at = (self.next + H - 1 - age) % H;
        Some(&self.lines[at][..self.lens[at]])
    }

    /// Keeps `line` unless it is blank or repeats the newest (bash's ignoredups).
    fn push(&mut self, line: &[u8]) {
        if H == 0 || line.iter().all(|&b| b == b' ') || self.get(0) == Some(line) {
            return;
        }
        self.lines[self.next][..line.len()].copy_from_slice(line);
        self.lens[self.next] = line.len();
        self.next = (self.next + 1) % H;
        self.count = (self.count + 1).min(H);
    }
}

/// A line being typed, at most `N` bytes, after `prompt`, with `H` lines of history.
pub struct LineEditor<const N: usize, const H: usize> {
    prompt: &'static str,
    complete: Complete,
    buf: [u8; N],
    len: usize,
    /// Where the next character goes, `0..=len`; the terminal's cursor is there.
    cursor: usize,
    /// More than `N` bytes were typed: the line is refused when it ends.
    overflow: bool,
    /// The last byte was CR: a LF right after it ends no second line.
    after_cr: bool,
    escape: Escape,
    /// The last key was Tab: a second one lists the candidates.
    after_tab: bool,
    history: History<N, H>,
    /// The history line shown (0 the newest), while Up/Down browse it.
    browsing: Option<usize>,
    /// The line being typed when Up was first pressed, for Down to bring back.
    saved: [u8; N],
    saved_len: usize,
}

impl<const N: usize, const H: usize> LineEditor<N, H> {
    /// The longest line accepted.
    pub const CAPACITY: usize = N;

    pub const fn new(prompt: &'static str, complete: Complete) -> Self {
        Self {
            prompt,
            complete,
            buf: [0; N],
            len: 0,
            cursor: 0,
            overflow: false,
            after_cr: false,
            escape: Escape::None,
            after_tab: false,
            history: History::new(),
            browsing: None,
            saved: [0; N],
            saved_len: 0,
        }
    }

    /// What the line holds so far (after an overflow: the part that fit, shown but
    /// refused when the line ends).
    pub fn pending(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// Where the cursor is in `pending()`.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Writes the prompt and the line, the cursor where it was: to start a line, or
    /// to put it back after other output took its place.
    pub fn redraw(&self, out: &mut impl FnMut(&[u8])) {
        out(self.prompt.as_bytes());
        out(&self.buf[..self.len]);
        back(out, self.len - self.cursor);
    }

    /// Takes one input byte; writes what the terminal should show to `out`.
    pub fn feed(&mut self, byte: u8, out: &mut impl FnMut(&[u8])) -> Option<Event<N>> {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        if byte == b'\n' && after_cr {
            return None;
        }
        let key = self.decode(byte)?;
        let after_tab = core::mem::replace(&mut self.after_tab, key == Key::Tab);
        if self.overflow && !matches!(key, Key::Enter | Key::Cancel | Key::KillBefore) {
            return None;
        }
        match key {
            Key::Enter => {
                out(b"\r\n");
                let event = if self.overflow {
                    Event::TooLong
                } else {
                    self.history.push(&self.buf[..self.len]);
                    let mut bytes = [0; N];
                    bytes[..self.len].copy_from_slice(&self.buf[..self.len]);
                    Event::Line(Line {
                        bytes,
                        len: self.len,
                    })
                };
                self.clear();
                return Some(event);
            }
            Key::Cancel => {
                out(b"^C\r\n");
                self.clear();
                return Some(Event::Cancelled);
            }
            Key::CtrlD if self.len == 0 => {
                self.clear();
                return Some(Event::EndOfInput);
            }
            Key::KillBefore if self.overflow => {
                // The whole line: what was shown of it, and what did not fit.
                self.move_to(self.len, out);
                self.delete_before(self.len, out);
                self.overflow = false;
            }
            Key::Char(c) => {
                if !self.insert(&[c], out) {
                    self.overflow = true;
                    out(&[BELL]);
                }
            }
            Key::Backspace if self.cursor > 0 => self.delete_before(1, out),
            Key::Delete | Key::CtrlD if self.cursor < self.len => self.delete_after(1, out),
            Key::Left if self.cursor > 0 => self.move_to(self.cursor - 1, out),
            Key::Right if self.cursor < self.len => self.move_to(self.cursor + 1, out),
            Key::Home => self.move_to(0, out),
            Key::End => self.move_to(self.len, out),
            Key::Up => self.recall_older(out),
            Key::Down => self.recall_newer(out),
            Key::KillBefore => self.delete_before(self.cursor, out),
            Key::KillAfter => self.delete_after(self.len - self.cursor, out),
            Key::KillWord => {
                let before = &self.buf[..self.cursor];
                let word_end = before.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
                let word_start = before[..word_end]
                    .iter()
                    .rposition(|&b| b == b' ')
                    .map_or(0, |i| i + 1);
                self.delete_before(self.cursor - word_start, out);
            }
            Key::Tab => self.tab(after_tab, out),
            Key::ClearScreen => {
                out(CLEAR_SCREEN);
                self.redraw(out);
            }
            // Nothing to act on: at an end of the line, or a key of no use here.
            Key::Backspace | Key::Delete | Key::CtrlD | Key::Left | Key::Right | Key::Ignored => {}
        }
        None
    }

    /// The key `byte` completes, if any: escape sequences are read whole, and a byte
    /// that cannot continue one ends it and counts on its own.
    fn decode(&mut self, byte: u8) -> Option<Key> {
        match self.escape {
            Escape::None => {}
            Escape::Start => {
                self.escape = match byte {
                    b'[' => Escape::Csi {
                        param: 0,
                        more: false,
                    },
                    b'O' => Escape::Ss3,
                    _ => Escape::None,
                };
                if self.escape != Escape::None {
                    return None;
                }
            }
            Escape::Csi { param, more } => match byte {
                b'0'..=b'9' if !more => {
                    let digit = u16::from(byte - b'0');
                    let param = param.saturating_mul(10).saturating_add(digit);
                    self.escape = Escape::Csi { param, more };
                    return None;
                }
                // Further parameters (a modifier after `;`) and intermediates: read,
                // not used.
                0x20..=0x3f => {
                    self.escape = Escape::Csi { param, more: true };
                    return None;
                }
                0x40..=0x7e => {
                    self.escape = Escape::None;
                    return Some(csi_key(param, byte));
                }
                _ => self.escape = Escape::None,
            },
            Escape::Ss3 => {
                self.escape = Escape::None;
                if (0x40..=0x7e).contains(&byte) {
                    return Some(match byte {
                        b'A' => Key::Up,
                        b'B' => Key::Down,
                        b'C' => Key::Right,
                        b'D' => Key::Left,
                        b'H' => Key::Home,
                        b'F' => Key::End,
                        _ => Key::Ignored,
                    });
                }
            }
        }
        Some(match byte {
            b'\r' | b'\n' => Key::Enter,
            0x20..=0x7e => Key::Char(byte),
            BACKSPACE | DEL => Key::Backspace,
            TAB => Key::Tab,
            CTRL_A => Key::Home,
            CTRL_B => Key::Left,
            CTRL_C => Key::Cancel,
            CTRL_D => Key::CtrlD,
            CTRL_E => Key::End,
            CTRL_F => Key::Right,
            CTRL_K => Key::KillAfter,
            CTRL_L => Key::ClearScreen,
            CTRL_N => Key::Down,
            CTRL_P => Key::Up,
            CTRL_U => Key::KillBefore,
            CTRL_W => Key::KillWord,
            ESC => {
                self.escape = Escape::Start;
                return None;
            }
            // Other control bytes and non-ASCII.
            _ => Key::Ignored,
        })
    }

    /// Inserts `text` at the cursor; false (nothing changes) if it does not fit.
    fn insert(&mut self, text: &[u8], out: &mut impl FnMut(&[u8])) -> bool {
        let k = text.len();
        if self.len + k > N {
            return false;
        }
        self.buf.copy_within(self.cursor..self.len, self.cursor + k);
        self.buf[self.cursor..self.cursor + k].copy_from_slice(text);
        self.len += k;
        out(&self.buf[self.cursor..self.len]);
        self.cursor += k;
        back(out, self.len - self.cursor);
        true
    }

    /// Removes the `k` characters before the cursor.
    fn delete_before(&mut self, k: usize, out: &mut impl FnMut(&[u8])) {
        if k == 0 {
            return;
        }
        back(out, k);
        self.cursor -= k;
        self.delete_after(k, out);
    }

    /// Removes the `k` characters from the cursor on.
    fn delete_after(&mut self, k: usize, out: &mut impl FnMut(&[u8])) {
        if k == 0 {
            return;
        }
        self.buf.copy_within(self.cursor + k..self.len, self.cursor);
        self.len -= k;
        out(&self.buf[self.cursor..self.len]);
        spaces(out, k);
        back(out, self.len - self.cursor + k);
    }

    fn move_to(&mut self, to: usize, out: &mut impl FnMut(&[u8])) {
        if to < self.cursor {
            back(out, self.cursor - to);
        } else {
            out(&self.buf[self.cursor..to]);
        }
        self.cursor = to;
    }

    /// Shows `line` in place of the current one, the cursor at its end.
    fn replace(&mut self, line: &[u8], out: &mut impl FnMut(&[u8])) {
        let old = self.len;
        self.move_to(0, out);
        self.buf[..line.len()].copy_from_slice(line);
        self.len = line.len();
        self.cursor = line.len();
        out(line);
        if old > line.len() {
            spaces(out, old - line.len());
            back(out, old - line.len());
        }
    }

    /// Up: the next older history line (the line typed so far kept for Down).
    fn recall_older(&mut self, out: &mut impl FnMut(&[u8])) {
        let age = self.browsing.map_or(0, |a| a + 1);
        let mut line = [0; N];
        let Some(older) = self.history.get(age) else {
            out(&[BELL]);
            return;
        };
        line[..older.len()].copy_from_slice(older);
        let len = older.len();
        if self.browsing.is_none() {
            self.saved = self.buf;
            self.saved_len = self.len;
        }
        self.browsing = Some(age);
        self.replace(&line[..len], out);
    }

    /// Down: the next newer history line, then the line typed before Up.
    fn recall_newer(&mut self, out: &mut impl FnMut(&[u8])) {
        let mut line = [0; N];
        let len = match self.browsing {
            None => return,
            Some(0) => {
                self.browsing = None;
                line = self.saved;
                self.saved_len
            }
            Some(age) => {
                self.browsing = Some(age - 1);
                let newer = self.history.get(age - 1).unwrap_or(&[]);
                line[..newer.len()].copy_from_slice(newer);
                newer.len()
            }
        };
        self.replace(&line[..len], out);
    }

    /// Tab: completes the word before the cursor as far as its candidates agree (a
    /// whole word gets the byte that follows it); a second Tab with nothing to add
    /// lists them.
    fn tab(&mut self, again: bool, out: &mut impl FnMut(&[u8])) {
        let mut before = [0; N];
        before[..self.cursor].copy_from_slice(&self.buf[..self.cursor]);
        let before = core::str::from_utf8(&before[..self.cursor]).unwrap_or("");
        let start = word_start(before);
        let (context, word) = before.split_at(start);
        let (mut first, mut agree, mut count) = (None::<Candidate>, 0, 0);
        (self.complete)(context, &mut |c| {
            if !c.word.starts_with(word) {
                return;
            }
            count += 1;
            agree = match first {
                None => c.word.len(),
                Some(f) => agree.min(common_prefix(f.word, c.word)),
            };
            first.get_or_insert(c);
        });
        let Some(first) = first else {
            out(&[BELL]);
            return;
        };
        let rest = &first.word.as_bytes()[word.len()..agree];
        let fits = match count {
            1 if self.len + rest.len() < N => {
                self.insert(rest, out);
                self.insert(&[first.then], out)
            }
            1 => false,
            _ if !rest.is_empty() => self.insert(rest, out),
            _ if again => {
                self.list(context, word, out);
                true
            }
            _ => false,
        };
        if !fits {
            out(&[BELL]);
        }
    }

    /// Lists the candidates for `word` under the line, then the prompt and line again.
    fn list(&self, context: &str, word: &str, out: &mut impl FnMut(&[u8])) {
        out(b"\r\n");
        let mut column = 0;
        (self.complete)(context, &mut |c| {
            if !c.word.starts_with(word) {
                return;
            }
            if column > 0 && column + 2 + c.word.len() > LIST_WIDTH {
                out(b"\r\n");
                column = 0;
            }
            if column > 0 {
                out(b"  ");
                column += 2;
            }
            out(c.word.as_bytes());
            column += c.word.len();
        });
        out(b"\r\n");
        self.redraw(out);
    }

    fn clear(&mut self) {
        self.len = 0;
        self.cursor = 0;
        self.overflow = false;
        self.browsing = None;
    }
}

/// The key of CSI sequence `ESC [ param final` (xterm's and the VT220's keys).
fn csi_key(param: u16, final_byte: u8) -> Key {
    match (final_byte, param) {
        (b'A', _) => Key::Up,
        (b'B', _) => Key::Down,
        (b'C', _) => Key::Right,
        (b'D', _) => Key::Left,
        (b'H', _) | (b'~', 1 | 7) => Key::Home,
        (b'F', _) | (b'~', 4 | 8) => Key::End,
        (b'~', 3) => Key::Delete,
        _ => Key::Ignored,
    }
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// Moves the cursor `n` columns left (BS, as readline does on a plain terminal).
fn back(out: &mut impl FnMut(&[u8]), n: usize) {
    repeat(out, BACKSPACE, n);
}

fn spaces(out: &mut impl FnMut(&[u8]), n: usize) {
    repeat(out, b' ', n);
}

fn repeat(out: &mut impl FnMut(&[u8]), byte: u8, mut n: usize) {
    let chunk = [byte; 32];
    while n > 0 {
        let k = n.min(chunk.len());
        out(&chunk[..k]);
        n -= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::complete::candidates;
    use proptest::prelude::*;

    const PROMPT: &str = "> ";
    type Editor = LineEditor<16, 4>;

    fn editor() -> Editor {
        LineEditor::new(PROMPT, candidates)
    }

    const UP: &[u8] = b"\x1b[A";
    const DOWN: &[u8] = b"\x1b[B";
    const RIGHT: &[u8] = b"\x1b[C";
    const LEFT: &[u8] = b"\x1b[D";

    /// Feeds `input`; returns the events and everything written.
    fn run(ed: &mut Editor, input: &[u8]) -> (Vec<Event<16>>, Vec<u8>) {
        let mut out = Vec::new();
        let events = input
            .iter()
            .filter_map(|&b| ed.feed(b, &mut |e: &[u8]| out.extend_from_slice(e)))
            .collect();
        (events, out)
    }

    fn name(e: Event<16>) -> String {
        match e {
            Event::Line(l) => l.as_str().to_string(),
            Event::TooLong => "<too long>".to_string(),
            Event::Cancelled => "<cancelled>".to_string(),
            Event::EndOfInput => "<end>".to_string(),
        }
    }

    fn lines(input: &[u8]) -> Vec<String> {
        run(&mut editor(), input).0.into_iter().map(name).collect()
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// A one-row terminal: what it shows and where its cursor is after `out` (BS moves
    /// left, CR to column 0, LF starts a new row, Ctrl-L's sequence clears it).
    fn screen(out: &[u8]) -> (String, usize) {
        let mut row: Vec<u8> = Vec::new();
        let mut col = 0;
        let mut rest = out;
        while let Some((&b, tail)) = rest.split_first() {
            if rest.starts_with(CLEAR_SCREEN) {
                row.clear();
                col = 0;
                rest = &rest[CLEAR_SCREEN.len()..];
                continue;
            }
            match b {
                BACKSPACE => {
                    assert!(col > 0, "BS at column 0");
                    col -= 1;
                }
                b'\r' => col = 0,
                b'\n' => row.clear(),
                BELL => {}
                _ => {
                    assert!((0x20..=0x7e).contains(&b), "byte {b:#x} written");
                    if col < row.len() {
                        row[col] = b;
                    } else {
                        row.resize(col, b' ');
                        row.push(b);
                    }
                    col += 1;
                }
            }
            rest = tail;
        }
        (String::from_utf8(row).unwrap(), col)
    }

    /// Checks the terminal shows the prompt and the line, the cursor in its place.
    fn shows_the_line(ed: &Editor, out: &[u8]) {
        let (row, col) = screen(out);
        assert_eq!(
            row.trim_end(),
            format!("{PROMPT}{}", ed.pending()).trim_end()
        );
        assert_eq!(col, PROMPT.len() + ed.cursor(), "cursor in {row:?}");
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
        let (events, out) = run(&mut editor(), b"vmsx\x08tat\x7f\x7ft\r");
        assert_eq!(events, [Event::Line(line("vmstt"))]);
        assert_eq!(out, b"vmsx\x08 \x08tat\x08 \x08\x08 \x08t\r\n");
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
        let mut ed = editor();
        let (events, out) = run(&mut ed, b"abc\x15top");
        assert!(events.is_empty());
        assert_eq!(ed.pending(), "top");
        shows_the_line(&ed, &cat(&[PROMPT.as_bytes(), &out]));
        assert_eq!(lines(b"poweroff\x03help\r"), ["<cancelled>", "help"]);
        // Ctrl-U kills only what is before the cursor.
        assert_eq!(lines(&cat(&[b"vmstat", LEFT, LEFT, b"\x15\r"])), ["at"]);
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
        // Ctrl-U forgets the overflow, wherever the cursor was.
        assert_eq!(lines(&cat(&[&long, LEFT, b"\x15ok\r"])), ["ok"]);
        let mut ed = editor();
        let (_, out) = run(&mut ed, &cat(&[&long, b"\x01\x15ok"]));
        shows_the_line(&ed, &cat(&[PROMPT.as_bytes(), &out]));
    }

    #[test]
    fn escape_sequences_are_read_whole_and_escape_eats_no_key() {
        assert_eq!(
            lines(b"to\x1b[Ap\x1b[1;5C\x1bOA\x1b[15~\xc3\xa9\r"),
            ["top"]
        );
        // Escape, then a key: the key counts.
        assert_eq!(lines(b"\x1bx\r"), ["x"]);
        assert_eq!(lines(b"a\x1b\x1bb\r"), ["ab"]);
        assert_eq!(lines(b"top\x1b\r"), ["top"]);
        assert_eq!(lines(b"top\x1b\x7f\r"), ["to"]);
        // A byte that cannot go on in a sequence ends it and counts itself.
        assert_eq!(lines(b"top\x1b[\r"), ["top"]);
        assert_eq!(lines(b"ab\x1b[1\x08c\r"), ["ac"]);
        assert_eq!(lines(b"ab\x1bO\x7fc\r"), ["ac"]);
        assert_eq!(lines(b"ab\x1b[1;\x03x\r"), ["<cancelled>", "x"]);
        // Parameters do not overflow.
        assert_eq!(lines(b"ab\x1b[99999999999999~c\r"), ["abc"]);
    }

    #[test]
    fn cursor_keys_edit_in_the_middle() {
        let fix = cat(&[b"zoneifo", LEFT, LEFT, b"n\r"]);
        assert_eq!(lines(&fix), ["zoneinfo"]);
        let mut ed = editor();
        let (_, out) = run(&mut ed, &cat(&[b"zoneifo", LEFT, LEFT, b"n"]));
        assert_eq!((ed.pending(), ed.cursor()), ("zoneinfo", 6));
        shows_the_line(&ed, &cat(&[PROMPT.as_bytes(), &out]));
        // Home, End, Delete in each spelling; Ctrl-A/E/B/F.
        for (home, end) in [
            (&b"\x1b[H"[..], &b"\x1b[F"[..]),
            (b"\x1bOH", b"\x1bOF"),
            (b"\x1b[1~", b"\x1b[4~"),
            (b"\x1b[7~", b"\x1b[8~"),
            (b"\x01", b"\x05"),
        ] {
            assert_eq!(
                lines(&cat(&[b"mstat", home, b"v", end, b"!\r"])),
                ["vmstat!"]
            );
        }
        assert_eq!(
            lines(&cat(&[
                b"vmxstat",
                LEFT,
                LEFT,
                LEFT,
                LEFT,
                LEFT,
                b"\x1b[3~\r"
            ])),
            ["vmstat"]
        );
        assert_eq!(lines(b"vmxstat\x02\x02\x02\x02\x02\x06\x7f\r"), ["vmstat"]);
        // Left at the start and Right at the end do nothing.
        assert_eq!(lines(&cat(&[LEFT, b"ab", RIGHT, b"c\r"])), ["abc"]);
    }

    #[test]
    fn ctrl_w_ctrl_k_and_ctrl_d() {
        assert_eq!(lines(b"run bench\x17pressure\r"), ["run pressure"]);
        assert_eq!(lines(b"a bc  \x17\r"), ["a "]);
        assert_eq!(lines(b"\x17x\r"), ["x"]);
        assert_eq!(
            lines(b"vmstat junk\x01\x06\x06\x06\x06\x06\x06\x0b\r"),
            ["vmstat"]
        );
        // Ctrl-D: the end of input on an empty line, Delete on any other.
        assert_eq!(lines(b"\x04"), ["<end>"]);
        assert_eq!(lines(b"x\x08\x04"), ["<end>"]);
        assert_eq!(lines(b"vmxstat\x01\x06\x06\x04\r"), ["vmstat"]);
        assert_eq!(lines(b"vmstat\x04\r"), ["vmstat"]);
    }

    #[test]
    fn ctrl_l_clears_the_screen_and_redraws() {
        let mut ed = editor();
        let (_, out) = run(&mut ed, &cat(&[b"vmstat", LEFT, b"\x0c"]));
        let at = out
            .windows(CLEAR_SCREEN.len())
            .position(|w| w == CLEAR_SCREEN);
        let after = &out[at.unwrap() + CLEAR_SCREEN.len()..];
        assert_eq!(after, b"> vmstat\x08");
        shows_the_line(&ed, &out);
    }

    #[test]
    fn up_and_down_walk_the_history() {
        let twice = cat(&[b"help\rvmstat\r", UP, b"\r", UP, UP, b"\r"]);
        assert_eq!(lines(&twice), ["help", "vmstat", "vmstat", "help"]);
        // Down comes back to the line typed before Up; Ctrl-P/Ctrl-N too.
        let back = cat(&[b"help\rab", UP, UP, DOWN, DOWN, b"c\r"]);
        assert_eq!(lines(&back), ["help", "abc"]);
        assert_eq!(lines(b"help\rab\x10\x0e\x0ec\r"), ["help", "abc"]);
        // Repeats and blank lines are not kept; only the last 4 are.
        let dups = cat(&[b"a\ra\r  \rb\r", UP, UP, b"\r", UP, UP, b"\r"]);
        assert_eq!(lines(&dups), ["a", "a", "  ", "b", "a", "b"]);
        let many = cat(&[b"1\r2\r3\r4\r5\r", UP, UP, UP, UP, UP, UP, b"\r"]);
        assert_eq!(lines(&many).last().unwrap(), "2");
        // An edited recall is a new line; the history keeps the old one.
        let edit = cat(&[b"help\r", UP, b"x\r", UP, UP, b"\r"]);
        assert_eq!(lines(&edit), ["help", "helpx", "help"]);
        // Up with nothing older rings.
        let (_, out) = run(&mut editor(), UP);
        assert_eq!(out, [BELL]);
        // What the terminal shows follows each recall, longer or shorter.
        let mut ed = editor();
        let (_, out) = run(&mut ed, &cat(&[b"buddyinfo\rtop\rzr", UP, UP, DOWN]));
        let last = out.iter().rposition(|&b| b == b'\n').unwrap();
        shows_the_line(&ed, &cat(&[PROMPT.as_bytes(), &out[last + 1..]]));
        assert_eq!(ed.pending(), "top");
    }

    #[test]
    fn tab_completes_commands_and_keys() {
        assert_eq!(lines(b"zon\t\r"), ["zoneinfo "]);
        assert_eq!(lines(b"set rec\tsync\r"), ["set reclaim=sync"]);
        assert_eq!(lines(b"set\treclaim=sync\r"), ["set reclaim=sync"]);
        assert_eq!(lines(b"run b\t\r"), ["run bench "]);
        // Ambiguous: completes what the candidates share, rings, lists on a second Tab.
        assert_eq!(lines(b"set ring\t\r"), ["set ring"]);
        let mut ed = editor();
        let (_, out) = run(&mut ed, b"s\t");
        assert_eq!(out, b"s\x07");
        let (_, out) = run(&mut ed, b"\t");
        assert_eq!(out, b"\r\nshow  set  sleep\r\n> s");
        assert_eq!(lines(b"b\t\r"), ["buddyinfo "]);
        // No candidate, or no room: the bell, the line unchanged.
        let (_, out) = run(&mut editor(), b"xyz\t");
        assert_eq!(out, b"xyz\x07");
        assert_eq!(lines(b"aaaaaaaaaaa zon\t\r"), ["aaaaaaaaaaa zon"]);
        assert_eq!(lines(b"help\tx\r"), ["help x"]);
        // In the middle of a line: completes the word before the cursor.
        let mid = cat(&[b"zon x", LEFT, LEFT, b"\t\r"]);
        assert_eq!(lines(&mid), ["zoneinfo  x"]);
    }

    #[test]
    fn a_long_list_wraps() {
        let mut ed = LineEditor::<64, 1>::new(PROMPT, candidates);
        let mut out = Vec::new();
        for &b in b"set \t\t" {
            ed.feed(b, &mut |e: &[u8]| out.extend_from_slice(e));
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("reclaim"), "{text}");
        assert!(
            text.lines().all(|l| l.trim_end().len() <= LIST_WIDTH),
            "{text}"
        );
        assert!(text.ends_with("\r\n> set "), "{text}");
    }

    /// The reference model of the plain keys: printable characters minus deletions,
    /// per line.
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

    /// The keys with an action, as a terminal sends them; and broken sequences.
    const KEYS: &[&[u8]] = &[
        UP,
        DOWN,
        LEFT,
        RIGHT,
        b"\x1b[H",
        b"\x1b[F",
        b"\x1b[3~",
        b"\x1bOA",
        b"\x1b[1;5D",
        b"\x1b",
        b"\x1b[",
        b"\x1bO",
        b"\x01",
        b"\x02",
        b"\x04",
        b"\x05",
        b"\x06",
        b"\x08",
        b"\t",
        b"\x0b",
        b"\x0c",
        b"\x0e",
        b"\x10",
        b"\x15",
        b"\x17",
        b"\x7f",
    ];

    /// The keys that end a line.
    const ENDS: &[&[u8]] = &[b"\r", b"\x03"];

    /// A key of the editor, as the terminal sends it.
    fn any_key() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (0x20u8..=0x7e).prop_map(|b| vec![b]),
            4 => proptest::sample::select(KEYS).prop_map(|k| k.to_vec()),
            1 => proptest::sample::select(ENDS).prop_map(|k| k.to_vec()),
        ]
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_lines_are_printable(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut ed = editor();
            let (events, out) = run(&mut ed, &input);
            for e in events {
                if let Event::Line(l) = e {
                    prop_assert!(l.as_str().len() <= 16);
                    prop_assert!(l.as_str().bytes().all(|b| (0x20..=0x7e).contains(&b)));
                }
            }
            prop_assert!(ed.cursor() <= ed.pending().len() && ed.pending().len() <= 16);
            prop_assert!(ed.pending().bytes().all(|b| (0x20..=0x7e).contains(&b)));
            // Printable, CR, LF, BS, the bell, and ESC only to clear the screen.
            let without_clear: Vec<u8> = out
                .split(|&b| b == ESC)
                .enumerate()
                .flat_map(|(i, part)| {
                    let part = if i == 0 { part } else {
                        assert!(part.starts_with(b"[H") || part.starts_with(b"[2J"));
                        &part[if part.starts_with(b"[H") { 2 } else { 3 }..]
                    };
                    part.to_vec()
                })
                .collect();
            prop_assert!(without_clear.iter().all(|&b| matches!(b, b'\r' | b'\n' | BELL | BACKSPACE | 0x20..=0x7e)));
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
        fn the_terminal_shows_the_line_after_any_keys(keys in proptest::collection::vec(any_key(), 0..60)) {
            // A shell that writes the prompt again after each line (and ends the line
            // itself after Ctrl-D).
            let mut ed = editor();
            let mut out = PROMPT.as_bytes().to_vec();
            for key in keys {
                for b in key {
                    let mut write = |e: &[u8]| out.extend_from_slice(e);
                    match ed.feed(b, &mut write) {
                        None => {}
                        Some(event) => {
                            if event == Event::EndOfInput {
                                write(b"\r\n");
                            }
                            ed.redraw(&mut write);
                        }
                    }
                }
            }
            shows_the_line(&ed, &out);
        }

        #[test]
        fn redraw_shows_the_line(keys in proptest::collection::vec(any_key(), 0..40)) {
            let mut ed = editor();
            run(&mut ed, &keys.concat());
            let mut out = Vec::new();
            ed.redraw(&mut |e: &[u8]| out.extend_from_slice(e));
            shows_the_line(&ed, &out);
        }
    }
}
