//! The result chart of one session: per statement a 100 % stacked bar, agree (green) from the
//! left and disagree (red) to the right, with "57% (33)" in each part and "n=58" after the bar.
//! With a room count, two thin bars under the main one show online and room apart.
//!
//! A part too narrow for its label gets the label beside the bar instead (agree to the left,
//! disagree to the right), in a gutter that is only reserved when some bar needs it.

use super::canvas::{Align, Canvas};
use super::frame::{self, Footer, Header, LegendEntry, Scale, Statement, Swatch, MARGIN, RIGHT};
use super::palette;
use super::text::{self, FontSpec};
use super::{paint, percent, ChartError, Labels, SessionBar, SessionChart, Tally};

/// Width of the statement column, number included.
const TEXT_COLUMN: i32 = 420;
const COLUMN_GAP: i32 = 20;
const ROW_PAD: i32 = 12;
const NOTE: FontSpec = FontSpec {
    weight: text::Weight::Regular,
    size: 13.0,
};
const NOTE_LINE: i32 = 18;
/// Padding between a label and the edges of the part it sits in.
const LABEL_PAD: f32 = 6.0;
const GUTTER_GAP: i32 = 8;

/// The main bar (total) and the thin bars (online, room) differ only in size.
#[derive(Clone, Copy)]
struct BarKind {
    height: i32,
    label: FontSpec,
    count: FontSpec,
    count_color: plotters::style::RGBColor,
}

const MAIN: BarKind = BarKind {
    height: 34,
    label: FontSpec {
        weight: text::Weight::Bold,
        size: 14.0,
    },
    count: FontSpec {
        weight: text::Weight::Regular,
        size: 14.0,
    },
    count_color: palette::INK,
};
const THIN: BarKind = BarKind {
    height: 17,
    label: FontSpec {
        weight: text::Weight::Bold,
        size: 11.0,
    },
    count: FontSpec {
        weight: text::Weight::Regular,
        size: 12.0,
    },
    count_color: palette::MUTED,
};
const THIN_GAP: i32 = 4;

/// One bar to draw: its kind, votes and the text after it ("n=43", "online n=28").
struct Bar {
    kind: BarKind,
    tally: Tally,
    count: String,
}

struct Row {
    statement: Statement,
    note: Vec<String>,
    bars: Vec<Bar>,
    height: i32,
}

impl Row {
    fn new(bar: &SessionBar, labels: &Labels, number_width: f32) -> Row {
        let text_width = TEXT_COLUMN as f32;
        let statement = Statement::new(Some(bar.position), &bar.text, text_width, number_width);
        let note = bar.note.as_deref().map_or_else(Vec::new, |note| {
            text::wrap(NOTE, note, text_width - number_width, 3)
        });
        let total = bar.total();
        let mut bars = vec![Bar {
            kind: MAIN,
            count: format!("n={}", total.n()),
            tally: total,
        }];
        if let Some(room) = &bar.room {
            for (name, tally) in [(&labels.online, &bar.online), (&labels.room, room)] {
                bars.push(Bar {
                    kind: THIN,
                    count: format!("{name} n={}", tally.n()),
                    tally: *tally,
                });
            }
        }
        let height = ROW_PAD * 2 + text_height(&statement, &note).max(bars_height(&bars));
        Row {
            statement,
            note,
            bars,
            height,
        }
    }
}

fn text_height(statement: &Statement, note: &[String]) -> i32 {
    let note_height = if note.is_empty() {
        0
    } else {
        4 + note.len() as i32 * NOTE_LINE
    };
    statement.height() + note_height
}

fn bars_height(bars: &[Bar]) -> i32 {
    bars.iter().map(|bar| bar.kind.height).sum::<i32>() + (bars.len() as i32 - 1) * THIN_GAP
}

/// The two parts of a bar: pixel widths and labels.
struct Parts {
    agree_width: i32,
    disagree_width: i32,
    agree_label: String,
    disagree_label: String,
}

fn parts(tally: &Tally, width: i32) -> Parts {
    let n = tally.n();
    let agree_width =
        (f64::from(width) * f64::from(tally.agree) / f64::from(n.max(1))).round() as i32;
    let label = |count: u32| {
        if count == 0 {
            String::new()
        } else {
            format!("{} ({count})", percent(count, n))
        }
    };
    Parts {
        agree_width,
        disagree_width: if n == 0 { 0 } else { width - agree_width },
        agree_label: label(tally.agree),
        disagree_label: label(tally.disagree),
    }
}

fn fits(font: FontSpec, label: &str, part_width: i32) -> bool {
    text::width(font, label) + 2.0 * LABEL_PAD <= part_width as f32
}

/// Widths of the labels that must go outside a bar of `width` pixels: (left, right).
fn outside_labels(bar: &Bar, width: i32) -> (f32, f32) {
    let parts = parts(&bar.tally, width);
    let font = bar.kind.label;
    let outside = |label: &str, part: i32| {
        if label.is_empty() || fits(font, label, part) {
            0.0
        } else {
            text::width(font, label)
        }
    };
    (
        outside(&parts.agree_label, parts.agree_width),
        outside(&parts.disagree_label, parts.disagree_width),
    )
}

/// Horizontal layout: where the bars start and end, given what has to fit beside them.
struct Columns {
    scale: Scale,
    count_x: i32,
}

fn columns(rows: &[Row]) -> Columns {
    let count_width = rows
        .iter()
        .flat_map(|row| &row.bars)
        .map(|bar| text::width(bar.kind.count, &bar.count).ceil() as i32)
        .max()
        .unwrap_or(0);
    let plot_start = MARGIN + TEXT_COLUMN + COLUMN_GAP;
    let plot_end = RIGHT - count_width - 12;
    let (mut left, mut right) = (0, 0);
    // Gutters only grow, so a bar that gets narrower can only push more labels outside; a few
    // rounds reach the fixed point.
    for _ in 0..4 {
        let width = plot_end - right - (plot_start + left);
        let (mut need_left, mut need_right) = (left, right);
        for bar in rows.iter().flat_map(|row| &row.bars) {
            let (l, r) = outside_labels(bar, width);
            if l > 0.0 {
                need_left = need_left.max(l.ceil() as i32 + GUTTER_GAP);
            }
            if r > 0.0 {
                need_right = need_right.max(r.ceil() as i32 + GUTTER_GAP);
            }
        }
        if (need_left, need_right) == (left, right) {
            break;
        }
        (left, right) = (need_left, need_right);
    }
    let x0 = plot_start + left;
    Columns {
        scale: Scale {
            x0,
            width: plot_end - right - x0,
        },
        count_x: plot_end + 12,
    }
}

pub(crate) fn render(chart: &SessionChart) -> Result<Vec<u8>, ChartError> {
    if chart.bars.is_empty() {
        return Err(ChartError::Empty);
    }
    let labels = &chart.labels;
    let header = Header::new(
        &chart.title,
        &chart.subtitle,
        vec![
            LegendEntry {
                swatch: Swatch::Solid(palette::AGREE),
                label: labels.agree.clone(),
            },
            LegendEntry {
                swatch: Swatch::Solid(palette::DISAGREE),
                label: labels.disagree.clone(),
            },
        ],
    );
    let number_width = Statement::number_width(chart.bars.iter().map(|bar| bar.position).max());
    let rows: Vec<Row> = chart
        .bars
        .iter()
        .map(|bar| Row::new(bar, labels, number_width))
        .collect();
    let columns = columns(&rows);
    let footer = Footer::new(None, chart.footnote.as_deref());

    let plot_top = header.height();
    let plot_bottom = plot_top + rows.iter().map(|row| row.height).sum::<i32>();
    let height = plot_bottom + frame::AXIS_HEIGHT + footer.height();

    paint(height as u32, |canvas| {
        header.draw(canvas)?;
        columns.scale.draw_grid(canvas, plot_top, plot_bottom)?;
        let mut top = plot_top;
        for row in &rows {
            draw_row(canvas, row, &columns, top, labels)?;
            top += row.height;
        }
        columns
            .scale
            .draw_axis(canvas, plot_bottom, &labels.share_axis)?;
        footer.draw(canvas, plot_bottom + frame::AXIS_HEIGHT)
    })
}

fn draw_row(
    canvas: &mut Canvas,
    row: &Row,
    columns: &Columns,
    top: i32,
    labels: &Labels,
) -> Result<(), ChartError> {
    let inner = row.height - 2 * ROW_PAD;
    let text_top = top + ROW_PAD + (inner - text_height(&row.statement, &row.note)) / 2;
    row.statement.draw(canvas, MARGIN, text_top)?;
    let note_x = MARGIN as f32 + row.statement.text_offset();
    let note_top = text_top + row.statement.height() + 4;
    for (i, line) in row.note.iter().enumerate() {
        let baseline = frame::line_baseline(note_top, i, NOTE_LINE, NOTE);
        canvas.text(NOTE, line, note_x, baseline, Align::Left, palette::MUTED)?;
    }

    let mut bar_top = top + ROW_PAD + (inner - bars_height(&row.bars)) / 2;
    for bar in &row.bars {
        draw_bar(canvas, bar, columns, bar_top, labels)?;
        bar_top += bar.kind.height + THIN_GAP;
    }
    Ok(())
}

fn draw_bar(
    canvas: &mut Canvas,
    bar: &Bar,
    columns: &Columns,
    top: i32,
    labels: &Labels,
) -> Result<(), ChartError> {
    let scale = columns.scale;
    let bottom = top + bar.kind.height;
    let center = top as f32 + bar.kind.height as f32 / 2.0;
    let font = bar.kind.label;
    let baseline = frame::baseline_at(center, font);
    let count_baseline = frame::baseline_at(center, bar.kind.count);
    canvas.text(
        bar.kind.count,
        &bar.count,
        columns.count_x as f32,
        count_baseline,
        Align::Left,
        bar.kind.count_color,
    )?;

    if bar.tally.n() == 0 {
        canvas.rect(scale.x0, top, scale.end(), bottom, palette::EMPTY)?;
        let middle = scale.x0 as f32 + scale.width as f32 / 2.0;
        canvas.text(
            font,
            &labels.no_votes,
            middle,
            baseline,
            Align::Center,
            palette::MUTED,
        )?;
        return Ok(());
    }

    let parts = parts(&bar.tally, scale.width);
    let split = scale.x0 + parts.agree_width;
    canvas.rect(scale.x0, top, split, bottom, palette::AGREE)?;
    canvas.rect(split, top, scale.end(), bottom, palette::DISAGREE)?;

    if !parts.agree_label.is_empty() {
        let label = &parts.agree_label;
        if fits(font, label, parts.agree_width) {
            let middle = scale.x0 as f32 + parts.agree_width as f32 / 2.0;
            let ink = palette::text_on(palette::AGREE);
            canvas.text(font, label, middle, baseline, Align::Center, ink)?;
        } else {
            let x = (scale.x0 - GUTTER_GAP) as f32;
            canvas.text(font, label, x, baseline, Align::Right, palette::AGREE_TEXT)?;
        }
    }
    if !parts.disagree_label.is_empty() {
        let label = &parts.disagree_label;
        if fits(font, label, parts.disagree_width) {
            let middle = split as f32 + parts.disagree_width as f32 / 2.0;
            let ink = palette::text_on(palette::DISAGREE);
            canvas.text(font, label, middle, baseline, Align::Center, ink)?;
        } else {
            let x = (scale.end() + GUTTER_GAP) as f32;
            canvas.text(
                font,
                label,
                x,
                baseline,
                Align::Left,
                palette::DISAGREE_TEXT,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(agree: u32, disagree: u32) -> Bar {
        Bar {
            kind: MAIN,
            tally: Tally { agree, disagree },
            count: String::new(),
        }
    }

    #[test]
    fn parts_fill_the_bar_exactly() {
        for (agree, disagree) in [(33, 25), (47, 1), (0, 5), (5, 0), (1, 2)] {
            let parts = parts(&Tally { agree, disagree }, 517);
            assert_eq!(parts.agree_width + parts.disagree_width, 517);
        }
        assert_eq!(parts(&Tally::default(), 517).disagree_width, 0);
    }

    #[test]
    fn only_a_narrow_part_sends_its_label_outside() {
        assert_eq!(outside_labels(&bar(33, 25), 600), (0.0, 0.0));
        let (left, right) = outside_labels(&bar(47, 1), 600);
        assert_eq!(left, 0.0);
        assert!(right > 20.0);
        let (left, right) = outside_labels(&bar(1, 47), 600);
        assert!(left > 20.0 && right == 0.0);
        assert_eq!(outside_labels(&bar(0, 0), 600), (0.0, 0.0));
    }
}
