//! What both chart kinds share: sizes, title block, legend, percentage axis and footnotes.
//!
//! Every piece is measured before the canvas exists (the height of the image follows from the
//! content), then drawn from the same measured lines.

use plotters::style::RGBColor;

use super::canvas::{Align, Canvas};
use super::palette::{self, SeriesStyle};
use super::text::{self, bold, regular, FontSpec};
use super::{ChartError, WIDTH};

pub(crate) const MARGIN: i32 = 28;
pub(crate) const RIGHT: i32 = WIDTH as i32 - MARGIN;
const TOP: i32 = 22;
const BOTTOM: i32 = 18;

pub(crate) const TITLE: FontSpec = FontSpec {
    weight: text::Weight::Bold,
    size: 26.0,
};
const TITLE_LINE: i32 = 36;
pub(crate) const SUBTITLE: FontSpec = FontSpec {
    weight: text::Weight::Regular,
    size: 15.0,
};
const SUBTITLE_LINE: i32 = 22;
pub(crate) const LEGEND: FontSpec = SUBTITLE;
const LEGEND_ROW: i32 = 26;
const SWATCH: i32 = 16;
pub(crate) const BODY: FontSpec = SUBTITLE;
pub(crate) const BODY_LINE: i32 = 21;
pub(crate) const TICK: FontSpec = FontSpec {
    weight: text::Weight::Regular,
    size: 12.0,
};
pub(crate) const AXIS_TITLE: FontSpec = FontSpec {
    weight: text::Weight::Regular,
    size: 14.0,
};
/// Height below the plot for tick labels and the axis title.
pub(crate) const AXIS_HEIGHT: i32 = 56;
pub(crate) const FOOTNOTE: FontSpec = FontSpec {
    weight: text::Weight::Regular,
    size: 13.0,
};
const FOOTNOTE_LINE: i32 = 19;

/// The baseline that centres capital letters and digits of `font` on `center`.
pub(crate) fn baseline_at(center: f32, font: FontSpec) -> i32 {
    // Noto's capitals are 0.714 em tall.
    (center + 0.357 * font.size).round() as i32
}

/// The baseline of line `index` of a block of lines `line_height` apart starting at `top`.
pub(crate) fn line_baseline(top: i32, index: usize, line_height: i32, font: FontSpec) -> i32 {
    let center = top as f32 + (index as f32 + 0.5) * line_height as f32;
    baseline_at(center, font)
}

/// A small square in the legend or a footnote.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    Solid(RGBColor),
    Series(SeriesStyle),
    Hatched(RGBColor),
}

pub(crate) fn draw_swatch(
    canvas: &mut Canvas,
    swatch: Swatch,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
) -> Result<(), ChartError> {
    match swatch {
        Swatch::Solid(color) => canvas.rect(x0, y0, x1, y1, color),
        Swatch::Series(style) => {
            canvas.rect(x0, y0, x1, y1, style.fill)?;
            if style.outlined {
                canvas.border((x0, y0, x1, y1), 2, style.base)?;
            }
            Ok(())
        }
        Swatch::Hatched(color) => {
            canvas.rect(x0, y0, x1, y1, palette::mix(color, palette::WHITE, 0.8))?;
            canvas.hatch((x0, y0, x1, y1), 5, color)?;
            canvas.border((x0, y0, x1, y1), 1, color)
        }
    }
}

pub(crate) struct LegendEntry {
    pub swatch: Swatch,
    pub label: String,
}

/// Title, subtitle and legend, measured.
pub(crate) struct Header {
    title: Vec<String>,
    subtitle: Vec<String>,
    /// Legend entries with their position: row, x.
    legend: Vec<(LegendEntry, usize, i32)>,
    legend_rows: usize,
}

impl Header {
    pub(crate) fn new(title: &str, subtitle: &str, legend: Vec<LegendEntry>) -> Header {
        let width = (RIGHT - MARGIN) as f32;
        let title = text::wrap(TITLE, title, width, 2);
        let subtitle = text::wrap(SUBTITLE, subtitle, width, 3);
        let mut placed = Vec::with_capacity(legend.len());
        let (mut row, mut x) = (0usize, MARGIN);
        let mut rows = 0;
        for mut entry in legend {
            let max_label = (RIGHT - MARGIN - SWATCH - 8) as f32;
            entry.label = text::truncate_to_width(LEGEND, &entry.label, max_label);
            let entry_width = SWATCH + 8 + text::width(LEGEND, &entry.label).ceil() as i32;
            if x > MARGIN && x + entry_width > RIGHT {
                row += 1;
                x = MARGIN;
            }
            placed.push((entry, row, x));
            rows = row + 1;
            x += entry_width + 28;
        }
        Header {
            title,
            subtitle,
            legend: placed,
            legend_rows: rows,
        }
    }

    pub(crate) fn height(&self) -> i32 {
        let mut height = TOP + self.title.len() as i32 * TITLE_LINE;
        if !self.subtitle.is_empty() {
            height += 2 + self.subtitle.len() as i32 * SUBTITLE_LINE;
        }
        if self.legend_rows > 0 {
            height += 8 + self.legend_rows as i32 * LEGEND_ROW;
        }
        height + 14
    }

    pub(crate) fn draw(&self, canvas: &mut Canvas) -> Result<(), ChartError> {
        let mut y = TOP;
        for (i, line) in self.title.iter().enumerate() {
            let baseline = line_baseline(y, i, TITLE_LINE, TITLE);
            canvas.text(
                TITLE,
                line,
                MARGIN as f32,
                baseline,
                Align::Left,
                palette::INK,
            )?;
        }
        y += self.title.len() as i32 * TITLE_LINE;
        if !self.subtitle.is_empty() {
            y += 2;
            for (i, line) in self.subtitle.iter().enumerate() {
                let baseline = line_baseline(y, i, SUBTITLE_LINE, SUBTITLE);
                canvas.text(
                    SUBTITLE,
                    line,
                    MARGIN as f32,
                    baseline,
                    Align::Left,
                    palette::MUTED,
                )?;
            }
            y += self.subtitle.len() as i32 * SUBTITLE_LINE;
        }
        if self.legend_rows > 0 {
            y += 8;
            for (entry, row, x) in &self.legend {
                let top = y + *row as i32 * LEGEND_ROW;
                let swatch_top = top + (LEGEND_ROW - SWATCH) / 2;
                draw_swatch(
                    canvas,
                    entry.swatch,
                    (*x, swatch_top, x + SWATCH, swatch_top + SWATCH),
                )?;
                let baseline = line_baseline(top, 0, LEGEND_ROW, LEGEND);
                let label_x = (x + SWATCH + 8) as f32;
                canvas.text(
                    LEGEND,
                    &entry.label,
                    label_x,
                    baseline,
                    Align::Left,
                    palette::INK,
                )?;
            }
        }
        Ok(())
    }
}

/// Footnotes under the axis: an optional marker explanation with its swatch, then the chart's
/// own footnote.
pub(crate) struct Footer {
    marker: Option<(Swatch, String)>,
    lines: Vec<String>,
}

impl Footer {
    pub(crate) fn new(marker: Option<(Swatch, String)>, footnote: Option<&str>) -> Footer {
        let width = (RIGHT - MARGIN) as f32;
        let lines = footnote.map_or_else(Vec::new, |note| text::wrap(FOOTNOTE, note, width, 3));
        Footer { marker, lines }
    }

    pub(crate) fn height(&self) -> i32 {
        let rows = self.lines.len() as i32 + i32::from(self.marker.is_some());
        rows * FOOTNOTE_LINE + BOTTOM
    }

    pub(crate) fn draw(&self, canvas: &mut Canvas, top: i32) -> Result<(), ChartError> {
        let mut y = top;
        if let Some((swatch, label)) = &self.marker {
            let size = 13;
            let swatch_top = y + (FOOTNOTE_LINE - size) / 2;
            draw_swatch(
                canvas,
                *swatch,
                (MARGIN, swatch_top, MARGIN + size, swatch_top + size),
            )?;
            let baseline = line_baseline(y, 0, FOOTNOTE_LINE, FOOTNOTE);
            let x = (MARGIN + size + 6) as f32;
            canvas.text(FOOTNOTE, label, x, baseline, Align::Left, palette::MUTED)?;
            y += FOOTNOTE_LINE;
        }
        for (i, line) in self.lines.iter().enumerate() {
            let baseline = line_baseline(y, i, FOOTNOTE_LINE, FOOTNOTE);
            canvas.text(
                FOOTNOTE,
                line,
                MARGIN as f32,
                baseline,
                Align::Left,
                palette::MUTED,
            )?;
        }
        Ok(())
    }
}

/// A horizontal 0–100 % scale from `x0` over `width` pixels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    pub x0: i32,
    pub width: i32,
}

impl Scale {
    /// The x of a share from 0 to 1.
    pub(crate) fn x(&self, share: f64) -> i32 {
        self.x0 + (share.clamp(0.0, 1.0) * f64::from(self.width)).round() as i32
    }

    pub(crate) fn end(&self) -> i32 {
        self.x0 + self.width
    }

    /// Vertical gridlines every 10 % from `top` to `bottom`, and the 0 % axis line.
    pub(crate) fn draw_grid(
        &self,
        canvas: &mut Canvas,
        top: i32,
        bottom: i32,
    ) -> Result<(), ChartError> {
        for tenth in 1..=10 {
            let x = self.x(f64::from(tenth) / 10.0);
            canvas.rect(x, top, x + 1, bottom, palette::GRID)?;
        }
        canvas.rect(self.x0 - 1, top, self.x0, bottom, palette::AXIS)
    }

    /// Tick labels under `bottom` (every 10 %, or every 20 % when narrow) and the axis title.
    pub(crate) fn draw_axis(
        &self,
        canvas: &mut Canvas,
        bottom: i32,
        title: &str,
    ) -> Result<(), ChartError> {
        let step = if self.width >= 450 { 1 } else { 2 };
        for tenth in (0..=10).step_by(step) {
            let x = self.x(f64::from(tenth) / 10.0);
            canvas.rect(x, bottom, x + 1, bottom + 4, palette::AXIS)?;
            let label = format!("{}%", tenth * 10);
            canvas.text(
                TICK,
                &label,
                x as f32 + 0.5,
                bottom + 18,
                Align::Center,
                palette::MUTED,
            )?;
        }
        let center = self.x0 as f32 + self.width as f32 / 2.0;
        let title = text::truncate_to_width(AXIS_TITLE, title, self.width as f32);
        canvas.text(
            AXIS_TITLE,
            &title,
            center,
            bottom + 44,
            Align::Center,
            palette::INK,
        )?;
        Ok(())
    }
}

/// The statement text of a group or row: "N." in bold with the text hanging beside it.
pub(crate) struct Statement {
    number: Option<String>,
    number_width: f32,
    pub lines: Vec<String>,
}

pub(crate) const MAX_STATEMENT_LINES: usize = 6;

impl Statement {
    /// Wraps `text` into `width` pixels; the number column is `number_width` wide (the widest
    /// number of the chart, so that texts line up).
    pub(crate) fn new(
        position: Option<u32>,
        text: &str,
        width: f32,
        number_width: f32,
    ) -> Statement {
        let number = position.map(|p| format!("{p}."));
        let text_width = width - number_width;
        let lines = text::wrap(BODY, text, text_width, MAX_STATEMENT_LINES);
        Statement {
            number,
            number_width,
            lines,
        }
    }

    /// The number column for positions up to `max_position`.
    pub(crate) fn number_width(max_position: Option<u32>) -> f32 {
        max_position.map_or(0.0, |p| {
            text::width(bold(BODY.size), &format!("{p}.")) + 6.0
        })
    }

    /// Where the text starts, right of the number column.
    pub(crate) fn text_offset(&self) -> f32 {
        self.number_width
    }

    pub(crate) fn height(&self) -> i32 {
        self.lines.len().max(1) as i32 * BODY_LINE
    }

    pub(crate) fn draw(&self, canvas: &mut Canvas, x: i32, top: i32) -> Result<(), ChartError> {
        if let Some(number) = &self.number {
            let baseline = line_baseline(top, 0, BODY_LINE, BODY);
            canvas.text(
                bold(BODY.size),
                number,
                x as f32,
                baseline,
                Align::Left,
                palette::INK,
            )?;
        }
        let text_x = x as f32 + self.number_width;
        for (i, line) in self.lines.iter().enumerate() {
            let baseline = line_baseline(top, i, BODY_LINE, BODY);
            canvas.text(
                regular(BODY.size),
                line,
                text_x,
                baseline,
                Align::Left,
                palette::INK,
            )?;
        }
        Ok(())
    }
}
