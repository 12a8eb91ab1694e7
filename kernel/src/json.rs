//! The one JSON writer every scenario uses for its `RESULT {json}` line: a flat object
//! of numbers, booleans and strings, numbers printed as numbers and strings escaped.
//! Writes into any `fmt::Write`; allocates nothing.

use core::fmt::{self, Write};

use platform::write_json_string;

/// A JSON object being written: `{` on creation, `}` on `finish`.
pub struct Object<W: Write> {
    out: W,
    empty: bool,
}

impl<W: Write> Object<W> {
    pub fn new(mut out: W) -> Result<Self, fmt::Error> {
        out.write_char('{')?;
        Ok(Self { out, empty: true })
    }

    fn key(&mut self, key: &str) -> fmt::Result {
        if !self.empty {
            self.out.write_char(',')?;
        }
        self.empty = false;
        write_json_string(&mut self.out, key)?;
        self.out.write_char(':')
    }

    pub fn uint(&mut self, key: &str, value: u64) -> Result<&mut Self, fmt::Error> {
        self.key(key)?;
        write!(self.out, "{value}")?;
        Ok(self)
    }

    pub fn int(&mut self, key: &str, value: i64) -> Result<&mut Self, fmt::Error> {
        self.key(key)?;
        write!(self.out, "{value}")?;
        Ok(self)
    }

    /// A float; non-finite values (which JSON cannot express) become `null`.
    pub fn float(&mut self, key: &str, value: f64) -> Result<&mut Self, fmt::Error> {
        self.key(key)?;
        if value.is_finite() {
            write!(self.out, "{value}")?;
        } else {
            self.out.write_str("null")?;
        }
        Ok(self)
    }

    pub fn bool(&mut self, key: &str, value: bool) -> Result<&mut Self, fmt::Error> {
        self.key(key)?;
        self.out.write_str(if value { "true" } else { "false" })?;
        Ok(self)
    }

    pub fn str(&mut self, key: &str, value: &str) -> Result<&mut Self, fmt::Error> {
        self.key(key)?;
        write_json_string(&mut self.out, value)?;
        Ok(self)
    }

    /// Closes the object and gives the writer back.
    pub fn finish(mut self) -> Result<W, fmt::Error> {
        self.out.write_char('}')?;
        Ok(self.out)
    }
}

/// The reclaim run's `RESULT` fields (`mm::reclaim::run::Fields`) go through this writer.
impl<W: Write> mm::reclaim::run::Fields for Object<W> {
    fn uint(&mut self, key: &str, value: u64) -> fmt::Result {
        Object::uint(self, key, value).map(|_| ())
    }
    fn float(&mut self, key: &str, value: f64) -> fmt::Result {
        Object::float(self, key, value).map(|_| ())
    }
    fn bool(&mut self, key: &str, value: bool) -> fmt::Result {
        Object::bool(self, key, value).map(|_| ())
    }
    fn str(&mut self, key: &str, value: &str) -> fmt::Result {
        Object::str(self, key, value).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_flat_object_that_serde_reads_back() {
        let mut o = Object::new(String::new()).unwrap();
        o.str("scenario", "boot").unwrap();
        o.uint("cpus_online", 4).unwrap().int("delta", -3).unwrap();
        o.bool("ok", true).unwrap().float("ratio", 2.5).unwrap();
        o.float("nan", f64::NAN).unwrap();
        o.str("weird", "a\"b\\c\n\u{1}é").unwrap();
        let s = o.finish().unwrap();
        assert_eq!(
            s,
            r#"{"scenario":"boot","cpus_online":4,"delta":-3,"ok":true,"ratio":2.5,"nan":null,"weird":"a\"b\\c\n\u0001é"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["weird"], "a\"b\\c\n\u{1}é");
        assert_eq!(v["cpus_online"], 4);
    }

    #[test]
    fn empty_object() {
        assert_eq!(Object::new(String::new()).unwrap().finish().unwrap(), "{}");
    }
}
