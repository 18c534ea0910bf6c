//! The comparison chart: per statement (group) one bar per session with its % agree and
//! "88%  n=146" after it; a session has the same colour in every group.
//!
//! Two arrangements, picked by what keeps the chart readable:
//! - *text left* (the reference look): the statement left of its bars, a legend names the
//!   colours. Used for up to six sessions while the chart stays under [`TARGET_HEIGHT`].
//! - *text above*: the statement spans the group, and every bar has its session's name in front
//!   of it, so no one has to match colours with a legend. Used for more sessions or a single
//!   statement (e.g. all sessions sorted by % agree), and split into two columns of whole
//!   groups when one column would be taller than [`TARGET_HEIGHT`].

use super::canvas::{Align, Canvas};
use super::frame::{self, Footer, Header, LegendEntry, Scale, Statement, Swatch, MARGIN, RIGHT};
use super::palette::{self, series_style};
use super::text::{self, FontSpec};
use super::{paint, percent, Cell, ChartError, CompareChart};

/// The height up to which a chart stays in one column (Discord shows taller images as a strip).
pub(crate) const TARGET_HEIGHT: i32 = 2400;
/// Series up to which the legend alone names the bars.
const LEGEND_ONLY_MAX_SERIES: usize = 6;
/// Series up to which a chart with named bars still gets a legend.
const LEGEND_MAX_SERIES: usize = 16;

const TEXT_LEFT_COLUMN: i32 = 380;
const COLUMN_GAP: i32 = 32;
/// How far the background band of a group reaches outside its column.
const BAND_OUTSET: i32 = 10;
const GROUP_PAD: i32 = 9;
const NAME: FontSpec = FontSpec {
    weight: text::Weight::Regular,
    size: 13.0,
};
const LABEL_GAP: i32 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arrangement {
    TextLeft,
    TextAbove { columns: usize },
}

/// Sizes that differ between the arrangements.
#[derive(Clone, Copy)]
struct Metrics {
    bar: i32,
    row: i32,
    value: FontSpec,
}

impl Arrangement {
    fn metrics(self) -> Metrics {
        match self {
            Arrangement::TextLeft => Metrics {
                bar: 22,
                row: 28,
                value: FontSpec {
                    weight: text::Weight::Regular,
                    size: 14.0,
                },
            },
            Arrangement::TextAbove { .. } => Metrics {
                bar: 18,
                row: 24,
                value: FontSpec {
                    weight: text::Weight::Regular,
                    size: 13.0,
                },
            },
        }
    }

    /// Left and right edges of each column.
    fn columns(self) -> Vec<(i32, i32)> {
        match self {
            Arrangement::TextLeft | Arrangement::TextAbove { columns: 1 } => vec![(MARGIN, RIGHT)],
            Arrangement::TextAbove { columns } => {
                let n = columns as i32;
                let width = (RIGHT - MARGIN - COLUMN_GAP * (n - 1)) / n;
                (0..n)
                    .map(|i| {
                        let x0 = MARGIN + i * (width + COLUMN_GAP);
                        (x0, x0 + width)
                    })
                    .collect()
            }
        }
    }
}

/// What is drawn for one cell.
enum Mark {
    /// A bar of `share` (0 to 1) with its label; `short` leaves out the words after "*".
    Bar {
        share: f64,
        label: String,
        short: String,
        other_wording: bool,
    },
    /// Grey text instead of a bar: not asked, or no votes.
    Note(String),
}

fn marks(chart: &CompareChart, cells: &[Cell], arrangement: Arrangement) -> Vec<Mark> {
    let labels = &chart.labels;
    cells
        .iter()
        .zip(&chart.series)
        .map(|(cell, name)| {
            // Without names in front of the bars, a missing bar must say whose it is.
            let note = |what: &str| match arrangement {
                Arrangement::TextLeft => Mark::Note(format!("{name}: {what}")),
                Arrangement::TextAbove { .. } => Mark::Note(what.to_owned()),
            };
            match cell {
                Cell::NotAsked => note(&labels.not_asked),
                Cell::Answered { tally, .. } if tally.n() == 0 => note(&labels.no_votes),
                Cell::Answered {
                    tally,
                    other_wording,
                } => {
                    let value = format!("{}  n={}", percent(tally.agree, tally.n()), tally.n());
                    let (label, short) = if *other_wording {
                        (
                            format!("{value}  * {}", labels.other_wording),
                            format!("{value}  *"),
                        )
                    } else {
                        (value.clone(), value)
                    };
                    Mark::Bar {
                        share: tally.pct_agree().unwrap_or(0.0) / 100.0,
                        label,
                        short,
                        other_wording: *other_wording,
                    }
                }
            }
        })
        .collect()
}

struct Group {
    statement: Statement,
    marks: Vec<Mark>,
    height: i32,
}

/// Everything measured: which arrangement, the groups per column, the bar scale.
struct Layout {
    arrangement: Arrangement,
    columns: Vec<(i32, i32)>,
    /// Indices into `groups`, per column.
    split: Vec<Vec<usize>>,
    groups: Vec<Group>,
    /// The scale of the first column; other columns are shifted copies.
    scale: Scale,
    /// Whether labels keep the words after "*" (else only "*", explained in the footnote).
    long_labels: bool,
    /// Width of the session names in front of the bars (text above only).
    name_width: i32,
    plot_height: i32,
}

impl Layout {
    fn new(chart: &CompareChart, arrangement: Arrangement) -> Layout {
        let columns = arrangement.columns();
        let (cx0, cx1) = columns[0];
        let metrics = arrangement.metrics();
        let positions = chart.groups.iter().filter_map(|group| group.position).max();
        let number_width = Statement::number_width(positions);
        let name_width = match arrangement {
            Arrangement::TextLeft => 0,
            Arrangement::TextAbove { .. } => {
                let widest = chart
                    .series
                    .iter()
                    .map(|name| text::width(NAME, name))
                    .fold(0.0, f32::max);
                widest.ceil().min((cx1 - cx0) as f32 * 0.3) as i32
            }
        };
        let (statement_width, bars_x0) = match arrangement {
            Arrangement::TextLeft => (TEXT_LEFT_COLUMN, cx0 + TEXT_LEFT_COLUMN + 24),
            Arrangement::TextAbove { .. } => (cx1 - cx0, cx0 + name_width + 10),
        };
        let groups: Vec<Group> = chart
            .groups
            .iter()
            .map(|group| {
                let statement = Statement::new(
                    group.position,
                    &group.text,
                    statement_width as f32,
                    number_width,
                );
                let bars = chart.series.len() as i32 * metrics.row - (metrics.row - metrics.bar);
                let content = match arrangement {
                    Arrangement::TextLeft => statement.height().max(bars),
                    Arrangement::TextAbove { .. } => statement.height() + 6 + bars,
                };
                Group {
                    statement,
                    marks: marks(chart, &group.cells, arrangement),
                    height: content + 2 * GROUP_PAD,
                }
            })
            .collect();

        let available = cx1 - bars_x0;
        let widest_scale = |long: bool| {
            // Room for a typical label at 100 % keeps the axis the same from chart to chart.
            let typical = text::width(metrics.value, "100%  n=999").ceil() as i32;
            let mut width = available - LABEL_GAP - typical;
            for mark in groups.iter().flat_map(|group| &group.marks) {
                if let Mark::Bar {
                    share,
                    label,
                    short,
                    ..
                } = mark
                {
                    let label = if long { label } else { short };
                    let room =
                        available - LABEL_GAP - text::width(metrics.value, label).ceil() as i32;
                    if *share > 0.0 {
                        width = width.min((f64::from(room) / share).floor() as i32);
                    }
                }
            }
            width
        };
        let mut long_labels = true;
        let mut width = widest_scale(true);
        if width < available * 3 / 5 {
            long_labels = false;
            // Labels are short; only absurdly long words in `Labels` could squeeze the bars more.
            width = widest_scale(false).max(available / 3);
        }

        let heights: Vec<i32> = groups.iter().map(|group| group.height).collect();
        let split = split_columns(&heights, columns.len());
        let plot_height = split
            .iter()
            .map(|column| column.iter().map(|&g| heights[g]).sum::<i32>())
            .max()
            .unwrap_or(0);
        Layout {
            arrangement,
            columns,
            split,
            groups,
            scale: Scale { x0: bars_x0, width },
            long_labels,
            name_width,
            plot_height,
        }
    }
}

/// Splits groups, in order, into `columns` runs with the tallest run as short as possible.
fn split_columns(heights: &[i32], columns: usize) -> Vec<Vec<usize>> {
    let all: Vec<usize> = (0..heights.len()).collect();
    if columns <= 1 || heights.len() < 2 {
        return vec![all];
    }
    // Two columns is all we use; more would leave too little room for bars.
    let total: i32 = heights.iter().sum();
    let mut best = (i32::MAX, 1);
    let mut first = 0;
    for k in 1..heights.len() {
        first += heights[k - 1];
        let tallest = first.max(total - first);
        if tallest < best.0 {
            best = (tallest, k);
        }
    }
    vec![all[..best.1].to_vec(), all[best.1..].to_vec()]
}

pub(crate) fn render(chart: &CompareChart) -> Result<Vec<u8>, ChartError> {
    if chart.series.is_empty() || chart.groups.is_empty() {
        return Err(ChartError::Empty);
    }
    for (group, cells) in chart.groups.iter().map(|group| &group.cells).enumerate() {
        if cells.len() != chart.series.len() {
            return Err(ChartError::CellCount {
                group,
                expected: chart.series.len(),
                found: cells.len(),
            });
        }
    }

    let layout = choose_layout(chart);
    let legend = match layout.arrangement {
        // Bars with names need no legend where colours need not be matched across groups, nor
        // where a legend of many sessions would be a wall of text above the chart.
        Arrangement::TextAbove { .. }
            if chart.groups.len() == 1 || chart.series.len() > LEGEND_MAX_SERIES =>
        {
            Vec::new()
        }
        _ => chart
            .series
            .iter()
            .enumerate()
            .map(|(i, name)| LegendEntry {
                swatch: Swatch::Series(series_style(colour_of(chart, i))),
                label: name.clone(),
            })
            .collect(),
    };
    let header = Header::new(&chart.title, &chart.subtitle, legend);
    let any_other_wording = chart
        .groups
        .iter()
        .flat_map(|group| &group.cells)
        .any(|cell| {
            matches!(
                cell,
                Cell::Answered {
                    other_wording: true,
                    ..
                }
            )
        });
    let marker = any_other_wording.then(|| {
        let explanation = format!("* {}", chart.labels.other_wording);
        (Swatch::Hatched(palette::MUTED), explanation)
    });
    let footer = Footer::new(marker, chart.footnote.as_deref());

    let plot_top = header.height();
    let plot_bottom = plot_top + layout.plot_height;
    let height = plot_bottom + frame::AXIS_HEIGHT + footer.height();
    paint(height as u32, |canvas| {
        header.draw(canvas)?;
        draw_plot(canvas, &layout, chart, plot_top, plot_bottom)?;
        footer.draw(canvas, plot_bottom + frame::AXIS_HEIGHT)
    })
}

/// The palette slot of series `i`.
fn colour_of(chart: &CompareChart, i: usize) -> usize {
    chart.colours.get(i).copied().unwrap_or(i)
}

fn choose_layout(chart: &CompareChart) -> Layout {
    let fits = |layout: &Layout| layout.plot_height <= TARGET_HEIGHT - 260;
    // One statement (sessions sorted by % agree): names on the bars read better than a legend.
    if chart.series.len() <= LEGEND_ONLY_MAX_SERIES && chart.groups.len() > 1 {
        let layout = Layout::new(chart, Arrangement::TextLeft);
        if fits(&layout) {
            return layout;
        }
    }
    let single = Layout::new(chart, Arrangement::TextAbove { columns: 1 });
    if fits(&single) || chart.groups.len() < 2 {
        return single;
    }
    Layout::new(chart, Arrangement::TextAbove { columns: 2 })
}

fn draw_plot(
    canvas: &mut Canvas,
    layout: &Layout,
    chart: &CompareChart,
    plot_top: i32,
    plot_bottom: i32,
) -> Result<(), ChartError> {
    let first_x0 = layout.columns[0].0;
    for (column, groups) in layout.columns.iter().zip(&layout.split) {
        let shift = column.0 - first_x0;
        let scale = Scale {
            x0: layout.scale.x0 + shift,
            width: layout.scale.width,
        };
        // Every column starts with a band, so that side by side columns read as a grid.
        let mut top = plot_top;
        for (band, &index) in groups.iter().enumerate() {
            let group = &layout.groups[index];
            if band % 2 == 0 {
                let (x0, x1) = (column.0 - BAND_OUTSET, column.1 + BAND_OUTSET);
                canvas.rect(x0, top, x1, top + group.height, palette::BAND)?;
            }
            top += group.height;
        }
        scale.draw_grid(canvas, plot_top, plot_bottom)?;
        let mut top = plot_top;
        for &index in groups {
            let group = &layout.groups[index];
            draw_group(canvas, layout, chart, group, column.0, scale, top)?;
            top += group.height;
        }
        scale.draw_axis(canvas, plot_bottom, &chart.labels.pct_agree_axis)?;
    }
    Ok(())
}

fn draw_group(
    canvas: &mut Canvas,
    layout: &Layout,
    chart: &CompareChart,
    group: &Group,
    x0: i32,
    scale: Scale,
    top: i32,
) -> Result<(), ChartError> {
    let metrics = layout.arrangement.metrics();
    let inner = group.height - 2 * GROUP_PAD;
    let bars_height = chart.series.len() as i32 * metrics.row - (metrics.row - metrics.bar);
    let bars_top = match layout.arrangement {
        Arrangement::TextLeft => {
            let text_top = top + GROUP_PAD + (inner - group.statement.height()) / 2;
            group.statement.draw(canvas, x0, text_top)?;
            top + GROUP_PAD + (inner - bars_height) / 2
        }
        Arrangement::TextAbove { .. } => {
            group.statement.draw(canvas, x0, top + GROUP_PAD)?;
            top + GROUP_PAD + group.statement.height() + 6
        }
    };
    for (i, (mark, name)) in group.marks.iter().zip(&chart.series).enumerate() {
        let bar_top = bars_top + i as i32 * metrics.row;
        let center = bar_top as f32 + metrics.bar as f32 / 2.0;
        if let Arrangement::TextAbove { .. } = layout.arrangement {
            let name = text::truncate_to_width(NAME, name, layout.name_width as f32);
            let right = (scale.x0 - 10) as f32;
            canvas.text(
                NAME,
                &name,
                right,
                frame::baseline_at(center, NAME),
                Align::Right,
                palette::INK,
            )?;
        }
        let baseline = frame::baseline_at(center, metrics.value);
        match mark {
            Mark::Note(note) => {
                let room = (scale.end() - scale.x0) as f32;
                let note = text::truncate_to_width(metrics.value, note, room);
                let x = (scale.x0 + LABEL_GAP) as f32;
                canvas.text(
                    metrics.value,
                    &note,
                    x,
                    baseline,
                    Align::Left,
                    palette::MUTED,
                )?;
            }
            Mark::Bar {
                share,
                label,
                short,
                other_wording,
            } => {
                let style = series_style(colour_of(chart, i));
                // A 0 % bar still shows its colour as a sliver.
                let end = scale.x(*share).max(scale.x0 + 2);
                let rect = (scale.x0, bar_top, end, bar_top + metrics.bar);
                if *other_wording {
                    canvas.rect(
                        rect.0,
                        rect.1,
                        rect.2,
                        rect.3,
                        palette::mix(style.base, palette::WHITE, 0.8),
                    )?;
                    canvas.hatch(rect, 6, style.base)?;
                    canvas.border(rect, 1, style.base)?;
                } else {
                    canvas.rect(rect.0, rect.1, rect.2, rect.3, style.fill)?;
                    if style.outlined {
                        canvas.border(rect, 2, style.base)?;
                    }
                }
                let label = if layout.long_labels { label } else { short };
                let x = (end + LABEL_GAP) as f32;
                canvas.text(metrics.value, label, x, baseline, Align::Left, palette::INK)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_balanced_and_keep_groups_in_order() {
        assert_eq!(
            split_columns(&[100, 100, 100, 100], 2),
            vec![vec![0, 1], vec![2, 3]]
        );
        assert_eq!(
            split_columns(&[300, 100, 100, 100], 2),
            vec![vec![0], vec![1, 2, 3]]
        );
        assert_eq!(split_columns(&[100], 2), vec![vec![0]]);
        assert_eq!(split_columns(&[100, 200], 1), vec![vec![0, 1]]);
    }
}
