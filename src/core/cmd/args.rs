//! The value forms command inputs accept, once for every front: serde helpers
//! (`#[serde(with = …)]`) for the WS JSON and the chat's `key=value` words, and clap
//! value parsers for the CLI.
//!
//! - numbers (ids, ports, counts, chat ids): a JSON number or a numeric string (`7`,
//!   `"7"`); never a fraction;
//! - durations: a number of seconds (`30`, `0.5`) or a string (`"30"`, `"30s"`, `"5m"`);
//! - kinds: `ping` (or `icmp`), `tcp`, `push`, any case;
//! - loss thresholds: a whole percentage (`20`, `"20%"`) or `off`;
//! - flags: `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0` as strings);
//! - `null` is the same as leaving a field out.
//!
//! Errors are [`Msg`]s, so a chat reads them in its language. serde only carries a
//! custom error's text; [`fail`] leaves the message itself in a thread-local slot that
//! [`from_json`] takes back (deserialising is synchronous, on one thread), so the
//! chat's `key=value` words get translated errors and the WS API the same English.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use std::cell::RefCell;

use crate::domain::{Kind, LossLimit, duration};
use crate::i18n::{Msg, msg};

thread_local! {
    /// The last message a deserializer here failed with (see [`fail`]).
    static LAST: RefCell<Option<Msg>> = const { RefCell::new(None) };
}

/// A serde error with `m`'s English text; `m` itself waits for [`from_json`].
fn fail<E: de::Error>(m: Msg) -> E {
    let text = m.to_string();
    LAST.with(|l| *l.borrow_mut() = Some(m));
    E::custom(text)
}

/// `Option<T>` of a whole number: a JSON number or a numeric string.
pub mod opt_num {
    use super::*;

    /// Serialises as a plain number (or `null`).
    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a number or a numeric string.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64> + TryFrom<i64> + FromStr,
    {
        d.deserialize_any(NumVisitor::<T>(PhantomData))
    }
}

/// A required whole number (monitor ids): a JSON number or a numeric string.
pub mod num {
    use super::*;

    /// Serialises as a plain number.
    pub fn serialize<S: Serializer, T: Serialize>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a number or a numeric string; `null` is refused.
    pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64> + TryFrom<i64> + FromStr,
    {
        d.deserialize_any(NumVisitor::<T>(PhantomData))?
            .ok_or_else(|| de::Error::custom("a whole number is required, got null"))
    }
}

struct NumVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for NumVisitor<T>
where
    T: TryFrom<u64> + TryFrom<i64> + FromStr,
{
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number (a JSON number or a numeric string)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| fail(msg!("err-out-of-range", value = v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| fail(msg!("err-out-of-range", value = v.to_string())))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // The text serde's own `invalid_value` would give, as a message of ours.
        v.trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| fail(msg!("err-not-whole-number", value = format!("{v:?}"))))
    }
}

/// `Option<Duration>`: seconds as a number, or a duration string.
pub mod opt_duration {
    use super::*;

    /// Serialises as a number of seconds (what every reader accepts).
    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|d| d.as_secs_f64()).serialize(s)
    }

    /// Reads `30`, `0.5`, `"30"`, `"30s"`, `"5m"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Option<Duration>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of seconds or a duration string like \"30s\" or \"5m\"")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        duration::from_secs(v).map(Some).ok_or_else(|| {
            E::custom(format!(
                "must be a number of seconds between 0 and {}, got {v}",
                duration::MAX_SECONDS
            ))
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self::duration(v).map(Some).map_err(fail)
    }
}

/// `Option<Kind>`: `ping`, `icmp`, `tcp`, `push`.
pub mod opt_kind {
    use super::*;

    /// Serialises as the wire name.
    pub fn serialize<S: Serializer>(v: &Option<Kind>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Kind::as_str).serialize(s)
    }

    /// Reads a kind name, any case.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Kind>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => kind(&s).map(Some).map_err(fail),
        }
    }
}

/// `Option<LossLimit>`: a whole percentage as a number or string (`20`, `"20%"`), or
/// `"off"`.
pub mod opt_loss {
    use super::*;

    /// Serialises as the number, or `"off"`.
    pub fn serialize<S: Serializer>(v: &Option<LossLimit>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a number, a percentage string or `off`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LossLimit>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Num(u64),
            Word(String),
        }
        match Option::<Form>::deserialize(d).map_err(|_| fail(msg!("err-must-be-loss")))? {
            None => Ok(None),
            Some(Form::Num(n)) => u8::try_from(n)
                .map(|p| Some(LossLimit::Pct(p)))
                .map_err(|_| fail(msg!("err-out-of-range", value = n.to_string()))),
            Some(Form::Word(w)) => loss(&w).map(Some).map_err(fail),
        }
    }
}

/// `Option<String>` of a list: a string (`"200-299,301"`), a number (`200`) or an
/// array of them, read as one comma-separated string.
pub mod opt_list {
    use super::*;

    /// Serialises as the string.
    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a string, a number, or an array of those.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Item {
            Text(String),
            Number(u64),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(Item),
            Many(Vec<Item>),
        }
        let text = |i: Item| match i {
            Item::Text(t) => t,
            Item::Number(n) => n.to_string(),
        };
        match Option::<Form>::deserialize(d)
            .map_err(|_| de::Error::custom("must be a string, a number, or a list of them"))?
        {
            None => Ok(None),
            Some(Form::One(i)) => Ok(Some(text(i))),
            Some(Form::Many(v)) => Ok(Some(v.into_iter().map(text).collect::<Vec<_>>().join(","))),
        }
    }
}

/// `Option<bool>`: a JSON bool, or `true`/`false`/`yes`/`no`/`on`/`off`/`1`/`0`.
pub mod opt_flag {
    use super::*;

    /// Serialises as a JSON bool.
    pub fn serialize<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a bool or its word.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Bool(bool),
            Word(String),
        }
        match Option::<Form>::deserialize(d).map_err(|_| fail(msg!("err-must-be-flag")))? {
            None => Ok(None),
            Some(Form::Bool(b)) => Ok(Some(b)),
            Some(Form::Word(w)) => flag(&w).map(Some).map_err(fail),
        }
    }
}

/// Clap value parser and chat reader of durations.
pub fn duration(s: &str) -> Result<Duration, Msg> {
    duration::parse(s).map_err(|_| {
        let t = s.trim();
        let id = if t.parse::<f64>().is_ok() {
            "err-invalid-duration-number"
        } else {
            "err-invalid-duration"
        };
        msg!(id, value = format!("{t:?}"))
    })
}

/// Clap value parser of kinds.
pub fn kind(s: &str) -> Result<Kind, Msg> {
    Kind::parse(s).ok_or_else(|| msg!("err-unknown-kind", value = format!("{s:?}")))
}

/// Clap value parser and chat reader of loss thresholds: `20`, `20%`, `off`.
pub fn loss(s: &str) -> Result<LossLimit, Msg> {
    LossLimit::parse(s).map_err(|_| msg!("err-not-loss", value = format!("{s:?}")))
}

/// Clap value parser of flags.
pub fn flag(s: &str) -> Result<bool, Msg> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(msg!("err-not-flag", value = format!("{s:?}"))),
    }
}

/// Clap value parser of monitor ids: `7` or `#7`.
pub fn monitor_id(s: &str) -> Result<u64, Msg> {
    s.trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| msg!("err-not-monitor-id", value = format!("{s:?}")))
}

/// The field names a command input type accepts, read from its serde derive (so the
/// lists in help texts and "unknown option" errors can never disagree with it).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that only records the field list a struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Deserialises a command input from JSON, naming the field at fault in the error
/// (`fails: invalid value …`).
pub fn from_json<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, Msg> {
    LAST.with(|l| l.borrow_mut().take());
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // Ours when a deserializer here failed with this very text; serde's own
        // errors (a wrong JSON type, an unknown field) stay as serde words them.
        let ours = LAST.with(|l| l.borrow_mut().take()).filter(|m| m.to_string() == inner);
        let inner = ours.unwrap_or_else(|| Msg::raw(inner));
        if path == "." || path.is_empty() {
            inner
        } else {
            msg!("err-field", field = path, error = inner)
        }
    })
}

/// Which monitors an on-call command is about: one, or every monitor of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One monitor (`7`, `"7"`, `"#7"`).
    Id(u64),
    /// `all`: every monitor of the chat.
    All,
}

impl Default for Scope {
    fn default() -> Self {
        Scope::Id(0)
    }
}

impl FromStr for Scope {
    type Err = Msg;

    fn from_str(s: &str) -> Result<Self, Msg> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Scope::All);
        }
        monitor_id(t)
            .map(Scope::Id)
            .map_err(|_| msg!("err-not-scope", value = format!("{s:?}")))
    }
}

/// Clap value parser of [`Scope`].
pub fn scope(s: &str) -> Result<Scope, Msg> {
    s.parse()
}

/// [`Scope`]: a monitor id (number or numeric string) or `"all"`.
pub mod scope {
    use super::*;

    /// Serialises an id as a number, `all` as `"all"`.
    pub fn serialize<S: Serializer>(v: &Scope, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Scope::Id(id) => s.serialize_u64(*id),
            Scope::All => s.serialize_str("all"),
        }
    }

    /// Reads `7`, `"7"`, `"#7"` or `"all"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a monitor id or \"all\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scope, E> {
                Ok(Scope::Id(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scope, E> {
                u64::try_from(v)
                    .map(Scope::Id)
                    .map_err(|_| E::custom(format!("{v} is not a monitor id")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scope, E> {
                v.parse().map_err(fail)
            }
        }
        d.deserialize_any(V)
    }
}

/// A reminder period, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// No reminders.
    Off,
    /// Remind this often.
    Period(Duration),
}

impl FromStr for Every {
    type Err = Msg;

    fn from_str(s: &str) -> Result<Self, Msg> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "never" | "0" => Ok(Every::Off),
            _ => self::duration(s).map(Every::Period),
        }
    }
}

/// Clap value parser of [`Every`].
pub fn every(s: &str) -> Result<Every, Msg> {
    s.parse()
}

/// `Option<Every>` for a field that must be given: absent stays `None` (the command
/// says it is required); `null`, `"off"` and `0` turn reminders off; a duration sets them.
pub mod every {
    use super::*;

    /// Serialises a period as seconds, `off` as `"off"` (never `null`, which a client
    /// may drop as "not given").
    pub fn serialize<S: Serializer>(v: &Option<Every>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(Every::Period(d)) => s.serialize_f64(d.as_secs_f64()),
            Some(Every::Off) => s.serialize_str("off"),
            None => s.serialize_none(),
        }
    }

    /// Reads a duration (seconds or a string), `"off"`, or `null` (off).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Every>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Secs(f64),
            Word(String),
        }
        match Option::<Form>::deserialize(d)
            .map_err(|_| de::Error::custom("must be a duration such as \"30m\", \"off\" or null"))?
        {
            None => Ok(Some(Every::Off)),
            Some(Form::Secs(0.0)) => Ok(Some(Every::Off)),
            Some(Form::Secs(v)) => duration::from_secs(v)
                .map(|d| Some(Every::Period(d)))
                .ok_or_else(|| de::Error::custom(format!("{v} is not a number of seconds"))),
            Some(Form::Word(w)) => w.parse().map(Some).map_err(fail),
        }
    }
}

/// Clap value parser and chat reader of a site name (cluster mode: `sites=fra,sin`).
pub fn site(s: &str) -> Result<String, String> {
    crate::config::check_site(s)
}

/// `Option<Vec<String>>` of site names: a JSON array of names, or one string of
/// comma-separated names (`"fra,sin"`, the chat's `sites=fra,sin`).
pub mod opt_sites {
    use super::*;

    /// Serialises as an array of names.
    pub fn serialize<S: Serializer>(v: &Option<Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads an array of names or a comma-separated string; each name is checked.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<String>),
            Text(String),
        }
        let names = match Option::<Form>::deserialize(d)
            .map_err(|_| de::Error::custom("must be site names, e.g. \"fra,sin\" or [\"fra\",\"sin\"]"))?
        {
            None => return Ok(None),
            Some(Form::List(l)) => l,
            Some(Form::Text(t)) => t.split(',').map(str::to_string).collect(),
        };
        names
            .iter()
            .map(|n| site(n))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(de::Error::custom)
    }
}
