//! The languages the bots speak: English, Portuguese, Russian and Korean.
//!
//! Every text a bot sends is a message of a Fluent catalogue, one file per language
//! (`locales/{en,pt,ru,ko}.ftl`, compiled into the binary), rendered with CLDR plural
//! rules (`1 монитор / 3 монитора / 5 мониторов`) and this module's number and duration
//! forms (`5m` / `5 min` / `5 мин` / `5분`). English is the source: its texts are the
//! ones the WS API, the CLI and the log show, byte for byte as before this module.
//!
//! - [`Lang`]: the four languages, read from `/lang` words and Telegram's
//!   `language_code` (`pt-BR` → Portuguese).
//! - [`tr!`]: a text of the catalogue, for the fronts (Telegram HTML: the caller
//!   escapes the values it passes; the catalogue's own tags stay).
//! - [`Msg`]: a text not yet rendered, language-neutral (a message id and its
//!   arguments). The command core's errors carry one ([`crate::core::CoreError`]), so
//!   the WS API and the CLI print it in English (`Display`), and a chat in its language.
//! - [`reason`]: probe failure reasons. They are stored as English text with the state
//!   (the WS API's `reason`, older records too), and translated when a chat is told.
//!
//! The words DOWN, UP and DEGRADED are never translated: scripts and filters match
//! them in every language.

pub mod reason;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

pub use fluent_bundle::FluentArgs;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentResource, FluentValue};
use fluent_syntax::ast;
use serde::{Deserialize, Serialize};

/// A language of the bots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English (the default, and the source of every text).
    #[default]
    En,
    /// Portuguese (Brazilian usage).
    Pt,
    /// Russian.
    Ru,
    /// Korean.
    Ko,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Pt, Lang::Ru, Lang::Ko];

    /// The ISO 639-1 code (`en`, `pt`, `ru`, `ko`): `/lang`'s word and Telegram's
    /// `language_code`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pt => "pt",
            Lang::Ru => "ru",
            Lang::Ko => "ko",
        }
    }

    /// Reads `en`, `pt`, `ru`, `ko`, any case, or a tag that starts with one of them
    /// (`pt-BR`, `ru_RU`, `ko-KR`): Telegram's `language_code` is an IETF tag.
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        let primary = s.split(['-', '_']).next().unwrap_or_default();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The catalogue source of this language.
    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../locales/en.ftl"),
            Lang::Pt => include_str!("../../locales/pt.ftl"),
            Lang::Ru => include_str!("../../locales/ru.ftl"),
            Lang::Ko => include_str!("../../locales/ko.ftl"),
        }
    }

    /// The decimal separator people of this language write (`1.5` / `1,5`).
    fn decimal(self) -> char {
        match self {
            Lang::Pt | Lang::Ru => ',',
            Lang::En | Lang::Ko => '.',
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One language's compiled catalogue, with the variables each message uses.
struct Catalogue {
    bundle: FluentBundle<FluentResource>,
    vars: HashMap<String, BTreeSet<String>>,
}

fn catalogues() -> &'static [Catalogue; 4] {
    static CATALOGUES: OnceLock<[Catalogue; 4]> = OnceLock::new();
    CATALOGUES.get_or_init(|| Lang::ALL.map(compile))
}

fn compile(lang: Lang) -> Catalogue {
    // A catalogue with a syntax error still loads what it can; the test of the
    // catalogues fails on any error, so none ships.
    let res = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(res, errors)| {
        tracing::error!(lang = %lang, errors = ?errors, "message catalogue has syntax errors");
        res
    });
    let vars = variables(&res);
    let id = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Telegram shows the text as it is: no Unicode isolation marks around values.
    bundle.set_use_isolating(false);
    if let Err(errors) = bundle.add_resource(res) {
        tracing::error!(lang = %lang, errors = ?errors, "message catalogue has duplicate ids");
    }
    Catalogue { bundle, vars }
}

/// Each message's variables (`$name`), in every variant of every selector.
fn variables(res: &FluentResource) -> HashMap<String, BTreeSet<String>> {
    fn pattern(p: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
        for e in &p.elements {
            if let ast::PatternElement::Placeable { expression } = e {
                expr(expression, out);
            }
        }
    }
    fn expr(e: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
        match e {
            ast::Expression::Select { selector, variants } => {
                inline(selector, out);
                for v in variants {
                    pattern(&v.value, out);
                }
            }
            ast::Expression::Inline(i) => inline(i, out),
        }
    }
    fn inline(i: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
        match i {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_string());
            }
            ast::InlineExpression::Placeable { expression } => expr(expression, out),
            ast::InlineExpression::FunctionReference { arguments, .. } => {
                for a in &arguments.positional {
                    inline(a, out);
                }
                for a in &arguments.named {
                    inline(&a.value, out);
                }
            }
            _ => {}
        }
    }
    let mut out = HashMap::new();
    for entry in res.entries() {
        if let ast::Entry::Message(m) = entry {
            let mut vars = BTreeSet::new();
            if let Some(p) = &m.value {
                pattern(p, &mut vars);
            }
            out.insert(m.id.name.to_string(), vars);
        }
    }
    out
}

/// Every message id of `lang`'s catalogue with the variables it uses (for the tests
/// that every id exists in every language and every placeholder is used).
pub fn catalogue(lang: Lang) -> &'static HashMap<String, BTreeSet<String>> {
    &catalogues()[lang as usize].vars
}

/// Renders message `id` of `lang` with `args`. A message missing in `lang` falls
/// back to English, then to its id (the catalogue tests keep both from happening).
pub fn text(lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> String {
    let cat = &catalogues()[lang as usize];
    let Some(pattern) = cat.bundle.get_message(id).and_then(|m| m.value()) else {
        if lang != Lang::En {
            tracing::warn!(lang = %lang, id, "text missing from the catalogue; English sent");
            return text(Lang::En, id, args);
        }
        tracing::error!(id, "text missing from the catalogue");
        return id.to_string();
    };
    if cfg!(debug_assertions) {
        check_args(lang, id, args, cat);
    }
    let mut errors = Vec::new();
    let out = cat.bundle.format_pattern(pattern, args, &mut errors);
    if !errors.is_empty() {
        tracing::warn!(lang = %lang, id, errors = ?errors, "text rendered with errors");
    }
    out.into_owned()
}

/// Debug builds and tests: the values passed are exactly the message's placeholders
/// (a value the text drops, or a placeholder nobody fills, is a bug).
fn check_args(lang: Lang, id: &str, args: Option<&FluentArgs<'_>>, cat: &Catalogue) {
    let passed: BTreeSet<String> = args
        .map(|a| a.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    let used = cat.vars.get(id).cloned().unwrap_or_default();
    debug_assert_eq!(passed, used, "placeholders of {id} ({lang})");
}

/// A text of the catalogue: `tr!(lang, "id")` or `tr!(lang, "id", name = value, …)`;
/// values are anything Fluent takes (strings, numbers: counts must be numbers so the
/// plural rules apply). In Telegram HTML texts the caller escapes the values.
#[macro_export]
macro_rules! tr {
    ($lang:expr, $id:expr $(,)?) => {
        $crate::i18n::text($lang, $id, None)
    };
    ($lang:expr, $id:expr, $($k:ident = $v:expr),+ $(,)?) => {{
        let mut args = $crate::i18n::FluentArgs::new();
        $( args.set(stringify!($k), $v); )+
        $crate::i18n::text($lang, $id, Some(&args))
    }};
}

pub use tr;

/// A number with this language's decimal separator (`0.41` → `0,41`).
pub fn decimal(lang: Lang, s: &str) -> String {
    if lang.decimal() == '.' {
        s.to_string()
    } else {
        s.replace('.', &lang.decimal().to_string())
    }
}

/// A duration in the one display form ([`crate::domain::duration::human`]: the two
/// largest units, fractions under a minute), in `lang`: `5m 3s`, `5 min 3 s`,
/// `5 мин 3 с`, `5분 3초`.
pub fn duration(lang: Lang, d: Duration) -> String {
    if lang == Lang::En {
        return crate::domain::duration::human(d);
    }
    let unit = |id: &str, n: FluentValue<'_>| {
        let mut a = FluentArgs::new();
        a.set("n", n);
        text(lang, id, Some(&a))
    };
    if d < Duration::from_secs(60) && d.subsec_millis() != 0 {
        if d < Duration::from_secs(1) {
            return unit("unit-ms", d.subsec_millis().into());
        }
        let s = format!("{:.3}", d.as_secs_f64());
        let s = decimal(lang, s.trim_end_matches('0').trim_end_matches('.'));
        return unit("unit-s-frac", s.into());
    }
    let mut left = d.as_secs();
    if left == 0 {
        return unit("unit-s", 0.into());
    }
    let mut parts = Vec::new();
    for (id, secs) in [("unit-d", 86_400), ("unit-h", 3_600), ("unit-m", 60), ("unit-s", 1)] {
        if left >= secs {
            parts.push(unit(id, (left / secs).into()));
            left %= secs;
        }
    }
    parts.truncate(2);
    parts.join(" ")
}

/// [`duration`] of a number of seconds (intervals, timeouts: `1.5s`, `500ms`).
pub fn duration_secs(lang: Lang, secs: f64) -> String {
    match crate::domain::duration::from_secs(secs) {
        Some(d) => duration(lang, d),
        None => crate::domain::duration::human_secs(secs),
    }
}

/// A value of a [`Msg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Shown as it is (a name, a target, a quoted word).
    Text(String),
    /// A whole number (counts select plural forms).
    Int(i64),
    /// A duration, in the language's form.
    Dur(Duration),
    /// Another message, rendered in the same language.
    Msg(Box<Msg>),
    /// A probe failure reason as stored (English), translated by [`reason`].
    Reason(String),
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}

impl From<Msg> for Arg {
    fn from(m: Msg) -> Self {
        Arg::Msg(Box::new(m))
    }
}

impl From<Duration> for Arg {
    fn from(d: Duration) -> Self {
        Arg::Dur(d)
    }
}

macro_rules! int_arg {
    ($($t:ty)+) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Self {
                Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )+};
}
int_arg!(i32 i64 u16 u32 u64 usize);

/// A text not yet rendered: a message id of the catalogues and its values. The
/// command core's errors are these, so each front renders them in its language;
/// `Display` is English (the WS API, the CLI, the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    id: Cow<'static, str>,
    args: Vec<(&'static str, Arg)>,
}

/// The id of a [`Msg`] that is a text as it is, not from the catalogues.
const RAW: &str = "";

impl Msg {
    /// Message `id` with no values yet.
    pub fn new(id: &'static str) -> Self {
        Self {
            id: Cow::Borrowed(id),
            args: Vec::new(),
        }
    }

    /// Adds value `k`.
    #[must_use]
    pub fn with(mut self, k: &'static str, v: impl Into<Arg>) -> Self {
        self.args.push((k, v.into()));
        self
    }

    /// A text shown as it is in every language (a library's own words, a text made
    /// before it had an id). Prefer a message of the catalogue.
    pub fn raw(text: impl Into<String>) -> Self {
        Self {
            id: Cow::Borrowed(RAW),
            args: vec![("text", Arg::Text(text.into()))],
        }
    }

    /// The message id (`""` for a raw text).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        if self.id == RAW {
            return match self.args.first() {
                Some((_, Arg::Text(t))) => t.clone(),
                _ => String::new(),
            };
        }
        let mut args = FluentArgs::new();
        for (k, v) in &self.args {
            match v {
                Arg::Text(t) => args.set(*k, t.as_str()),
                Arg::Int(n) => args.set(*k, *n),
                Arg::Dur(d) => args.set(*k, duration(lang, *d)),
                Arg::Msg(m) => args.set(*k, m.render(lang)),
                Arg::Reason(r) => args.set(*k, reason::localize(lang, r)),
            }
        }
        text(lang, &self.id, Some(&args).filter(|a| a.iter().next().is_some()))
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for Msg {}

impl From<String> for Msg {
    fn from(s: String) -> Self {
        Msg::raw(s)
    }
}

impl From<&str> for Msg {
    fn from(s: &str) -> Self {
        Msg::raw(s)
    }
}

impl Serialize for Msg {
    /// As its English text (the WS API's form).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// `msg!("id", name = value, …)`: a [`Msg`].
#[macro_export]
macro_rules! msg {
    ($id:expr $(,)?) => {
        $crate::i18n::Msg::new($id)
    };
    ($id:expr, $($k:ident = $v:expr),+ $(,)?) => {
        $crate::i18n::Msg::new($id)$(.with(stringify!($k), $v))+
    };
}

pub use msg;

#[cfg(test)]
mod tests;
