//! Boots the kernel through `qemu-run.sh` and judges each run from the host, by its exit
//! status and its `RESULT {json}` line (docs/design.md, section "Contracts"). Owns only
//! the QEMU side of testing: the kernel is built once per test process, and at most
//! `QEMU_TESTS_JOBS` (default 2) QEMUs run at a time, because MTTCG runs one host thread
//! per vCPU.
//! The host tools' shared parts are modules here: `plot` (SVG line plots) and
//! `trace_convert` (trace dumps to Perfetto JSON and plots).
#![forbid(unsafe_code)]

pub mod plot;
pub mod trace_convert;

use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// How the kernel reaches the CPU: the arm64 Image, the ELF, the Image through U-Boot's
/// booti, or a FIT of the Image and the machine's DTB through U-Boot's bootm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Image,
    Elf,
    UBoot,
    Fit,
}

/// The console UART (qemu-run.sh `--uart`): virt's PL011, or QEMU's PCI 16550
/// (`-device pci-serial`, `console=ttyS0`), then the only one on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uart {
    Pl011,
    Ns16550,
}

impl Uart {
    /// The RESULT's `console` for it.
    pub fn name(self) -> &'static str {
        match self {
            Uart::Pl011 => "pl011",
            Uart::Ns16550 => "ns16550",
        }
    }
}

/// One QEMU machine configuration; `Boot::default()` is qemu-run.sh's default machine.
#[derive(Clone, Debug)]
pub struct Boot {
    pub cpu: &'static str,
    pub smp: u32,
    pub mem: &'static str,
    pub gic: u32,
    pub el2: bool,
    pub via: Via,
    pub uart: Uart,
    /// With `Via::UBoot`: U-Boot's kernel_addr_r (qemu-run.sh `--load-addr`), where
    /// `booti` runs the relocatable Image; `None` is qemu-run.sh's 0x4040_0000.
    pub load_addr: Option<u64>,
    pub timeout_secs: u32,
}

impl Default for Boot {
    fn default() -> Self {
        Boot {
            cpu: "cortex-a53",
            smp: 4,
            mem: "512M",
            gic: 3,
            el2: false,
            via: Via::Image,
            uart: Uart::Pl011,
            load_addr: None,
            timeout_secs: 60,
        }
    }
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The command, as a shell would show it.
    pub command: String,
    /// QEMU's exit status (the kernel's, through semihosting); `None` if killed by a signal.
    pub status: Option<i32>,
    /// The console (the kernel's output), or for `--build-only` the built files' paths.
    pub stdout: String,
    /// What qemu-run.sh, cargo and QEMU said.
    pub stderr: String,
}

impl Boot {
    /// The qemu-run.sh options for this machine.
    pub fn options(&self) -> Vec<String> {
        let mut args = vec![
            "--no-build".to_string(),
            "--timeout".to_string(),
            self.timeout_secs.to_string(),
            "--cpu".to_string(),
            self.cpu.to_string(),
            "--smp".to_string(),
            self.smp.to_string(),
            "--mem".to_string(),
            self.mem.to_string(),
            "--gic".to_string(),
            self.gic.to_string(),
        ];
        if self.el2 {
            args.push("--el2".to_string());
        }
        match self.via {
            Via::Image => {}
            Via::Elf => args.push("--elf".to_string()),
            Via::UBoot => args.push("--uboot".to_string()),
            Via::Fit => args.push("--fit".to_string()),
        }
        if self.uart == Uart::Ns16550 {
            args.extend(["--uart".to_string(), "16550".to_string()]);
        }
        if let Some(addr) = self.load_addr {
            args.extend(["--load-addr".to_string(), format!("{addr:#x}")]);
        }
        args
    }

    /// Boots with this kernel command line and waits for the end of the run.
    pub fn run(&self, cmdline: &[&str]) -> Run {
        self.run_with_input(cmdline, None)
    }

    /// `run`, with `input` piped to the console (QEMU's serial on stdin), if given.
    pub fn run_with_input(&self, cmdline: &[&str], input: Option<&[u8]>) -> Run {
        build_kernel_once();
        let mut args = self.options();
        args.push("--".to_string());
        args.extend(cmdline.iter().map(|s| s.to_string()));
        let _slot = QemuSlot::take();
        run_script_with_input(&args, input)
    }
}

/// One step of a console session played as a person types (`Boot::session`).
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// Type these bytes.
    Type(&'a [u8]),
    /// Type nothing more until the console has printed this text (after what the
    /// last `Await` matched).
    Await(&'a str),
}

impl Boot {
    /// Boots with this kernel command line and plays `steps` on the console: typing,
    /// and waiting for output before typing on, so a key can land while the kernel is
    /// busy or after a line is half typed. A text that never comes ends the session
    /// when QEMU does (the boot's timeout); the run is judged by what it printed.
    pub fn session(&self, cmdline: &[&str], steps: &[Step<'_>]) -> Run {
        build_kernel_once();
        let mut args = self.options();
        args.push("--".to_string());
        args.extend(cmdline.iter().map(|s| s.to_string()));
        let _slot = QemuSlot::take();
        let script = repo_root().join("qemu-run.sh");
        let command = format!("{} {}", script.display(), args.join(" "));
        let mut child = Command::new(&script)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        // The console so far, and whether it has ended.
        let seen = Arc::new((Mutex::new((Vec::<u8>::new(), false)), Condvar::new()));
        let mut stdout = child.stdout.take().expect("piped");
        let reader = {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                loop {
                    let n = stdout.read(&mut chunk).unwrap_or(0);
                    let mut state = seen.0.lock().unwrap_or_else(|e| e.into_inner());
                    state.0.extend_from_slice(&chunk[..n]);
                    state.1 = n == 0;
                    seen.1.notify_all();
                    if n == 0 {
                        break;
                    }
                }
            })
        };
        let mut stderr = child.stderr.take().expect("piped");
        let errors = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            text
        });
        let mut stdin = child.stdin.take();
        let mut from = 0;
        for step in steps {
            match *step {
                Step::Type(bytes) => {
                    // The kernel may power off before reading everything: fine.
                    if let Some(input) = stdin.as_mut()
                        && (input.write_all(bytes).is_err() || input.flush().is_err())
                    {
                        stdin = None;
                    }
                }
                Step::Await(text) => {
                    assert!(!text.is_empty(), "Step::Await wants some text");
                    let mut state = seen.0.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        let found = state.0[from..]
                            .windows(text.len())
                            .position(|w| w == text.as_bytes())
                            .map(|at| from + at + text.len());
                        if let Some(end) = found {
                            from = end;
                            break;
                        }
                        if state.1 {
                            break;
                        }
                        state = seen.1.wait(state).unwrap_or_else(|e| e.into_inner());
                    }
                }
            }
        }
        drop(stdin);
        let status = child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for {command}: {e}"));
        let _ = reader.join();
        let stderr = errors.join().unwrap_or_default();
        let stdout = std::mem::take(&mut seen.0.lock().unwrap_or_else(|e| e.into_inner()).0);
        Run {
            command,
            status: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// Runs `qemu-system-aarch64` itself with these arguments (no stdin, at most
/// `timeout_secs`, then exit 124), for what qemu-run.sh would refuse before booting.
pub fn run_qemu_directly(args: &[String], timeout_secs: u32) -> Run {
    build_kernel_once();
    let _slot = QemuSlot::take();
    let mut full = vec![
        "-k".to_string(),
        "5".to_string(),
        timeout_secs.to_string(),
        "qemu-system-aarch64".to_string(),
    ];
    full.extend_from_slice(args);
    let command = format!("timeout {}", full.join(" "));
    let out = Command::new("timeout")
        .args(&full)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    Run {
        command,
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `qemu-run.sh` with these arguments (no stdin), capturing everything it prints.
pub fn run_script(args: &[String]) -> Run {
    run_script_with_input(args, None)
}

/// `run_script` with `input` written to its stdin (then closed), if given. QEMU reads
/// it only as fast as the UART takes it, so it is written from a thread of its own.
pub fn run_script_with_input(args: &[String], input: Option<&[u8]>) -> Run {
    run_command(&repo_root().join("qemu-run.sh"), args, input)
}

/// Runs the repository's script `script` (e.g. `tools/bench-many.sh`) with `args`,
/// after building the kernel; with `boots_qemu`, inside one of the QEMU slots.
pub fn run_tool(script: &str, args: &[&str], boots_qemu: bool) -> Run {
    build_kernel_once();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let _slot = boots_qemu.then(QemuSlot::take);
    run_command(&repo_root().join(script), &args, None)
}

fn run_command(script: &Path, args: &[String], input: Option<&[u8]>) -> Run {
    let command = format!("{} {}", script.display(), args.join(" "));
    let mut child = Command::new(script)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    let writer = child.stdin.take().zip(input).map(|(mut stdin, input)| {
        let input = input.to_vec();
        // The kernel may power off before reading everything: a broken pipe is fine.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {command}: {e}"));
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Run {
        command,
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    /// Everything the run printed: the console, then stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The object of the run's single `RESULT {json}` line.
    pub fn result(&self) -> Result<Map<String, Value>, String> {
        parse_result(&self.stdout)
    }

    /// Panics with the command and the end of the output: every failed check says what
    /// ran and what it printed.
    pub fn fail(&self, why: &str) -> ! {
        const TAIL_LINES: usize = 80;
        let output = self.output();
        let lines: Vec<&str> = output.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
        panic!(
            "{why}\ncommand: {}\nexit status: {:?}\n--- output (last {TAIL_LINES} lines) ---\n{tail}\n---",
            self.command, self.status
        );
    }

    /// Fails unless the run exited 0 with a RESULT line of this scenario; returns it.
    pub fn expect_pass(&self, scenario: &str) -> Map<String, Value> {
        if self.status != Some(0) {
            self.fail("the kernel did not exit with status 0");
        }
        let result = self.result().unwrap_or_else(|e| self.fail(&e));
        if result.get("scenario").and_then(Value::as_str) != Some(scenario) {
            self.fail(&format!("RESULT is not from scenario {scenario}"));
        }
        result
    }

    /// For a tool that prints other RESULT lines before its own (the kernel's, then a
    /// script's): fails unless it exited 0; returns the object of its last `RESULT`
    /// line of `scenario`.
    pub fn expect_tool_result(&self, scenario: &str) -> Map<String, Value> {
        if self.status != Some(0) {
            self.fail("the tool did not exit with status 0");
        }
        let prefix = format!("RESULT {{\"scenario\":\"{scenario}\"");
        let line = self
            .stdout
            .lines()
            .rfind(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| self.fail(&format!("no RESULT line of scenario {scenario}")));
        parse_result(line).unwrap_or_else(|e| self.fail(&e))
    }

    /// Fails unless the run exited non-zero, printed `needle` (e.g. the bad key) and
    /// ended with a `RESULT {"scenario":..,"error":..}` line; returns the error.
    pub fn expect_refusal(&self, needle: &str) -> String {
        match self.status {
            Some(0) => self.fail("the kernel exited 0 where it had to refuse"),
            Some(124) | Some(137) => self.fail("the run timed out instead of refusing"),
            None => self.fail("the run was killed by a signal"),
            Some(_) => {}
        }
        if !self.output().contains(needle) {
            self.fail(&format!("the error does not name '{needle}'"));
        }
        let result = self.result().unwrap_or_else(|e| self.fail(&e));
        if !result.get("scenario").is_some_and(Value::is_string) {
            self.fail("the refusal's RESULT names no scenario");
        }
        match result.get("error").and_then(Value::as_str) {
            Some(error) => error.to_string(),
            None => self.fail("the refusal's RESULT has no error"),
        }
    }
}

/// Number field `key` of a RESULT object, or a failure that names it.
pub fn number(run: &Run, result: &Map<String, Value>, key: &str) -> u64 {
    result
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| run.fail(&format!("RESULT has no unsigned number '{key}'")))
}

/// String field `key` of a RESULT object, or a failure that names it.
pub fn string<'a>(run: &Run, result: &'a Map<String, Value>, key: &str) -> &'a str {
    result
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| run.fail(&format!("RESULT has no string '{key}'")))
}

impl Boot {
    /// Where the kernel must run on this machine: QEMU loads the Image at RAM base +
    /// 2 MiB + text_offset (its boot stub takes the bottom of RAM), which is also the
    /// link address (linker.ld) where it loads the ELF; U-Boot's booti runs it where it
    /// was loaded.
    pub fn load_address(&self) -> u64 {
        match self.via {
            // QEMU's loader, and bootm copying a FIT's kernel to its load address:
            // the link address.
            Via::Image | Via::Elf | Via::Fit => 0x4020_0000,
            Via::UBoot => self.load_addr.unwrap_or(0x4040_0000),
        }
    }
}

/// Boots `scenario=boot` on this machine and checks every field of its RESULT against
/// the machine QEMU was asked for.
pub fn expect_boot(boot: &Boot) {
    let run = boot.run(&["scenario=boot"]);
    let result = run.expect_pass("boot");
    let mut wrong = Vec::new();
    // U-Boot's last words before jumping to the kernel: booti really ran.
    if boot.via == Via::UBoot && !run.stdout.contains("Starting kernel ...") {
        wrong.push("U-Boot's booti did not start the kernel".to_string());
    }
    // bootm took the kernel and the DTB from the FIT's named configuration, hashes checked.
    if boot.via == Via::Fit
        && !(run.stdout.contains("Using 'qemu-virt' configuration")
            && run.stdout.contains("sha256+ OK")
            && run.stdout.contains("Starting kernel ..."))
    {
        wrong.push("U-Boot's bootm did not start the kernel from the FIT".to_string());
    }
    let expected: [(&str, Value); 8] = [
        ("mem_routines", "ok".into()),
        ("load_address", boot.load_address().into()),
        ("cpus_total", boot.smp.into()),
        ("cpus_online", boot.smp.into()),
        ("entry_el", (if boot.el2 { 2 } else { 1 }).into()),
        ("gic", boot.gic.into()),
        ("psci", (if boot.el2 { "smc" } else { "hvc" }).into()),
        ("console", boot.uart.name().into()),
    ];
    for (key, want) in expected {
        match result.get(key) {
            Some(got) if *got == want => {}
            got => wrong.push(format!(
                "{key} = {}, expected {want}",
                got.map_or("(missing)".to_string(), Value::to_string)
            )),
        }
    }

    // All of RAM is usable on QEMU virt but what the firmware and DTB take: allow 64 MiB.
    let mem = mem_bytes(boot.mem);
    let usable = number(&run, &result, "mem_usable_bytes");
    if usable > mem || usable + (64 << 20) < mem {
        wrong.push(format!(
            "mem_usable_bytes = {usable}, expected within 64 MiB below {mem}"
        ));
    }
    let frames_free = number(&run, &result, "frames_free");
    if frames_free == 0 || frames_free >= usable / 4096 {
        wrong.push(format!(
            "frames_free = {frames_free}, expected > 0 and < {} (usable frames)",
            usable / 4096
        ));
    }
    if !wrong.is_empty() {
        run.fail(&format!(
            "RESULT disagrees with the machine: {}",
            wrong.join("; ")
        ));
    }
}

/// Bytes in a QEMU `-m` size: a number with an optional M or G suffix (default M).
pub fn mem_bytes(size: &str) -> u64 {
    let (digits, shift) = match size.as_bytes().last() {
        Some(b'G') => (&size[..size.len() - 1], 30),
        Some(b'M') => (&size[..size.len() - 1], 20),
        _ => (size, 20),
    };
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("bad memory size '{size}'"));
    n << shift
}

/// The object of the single `RESULT {json}` line in a console log.
/// Every `RESULT {json}` object of `output`, in order (a console session prints one per
/// run, then its own); an error names the first line that is not a JSON object.
pub fn parse_results(output: &str) -> Result<Vec<Map<String, Value>>, String> {
    output
        .lines()
        .filter_map(|line| {
            line.find("RESULT {")
                .map(|at| line[at + "RESULT ".len()..].trim_end())
        })
        .map(|json| match serde_json::from_str(json) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("RESULT is not a JSON object: {json}")),
        })
        .collect()
}

pub fn parse_result(output: &str) -> Result<Map<String, Value>, String> {
    let mut found = output.lines().filter_map(|line| {
        line.find("RESULT {")
            .map(|at| &line[at + "RESULT ".len()..])
    });
    let json = found.next().ok_or("no RESULT line")?.trim_end();
    if found.next().is_some() {
        return Err("more than one RESULT line".into());
    }
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("RESULT is not a JSON object: {json}")),
        Err(e) => Err(format!("RESULT is not valid JSON ({e}): {json}")),
    }
}

/// Panic backtrace lines (`backtrace #<n> pc=0x<16 hex>`), and whether qemu-run.sh
/// appended `<function> at <file:line>` to each (and maybe `(inlined into <function>)`).
pub fn backtrace_lines(output: &str) -> Vec<(&str, bool)> {
    output
        .lines()
        .filter_map(|line| {
            let at = line.find("backtrace #")?;
            let rest = &line[at + "backtrace #".len()..];
            let (frame, rest) = rest.split_once(" pc=0x")?;
            if frame.is_empty() || !frame.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (pc, symbol) = rest.split_at_checked(16)?;
            if !pc.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let symbol = symbol.trim_end();
            // "<function> at <file:line>", maybe followed by " (inlined into <function>)".
            let symbol = symbol.split(" (inlined into ").next().unwrap_or(symbol);
            let symbolized = symbol
                .strip_prefix(' ')
                .and_then(|s| s.rsplit_once(" at "))
                .and_then(|(_, place)| place.rsplit_once(':'))
                .is_some_and(|(file, line)| {
                    !file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
                });
            Some((line, symbolized))
        })
        .collect()
}

/// The repository root (this crate is its `tests/` directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

/// The kernel files qemu-run.sh built and boots.
#[derive(Debug)]
pub struct Kernel {
    pub elf: PathBuf,
    pub image: PathBuf,
}

/// Builds the kernel (ELF and Image) the first time a test needs it; later boots use
/// `--no-build`, so parallel tests never race cargo or each other.
pub fn build_kernel_once() -> &'static Kernel {
    static BUILT: OnceLock<Result<Kernel, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let run = run_script(&["--build-only".to_string()]);
        // stdout is the ELF path, then the Image path.
        let mut paths = run.stdout.lines();
        match (run.status, paths.next(), paths.next()) {
            (Some(0), Some(elf), Some(image)) => Ok(Kernel {
                elf: elf.into(),
                image: image.into(),
            }),
            _ => Err(format!("{}\n{}", run.command, run.output())),
        }
    });
    built
        .as_ref()
        .unwrap_or_else(|log| panic!("building the kernel failed:\n{log}"))
}

/// A licence to run one QEMU; at most `QEMU_TESTS_JOBS` (default 2) exist at once.
struct QemuSlot;

struct Slots {
    free: Mutex<usize>,
    released: Condvar,
}

fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| Slots {
        free: Mutex::new(
            std::env::var("QEMU_TESTS_JOBS")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|&n: &usize| n > 0)
                .unwrap_or(2),
        ),
        released: Condvar::new(),
    })
}

impl QemuSlot {
    fn take() -> QemuSlot {
        let slots = slots();
        // A test that panicked holding the lock cannot corrupt a counter: keep going.
        let mut free = slots.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = slots.released.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        QemuSlot
    }
}

impl Drop for QemuSlot {
    fn drop(&mut self) {
        let slots = slots();
        *slots.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        slots.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_line_is_found_and_parsed() {
        let log =
            "boot: 4 CPUs\r\n[cpu0] RESULT {\"scenario\":\"boot\",\"gic\":3}\r\npowering off\n";
        let result = parse_result(log).unwrap();
        assert_eq!(result["scenario"], "boot");
        assert_eq!(result["gic"], 3);
    }

    #[test]
    fn missing_duplicate_and_broken_result_lines_are_errors() {
        assert!(parse_result("no result here\n").is_err());
        assert!(parse_result("RESULT {\"a\":1}\nRESULT {\"a\":2}\n").is_err());
        assert!(parse_result("RESULT {\"a\":\n").is_err());
        assert!(parse_result("RESULT [1]\nRESULT {\"a\":1,}\n").is_err());
    }

    #[test]
    fn every_result_line_of_a_session_in_order() {
        let log =
            "RESULT {\"scenario\":\"reclaim\"}\r\nkmm> x\n[cpu0] RESULT {\"scenario\":\"shell\"}\n";
        let all = parse_results(log).unwrap();
        let names: Vec<&Value> = all.iter().map(|r| &r["scenario"]).collect();
        assert_eq!(names, ["reclaim", "shell"]);
        assert!(parse_results("nothing\n").unwrap().is_empty());
        assert!(parse_results("RESULT {\"a\":1}\nRESULT {\"a\":\n").is_err());
    }

    #[test]
    fn memory_sizes_follow_qemu() {
        assert_eq!(mem_bytes("128M"), 128 << 20);
        assert_eq!(mem_bytes("5G"), 5 << 30);
        assert_eq!(mem_bytes("512"), 512 << 20);
    }

    #[test]
    fn backtrace_lines_tell_symbolized_from_raw() {
        let log = "backtrace #0 pc=0x0000000040081234 kernel::panic at kernel/src/panic.rs:42\n\
                   backtrace #1 pc=0x0000000040085678\r\n\
                   backtrace #2 pc=0x0000000040085678 ec at kernel/src/esr.rs:89 (inlined into kernel::vm::f)\r\n\
                   backtrace #3 pc=0x00000000400800d8 primary_entry\n\
                   not a backtrace #x pc=0x1\n";
        let symbolized: Vec<bool> = backtrace_lines(log).iter().map(|l| l.1).collect();
        assert_eq!(symbolized, [true, false, true, false]);
    }

    #[test]
    fn options_match_the_machine() {
        let boot = Boot {
            el2: true,
            via: Via::UBoot,
            ..Boot::default()
        };
        let options = boot.options().join(" ");
        assert!(options.contains("--smp 4 --mem 512M --gic 3 --el2 --uboot"));
        let pci = Boot {
            uart: Uart::Ns16550,
            ..Boot::default()
        };
        assert!(pci.options().join(" ").ends_with("--uart 16550"));
        let fit = Boot {
            via: Via::Fit,
            ..Boot::default()
        };
        assert!(fit.options().join(" ").ends_with("--gic 3 --fit"));
    }
}
