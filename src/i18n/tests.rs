//! The catalogues: every message id exists in every language with the same
//! placeholders, every id the code names exists, every id is used, the plural forms
//! are right, and the forms of numbers and durations.

use super::*;
use std::path::Path;

fn source(lang: Lang) -> FluentResource {
    FluentResource::try_new(lang.source().to_string())
        .unwrap_or_else(|(_, e)| panic!("{lang}: syntax errors in the catalogue: {e:?}"))
}

#[test]
fn every_catalogue_parses_and_has_every_id_with_the_same_placeholders() {
    let en = variables(&source(Lang::En));
    assert!(en.len() > 200, "{}", en.len());
    for lang in [Lang::Pt, Lang::Ru, Lang::Ko] {
        let other = variables(&source(lang));
        let missing: Vec<&String> = en.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<&String> = other.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{lang} lacks {missing:?}");
        assert!(extra.is_empty(), "{lang} has ids English lacks: {extra:?}");
        for (id, vars) in &en {
            assert_eq!(&other[id], vars, "{lang}: placeholders of {id}");
        }
        // No duplicate ids (the bundle refuses them).
        let mut b = FluentBundle::new_concurrent(vec![lang.code().parse().unwrap()]);
        assert!(b.add_resource(source(lang)).is_ok(), "{lang}: duplicate ids");
    }
    assert_eq!(catalogue(Lang::Ko).len(), en.len());
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The string literals of Rust source (comments and char literals skipped).
fn literals(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '\'' if c.get(i + 2) == Some(&'\'') => i += 3,
            '\'' if c.get(i + 1) == Some(&'\\') && c.get(i + 3) == Some(&'\'') => i += 4,
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                    }
                    if let Some(ch) = c.get(i) {
                        s.push(*ch);
                    }
                    i += 1;
                }
                out.push(s);
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Literals that could be message ids (`at`, `alert-now-up`).
fn id_like(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The text of each `tr!(…)`, `msg!(…)` and `Msg::new(…)` call (to its closing
/// parenthesis, strings skipped).
fn calls(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for start in ["tr!(", "msg!(", "Msg::new("] {
        let mut from = 0;
        while let Some(at) = text[from..].find(start) {
            let begin = from + at + start.len();
            let (mut depth, mut in_str, mut prev) = (1, false, ' ');
            let mut end = begin;
            for (i, c) in text[begin..].char_indices() {
                match c {
                    '"' if prev != '\\' => in_str = !in_str,
                    '(' if !in_str => depth += 1,
                    ')' if !in_str => {
                        depth -= 1;
                        if depth == 0 {
                            end = begin + i;
                            break;
                        }
                    }
                    _ => {}
                }
                prev = c;
            }
            out.push(&text[begin..end]);
            from = end.max(begin);
        }
    }
    out
}

#[test]
fn every_id_the_code_names_exists_and_every_id_is_used() {
    let en = catalogue(Lang::En);
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut named = std::collections::BTreeSet::new();
    let mut found = std::collections::BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // This file's own sample ids are not the code's.
        if f.ends_with("i18n/tests.rs") {
            continue;
        }
        for call in calls(&text) {
            // Ids have a hyphen; a call's other literals are values (`"duration"`).
            named.extend(literals(call).into_iter().filter(|l| id_like(l) && l.contains('-')));
        }
        found.extend(literals(&text).into_iter().filter(|l| id_like(l)));
    }
    let unknown: Vec<&String> = named.iter().filter(|id| !en.contains_key(*id)).collect();
    assert!(unknown.is_empty(), "the code names ids no catalogue has: {unknown:?}");
    // Ids built at run time: each command's menu line.
    let dynamic: Vec<String> = crate::core::SPECS
        .iter()
        .map(|s| format!("cmd-{}", s.name))
        .chain(["cmd-help".to_string(), "cmd-chatid".to_string()])
        .collect();
    let unused: Vec<&String> = en
        .keys()
        .filter(|id| !found.contains(*id) && !dynamic.contains(id))
        .collect();
    assert!(unused.is_empty(), "catalogue ids no code uses: {unused:?}");
    for id in &dynamic {
        assert!(en.contains_key(id), "{id}");
    }
}

#[test]
fn the_english_menu_lines_are_the_cores_own() {
    for s in crate::core::SPECS {
        assert_eq!(text(Lang::En, &format!("cmd-{}", s.name), None), s.about, "{}", s.name);
    }
}

fn count(lang: Lang, id: &str, n: u64) -> String {
    tr!(lang, id, count = n)
}

#[test]
fn russian_plurals_take_three_forms() {
    let forms = |id: &str| -> Vec<String> { [1, 2, 5, 11, 21, 22].iter().map(|n| count(Lang::Ru, id, *n)).collect() };
    assert_eq!(
        forms("monitors-count"),
        [
            "1 монитор",
            "2 монитора",
            "5 мониторов",
            "11 мониторов",
            "21 монитор",
            "22 монитора"
        ]
    );
    assert_eq!(
        forms("graph-incidents"),
        [
            "1 инцидент",
            "2 инцидента",
            "5 инцидентов",
            "11 инцидентов",
            "21 инцидент",
            "22 инцидента"
        ]
    );
    assert_eq!(
        forms("reason-pings-lost"),
        [
            "потерян 1 из 1 пинга",
            "потеряны 2 из 2 пингов",
            "потеряно 5 из 5 пингов",
            "потеряно 11 из 11 пингов",
            "потерян 21 из 21 пинга",
            "потеряны 22 из 22 пингов"
        ]
    );
    let changes: Vec<String> = [1, 2, 5, 11, 21, 22]
        .iter()
        .map(|n| tr!(Lang::Ru, "alert-changes", count = *n, counts = "…"))
        .collect();
    assert_eq!(
        changes,
        [
            "<b>1 изменение</b>: …",
            "<b>2 изменения</b>: …",
            "<b>5 изменений</b>: …",
            "<b>11 изменений</b>: …",
            "<b>21 изменение</b>: …",
            "<b>22 изменения</b>: …"
        ]
    );
}

#[test]
fn other_languages_count_too() {
    assert_eq!(count(Lang::En, "monitors-count", 1), "1 monitor");
    assert_eq!(count(Lang::En, "monitors-count", 2), "2 monitors");
    assert_eq!(count(Lang::Pt, "monitors-count", 1), "1 monitor");
    assert_eq!(count(Lang::Pt, "monitors-count", 5), "5 monitores");
    assert_eq!(count(Lang::Ko, "monitors-count", 5), "모니터 5개");
    assert_eq!(count(Lang::En, "graph-incidents", 0), "no incidents");
    assert_eq!(count(Lang::Ru, "graph-incidents", 0), "без инцидентов");
}

#[test]
fn durations_and_numbers_read_as_each_language_writes_them() {
    let d = Duration::from_secs(303);
    assert_eq!(duration(Lang::En, d), "5m 3s");
    assert_eq!(duration(Lang::Pt, d), "5 min 3 s");
    assert_eq!(duration(Lang::Ru, d), "5 мин 3 с");
    assert_eq!(duration(Lang::Ko, d), "5분 3초");
    assert_eq!(duration(Lang::Ru, Duration::from_secs(300)), "5 мин");
    assert_eq!(duration(Lang::Ko, Duration::from_secs(300)), "5분");
    assert_eq!(duration(Lang::Ru, Duration::from_secs(90_000)), "1 д 1 ч");
    assert_eq!(duration(Lang::Pt, Duration::from_millis(1500)), "1,5 s");
    assert_eq!(duration(Lang::Ko, Duration::from_millis(500)), "500ms");
    assert_eq!(duration(Lang::Ru, Duration::ZERO), "0 с");
    assert_eq!(duration_secs(Lang::En, 0.5), "500ms");
    assert_eq!(decimal(Lang::Ru, "0.41"), "0,41");
    assert_eq!(decimal(Lang::Ko, "0.41"), "0.41");
}

#[test]
fn languages_are_read_from_words_and_telegram_codes() {
    assert_eq!(Lang::parse("pt-BR"), Some(Lang::Pt));
    assert_eq!(Lang::parse("ru"), Some(Lang::Ru));
    assert_eq!(Lang::parse("KO_kr"), Some(Lang::Ko));
    assert_eq!(Lang::parse("en-GB"), Some(Lang::En));
    assert_eq!(Lang::parse("de"), None);
    assert_eq!(Lang::parse(""), None);
    assert_eq!(serde_json::to_string(&Lang::Ko).unwrap(), "\"ko\"");
}

#[test]
fn messages_render_in_every_language_and_english_is_their_display() {
    let m = msg!("err-mute-range", got = Duration::from_secs(400 * 86_400));
    assert_eq!(m.to_string(), "a mute lasts 1s to 366 days, got 400d");
    assert_eq!(m.render(Lang::Ru), "тишина длится от 1 с до 366 дней, а указано 400 д");
    let nested = msg!(
        "err-field",
        field = "interval",
        error = msg!("err-invalid-duration", value = "\"x\"")
    );
    assert_eq!(
        nested.render(Lang::Ko),
        "interval: 잘못된 기간 \"x\": 예를 들어 30, 30s, 5m처럼 쓰세요"
    );
    let raw = Msg::raw("as it is");
    assert_eq!((raw.render(Lang::Pt), raw.id()), ("as it is".to_string(), ""));
    assert_eq!(
        serde_json::to_string(&m).unwrap(),
        "\"a mute lasts 1s to 366 days, got 400d\""
    );
    // DOWN, UP and DEGRADED stay Latin in every language.
    for lang in Lang::ALL {
        assert!(tr!(lang, "alert-now-up").contains("UP"), "{lang}");
        assert!(tr!(lang, "graph-still-down").contains("DOWN"), "{lang}");
        assert!(
            tr!(lang, "graph-degraded", duration = "1m").contains("DEGRADED"),
            "{lang}"
        );
    }
}

#[test]
fn a_chats_bad_words_get_translated_errors_and_the_ws_the_same_english() {
    let e = crate::core::AddRequest::parse_chat("10.0.0.1 interval=abc").unwrap_err();
    assert_eq!(
        e.to_string(),
        "interval: invalid duration \"abc\": use e.g. 30, 30s, 5m"
    );
    assert_eq!(
        e.message().unwrap().render(Lang::Ru),
        "interval: неверная длительность \"abc\": пишите, например, 30, 30s, 5m"
    );
    let e = crate::core::AddRequest::parse_chat("db port=http").unwrap_err();
    assert_eq!(
        e.to_string(),
        "port: invalid value: string \"http\", expected a whole number (a JSON number or a numeric string)"
    );
    assert_eq!(
        e.message().unwrap().render(Lang::Pt),
        "port: valor inválido \"http\": esperava um número inteiro"
    );
    let e = crate::core::AddRequest::parse_chat("db colour=red").unwrap_err();
    assert!(
        e.message()
            .unwrap()
            .render(Lang::Ko)
            .starts_with("알 수 없는 옵션 \"colour\"."),
        "{e}"
    );
}
