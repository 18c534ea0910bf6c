//! Charts rendered to real PNG bytes and decoded back.
//!
//! Set `CHART_SAMPLES_DIR` to a folder to also keep every rendered chart there for a look.

use std::collections::HashSet;

use stemkaart::charts::{
    render_compare, render_session, Cell, ChartError, CompareChart, CompareGroup, Labels,
    SessionBar, SessionChart, Tally, WIDTH,
};

const STATEMENTS: [&str; 3] = [
    "Ik ervaar dat het vertrouwen van inwoners in de gemeente of lokale institutie de afgelopen jaren is afgenomen",
    "Ik vind dat we als lokale overheid aan inwoners laten zien dat we betrouwbaar zijn",
    "Ik vind dat we door Rijksbeleid lokaal onvoldoende betrouwbaar kunnen zijn",
];

pub const AGREE: [u8; 3] = [0x17, 0x66, 0x2f];
pub const DISAGREE: [u8; 3] = [0xf0, 0x74, 0x70];

pub struct Image {
    pub width: u32,
    pub height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]])
    }

    pub fn count(&self, color: [u8; 3]) -> usize {
        self.pixels().filter(|&p| p == color).count()
    }

    fn distinct_colors(&self) -> usize {
        self.pixels().collect::<HashSet<_>>().len()
    }
}

/// Decodes PNG bytes with the `png` crate and checks what every chart must satisfy.
pub fn decode(name: &str, bytes: &[u8]) -> Image {
    if let Some(dir) = std::env::var_os("CHART_SAMPLES_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.png")),
            bytes,
        )
        .unwrap();
    }
    assert!(
        bytes.len() < 10 * 1024 * 1024,
        "{name}: {} bytes is over Discord's limit",
        bytes.len()
    );
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).expect("PNG image data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.truncate(info.buffer_size());
    let image = Image {
        width: info.width,
        height: info.height,
        rgb,
    };
    assert_eq!(image.width, WIDTH, "{name}");
    assert!(image.distinct_colors() > 20, "{name} looks blank");
    image
}

fn tally(agree: u32, disagree: u32) -> Tally {
    Tally { agree, disagree }
}

fn session_bar(position: u32, text: &str, online: Tally, room: Option<Tally>) -> SessionBar {
    SessionBar {
        position,
        text: text.into(),
        online,
        room,
        note: None,
    }
}

fn session(bars: Vec<SessionBar>) -> SessionChart {
    SessionChart {
        title: "Uitslag sessie Súdwest Fryslân".into(),
        subtitle: format!(
            "Raadsavond 27 november · 29-11-2026 · deck vertrouwen · {} stellingen",
            bars.len()
        ),
        labels: Labels::dutch(),
        bars,
        footnote: Some("Gesimuleerde gegevens (demo)".into()),
    }
}

fn shipped_session() -> SessionChart {
    let mut bars = vec![
        session_bar(1, STATEMENTS[0], tally(20, 8), Some(tally(12, 3))),
        session_bar(2, STATEMENTS[1], tally(47, 1), None),
        session_bar(3, STATEMENTS[2], tally(2, 51), Some(tally(0, 9))),
    ];
    bars[0].note = Some("2 stemmen niet te bepalen".into());
    session(bars)
}

const MUNICIPALITIES: [&str; 25] = [
    "Arnhem",
    "Eindhoven",
    "Súdwest Fryslân",
    "Heerlen Noord",
    "Coevorden",
    "Nuenen, Gerwen en Nederwetten",
    "Westerkwartier",
    "Sittard-Geleen",
    "Bergen op Zoom",
    "Noardeast-Fryslân",
    "Utrechtse Heuvelrug",
    "Hof van Twente",
    "Molenlanden",
    "Vijfheerenlanden",
    "Zwartewaterland",
    "Gooise Meren",
    "Peel en Maas",
    "Land van Cuijk",
    "Altena",
    "Dijk en Waard",
    "Oldambt",
    "Tynaarlo",
    "Hoeksche Waard",
    "Lochem",
    "Texel",
];

/// Deterministic pseudo-random counts.
struct Counts(u64);

impl Counts {
    fn next(&mut self, below: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(below)) as u32
    }
}

fn compare(series: usize, statements: usize) -> CompareChart {
    let mut counts = Counts(7);
    let texts = [
        STATEMENTS[0],
        STATEMENTS[1],
        STATEMENTS[2],
        "Het klimaatbeleid van de gemeente beïnvloedt mijn dagelijks leven op een positieve manier",
        "Iedere wijk zou één vaste wijkagent moeten hebben die bewoners persoonlijk kennen",
    ];
    CompareChart {
        title: "Vergelijking tussen gemeenten".into(),
        subtitle: format!(
            "% eens per stelling · {series} sessies · n = aantal stemmen op die stelling"
        ),
        labels: Labels::dutch(),
        series: MUNICIPALITIES
            .iter()
            .take(series)
            .map(|m| m.to_string())
            .collect(),
        colours: Vec::new(),
        groups: (0..statements)
            .map(|g| CompareGroup {
                position: Some(g as u32 + 1),
                text: texts[g % texts.len()].into(),
                cells: (0..series)
                    .map(|_| Cell::Answered {
                        tally: tally(counts.next(120), counts.next(120)),
                        other_wording: false,
                    })
                    .collect(),
            })
            .collect(),
        footnote: None,
        left_out: 0,
        merged_sessions: None,
    }
}

#[test]
fn the_shipped_deck_renders_as_a_session_chart() {
    let image = decode(
        "session-shipped",
        &render_session(&shipped_session()).unwrap(),
    );
    assert!(
        (300..900).contains(&image.height),
        "height {}",
        image.height
    );
    assert!(image.count(AGREE) > 1000);
    assert!(image.count(DISAGREE) > 1000);
}

#[test]
fn a_session_without_votes_has_empty_bars_and_no_colour() {
    let chart = session(vec![
        session_bar(1, STATEMENTS[0], tally(0, 0), None),
        session_bar(2, STATEMENTS[1], tally(0, 0), Some(tally(0, 0))),
    ]);
    let image = decode("session-no-votes", &render_session(&chart).unwrap());
    // The legend swatches are the only agree/disagree colour.
    assert_eq!(image.count(AGREE), 16 * 16);
    assert_eq!(image.count(DISAGREE), 16 * 16);
}

#[test]
fn a_long_statement_grows_its_row_but_stays_bounded() {
    let long: String = vec![STATEMENTS.join(" "); 4]
        .join(" ")
        .chars()
        .take(1000)
        .collect();
    let short = render_session(&session(vec![session_bar(
        1,
        STATEMENTS[1],
        tally(5, 5),
        None,
    )]))
    .unwrap();
    let chart = session(vec![
        session_bar(1, &long, tally(30, 10), None),
        session_bar(2, STATEMENTS[1], tally(5, 5), None),
    ]);
    let tall = decode("session-long-statement", &render_session(&chart).unwrap());
    let short = decode("session-one-statement", &short);
    // Six lines of text at most: the first row is taller than a one-line row, by a bounded amount.
    let growth = tall.height - short.height;
    assert!((80..260).contains(&growth), "grew by {growth}");
}

#[test]
fn many_statements_with_diacritics_and_notes() {
    let texts = [
        "Het klimaatbeleid van de gemeente beïnvloedt mijn dagelijks leven op een positieve manier.",
        "Iedere wijk zou één vaste wijkagent moeten hebben die bewoners persoonlijk kennen.",
        "De gemeenteraad van Súdwest Fryslân luistert naar ‘gewone’ inwoners … of niet?",
        "Jongeren onder de 18 jaar moeten kunnen meebeslissen over de inrichting van speelplekken en sportvelden in hun buurt.",
    ];
    let mut bars: Vec<SessionBar> = (0..12)
        .map(|i| {
            let room = (i % 3 == 0).then(|| tally(i * 2, 11 - i));
            session_bar(
                i + 1,
                texts[i as usize % texts.len()],
                tally(3 + i * 4, 40 - i * 3),
                room,
            )
        })
        .collect();
    bars[4].note = Some("3 stemmen niet te bepalen".into());
    bars[7].online = tally(1, 0);
    let image = decode("session-twelve", &render_session(&session(bars)).unwrap());
    assert!(image.height < 2400, "height {}", image.height);
}

#[test]
fn english_labels_render_too() {
    let mut chart = shipped_session();
    chart.labels = Labels::english();
    chart.title = "Results session Arnhem".into();
    decode("session-english", &render_session(&chart).unwrap());
}

#[test]
fn an_empty_chart_is_an_error_not_a_blank_image() {
    assert!(matches!(
        render_session(&session(Vec::new())),
        Err(ChartError::Empty)
    ));
    let mut chart = compare(3, 2);
    chart.groups.clear();
    assert!(matches!(render_compare(&chart), Err(ChartError::Empty)));
    let mut chart = compare(3, 2);
    chart.groups[1].cells.pop();
    assert!(matches!(
        render_compare(&chart),
        Err(ChartError::CellCount {
            group: 1,
            expected: 3,
            found: 2
        })
    ));
}

#[test]
fn a_comparison_of_four_municipalities_looks_like_the_reference() {
    let mut chart = compare(4, 3);
    chart.groups[1].cells[2] = Cell::NotAsked;
    chart.groups[2].cells[0] = Cell::Answered {
        tally: tally(30, 12),
        other_wording: true,
    };
    chart.groups[2].cells[3] = Cell::Answered {
        tally: tally(0, 0),
        other_wording: false,
    };
    chart.footnote = Some("Gesimuleerde gegevens (demo)".into());
    let image = decode("compare-four", &render_compare(&chart).unwrap());
    assert!(
        (400..1100).contains(&image.height),
        "height {}",
        image.height
    );
}

#[test]
fn a_comparison_of_one_session() {
    let image = decode(
        "compare-one-session",
        &render_compare(&compare(1, 3)).unwrap(),
    );
    assert!(image.height < 900);
}

#[test]
fn twelve_sessions_and_ten_statements_split_into_two_columns() {
    let chart = compare(12, 10);
    let bytes = render_compare(&chart).unwrap();
    let image = decode("compare-12x10", &bytes);
    assert!(
        (1200..2400).contains(&image.height),
        "height {}",
        image.height
    );
}

#[test]
fn one_statement_across_25_sessions_sorted() {
    let mut chart = compare(25, 1);
    let mut pairs: Vec<(String, Cell)> = chart
        .series
        .drain(..)
        .zip(chart.groups[0].cells.drain(..))
        .collect();
    let share = |cell: &Cell| match cell {
        Cell::Answered { tally, .. } => tally.pct_agree().unwrap_or(-1.0),
        Cell::NotAsked => -2.0,
    };
    pairs.sort_by(|a, b| share(&b.1).total_cmp(&share(&a.1)));
    pairs[3].1 = Cell::Answered {
        tally: tally(40, 2),
        other_wording: true,
    };
    pairs[24].1 = Cell::NotAsked;
    (chart.series, chart.groups[0].cells) = pairs.into_iter().unzip();
    chart.title = "Stelling 1 in alle sessies".into();
    let image = decode("compare-one-statement-25", &render_compare(&chart).unwrap());
    assert!(
        (700..1400).contains(&image.height),
        "height {}",
        image.height
    );
}

#[test]
fn an_absurdly_tall_chart_is_refused_before_drawing() {
    let chart = compare(25, 1);
    let mut huge = chart.clone();
    huge.series = (0..700).map(|i| format!("Sessie {i}")).collect();
    huge.groups[0].cells = vec![chart.groups[0].cells[0].clone(); 700];
    assert!(matches!(
        render_compare(&huge),
        Err(ChartError::TooLarge { .. })
    ));
}

#[test]
fn rendering_runs_on_a_blocking_thread() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let bytes = runtime
        .block_on(async {
            let chart = compare(3, 3);
            tokio::task::spawn_blocking(move || render_compare(&chart)).await
        })
        .unwrap()
        .unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
}
