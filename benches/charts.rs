//! Render + PNG encode times of the charts (criterion).
//!
//! `comparison_12x10` is the case the product cares about: 12 sessions × 10 statements, which
//! the renderer lays out in two columns. With `CHARTS_BENCH_DATA=path.json` the bench also writes
//! that chart's data and pixel size, so that `matplotlib_compare.py` draws exactly the same chart
//! (see `compare.sh` and BENCHMARKS.md).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stemkaart::charts::{
    render_compare, render_session, Cell, CompareChart, CompareGroup, Labels, SessionBar,
    SessionChart, Tally,
};

const STATEMENTS: [&str; 10] = [
    "Ik ervaar dat het vertrouwen van inwoners in de gemeente of lokale institutie de afgelopen jaren is afgenomen",
    "Ik vind dat we als lokale overheid aan inwoners laten zien dat we betrouwbaar zijn",
    "Ik vind dat we door Rijksbeleid lokaal onvoldoende betrouwbaar kunnen zijn",
    "Het klimaatbeleid van de gemeente beïnvloedt mijn dagelijks leven op een positieve manier",
    "Iedere wijk zou één vaste wijkagent moeten hebben die bewoners persoonlijk kennen",
    "De gemeente moet meer geld uittrekken voor onderhoud van fietspaden",
    "Jongeren onder de 18 jaar moeten kunnen meebeslissen over speelplekken in hun buurt",
    "Windmolens mogen dichter bij woningen staan als de opbrengst ten goede komt aan de buurt",
    "Ik vertrouw erop dat de gemeenteraad de uitkomsten van dit burgerberaad serieus neemt",
    "De gemeente legt haar besluiten begrijpelijk uit aan inwoners",
];

const MUNICIPALITIES: [&str; 12] = [
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
];

/// A fixed linear congruential generator: the same counts on every run and machine.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(bound)) as u32
    }
}

fn comparison() -> CompareChart {
    let mut rng = Lcg(2026);
    CompareChart {
        title: "Vergelijking tussen gemeenten".into(),
        subtitle: "% eens per stelling · 12 sessies · n = aantal stemmen op die stelling".into(),
        labels: Labels::dutch(),
        series: MUNICIPALITIES.iter().map(|m| m.to_string()).collect(),
        colours: Vec::new(),
        groups: STATEMENTS
            .iter()
            .enumerate()
            .map(|(i, text)| CompareGroup {
                position: Some(i as u32 + 1),
                text: text.to_string(),
                cells: (0..MUNICIPALITIES.len())
                    .map(|_| Cell::Answered {
                        tally: Tally {
                            agree: rng.below(150),
                            disagree: 1 + rng.below(150),
                        },
                        other_wording: false,
                    })
                    .collect(),
            })
            .collect(),
        footnote: Some("Gesimuleerde gegevens (benchmark)".into()),
        left_out: 0,
        merged_sessions: None,
    }
}

fn session() -> SessionChart {
    let mut rng = Lcg(27);
    SessionChart {
        title: "Uitslag sessie Súdwest Fryslân".into(),
        subtitle: "Raadsavond 27 november · 29-11-2026 · deck vertrouwen · 10 stellingen".into(),
        labels: Labels::dutch(),
        bars: STATEMENTS
            .iter()
            .enumerate()
            .map(|(i, text)| SessionBar {
                position: i as u32 + 1,
                text: text.to_string(),
                online: Tally {
                    agree: rng.below(60),
                    disagree: rng.below(60),
                },
                room: (i % 2 == 0).then(|| Tally {
                    agree: rng.below(20),
                    disagree: rng.below(20),
                }),
                note: None,
            })
            .collect(),
        footnote: Some("Gesimuleerde gegevens (benchmark)".into()),
    }
}

/// Writes the comparison's data and the pixel size we render it at, for matplotlib.
fn export(chart: &CompareChart, path: &std::path::Path) {
    let png = render_compare(chart).expect("renders");
    // The height is the big-endian u32 at bytes 20..24 of a PNG (in IHDR).
    let height = u32::from_be_bytes(png[20..24].try_into().expect("IHDR"));
    let groups: Vec<serde_json::Value> = chart
        .groups
        .iter()
        .map(|group| {
            let cells: Vec<serde_json::Value> = group
                .cells
                .iter()
                .map(|cell| match cell {
                    Cell::Answered { tally, .. } => {
                        serde_json::json!({ "agree": tally.agree, "disagree": tally.disagree })
                    }
                    Cell::NotAsked => serde_json::Value::Null,
                })
                .collect();
            serde_json::json!({ "position": group.position, "text": group.text, "cells": cells })
        })
        .collect();
    let data = serde_json::json!({
        "width": stemkaart::charts::WIDTH,
        "height": height,
        "png_bytes": png.len(),
        "title": chart.title,
        "subtitle": chart.subtitle,
        "axis": chart.labels.pct_agree_axis,
        "footnote": chart.footnote,
        "series": chart.series,
        "groups": groups,
    });
    std::fs::write(path, serde_json::to_vec_pretty(&data).expect("json"))
        .expect("writes bench data");
}

fn charts(c: &mut Criterion) {
    let comparison = comparison();
    if let Some(path) = std::env::var_os("CHARTS_BENCH_DATA") {
        export(&comparison, std::path::Path::new(&path));
    }
    c.bench_function("comparison_12x10", |b| {
        b.iter(|| render_compare(black_box(&comparison)).expect("renders"))
    });
    let session = session();
    c.bench_function("session_10", |b| {
        b.iter(|| render_session(black_box(&session)).expect("renders"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60);
    targets = charts
}
criterion_main!(benches);
