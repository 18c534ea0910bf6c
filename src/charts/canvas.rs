//! The drawing surface: an RGB buffer that plotters draws shapes into, and text blended in
//! directly.
//!
//! All rectangles are half-open, `x0..x1` by `y0..y1`, as plotters' bitmap backend fills them
//! (solid fills go through its fast row-copy path). Text does not go through plotters: its
//! `ttf` feature needs system fonts and its `ab_glyph` path mis-spaces letters, and sending each
//! glyph pixel through the backend's `draw_pixel` cost a fifth of the render time of a big
//! comparison chart. Glyph coverage is blended into the buffer with integer arithmetic instead,
//! in drawing order like any shape.

use plotters::coord::Shift;
use plotters::element::{PathElement, Rectangle};
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea};
use plotters::style::{Color, RGBColor};

use super::text::{self, FontSpec, GlyphCache};
use super::ChartError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

pub(crate) struct Canvas {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    glyphs: GlyphCache,
}

fn draw_error(error: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(error.to_string())
}

impl Canvas {
    /// A white canvas of `width` by `height` pixels.
    pub(crate) fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            pixels: vec![0xff; width as usize * height as usize * 3],
            width,
            height,
            glyphs: GlyphCache::default(),
        }
    }

    /// The RGB bytes, row by row.
    pub(crate) fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// A plotters drawing area over the buffer, in pixel coordinates. Cheap: it only wraps the
    /// buffer, so shapes make one each.
    fn area(&mut self) -> DrawingArea<BitMapBackend<'_>, Shift> {
        BitMapBackend::with_buffer(&mut self.pixels, (self.width, self.height)).into_drawing_area()
    }

    pub(crate) fn rect(
        &mut self,
        x0: i32,
        y0: i32,
        x1: i32,
        y1: i32,
        color: RGBColor,
    ) -> Result<(), ChartError> {
        if x1 <= x0 || y1 <= y0 {
            return Ok(());
        }
        self.area()
            .draw(&Rectangle::new([(x0, y0), (x1, y1)], color.filled()))
            .map_err(draw_error)
    }

    /// A border of `thickness` pixels inside the rectangle.
    pub(crate) fn border(
        &mut self,
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
        &mut self,
        (x0, y0, x1, y1): (i32, i32, i32, i32),
        spacing: i32,
        color: RGBColor,
    ) -> Result<(), ChartError> {
        if x1 <= x0 || y1 <= y0 {
            return Ok(());
        }
        let (right, bottom) = (x1 - 1, y1 - 1);
        // Each stripe is the set of pixels with x + y = k, clipped to the rectangle.
        let area = self.area();
        let mut k = x0 + y0;
        while k <= right + bottom {
            for k in [k, k + 1] {
                let from_x = x0.max(k - bottom);
                let to_x = right.min(k - y0);
                if from_x <= to_x {
                    let path =
                        PathElement::new(vec![(from_x, k - from_x), (to_x, k - to_x)], color);
                    area.draw(&path).map_err(draw_error)?;
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
        let (origin_x, origin_y) = (anchor as i32, baseline);
        let (width_px, height_px) = (self.width as i32, self.height as i32);
        let ink = [u32::from(color.0), u32::from(color.1), u32::from(color.2)];
        for glyph in glyphs {
            let bitmap = self.glyphs.bitmap(glyph.bitmap);
            if bitmap.width == 0 {
                continue;
            }
            let left = origin_x + glyph.x + bitmap.left;
            let top = origin_y + glyph.y + bitmap.top;
            for (row, coverage_row) in bitmap.coverage.chunks_exact(bitmap.width).enumerate() {
                let y = top + row as i32;
                if y < 0 || y >= height_px {
                    continue;
                }
                for (column, &coverage) in coverage_row.iter().enumerate() {
                    let x = left + column as i32;
                    if coverage == 0 || x < 0 || x >= width_px {
                        continue;
                    }
                    let at = (y as usize * self.width as usize + x as usize) * 3;
                    let alpha = u32::from(coverage);
                    for (channel, &ink) in self.pixels[at..at + 3].iter_mut().zip(&ink) {
                        let under = u32::from(*channel);
                        *channel = ((ink * alpha + under * (255 - alpha) + 127) / 255) as u8;
                    }
                }
            }
        }
        Ok(width)
    }
}
