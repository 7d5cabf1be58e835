//! Duplicate-key detection for webhook bodies. serde_json keeps the last of two equal
//! keys without a word (and `#[derive(Deserialize)]` refuses duplicates only among the
//! fields it knows), so `{"status":"up","status":"down"}` could mean either to
//! different readers. A body is walked once with [`check`] before it is parsed, and a
//! repeated key at any depth is refused with its name.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// `Ok` when no object in `body` repeats a key; the JSON error (with the key, line and
/// column) otherwise, or when `body` is not JSON.
pub(crate) fn check(body: &[u8]) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Walk.deserialize(&mut de)?;
    de.end()
}

/// A seed that visits any JSON value and fails on a repeated key.
struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            map.next_value_seed(Walk)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for ok in [
            &br#"{"status":"up","message":"a","metadata":{"status":"x","n":[{"a":1},{"a":2}]}}"#[..],
            b"[1,2,{}]",
            b"null",
        ] {
            assert!(check(ok).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
        for (bad, key) in [
            (&br#"{"status":"up","status":"down"}"#[..], "status"),
            (br#"{"status":"up","metadata":{"disk":"/","disk":"/var"}}"#, "disk"),
            (br#"{"a":[{"b":1,"b":2}]}"#, "b"),
            (br#"{"x":1,"y":2,"x":3}"#, "x"),
        ] {
            let e = check(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("duplicate key \"{key}\"")), "{e}");
        }
        assert!(check(b"{").is_err());
        assert!(check(b"{} trailing").is_err());
    }
}
