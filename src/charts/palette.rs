//! Colours: agree/disagree, the per-session palette, and the greys of the frame.
//!
//! Agree green and disagree red differ in lightness as well as hue (dark green, light coral),
//! so readers who cannot tell red from green still see two different parts; every part also
//! carries its number. Sessions use the Okabe–Ito palette, which stays distinguishable under the
//! common forms of colour blindness; past its eight colours it repeats as outlined light bars,
//! then as darker bars.

use plotters::style::RGBColor;

pub(crate) const AGREE: RGBColor = RGBColor(0x17, 0x66, 0x2f);
pub(crate) const DISAGREE: RGBColor = RGBColor(0xf0, 0x74, 0x70);
/// Agree and disagree as text on white (the bar colours themselves, where dark enough).
pub(crate) const AGREE_TEXT: RGBColor = AGREE;
pub(crate) const DISAGREE_TEXT: RGBColor = RGBColor(0xb3, 0x26, 0x1e);

pub(crate) const WHITE: RGBColor = RGBColor(0xff, 0xff, 0xff);
pub(crate) const INK: RGBColor = RGBColor(0x1f, 0x1f, 0x1f);
pub(crate) const MUTED: RGBColor = RGBColor(0x5f, 0x63, 0x68);
pub(crate) const AXIS: RGBColor = RGBColor(0x80, 0x86, 0x8b);
pub(crate) const GRID: RGBColor = RGBColor(0xdf, 0xe1, 0xe5);
/// Background of every other statement group.
pub(crate) const BAND: RGBColor = RGBColor(0xf3, 0xf4, 0xf6);
/// An empty bar (no votes).
pub(crate) const EMPTY: RGBColor = RGBColor(0xe8, 0xea, 0xed);

/// Okabe & Ito (2008), "Color Universal Design"; black replaced by a dark grey so that a bar
/// does not read as an axis or a shadow.
const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xb2), // blue
    RGBColor(0xe6, 0x9f, 0x00), // orange
    RGBColor(0x00, 0x9e, 0x73), // bluish green
    RGBColor(0xd5, 0x5e, 0x00), // vermillion
    RGBColor(0x56, 0xb4, 0xe9), // sky blue
    RGBColor(0xcc, 0x79, 0xa7), // reddish purple
    RGBColor(0x4d, 0x4d, 0x4d), // dark grey
    RGBColor(0xf0, 0xe4, 0x42), // yellow
];

/// How the bars of one session are painted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeriesStyle {
    /// The session's hue; used for outlines, hatching and the legend.
    pub base: RGBColor,
    pub fill: RGBColor,
    /// A border in `base` drawn around `fill` (the second round of the palette).
    pub outlined: bool,
}

/// The style of the `index`-th session (0-based): eight hues, then the same hues as light bars
/// with a border, then darker; beyond 24 sessions the three rounds repeat.
pub(crate) fn series_style(index: usize) -> SeriesStyle {
    let base = OKABE_ITO[index % OKABE_ITO.len()];
    match (index / OKABE_ITO.len()) % 3 {
        0 => SeriesStyle {
            base,
            fill: base,
            outlined: false,
        },
        1 => SeriesStyle {
            base,
            fill: mix(base, WHITE, 0.55),
            outlined: true,
        },
        _ => {
            let dark = mix(base, RGBColor(0, 0, 0), 0.4);
            SeriesStyle {
                base: dark,
                fill: dark,
                outlined: false,
            }
        }
    }
}

/// `a` moved towards `b` by `amount` (0 = a, 1 = b).
pub(crate) fn mix(a: RGBColor, b: RGBColor, amount: f64) -> RGBColor {
    let channel =
        |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * amount).round() as u8;
    RGBColor(channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
}

/// WCAG relative luminance, 0 (black) to 1 (white).
pub(crate) fn luminance(color: RGBColor) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(color.0) + 0.7152 * linear(color.1) + 0.0722 * linear(color.2)
}

/// WCAG contrast ratio, 1 (same) to 21 (black on white).
pub(crate) fn contrast(a: RGBColor, b: RGBColor) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// White or ink, whichever reads better on `background`.
pub(crate) fn text_on(background: RGBColor) -> RGBColor {
    if contrast(WHITE, background) >= contrast(INK, background) {
        WHITE
    } else {
        INK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_and_disagree_differ_in_lightness_not_only_in_hue() {
        let ratio = contrast(AGREE, DISAGREE);
        assert!(ratio >= 2.0, "contrast {ratio:.2}");
    }

    #[test]
    fn numbers_on_bars_and_on_white_are_readable() {
        for fill in [AGREE, DISAGREE] {
            assert!(contrast(text_on(fill), fill) >= 4.5, "{fill:?}");
        }
        for ink in [INK, MUTED, AGREE_TEXT, DISAGREE_TEXT] {
            assert!(
                contrast(ink, WHITE) >= 4.5 && contrast(ink, BAND) >= 4.5,
                "{ink:?}"
            );
        }
    }

    #[test]
    fn sessions_get_distinct_styles_far_beyond_the_palette() {
        let styles: Vec<SeriesStyle> = (0..24).map(series_style).collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(series_style(3), series_style(27));
    }
}
