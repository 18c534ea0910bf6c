//! Text: the embedded font, measuring with kerning, word wrapping, and glyph rasterising.
//!
//! Plotters' own text paths are not used: its `ttf` feature needs system fonts, and its
//! `ab_glyph` path places letters by their bounding boxes, which mis-spaces them ("wi jk").
//! Here every glyph is placed at the pen position given by its advance width plus the pair
//! kerning from the font's `GPOS` table (Noto Sans has no legacy `kern` table, which is the only
//! one `ab_glyph` reads), and drawn from its anti-aliased coverage.
//!
//! The font is Noto Sans (SIL OFL 1.1, see `assets/fonts/OFL.txt`), subset to Latin and
//! punctuation; it is compiled into the binary, so rendering needs no font on the machine.

use std::collections::HashMap;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale};
use ttf_parser::gpos::{PairAdjustment, PositioningSubtable};

static REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.ttf");

/// The ellipsis that ends a statement cut after its last allowed line.
pub(crate) const ELLIPSIS: char = '…';

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// A font weight at a pixel size (the size of the em square, as in CSS `font-size`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FontSpec {
    pub weight: Weight,
    pub size: f32,
}

/// Shorthand constructors, so that layout code reads `regular(15.0)`.
pub(crate) fn regular(size: f32) -> FontSpec {
    FontSpec {
        weight: Weight::Regular,
        size,
    }
}

pub(crate) fn bold(size: f32) -> FontSpec {
    FontSpec {
        weight: Weight::Bold,
        size,
    }
}

/// One embedded font face with what is needed to place its glyphs.
pub(crate) struct Face {
    font: FontRef<'static>,
    /// Pair-kerning subtables of the `kern` feature, per lookup, in lookup order.
    kerning: Vec<Vec<PairAdjustment<'static>>>,
    units_per_em: f32,
    /// Glyph and advance of the characters in [`common_slot`], looked up once.
    common: Vec<(GlyphId, f32)>,
    /// Kerning in font units between common characters, `common.len()` squared.
    common_kerning: Vec<i16>,
}

/// The printable characters of Latin-1 (ASCII and the accented letters of Dutch, French,
/// German...) get precomputed glyphs and kerning: looking pairs up in `GPOS` for every letter
/// of every label was a tenth of the render time of a big comparison chart.
fn common_slot(c: char) -> Option<usize> {
    match c {
        ' '..='~' => Some(c as usize - 0x20),
        '\u{a0}'..='\u{ff}' => Some(c as usize - 0xa0 + 95),
        _ => None,
    }
}

const COMMON: usize = 95 + 96;

impl Face {
    fn parse(bytes: &'static [u8]) -> Face {
        // The bytes are compiled in and checked by the tests, so failing here is a build defect.
        let font = FontRef::try_from_slice(bytes).expect("embedded font parses");
        let face = ttf_parser::Face::parse(bytes, 0).expect("embedded font parses");
        let units_per_em = f32::from(face.units_per_em());
        let mut parsed = Face {
            font,
            kerning: kerning_lookups(&face),
            units_per_em,
            common: Vec::new(),
            common_kerning: Vec::new(),
        };
        let chars = (' '..='~').chain('\u{a0}'..='\u{ff}');
        parsed.common = chars
            .map(|c| {
                let id = parsed.font.glyph_id(c);
                (id, parsed.font.h_advance_unscaled(id))
            })
            .collect();
        debug_assert_eq!(parsed.common.len(), COMMON);
        let mut table = vec![0i16; COMMON * COMMON];
        for (i, &(first, _)) in parsed.common.iter().enumerate() {
            for (j, &(second, _)) in parsed.common.iter().enumerate() {
                table[i * COMMON + j] = parsed.kern_units(first, second) as i16;
            }
        }
        parsed.common_kerning = table;
        parsed
    }

    #[cfg(test)]
    pub(crate) fn glyph_id(&self, c: char) -> GlyphId {
        match common_slot(c) {
            Some(slot) => self.common[slot].0,
            None => self.font.glyph_id(c),
        }
    }

    /// Horizontal kerning between two glyphs in font units (negative pulls them together).
    /// Looked up in `GPOS`; [`shape`] uses the precomputed table for common characters.
    pub(crate) fn kern_units(&self, first: GlyphId, second: GlyphId) -> f32 {
        let (first, second) = (ttf_parser::GlyphId(first.0), ttf_parser::GlyphId(second.0));
        let mut total = 0.0;
        for lookup in &self.kerning {
            for subtable in lookup {
                if let Some(units) = pair_kerning(subtable, first, second) {
                    total += f32::from(units);
                    break;
                }
            }
        }
        total
    }

    fn advance_units(&self, id: GlyphId) -> f32 {
        self.font.h_advance_unscaled(id)
    }

    /// `ab_glyph` scales by the ascent-to-descent height, not by the em square.
    fn px_scale(&self, size: f32) -> PxScale {
        PxScale::from(size * self.font.height_unscaled() / self.units_per_em)
    }
}

/// The lookups that the `kern` feature lists, keeping their pair-adjustment subtables.
/// Contextual kerning (lookup type 8) is left out: it only refines a few rare sequences.
fn kerning_lookups(face: &ttf_parser::Face<'static>) -> Vec<Vec<PairAdjustment<'static>>> {
    let Some(gpos) = face.tables().gpos else {
        return Vec::new();
    };
    let kern = ttf_parser::Tag::from_bytes(b"kern");
    let mut indices: Vec<u16> = gpos
        .features
        .into_iter()
        .filter(|feature| feature.tag == kern)
        .flat_map(|feature| feature.lookup_indices.into_iter())
        .collect();
    indices.sort_unstable();
    indices.dedup();
    indices
        .into_iter()
        .filter_map(|index| gpos.lookups.get(index))
        .map(|lookup| {
            lookup
                .subtables
                .into_iter::<PositioningSubtable>()
                .filter_map(|subtable| match subtable {
                    PositioningSubtable::Pair(pair) => Some(pair),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .filter(|subtables| !subtables.is_empty())
        .collect()
}

/// The advance adjustment of one pair subtable, or `None` when the subtable does not apply.
fn pair_kerning(
    subtable: &PairAdjustment<'_>,
    first: ttf_parser::GlyphId,
    second: ttf_parser::GlyphId,
) -> Option<i16> {
    match subtable {
        PairAdjustment::Format1 { coverage, sets } => {
            let set = sets.get(coverage.get(first)?)?;
            let (value, _) = set.get(second)?;
            Some(value.x_advance)
        }
        PairAdjustment::Format2 {
            coverage,
            classes,
            matrix,
        } => {
            coverage.get(first)?;
            let (value, _) = matrix.get((classes.0.get(first), classes.1.get(second)))?;
            Some(value.x_advance)
        }
    }
}

pub(crate) struct Fonts {
    pub regular: Face,
    pub bold: Face,
}

impl Fonts {
    pub(crate) fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// The embedded fonts, parsed once per process (parsing only reads table offsets).
pub(crate) fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        regular: Face::parse(REGULAR_TTF),
        bold: Face::parse(BOLD_TTF),
    })
}

/// A glyph placed on a line: its id and the pen position of its origin, in pixels from the
/// start of the line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placed {
    pub id: GlyphId,
    pub x: f32,
}

/// Places the glyphs of one line of text and returns them with the line's advance width.
pub(crate) fn shape(font: FontSpec, text: &str) -> (Vec<Placed>, f32) {
    let face = fonts().face(font.weight);
    let px_per_unit = font.size / face.units_per_em;
    let mut placed = Vec::with_capacity(text.len());
    let mut pen = 0.0f32;
    let mut previous: Option<(GlyphId, Option<usize>)> = None;
    for c in text.chars() {
        let slot = common_slot(c);
        let (id, advance) = match slot {
            Some(slot) => face.common[slot],
            None => {
                let id = face.font.glyph_id(c);
                (id, face.advance_units(id))
            }
        };
        if let Some((previous, previous_slot)) = previous {
            let kern = match (previous_slot, slot) {
                (Some(a), Some(b)) => f32::from(face.common_kerning[a * COMMON + b]),
                _ => face.kern_units(previous, id),
            };
            pen += kern * px_per_unit;
        }
        placed.push(Placed { id, x: pen });
        pen += advance * px_per_unit;
        previous = Some((id, slot));
    }
    (placed, pen)
}

/// The advance width of one line of text in pixels, kerning included.
pub(crate) fn width(font: FontSpec, text: &str) -> f32 {
    shape(font, text).1
}

/// Breaks `text` into lines no wider than `max_width`, at spaces; an explicit newline starts a
/// new line. A word wider than a whole line is broken with a hyphen, as a last resort. With more
/// than `max_lines` lines, the last kept line ends in "…" after a whole word.
pub(crate) fn wrap(font: FontSpec, text: &str, max_width: f32, max_lines: usize) -> Vec<String> {
    let max_lines = max_lines.max(1);
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if width(font, &candidate) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if width(font, word) <= max_width {
                line = word.to_owned();
            } else {
                let mut pieces = hyphenate(font, word, max_width);
                line = pieces.pop().unwrap_or_default();
                lines.extend(pieces);
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        if lines.len() > max_lines {
            break;
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = lines.pop().unwrap_or_default();
        lines.push(with_ellipsis(font, &last, max_width));
    }
    lines
}

/// Cuts a word that is wider than a line into pieces ending in "-" that each fit.
fn hyphenate(font: FontSpec, word: &str, max_width: f32) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest: &str = word;
    while width(font, rest) > max_width {
        let mut cut = 0;
        for (i, _) in rest.char_indices().skip(1) {
            if width(font, &format!("{}-", &rest[..i])) > max_width {
                break;
            }
            cut = i;
        }
        if cut == 0 {
            // Not even one letter and a hyphen fit: keep one letter per line.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        pieces.push(format!("{}-", &rest[..cut]));
        rest = &rest[cut..];
    }
    pieces.push(rest.to_owned());
    pieces
}

/// `line` followed by "…", dropping whole words from its end until it fits in `max_width`.
fn with_ellipsis(font: FontSpec, line: &str, max_width: f32) -> String {
    let mut words: Vec<&str> = line.split(' ').collect();
    loop {
        let candidate = format!("{}{ELLIPSIS}", words.join(" "));
        if words.len() <= 1 || width(font, &candidate) <= max_width {
            return truncate_to_width(font, &candidate, max_width);
        }
        words.pop();
    }
}

/// One line cut to `max_width`, ending in "…" when something had to go. Used for short labels
/// such as session names, where breaking inside a word is acceptable.
pub(crate) fn truncate_to_width(font: FontSpec, text: &str, max_width: f32) -> String {
    if width(font, text) <= max_width {
        return text.to_owned();
    }
    let mut end = text.len();
    while end > 0 {
        end = text[..end].char_indices().last().map_or(0, |(i, _)| i);
        let candidate = format!("{}{ELLIPSIS}", text[..end].trim_end());
        if width(font, &candidate) <= max_width {
            return candidate;
        }
    }
    ELLIPSIS.to_string()
}

/// A glyph's anti-aliased coverage, relative to the pen position on the baseline.
pub(crate) struct GlyphBitmap {
    pub left: i32,
    pub top: i32,
    pub width: usize,
    /// Row-major coverage, 0 (none) to 255 (full).
    pub coverage: Vec<u8>,
}

/// Rasterised glyphs of one render, so that each letter, size and sub-pixel offset is
/// rasterised once: a comparison chart repeats the same digits hundreds of times.
#[derive(Default)]
pub(crate) struct GlyphCache {
    index: HashMap<(Weight, u16, u32, u8), usize>,
    bitmaps: Vec<GlyphBitmap>,
}

/// Pen positions are rounded to a quarter pixel; finer steps are not visible.
const SUBPIXEL_STEPS: f32 = 4.0;

/// A glyph ready to draw: which cached bitmap, and the pixel of its pen position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GlyphAt {
    pub bitmap: usize,
    pub x: i32,
    pub y: i32,
}

impl GlyphCache {
    pub(crate) fn bitmap(&self, index: usize) -> &GlyphBitmap {
        &self.bitmaps[index]
    }

    /// Lays out `text` with its pen starting at `(x, baseline)` and returns the glyphs to draw.
    pub(crate) fn layout(
        &mut self,
        font: FontSpec,
        text: &str,
        x: f32,
        baseline: i32,
    ) -> Vec<GlyphAt> {
        let (placed, _) = shape(font, text);
        placed
            .into_iter()
            .map(|glyph| {
                let pen = x + glyph.x;
                let whole = pen.floor();
                let step = ((pen - whole) * SUBPIXEL_STEPS).round();
                // A fraction that rounds up to a whole step moves to the next pixel.
                let (whole, step) = if step >= SUBPIXEL_STEPS {
                    (whole + 1.0, 0.0)
                } else {
                    (whole, step)
                };
                let bitmap = self.rasterise(font, glyph.id, step as u8);
                GlyphAt {
                    bitmap,
                    x: whole as i32,
                    y: baseline,
                }
            })
            .collect()
    }

    fn rasterise(&mut self, font: FontSpec, id: GlyphId, step: u8) -> usize {
        let key = (font.weight, id.0, font.size.to_bits(), step);
        if let Some(&index) = self.index.get(&key) {
            return index;
        }
        let face = fonts().face(font.weight);
        let offset = f32::from(step) / SUBPIXEL_STEPS;
        let glyph =
            id.with_scale_and_position(face.px_scale(font.size), ab_glyph::point(offset, 0.0));
        let bitmap = match face.font.outline_glyph(glyph) {
            Some(outlined) => {
                let bounds = outlined.px_bounds();
                let width = bounds.width() as usize;
                let height = bounds.height() as usize;
                let mut coverage = vec![0u8; width * height];
                outlined.draw(|x, y, c| {
                    let (x, y) = (x as usize, y as usize);
                    if x < width && y < height {
                        coverage[y * width + x] = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
                    }
                });
                GlyphBitmap {
                    left: bounds.min.x as i32,
                    top: bounds.min.y as i32,
                    width,
                    coverage,
                }
            }
            // Spaces and other blank glyphs have no outline.
            None => GlyphBitmap {
                left: 0,
                top: 0,
                width: 0,
                coverage: Vec::new(),
            },
        };
        self.bitmaps.push(bitmap);
        self.index.insert(key, self.bitmaps.len() - 1);
        self.bitmaps.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: FontSpec = FontSpec {
        weight: Weight::Regular,
        size: 15.0,
    };

    const STATEMENTS: [&str; 3] = [
        "Ik ervaar dat het vertrouwen van inwoners in de gemeente of lokale institutie de afgelopen jaren is afgenomen",
        "Ik vind dat we als lokale overheid aan inwoners laten zien dat we betrouwbaar zijn",
        "Ik vind dat we door Rijksbeleid lokaal onvoldoende betrouwbaar kunnen zijn",
    ];

    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn every_dutch_character_has_a_glyph_in_both_weights() {
        let samples = [
            "Súdwest Fryslân",
            "Het klimaatbeleid beïnvloedt één café, ook in Coevorden en Nuenen: ë ï é â ö ü ç",
            "‘enkel’ “dubbel” … · – — € ½ IJsselmonde Ĳ ĳ",
            STATEMENTS[0],
        ];
        let fonts = fonts();
        for face in [&fonts.regular, &fonts.bold] {
            for sample in samples {
                for c in sample.chars() {
                    assert_ne!(face.glyph_id(c).0, 0, "no glyph for {c:?} in {sample:?}");
                }
            }
        }
    }

    #[test]
    fn kerning_tightens_pairs_that_need_it_and_only_a_little() {
        let face = &fonts().regular;
        let (a, v) = (face.glyph_id('A'), face.glyph_id('V'));
        assert!(face.kern_units(a, v) < 0.0, "AV is a classic kerning pair");
        let (o, o2) = (face.glyph_id('o'), face.glyph_id('o'));
        assert!(face.kern_units(o, o2).abs() < 20.0);
        assert!(width(BODY, "AV") < width(BODY, "A") + width(BODY, "V"));
    }

    #[test]
    fn precomputed_kerning_agrees_with_the_font_tables() {
        let face = &fonts().bold;
        for pair in ["AV", "Te", "Yo", "wi", "ij", "jk", "r.", "Fr", "Wé"] {
            let chars: Vec<char> = pair.chars().collect();
            let (a, b) = (face.glyph_id(chars[0]), face.glyph_id(chars[1]));
            let precomputed = face.common_kerning
                [common_slot(chars[0]).unwrap() * COMMON + common_slot(chars[1]).unwrap()];
            assert_eq!(f32::from(precomputed), face.kern_units(a, b), "{pair}");
        }
        let font = bold(20.0);
        let (placed, _) = shape(font, "Wé’");
        let expected = width(font, "W")
            + face.kern_units(face.glyph_id('W'), face.glyph_id('é')) * 20.0 / 1000.0;
        assert!((placed[1].x - expected).abs() < 1e-3);
    }

    #[test]
    fn a_word_is_about_as_wide_as_its_letters_measured_apart() {
        for word in ["wijk", "Wijkagent", "Fryslân", "betrouwbaar"] {
            let whole = width(BODY, word);
            let apart: f32 = word.chars().map(|c| width(BODY, &c.to_string())).sum();
            assert!(whole <= apart + 0.01, "{word}: {whole} > {apart}");
            assert!(
                whole >= apart * 0.9,
                "{word}: {whole} much less than {apart}"
            );
        }
    }

    #[test]
    fn wrapping_breaks_only_between_words_and_respects_the_width() {
        for statement in STATEMENTS {
            for max_width in [120.0, 200.0, 300.0, 420.0] {
                let lines = wrap(BODY, statement, max_width, 100);
                assert_eq!(
                    words(&lines.join(" ")),
                    words(statement),
                    "width {max_width}"
                );
                for line in &lines {
                    assert!(
                        width(BODY, line) <= max_width,
                        "{line:?} wider than {max_width}"
                    );
                }
            }
        }
        let lines = wrap(BODY, STATEMENTS[0], 420.0, 6);
        assert!(lines.len() >= 2, "{lines:?}");
    }

    #[test]
    fn wrapping_fills_lines_greedily() {
        let lines = wrap(BODY, STATEMENTS[1], 300.0, 100);
        for pair in lines.windows(2) {
            let next_word = pair[1].split(' ').next().unwrap();
            let joined = format!("{} {next_word}", pair[0]);
            assert!(width(BODY, &joined) > 300.0, "{joined:?} would have fit");
        }
    }

    #[test]
    fn a_very_long_statement_ends_in_an_ellipsis_after_a_whole_word() {
        let long = STATEMENTS.join(" ").repeat(6);
        assert!(long.chars().count() > 1000);
        let lines = wrap(BODY, &long, 420.0, 6);
        assert_eq!(lines.len(), 6);
        let last = lines.last().unwrap();
        assert!(last.ends_with(ELLIPSIS), "{last:?}");
        assert!(width(BODY, last) <= 420.0);
        let joined = lines.join(" ").replace(ELLIPSIS, "");
        let kept = words(&joined);
        assert_eq!(
            kept,
            words(&long)[..kept.len()],
            "only whole words are kept"
        );
    }

    #[test]
    fn a_word_wider_than_the_line_is_hyphenated_as_a_last_resort() {
        let word = "Rijksbeleidsuitvoeringsorganisatieverantwoordelijkheden";
        let text = format!("Dat is {word} toch");
        let lines = wrap(BODY, &text, 150.0, 100);
        assert_eq!(lines[0], "Dat is");
        for line in &lines {
            assert!(width(BODY, line) <= 150.0, "{line:?}");
        }
        let rejoined: String = lines.join("\n").replace("-\n", "").replace('\n', " ");
        assert_eq!(rejoined, text);
    }

    proptest::proptest! {
        #[test]
        fn wrapped_lines_fit_and_keep_every_word(
            words in proptest::collection::vec("[a-zA-Zëïéü’]{1,14}", 1..60),
            max_width in 60.0f32..500.0,
        ) {
            let text = words.join(" ");
            let lines = wrap(BODY, &text, max_width, 1000);
            for line in &lines {
                proptest::prop_assert!(width(BODY, line) <= max_width, "{:?}", line);
            }
            if words.iter().all(|word| width(BODY, word) <= max_width) {
                proptest::prop_assert_eq!(lines.join(" "), text);
            }
        }
    }

    #[test]
    fn newlines_start_new_lines() {
        assert_eq!(wrap(BODY, "Eén\ntwee", 400.0, 5), vec!["Eén", "twee"]);
    }

    #[test]
    fn truncation_keeps_short_labels_and_cuts_long_ones() {
        assert_eq!(truncate_to_width(BODY, "Arnhem", 200.0), "Arnhem");
        let cut = truncate_to_width(BODY, "Súdwest Fryslân · 29-11-2026 · avond", 120.0);
        assert!(
            cut.ends_with(ELLIPSIS) && width(BODY, &cut) <= 120.0,
            "{cut:?}"
        );
    }

    #[test]
    fn glyphs_are_rasterised_once_per_size_and_offset() {
        let mut cache = GlyphCache::default();
        let first = cache.layout(BODY, "88%  n=88", 10.0, 20);
        let rasterised = cache.bitmaps.len();
        let again = cache.layout(BODY, "88%  n=88", 10.0, 60);
        assert_eq!(first.len(), again.len());
        assert_eq!(cache.bitmaps.len(), rasterised, "nothing new to rasterise");
        let eight = cache.bitmap(first[0].bitmap);
        assert!(eight.width > 3 && eight.coverage.len() / eight.width > 6 && eight.top < 0);
        assert!(eight.coverage.contains(&255));
        assert!(
            eight.coverage.iter().any(|&c| c > 0 && c < 255),
            "anti-aliased edges"
        );
    }
}
