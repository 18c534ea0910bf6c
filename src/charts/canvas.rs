//! The drawing surface: a plotters bitmap area in pixel coordinates, plus our own text element.
//!
//! All rectangles are half-open, `x0..x1` by `y0..y1`, as plotters' bitmap backend fills them
//! (solid fills go through its fast row-copy path). Text is a plotters [`Drawable`] that blends
//! cached glyph coverage pixel by pixel, so it layers with the shapes in drawing order.

use plotters::coord::Shift;
use plotters::element::{Drawable, PathElement, PointCollection, Rectangle};
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea};
use plotters::style::{Color, RGBColor};
use plotters_backend::{BackendColor, BackendCoord, DrawingBackend, DrawingErrorKind};

use super::text::{self, FontSpec, GlyphAt, GlyphCache};
use super::ChartError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

pub(crate) struct Canvas<'a> {
    area: DrawingArea<BitMapBackend<'a>, Shift>,
    glyphs: GlyphCache,
}

fn draw_error(error: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(error.to_string())
}

impl<'a> Canvas<'a> {
    /// A white canvas over `buffer`, which holds `width * height` RGB pixels.
    pub(crate) fn new(buffer: &'a mut [u8], width: u32, height: u32) -> Result<Self, ChartError> {
        let backend =
            BitMapBackend::with_buffer_and_format(buffer, (width, height)).map_err(draw_error)?;
        let area = backend.into_drawing_area();
        area.fill(&super::palette::WHITE).map_err(draw_error)?;
        Ok(Canvas {
            area,
            glyphs: GlyphCache::default(),
        })
    }

    pub(crate) fn rect(
        &self,
        x0: i32,
        y0: i32,
        x1: i32,
        y1: i32,
        color: RGBColor,
    ) -> Result<(), ChartError> {
        if x1 <= x0 || y1 <= y0 {
            return Ok(());
        }
        self.area
            .draw(&Rectangle::new([(x0, y0), (x1, y1)], color.filled()))
            .map_err(draw_error)
    }

    /// A border of `thickness` pixels inside the rectangle.
    pub(crate) fn border(
        &self,
        (x0, y0, x1, y1): (i32, i32, i32, i32),
        thickness: i32,
        color: RGBColor,
    ) -> Result<(), ChartError> {
        let t = thickness.min((x1 - x0) / 2).min((y1 - y0) / 2).max(1);
        self.rect(x0, y0, x1, y0 + t, color)?;
        self.rect(x0, y1 - t, x1, y1, color)?;
        self.rect(x0, y0, x0 + t, y1, color)?;
        self.rect(x1 - t, y0, x1, y1, color)
    }

    /// Diagonal stripes ("/") of `color` across the rectangle, two pixels wide, every `spacing`.
    pub(crate) fn hatch(
        &self,
        (x0, y0, x1, y1): (i32, i32, i32, i32),
        spacing: i32,
        color: RGBColor,
    ) -> Result<(), ChartError> {
        if x1 <= x0 || y1 <= y0 {
            return Ok(());
        }
        let (right, bottom) = (x1 - 1, y1 - 1);
        // Each stripe is the set of pixels with x + y = k, clipped to the rectangle.
        let mut k = x0 + y0;
        while k <= right + bottom {
            for k in [k, k + 1] {
                let from_x = x0.max(k - bottom);
                let to_x = right.min(k - y0);
                if from_x <= to_x {
                    let path =
                        PathElement::new(vec![(from_x, k - from_x), (to_x, k - to_x)], color);
                    self.area.draw(&path).map_err(draw_error)?;
                }
            }
            k += spacing;
        }
        Ok(())
    }

    /// Draws one line of text with its baseline at `baseline` and returns its width. `x` is the
    /// left end, the centre or the right end, as `align` says.
    pub(crate) fn text(
        &mut self,
        font: FontSpec,
        line: &str,
        x: f32,
        baseline: i32,
        align: Align,
        color: RGBColor,
    ) -> Result<f32, ChartError> {
        let width = text::width(font, line);
        let left = match align {
            Align::Left => x,
            Align::Center => x - width / 2.0,
            Align::Right => x - width,
        };
        let anchor = left.floor();
        let glyphs = self.glyphs.layout(font, line, left - anchor, 0);
        let run = TextRun {
            anchor: (anchor as i32, baseline),
            glyphs,
            cache: &self.glyphs,
            color,
        };
        self.area.draw(&run).map_err(draw_error)?;
        Ok(width)
    }

    pub(crate) fn finish(self) -> Result<(), ChartError> {
        self.area.present().map_err(draw_error)
    }
}

/// Positioned glyphs of one line, drawn by blending their coverage into the backend.
struct TextRun<'c> {
    /// The pen position of the first glyph on the baseline; glyph positions are relative to it.
    anchor: BackendCoord,
    glyphs: Vec<GlyphAt>,
    cache: &'c GlyphCache,
    color: RGBColor,
}

impl<'b> PointCollection<'b, BackendCoord> for &'b TextRun<'_> {
    type Point = &'b BackendCoord;
    type IntoIter = std::iter::Once<&'b BackendCoord>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.anchor)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for TextRun<'_> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut points: I,
        backend: &mut DB,
        _parent_dim: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((origin_x, origin_y)) = points.next() else {
            return Ok(());
        };
        let rgb = (self.color.0, self.color.1, self.color.2);
        for glyph in &self.glyphs {
            let bitmap = self.cache.bitmap(glyph.bitmap);
            let left = origin_x + glyph.x + bitmap.left;
            let top = origin_y + glyph.y + bitmap.top;
            for (row, line) in bitmap
                .coverage
                .chunks_exact(bitmap.width.max(1))
                .enumerate()
            {
                for (column, &coverage) in line.iter().enumerate() {
                    if coverage == 0 {
                        continue;
                    }
                    let color = BackendColor {
                        alpha: f64::from(coverage) / 255.0,
                        rgb,
                    };
                    backend.draw_pixel((left + column as i32, top + row as i32), color)?;
                }
            }
        }
        Ok(())
    }
}
