//! The chat commands: the [`BotCommands`] enum (routing), the lenient parser that
//! accepts `/ADD`, `/add\nhost` and double spaces, and the mapping of each command's
//! arguments to a [`core::Command`](crate::core::Command). The command menu
//! (`setMyCommands`, once per language) and `/help` come from the core's one
//! definition of each command ([`crate::core::SPECS`]), their lines from the
//! catalogues (`cmd-<name>`).

use teloxide::types::BotCommand;
use teloxide::utils::command::{BotCommands, ParseError};

use crate::core::cmd::{AckRequest, LangRequest, MuteRequest, QuietRequest, RemindRequest, UnmuteRequest};
use crate::core::cmd::{GraphRequest, PageRequest};
use crate::core::{AddRequest, Command, CoreError, SPECS, Selector};
use crate::i18n::Lang;

/// The commands only the chat has (their menu lines: `cmd-help`, `cmd-chatid`).
const CHAT_ONLY: &[&str] = &["help", "chatid"];

/// The commands every bot understands. Arguments stay raw strings: the command core
/// parses them, the same way for every front. (The menu texts come from the core.)
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Cmd {
    /// watch a host, host:port, URL or DNS name — /add 192.0.2.10 interval=30s
    Add(String),
    /// stop watching — /del 7
    Del(String),
    /// this chat's monitors
    List(String),
    /// state, RTT, loss, uptime over 24 h — /status 7
    Status(String),
    /// stop probing without deleting — /pause 7
    Pause(String),
    /// start probing again — /resume 7
    Resume(String),
    /// new webhook URLs for a push monitor — /rotate 7
    Rotate(String),
    /// response-time chart with uptime and incidents — /graph 7 24h
    Graph(String),
    /// public status page of this chat's monitors — /page on
    Page(String),
    /// I'm on it — /ack 7 looking into it
    Ack(String),
    /// hold alerts for a while — /mute 7 1h
    Mute(String),
    /// end a mute now — /unmute 7
    Unmute(String),
    /// remind while DOWN — /remind 7 30m
    Remind(String),
    /// UP messages without sound — /quiet on
    Quiet(String),
    /// the chat's language — /lang pt
    Lang(String),
    /// how to use this bot
    Help,
    /// how to use this bot
    Start,
    /// this chat's id
    Chatid,
}

/// What a message's text turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// One of ours, for this bot.
    Command(Cmd),
    /// Starts with `/` but is not a command we know (the `/word`, lower-cased).
    Unknown(String),
    /// A command addressed to another bot (`/cmd@other_bot`): not ours to answer.
    OtherBot,
    /// Plain text.
    Text,
}

/// Parses a message leniently: the command word may be upper case and be followed by
/// any whitespace (newline, several spaces); `@thisbot` is optional, `@otherbot` is
/// someone else's.
pub fn parse(text: &str, bot_username: &str) -> Parsed {
    let text = text.trim_start();
    if !text.starts_with('/') {
        return Parsed::Text;
    }
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let head = head.to_lowercase();
    let (word, addressee) = match head.split_once('@') {
        Some((w, a)) => (w, Some(a)),
        None => (head.as_str(), None),
    };
    if addressee.is_some_and(|a| !a.eq_ignore_ascii_case(bot_username)) {
        return Parsed::OtherBot;
    }
    match Cmd::parse(&format!("{word} {}", rest.trim()), bot_username) {
        Ok(c) => Parsed::Command(c),
        Err(ParseError::WrongBotName(_)) => Parsed::OtherBot,
        Err(_) => Parsed::Unknown(word.to_string()),
    }
}

/// The list sent with `setMyCommands` for `lang`: bare names (as the Bot API
/// documents them), the core's commands with their menu lines (`watch a host or
/// host:port — /add 192.0.2.10 interval=30s`), then `/help` and `/chatid`.
pub fn bot_commands(lang: Lang) -> Vec<BotCommand> {
    let about = |name: &str| super::format::about(lang, name);
    SPECS
        .iter()
        .map(|s| {
            let line = if s.example.is_empty() {
                about(s.name)
            } else {
                format!("{} — /{} {}", about(s.name), s.name, s.example)
            };
            BotCommand::new(s.name, line)
        })
        .chain(CHAT_ONLY.iter().map(|n| BotCommand::new(*n, about(n))))
        .collect()
}

/// The command's name as typed (`/add`), for messages about it.
pub fn name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Add(_) => "/add",
        Cmd::Del(_) => "/del",
        Cmd::List(_) => "/list",
        Cmd::Status(_) => "/status",
        Cmd::Pause(_) => "/pause",
        Cmd::Resume(_) => "/resume",
        Cmd::Rotate(_) => "/rotate",
        Cmd::Graph(_) => "/graph",
        Cmd::Page(_) => "/page",
        Cmd::Ack(_) => "/ack",
        Cmd::Mute(_) => "/mute",
        Cmd::Unmute(_) => "/unmute",
        Cmd::Remind(_) => "/remind",
        Cmd::Quiet(_) => "/quiet",
        Cmd::Lang(_) => "/lang",
        Cmd::Help => "/help",
        Cmd::Start => "/start",
        Cmd::Chatid => "/chatid",
    }
}

/// Whether the command changes monitors (groups: admins only), as the core defines it.
pub fn modifies(cmd: &Cmd) -> bool {
    let name = name(cmd).trim_start_matches('/');
    SPECS.iter().any(|s| s.name == name && s.modifies)
}

/// What a chat command asks of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run this through the command core.
    Core(Command),
    /// A command taking a monitor was sent without one: show its usage.
    Usage(&'static str),
    /// `/help` (`greeting`: it was `/start`).
    Help {
        /// Say hello first.
        greeting: bool,
    },
    /// `/chatid`.
    ChatId,
}

/// Maps a parsed command to what it does; bad arguments are the core's validation
/// errors (with their usage text).
pub fn action(cmd: Cmd) -> Result<Action, CoreError> {
    let sel = |arg: &str, name: &'static str| -> Result<Action, CoreError> {
        if arg.trim().is_empty() {
            return Ok(Action::Usage(name));
        }
        Selector::parse(arg).map(|s| {
            Action::Core(match name {
                "del" => Command::Del(s),
                "status" => Command::Status(s),
                "pause" => Command::Pause(s),
                "rotate" => Command::Rotate(s),
                _ => Command::Resume(s),
            })
        })
    };
    match cmd {
        Cmd::Add(args) => Ok(Action::Core(Command::Add(Box::new(AddRequest::parse_chat(&args)?)))),
        Cmd::Del(a) => sel(&a, "del"),
        Cmd::Status(a) => sel(&a, "status"),
        Cmd::Pause(a) => sel(&a, "pause"),
        Cmd::Resume(a) => sel(&a, "resume"),
        Cmd::Rotate(a) => sel(&a, "rotate"),
        Cmd::Graph(a) if a.trim().is_empty() => Ok(Action::Usage("graph")),
        Cmd::Graph(a) => GraphRequest::parse_chat(&a).map(|(s, p)| Action::Core(Command::Graph(s, p))),
        Cmd::Page(a) => PageRequest::parse_chat(&a).map(|r| Action::Core(Command::Page(r))),
        // `/list down`: only the monitors not UP; other words are ignored, as before.
        Cmd::List(a) if a.trim().eq_ignore_ascii_case("down") => Ok(Action::Core(Command::ListDown { chat_id: None })),
        Cmd::List(_) => Ok(Action::Core(Command::List { chat_id: None })),
        Cmd::Ack(a) if a.trim().is_empty() => Ok(Action::Usage("ack")),
        Cmd::Ack(a) => AckRequest::parse_chat(&a).map(|r| Action::Core(Command::Ack(r))),
        Cmd::Mute(a) => MuteRequest::parse_chat(&a).map(|r| Action::Core(Command::Mute(r))),
        Cmd::Unmute(a) => UnmuteRequest::parse_chat(&a).map(|r| Action::Core(Command::Unmute(r))),
        Cmd::Remind(a) => RemindRequest::parse_chat(&a).map(|r| Action::Core(Command::Remind(r))),
        Cmd::Quiet(a) => QuietRequest::parse_chat(&a).map(|r| Action::Core(Command::Quiet(r))),
        Cmd::Lang(a) => LangRequest::parse_chat(&a).map(|r| Action::Core(Command::Lang(r))),
        Cmd::Help => Ok(Action::Help { greeting: false }),
        Cmd::Start => Ok(Action::Help { greeting: true }),
        Cmd::Chatid => Ok(Action::ChatId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MonitorId;

    const ME: &str = "mon_one_bot";

    #[test]
    fn lenient_forms() {
        let add = |s: &str| Parsed::Command(Cmd::Add(s.into()));
        assert_eq!(parse("/add 127.0.0.1", ME), add("127.0.0.1"));
        assert_eq!(parse("/add@mon_one_bot 127.0.0.1", ME), add("127.0.0.1"));
        assert_eq!(parse("/add@MON_ONE_BOT 127.0.0.1", ME), add("127.0.0.1"));
        assert_eq!(parse("/ADD 127.0.0.1", ME), add("127.0.0.1"));
        assert_eq!(parse("/add\n127.0.0.1", ME), add("127.0.0.1"));
        assert_eq!(parse("/add   127.0.0.1  ", ME), add("127.0.0.1"));
        assert_eq!(parse("  /add 127.0.0.1", ME), add("127.0.0.1"));
        assert_eq!(parse("/add", ME), add(""));
        assert_eq!(
            parse("/add 10.0.0.1\nname=x", ME),
            add("10.0.0.1\nname=x"),
            "arguments keep their inner newlines"
        );
        assert_eq!(parse("/list extra", ME), Parsed::Command(Cmd::List("extra".into())));
        assert_eq!(parse("/chatid", ME), Parsed::Command(Cmd::Chatid));
        assert_eq!(parse("/list down", ME), Parsed::Command(Cmd::List("down".into())));
        assert_eq!(
            parse("/ack@mon_one_bot 7 on it", ME),
            Parsed::Command(Cmd::Ack("7 on it".into()))
        );
    }

    #[test]
    fn other_bots_unknown_and_text() {
        assert_eq!(parse("/add@other_bot 1.2.3.4", ME), Parsed::OtherBot);
        assert_eq!(parse("/frobnicate@other_bot", ME), Parsed::OtherBot);
        assert_eq!(parse("/frobnicate", ME), Parsed::Unknown("/frobnicate".into()));
        assert_eq!(parse("/Frob@mon_one_bot x", ME), Parsed::Unknown("/frob".into()));
        assert_eq!(parse("hello", ME), Parsed::Text);
        assert_eq!(parse("", ME), Parsed::Text);
    }

    #[test]
    fn actions() {
        assert_eq!(
            action(Cmd::Del("7".into())).unwrap(),
            Action::Core(Command::Del(Selector::Id(MonitorId(7))))
        );
        assert_eq!(action(Cmd::Pause(" ".into())).unwrap(), Action::Usage("pause"));
        assert!(matches!(action(Cmd::Add("".into())), Err(CoreError::Validation(_))));
        assert!(matches!(
            action(Cmd::Add("x colour=red".into())),
            Err(CoreError::Validation(_))
        ));
        let Action::Core(Command::Add(req)) = action(Cmd::Add("db:5432 name=\"a b\"".into())).unwrap() else {
            panic!("add")
        };
        assert_eq!((req.target.as_str(), req.name.as_deref()), ("db:5432", Some("a b")));
        assert!(modifies(&Cmd::Resume(String::new())));
        assert!(modifies(&Cmd::Rotate(String::new())));
        assert_eq!(
            action(Cmd::Rotate("7".into())).unwrap(),
            Action::Core(Command::Rotate(Selector::Id(MonitorId(7))))
        );
        assert_eq!(
            action(Cmd::Graph("7 7d".into())).unwrap(),
            Action::Core(Command::Graph(
                Selector::Id(MonitorId(7)),
                crate::core::cmd::Period::Week
            ))
        );
        assert_eq!(action(Cmd::Graph(String::new())).unwrap(), Action::Usage("graph"));
        assert!(!modifies(&Cmd::Graph(String::new())));
        assert!(modifies(&Cmd::Page(String::new())), "groups: admins only");
        let Action::Core(Command::Page(p)) = action(Cmd::Page("on targets".into())).unwrap() else {
            panic!("page")
        };
        assert_eq!((p.on, p.targets), (Some(true), Some(true)));
        assert!(matches!(
            action(Cmd::Page("maybe".into())),
            Err(CoreError::Validation(_))
        ));
        assert!(!modifies(&Cmd::List(String::new())));
        assert!(!modifies(&Cmd::Ack(String::new())), "anyone may ack");
        for c in [
            Cmd::Mute(String::new()),
            Cmd::Unmute(String::new()),
            Cmd::Remind(String::new()),
            Cmd::Quiet(String::new()),
        ] {
            assert!(modifies(&c), "{c:?}");
        }
        assert_eq!(
            action(Cmd::List(" DOWN ".into())).unwrap(),
            Action::Core(Command::ListDown { chat_id: None })
        );
        assert_eq!(
            action(Cmd::List("x".into())).unwrap(),
            Action::Core(Command::List { chat_id: None })
        );
        let Action::Core(Command::Ack(a)) = action(Cmd::Ack("#7 on it, ETA 5m".into())).unwrap() else {
            panic!("ack")
        };
        assert_eq!((a.id, a.reason.as_deref()), (7, Some("on it, ETA 5m")));
        assert_eq!(action(Cmd::Ack(" ".into())).unwrap(), Action::Usage("ack"));
        let Action::Core(Command::Mute(m)) = action(Cmd::Mute("all 2h deploy window".into())).unwrap() else {
            panic!("mute")
        };
        assert_eq!(m.id, crate::core::Scope::All);
        assert_eq!(m.duration, Some(std::time::Duration::from_secs(7200)));
        assert_eq!(m.reason.as_deref(), Some("deploy window"));
        for bad in ["", "7", "7 soon", "x 1h"] {
            assert!(action(Cmd::Mute(bad.into())).is_err(), "{bad:?}");
        }
        let Action::Core(Command::Remind(r)) = action(Cmd::Remind("7 off".into())).unwrap() else {
            panic!("remind")
        };
        assert_eq!(r.duration, Some(crate::core::Every::Off));
        assert!(action(Cmd::Remind("7".into())).is_err());
        assert!(action(Cmd::Unmute("7 8".into())).is_err());
        let Action::Core(Command::Quiet(q)) = action(Cmd::Quiet("off".into())).unwrap() else {
            panic!("quiet")
        };
        assert_eq!(q.on, Some(false));
        assert!(action(Cmd::Quiet("maybe".into())).is_err());
    }

    #[test]
    fn set_my_commands_list_has_no_slashes() {
        let cmds = bot_commands(Lang::En);
        assert!(cmds.iter().all(|c| !c.command.starts_with('/')));
        assert!(cmds.iter().all(|c| c.command.chars().all(|ch| ch.is_ascii_lowercase())));
        assert!(cmds.iter().any(|c| c.command == "add"));
        assert!(cmds.iter().any(|c| c.command == "chatid"));
        let add = cmds.iter().find(|c| c.command == "add").unwrap();
        assert_eq!(
            add.description,
            "watch a host, host:port, URL or DNS name — /add 192.0.2.10 interval=30s"
        );
    }
}
