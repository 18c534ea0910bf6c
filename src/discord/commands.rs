//! The slash commands: their registration (names, options, Dutch localisations — a contract
//! with Discord and with facilitators' muscle memory) and parsing an interaction into a
//! [`Command`].

use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandOptionType, CreateCommand,
    CreateCommandOption, InteractionContext, Permissions,
};

/// The most cards a room count may have per colour.
pub const MAX_ROOM_COUNT: u64 = 100_000;

/// A parsed facilitator command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    SessionStart {
        municipality: String,
        deck: String,
        label: Option<String>,
    },
    SessionEnd,
    StatementNext,
    StatementPost {
        number: u32,
    },
    StatementClose,
    Room {
        agree: u32,
        disagree: u32,
    },
    Results,
    Compare {
        deck: Option<String>,
        statement: Option<u32>,
    },
    Export,
}

fn option(
    kind: CommandOptionType,
    name: &str,
    nl_name: &str,
    description: &str,
    nl_description: &str,
) -> CreateCommandOption {
    CreateCommandOption::new(kind, name, description)
        .name_localized("nl", nl_name)
        .description_localized("nl", nl_description)
}

fn command(name: &str, nl_name: &str, description: &str, nl_description: &str) -> CreateCommand {
    CreateCommand::new(name)
        .name_localized("nl", nl_name)
        .description(description)
        .description_localized("nl", nl_description)
        // A default only: the bot checks the member's rights on every command.
        .default_member_permissions(Permissions::MANAGE_GUILD)
        .contexts(vec![InteractionContext::Guild])
}

/// Every command, as registered with Discord.
pub fn definitions() -> Vec<CreateCommand> {
    use CommandOptionType::{Integer, String, SubCommand};
    vec![
        command(
            "session",
            "sessie",
            "Start or end a workshop session in this channel",
            "Start of beëindig een workshopsessie in dit kanaal",
        )
        .add_option(
            option(
                SubCommand,
                "start",
                "start",
                "Start a session for a municipality",
                "Start een sessie voor een gemeente",
            )
            .add_sub_option(
                option(
                    String,
                    "municipality",
                    "gemeente",
                    "The municipality (gemeente) of this workshop",
                    "De gemeente van deze workshop",
                )
                .required(true)
                .max_length(100),
            )
            .add_sub_option(
                option(
                    String,
                    "deck",
                    "deck",
                    "The set of statements",
                    "De set stellingen",
                )
                .required(true)
                .set_autocomplete(true),
            )
            .add_sub_option(
                option(
                    String,
                    "label",
                    "label",
                    "Optional label, e.g. 'Raadsavond 27 november'",
                    "Optioneel label, bijv. 'Raadsavond 27 november'",
                )
                .max_length(100),
            ),
        )
        .add_option(option(
            SubCommand,
            "end",
            "einde",
            "Close the open statement and end the session",
            "Sluit de open stelling en beëindig de sessie",
        )),
        command(
            "statement",
            "stelling",
            "Post or close statements",
            "Plaats of sluit stellingen",
        )
        .add_option(option(
            SubCommand,
            "next",
            "volgende",
            "Post the next statement",
            "Plaats de volgende stelling",
        ))
        .add_option(
            option(
                SubCommand,
                "post",
                "plaats",
                "Post a statement by its number in the deck",
                "Plaats een stelling op nummer in het deck",
            )
            .add_sub_option(
                option(
                    Integer,
                    "number",
                    "nummer",
                    "Position in the deck (1 = first)",
                    "Plaats in het deck (1 = eerste)",
                )
                .required(true)
                .min_int_value(1),
            ),
        )
        .add_option(option(
            SubCommand,
            "close",
            "sluit",
            "Close voting on the open statement and show the result",
            "Sluit het stemmen op de open stelling en toon de uitslag",
        )),
        command(
            "room",
            "zaal",
            "Enter the cards counted in the room",
            "Voer de in de zaal getelde kaarten in",
        )
        .add_option(
            option(
                Integer,
                "agree",
                "eens",
                "Green cards (agree)",
                "Groene kaarten (eens)",
            )
            .required(true)
            .min_int_value(0)
            .max_int_value(MAX_ROOM_COUNT),
        )
        .add_option(
            option(
                Integer,
                "disagree",
                "oneens",
                "Red cards (disagree)",
                "Rode kaarten (oneens)",
            )
            .required(true)
            .min_int_value(0)
            .max_int_value(MAX_ROOM_COUNT),
        ),
        command(
            "results",
            "uitslag",
            "Chart of the current or latest session in this channel",
            "Grafiek van de huidige of laatste sessie in dit kanaal",
        ),
        command(
            "compare",
            "vergelijk",
            "Chart comparing all sessions of a deck across municipalities",
            "Grafiek die alle sessies van een deck vergelijkt tussen gemeenten",
        )
        .add_option(
            option(
                String,
                "deck",
                "deck",
                "The deck (default: this channel's)",
                "Het deck (standaard: dat van dit kanaal)",
            )
            .set_autocomplete(true),
        )
        .add_option(
            option(
                Integer,
                "statement",
                "stelling",
                "Only this statement (its number)",
                "Alleen deze stelling (het nummer)",
            )
            .min_int_value(1),
        ),
        command(
            "export",
            "exporteer",
            "CSV of all results (counts only)",
            "CSV van alle uitslagen (alleen aantallen)",
        ),
    ]
}

/// Why an interaction could not be parsed (an out-of-date registration, or a client that
/// ignored the option limits).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown command `{0}`")]
    Unknown(String),
    #[error("option `{0}` is missing")]
    Missing(&'static str),
    #[error("option `{name}` must be a whole number from {min} to {max}")]
    OutOfRange {
        name: &'static str,
        min: i64,
        max: i64,
    },
}

/// Parse a command from its name and options.
pub fn parse(name: &str, options: &[CommandDataOption]) -> Result<Command, ParseError> {
    let (sub, sub_options) = match options.first().map(|o| (&o.name, &o.value)) {
        Some((sub, CommandDataOptionValue::SubCommand(inner))) => (sub.as_str(), inner.as_slice()),
        _ => ("", options),
    };
    let text = |key: &str| {
        sub_options
            .iter()
            .find(|o| o.name == key)
            .and_then(|o| match &o.value {
                CommandDataOptionValue::String(s) => Some(s.clone()),
                _ => None,
            })
    };
    let number = |key: &'static str, min: i64, max: i64| -> Result<Option<u32>, ParseError> {
        match sub_options.iter().find(|o| o.name == key).map(|o| &o.value) {
            None => Ok(None),
            Some(CommandDataOptionValue::Integer(n)) if (min..=max).contains(n) => {
                Ok(Some(*n as u32))
            }
            Some(_) => Err(ParseError::OutOfRange {
                name: key,
                min,
                max,
            }),
        }
    };
    let max_position = i64::from(u16::MAX);
    let max_room = MAX_ROOM_COUNT as i64;
    Ok(match (name, sub) {
        ("session", "start") => Command::SessionStart {
            municipality: text("municipality").ok_or(ParseError::Missing("municipality"))?,
            deck: text("deck").ok_or(ParseError::Missing("deck"))?,
            label: text("label").filter(|l| !l.trim().is_empty()),
        },
        ("session", "end") => Command::SessionEnd,
        ("statement", "next") => Command::StatementNext,
        ("statement", "post") => Command::StatementPost {
            number: number("number", 1, max_position)?.ok_or(ParseError::Missing("number"))?,
        },
        ("statement", "close") => Command::StatementClose,
        ("room", _) => Command::Room {
            agree: number("agree", 0, max_room)?.ok_or(ParseError::Missing("agree"))?,
            disagree: number("disagree", 0, max_room)?.ok_or(ParseError::Missing("disagree"))?,
        },
        ("results", _) => Command::Results,
        ("compare", _) => Command::Compare {
            deck: text("deck").filter(|d| !d.trim().is_empty()),
            statement: number("statement", 1, max_position)?,
        },
        ("export", _) => Command::Export,
        _ => {
            return Err(ParseError::Unknown(
                format!("{name} {sub}").trim().to_string(),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(value: serde_json::Value) -> Vec<CommandDataOption> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn parses_subcommands_and_options() {
        let opts = options(json!([{"name": "start", "type": 1, "options": [
            {"name": "municipality", "type": 3, "value": "Súdwest Fryslân"},
            {"name": "deck", "type": 3, "value": "vertrouwen"}
        ]}]));
        assert_eq!(
            parse("session", &opts),
            Ok(Command::SessionStart {
                municipality: "Súdwest Fryslân".into(),
                deck: "vertrouwen".into(),
                label: None
            })
        );
        let opts = options(
            json!([{"name": "agree", "type": 4, "value": 12}, {"name": "disagree", "type": 4, "value": 0}]),
        );
        assert_eq!(
            parse("room", &opts),
            Ok(Command::Room {
                agree: 12,
                disagree: 0
            })
        );
        let opts = options(
            json!([{"name": "post", "type": 1, "options": [{"name": "number", "type": 4, "value": 2}]}]),
        );
        assert_eq!(
            parse("statement", &opts),
            Ok(Command::StatementPost { number: 2 })
        );
        assert_eq!(
            parse("compare", &[]),
            Ok(Command::Compare {
                deck: None,
                statement: None
            })
        );
    }

    #[test]
    fn refuses_out_of_range_numbers() {
        let opts = options(
            json!([{"name": "agree", "type": 4, "value": -1}, {"name": "disagree", "type": 4, "value": 0}]),
        );
        assert!(matches!(
            parse("room", &opts),
            Err(ParseError::OutOfRange { name: "agree", .. })
        ));
        assert!(matches!(
            parse("room", &[]),
            Err(ParseError::Missing("agree"))
        ));
        assert!(matches!(parse("poll", &[]), Err(ParseError::Unknown(_))));
    }

    #[test]
    fn every_command_has_dutch_names_and_manage_server_default() {
        for definition in definitions() {
            let json = serde_json::to_value(&definition).unwrap();
            assert!(json["name_localizations"]["nl"].is_string(), "{json}");
            assert!(
                json["description_localizations"]["nl"].is_string(),
                "{json}"
            );
            assert_eq!(json["default_member_permissions"], "32", "{json}");
            assert_eq!(json["contexts"], json!([0]), "{json}");
            for option in json["options"].as_array().into_iter().flatten() {
                assert!(option["name_localizations"]["nl"].is_string(), "{option}");
            }
        }
        let names: Vec<String> = definitions()
            .iter()
            .map(|d| {
                serde_json::to_value(d).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [
                "session",
                "statement",
                "room",
                "results",
                "compare",
                "export"
            ]
        );
    }
}
