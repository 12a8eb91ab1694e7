//! The one JSON writer every scenario uses for its `RESULT {json}` line: serde's
//! `Serialize` (each scenario's result is a struct deriving it) written by
//! serde-json-core, which needs no allocator of its own and writes a float that has no
//! value (NaN, infinite) as `null`, never 0. Owns only the buffer it writes into.

extern crate alloc;

use alloc::string::String;
use alloc::vec;

use serde::Serialize;

/// The most a RESULT line may take (the bench's, four modes of 29 figures, is ~4 KiB).
const MAX_LINE: usize = 1 << 20;

/// Why a value could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError;

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("could not format the result")
    }
}

/// `value` as one line of JSON.
pub fn to_string(value: &impl Serialize) -> Result<String, JsonError> {
    let mut buf = vec![0u8; 1024];
    loop {
        match serde_json_core::to_slice(value, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return String::from_utf8(buf).map_err(|_| JsonError);
            }
            Err(serde_json_core::ser::Error::BufferFull) if buf.len() < MAX_LINE => {
                buf.resize(buf.len() * 2, 0);
            }
            Err(_) => return Err(JsonError),
        }
    }
}

/// A refused or failed scenario's `RESULT`: which scenario, and why.
#[derive(Serialize)]
pub struct ErrorResult<'a> {
    /// The scenario's name (`scenario=`).
    pub scenario: &'a str,
    /// What went wrong, in one line.
    pub error: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Example<'a> {
        scenario: &'a str,
        cpus_online: u64,
        delta: i64,
        ok: bool,
        ratio: f64,
        nan: f64,
        weird: &'a str,
        nested: Inner,
    }

    #[derive(Serialize)]
    struct Inner {
        figure: Option<u64>,
    }

    #[test]
    fn writes_numbers_as_numbers_and_no_figure_as_null() {
        let s = to_string(&Example {
            scenario: "boot",
            cpus_online: 4,
            delta: -3,
            ok: true,
            ratio: 2.5,
            nan: f64::NAN,
            weird: "a\"b\\c\n\u{1}é",
            nested: Inner { figure: None },
        })
        .unwrap();
        assert_eq!(
            s,
            r#"{"scenario":"boot","cpus_online":4,"delta":-3,"ok":true,"ratio":2.5,"nan":null,"weird":"a\"b\\c\n\u0001é","nested":{"figure":null}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["weird"], "a\"b\\c\n\u{1}é");
    }

    #[test]
    fn a_line_longer_than_the_first_buffer_grows_it() {
        let long = "x".repeat(5000);
        let s = to_string(&ErrorResult {
            scenario: "bench",
            error: &long,
        })
        .unwrap();
        assert_eq!(s.len(), 5000 + r#"{"scenario":"bench","error":""}"#.len());
    }
}
