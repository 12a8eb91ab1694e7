//! The one-line JSON form of a `Board` printed by `dtb-info` (contract: docs/design.md,
//! section "Contracts", dtb-info). Written through `core::fmt::Write`, so the kernel
//! could print it too. Numbers are plain JSON numbers; strings are escaped per RFC 8259.

use core::fmt::{self, Write};

use crate::board::{Board, Console, Gic};
use crate::regions::Region;

/// Writes `s` as a JSON string literal, quotes included.
pub fn write_json_string(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

fn write_region(out: &mut impl Write, r: &Region) -> fmt::Result {
    write!(out, "[{},{}]", r.base, r.size)
}

fn write_regions(out: &mut impl Write, rs: &[Region]) -> fmt::Result {
    out.write_char('[')?;
    for (i, r) in rs.iter().enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        write_region(out, r)?;
    }
    out.write_char(']')
}

fn write_console(out: &mut impl Write, c: &Console<'_>) -> fmt::Result {
    out.write_str("{\"path\":")?;
    write_json_string(out, c.path)?;
    out.write_str(",\"compatible\":")?;
    write_json_string(out, c.compatible)?;
    write!(
        out,
        ",\"kind\":\"{}\",\"base\":{},\"size\":{},\"reg_shift\":{},\"reg_io_width\":{},\"baud\":",
        c.kind.name(),
        c.base,
        c.size,
        c.reg_shift,
        c.reg_io_width
    )?;
    match c.baud {
        Some(b) => write!(out, "{b}}}"),
        None => out.write_str("null}"),
    }
}

fn write_gic(out: &mut impl Write, g: &Gic) -> fmt::Result {
    write!(out, "{{\"version\":{},\"distributor\":", g.version)?;
    write_region(out, &g.distributor)?;
    for (name, region) in [
        ("redistributor", g.redistributor),
        ("cpu_interface", g.cpu_interface),
    ] {
        if let Some(r) = region {
            write!(out, ",\"{name}\":")?;
            write_region(out, &r)?;
        }
    }
    out.write_char('}')
}

impl Board<'_> {
    /// One JSON object on one line, no trailing newline.
    pub fn write_json(&self, out: &mut impl Write) -> fmt::Result {
        out.write_str("{\"model\":")?;
        write_json_string(out, self.model)?;
        out.write_str(",\"memory\":")?;
        write_regions(out, &self.memory)?;
        out.write_str(",\"reserved\":")?;
        write_regions(out, &self.reserved)?;
        out.write_str(",\"usable\":")?;
        write_regions(out, &self.usable)?;
        out.write_str(",\"console\":")?;
        match &self.console {
            Some(c) => write_console(out, c)?,
            None => out.write_str("null")?,
        }
        out.write_str(",\"gic\":")?;
        match &self.gic {
            Some(g) => write_gic(out, g)?,
            None => out.write_str("null")?,
        }
        out.write_str(",\"psci\":")?;
        match self.psci {
            Some(m) => write!(out, "{{\"method\":\"{}\"}}", m.name())?,
            None => out.write_str("null")?,
        }
        out.write_str(",\"cpus\":[")?;
        for (i, cpu) in self.cpus.iter().enumerate() {
            if i > 0 {
                out.write_char(',')?;
            }
            write!(out, "{{\"mpidr\":{},\"capacity\":", cpu.mpidr)?;
            match cpu.capacity {
                Some(c) => write!(out, "{c}")?,
                None => out.write_str("null")?,
            }
            out.write_str(",\"compatible\":")?;
            write_json_string(out, cpu.compatible)?;
            out.write_char('}')?;
        }
        out.write_str("],\"bootargs\":")?;
        write_json_string(out, self.bootargs)?;
        out.write_char('}')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\c\nd\te\u{1}f\u{7f}é").unwrap();
        assert_eq!(s, r#""a\"b\\c\nd\te\u0001f"#.to_owned() + "\u{7f}é\"");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\te\u{1}f\u{7f}é");
    }
}
