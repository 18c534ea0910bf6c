//! The CSV export: one row per closed round, counts only — never anything about a participant.

use super::session::{Round, Session};

pub const CSV_HEADER: &str = "deck,statement_id,statement_position,statement_text,wording,municipality,session_label,session_start,agree_online,disagree_online,agree_room,disagree_room,agree,disagree,n,pct_agree";

/// The CSV text for these sessions and their rounds, header first. Rounds still open have no
/// result yet and are left out. Rows come in the order given: sessions as listed, each with its
/// rounds in posting order.
pub fn csv(sessions: &[(Session, Vec<Round>)]) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str(CSV_HEADER);
    out.push('\n');
    let rows = sessions
        .iter()
        .flat_map(|(session, rounds)| rounds.iter().map(move |round| (session, round)));
    for (session, round) in rows {
        let Some(result) = round.result() else {
            continue;
        };
        let total = result.total();
        let room = result.room;
        let fields = [
            session.deck_id.clone(),
            round.statement_id.clone(),
            round.position.to_string(),
            round.text.clone(),
            round.wording.to_string(),
            session.municipality.to_string(),
            session.label.clone().unwrap_or_default(),
            session.started_at.rfc3339(),
            result.online.agree.to_string(),
            result.online.disagree.to_string(),
            room.map(|r| r.agree.to_string()).unwrap_or_default(),
            room.map(|r| r.disagree.to_string()).unwrap_or_default(),
            total.agree.to_string(),
            total.disagree.to_string(),
            total.n().to_string(),
            total
                .pct_agree()
                .map(|p| format!("{p:.1}"))
                .unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting: a field with a comma, quote or line break is quoted, quotes doubled.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        deck::Wording,
        municipality::Municipality,
        session::{RoundId, SessionId, Tally},
        time::Timestamp,
        vote::OnlineCount,
    };

    fn session() -> Session {
        Session {
            id: SessionId(1),
            municipality: Municipality::parse("Súdwest Fryslân").unwrap(),
            label: Some("Raadsavond, 27 november".into()),
            deck_id: "vertrouwen".into(),
            deck_title: "Werken aan meer vertrouwen".into(),
            language: crate::domain::Language::Nl,
            guild_id: 9,
            channel_id: 10,
            started_at: Timestamp(1_795_000_000_000),
            ended_at: None,
        }
    }

    fn round(position: u32, online: Option<OnlineCount>, room: Option<Tally>) -> Round {
        Round {
            id: RoundId(u64::from(position)),
            session_id: SessionId(1),
            statement_id: format!("s{position}"),
            position,
            deck_size: 3,
            text: "Ik vind dat \"we\" betrouwbaar zijn".into(),
            wording: Wording::of("x"),
            channel_id: 10,
            message_id: 99,
            opened_at: Timestamp(0),
            closed_at: online.map(|_| Timestamp(1)),
            online,
            room,
        }
    }

    #[test]
    fn empty_export_is_the_header() {
        assert_eq!(csv(&[]), format!("{CSV_HEADER}\n"));
    }

    #[test]
    fn rows_hold_online_room_and_total() {
        let s = session();
        let online = OnlineCount {
            agree: 3,
            disagree: 1,
            ambiguous: 1,
        };
        let rounds = [
            round(1, Some(online), Some(Tally::new(10, 6))),
            round(2, Some(OnlineCount::default()), None),
            round(3, None, None),
        ];
        let text = csv(&[(s, rounds.to_vec())]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "open round left out: {text}");
        assert_eq!(
            lines[1],
            "vertrouwen,s1,1,\"Ik vind dat \"\"we\"\" betrouwbaar zijn\",2d711642,Súdwest Fryslân,\"Raadsavond, 27 november\",2026-11-18T11:06:40Z,3,1,10,6,13,7,20,65.0"
        );
        assert!(lines[2].ends_with(",0,0,,,0,0,0,"), "{}", lines[2]);
    }
}
