//! The response-time chart `/graph` sends: a PNG drawn with plotters' bitmap backend
//! and the embedded DejaVu Sans (so it needs no font from the system).
//!
//! What it shows, back to front: DOWN and DEGRADED periods shaded over the full height
//! (the stronger the tint, the larger the share of the bucket), the grid with UTC
//! times, the RTT min–max band and the average line. Buckets without RTT are gaps:
//! the band and the line break there instead of bridging an outage.
//!
//! The palette is opaque (tints are blended by hand), so what a pixel shows can be
//! checked exactly: the tests read the PNG back and look for the band and the shading
//! where the data puts them.

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::domain::history::{Bucket, DAY_MS, HOUR_MS, MINUTE_MS, Series, utc};

/// Image width, px.
pub const WIDTH: u32 = 960;
/// Image height, px.
pub const HEIGHT: u32 = 480;

/// Background.
pub const BACKGROUND: RGBColor = RGBColor(255, 255, 255);
/// The min–max band.
pub const BAND: RGBColor = RGBColor(174, 205, 235);
/// The average line.
pub const AVG: RGBColor = RGBColor(31, 96, 170);
/// DOWN at full strength (blended toward the background by the DOWN share).
pub const DOWN: RGBColor = RGBColor(229, 72, 77);
/// DEGRADED at full strength.
pub const DEGRADED: RGBColor = RGBColor(240, 170, 40);
const GRID: RGBColor = RGBColor(232, 234, 238);
const AXIS: RGBColor = RGBColor(120, 126, 136);
const TEXT: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(100, 106, 116);

/// The font family name the embedded font is registered under.
const FAMILY: &str = "sans-serif";
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// What to draw.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    /// First line, bold: the monitor (`db (10.0.0.5:5432)`).
    pub title: &'a str,
    /// Second line: the period and its figures.
    pub subtitle: &'a str,
    /// The data.
    pub series: &'a Series,
}

/// Where things landed in the image, so callers (tests) can find a time or an RTT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Plot area, px: left, top, right, bottom (inclusive-exclusive).
    pub plot: (i32, i32, i32, i32),
    /// Time at the left and right edges, ms.
    pub time: (u64, u64),
    /// RTT at the top edge, ms (the bottom is 0).
    pub rtt_max_ms: f64,
}

impl Frame {
    /// The x pixel of time `ms`.
    pub fn x(&self, ms: u64) -> i32 {
        let (l, _, r, _) = self.plot;
        let span = self.time.1.saturating_sub(self.time.0).max(1) as f64;
        l + ((ms.saturating_sub(self.time.0)) as f64 / span * f64::from(r - l)).round() as i32
    }

    /// The y pixel of an RTT in ms.
    pub fn y(&self, rtt_ms: f64) -> i32 {
        let (_, t, _, b) = self.plot;
        b - (rtt_ms / self.rtt_max_ms * f64::from(b - t)).round() as i32
    }
}

/// Why a chart could not be drawn (a bug, not bad input: every input draws).
#[derive(Debug, thiserror::Error)]
#[error("chart: {0}")]
pub struct ChartError(String);

fn err(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// Registers the embedded font with plotters (once per process).
fn font() -> Result<(), ChartError> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError("the embedded font does not load".into()))
    }
}

/// `c` blended toward the background: `share` 0 is the background, 1 is `c`.
pub fn tint(c: RGBColor, share: f64) -> RGBColor {
    let s = share.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) * (1.0 - s) + f64::from(b) * s).round() as u8;
    RGBColor(mix(BACKGROUND.0, c.0), mix(BACKGROUND.1, c.1), mix(BACKGROUND.2, c.2))
}

/// The shade of a bucket: DOWN wins over DEGRADED; a quarter tint at least, so a
/// short outage still shows, up to three quarters for a bucket DOWN throughout.
pub fn shade(b: &Bucket, step_ms: u64) -> Option<RGBColor> {
    let share = |ms: u64| 0.25 + 0.5 * (ms as f64 / step_ms.max(1) as f64).min(1.0);
    if b.down_ms > 0 {
        Some(tint(DOWN, share(b.down_ms)))
    } else if b.degraded_ms > 0 {
        Some(tint(DEGRADED, share(b.degraded_ms)))
    } else {
        None
    }
}

/// Time ticks: a round UTC step giving at most eight labels.
fn ticks(start: u64, end: u64) -> (Vec<i64>, u64) {
    const STEPS: [u64; 13] = [
        5 * MINUTE_MS,
        10 * MINUTE_MS,
        15 * MINUTE_MS,
        30 * MINUTE_MS,
        HOUR_MS,
        2 * HOUR_MS,
        3 * HOUR_MS,
        6 * HOUR_MS,
        12 * HOUR_MS,
        DAY_MS,
        2 * DAY_MS,
        5 * DAY_MS,
        10 * DAY_MS,
    ];
    let span = end.saturating_sub(start);
    let step = STEPS.iter().copied().find(|s| span / s <= 8).unwrap_or(30 * DAY_MS);
    let first = start.div_ceil(step) * step;
    let points = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= end)
        .filter_map(|t| i64::try_from(t).ok())
        .collect();
    (points, step)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A tick's label: `14:30` within a day's steps, `23 Nov 12:00` for steps of hours over
/// several days, `23 Nov` for day steps.
pub fn tick_label(ms: u64, step: u64) -> String {
    let (_, mo, d, h, mi) = utc(ms);
    let month = MONTHS[(mo as usize).saturating_sub(1) % 12];
    if step >= DAY_MS || (h == 0 && mi == 0 && step >= HOUR_MS) {
        format!("{d} {month}")
    } else if step >= 6 * HOUR_MS {
        format!("{d} {month} {h:02}:{mi:02}")
    } else {
        format!("{h:02}:{mi:02}")
    }
}

/// Draws `chart` and returns the PNG and where things landed.
pub fn render(chart: &Chart<'_>) -> Result<(Vec<u8>, Frame), ChartError> {
    font()?;
    let s = chart.series;
    let (start, end) = (s.start_ms, s.end_ms().max(s.start_ms + 1));
    let step = s.step_ms;
    let top = s
        .buckets
        .iter()
        .filter(|b| b.rtt_count > 0)
        .map(|b| f64::from(b.rtt_max_us) / 1000.0)
        .fold(0.0f64, f64::max);
    let rtt_max_ms = nice_ceiling(top * 1.1);
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    let frame;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&BACKGROUND).map_err(err)?;
        let title = (FAMILY, 22).into_font().style(FontStyle::Bold).color(&TEXT);
        root.draw_text(chart.title, &title, (20, 12)).map_err(err)?;
        let sub = (FAMILY, 15).into_font().color(&MUTED);
        root.draw_text(chart.subtitle, &sub, (20, 42)).map_err(err)?;
        legend(&root)?;

        let (tick_points, tick_step) = ticks(start, end);
        let x_range =
            (i64::try_from(start).unwrap_or(0)..i64::try_from(end).unwrap_or(i64::MAX)).with_key_points(tick_points);
        let mut cc = ChartBuilder::on(&root)
            .margin_top(72)
            .margin_right(24)
            .margin_left(12)
            .margin_bottom(8)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range, 0f64..rtt_max_ms)
            .map_err(err)?;

        // Shading first, so the grid and the band stay readable over it.
        cc.draw_series(s.buckets.iter().enumerate().filter_map(|(i, b)| {
            let c = shade(b, step)?;
            let x0 = i64::try_from(s.at(i)).ok()?;
            Some(Rectangle::new([(x0, 0.0), (x0 + step as i64, rtt_max_ms)], c.filled()))
        }))
        .map_err(err)?;

        let label_font = (FAMILY, 13).into_font().color(&TEXT);
        let y_fmt = |v: &f64| format_ms(*v);
        let x_fmt = |v: &i64| tick_label(u64::try_from(*v).unwrap_or(0), tick_step);
        cc.configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .y_labels(6)
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&x_fmt)
            .label_style(label_font.clone())
            .axis_desc_style(label_font)
            .y_desc("response time")
            .x_desc("time (UTC)")
            .draw()
            .map_err(err)?;

        let centre = |i: usize| i64::try_from(s.at(i) + step / 2).unwrap_or(0);
        for seg in segments(s) {
            let ms = |us: u32| f64::from(us) / 1000.0;
            if seg.len() == 1 {
                // One bucket: a bar from min to max, as wide as the bucket.
                let (i, b) = seg[0];
                let x0 = i64::try_from(s.at(i)).unwrap_or(0);
                let x1 = x0 + step as i64;
                cc.draw_series(std::iter::once(Rectangle::new(
                    [(x0, ms(b.rtt_min_us)), (x1, ms(b.rtt_max_us))],
                    BAND.filled(),
                )))
                .map_err(err)?;
                let avg = b.rtt_avg_us().unwrap_or(0.0) / 1000.0;
                cc.draw_series(std::iter::once(PathElement::new(
                    vec![(x0, avg), (x1, avg)],
                    AVG.stroke_width(2),
                )))
                .map_err(err)?;
                continue;
            }
            let mut band: Vec<(i64, f64)> = seg.iter().map(|(i, b)| (centre(*i), ms(b.rtt_max_us))).collect();
            band.extend(seg.iter().rev().map(|(i, b)| (centre(*i), ms(b.rtt_min_us))));
            cc.draw_series(std::iter::once(Polygon::new(band, BAND.filled())))
                .map_err(err)?;
            let line = seg
                .iter()
                .map(|(i, b)| (centre(*i), b.rtt_avg_us().unwrap_or(0.0) / 1000.0));
            cc.draw_series(LineSeries::new(line, AVG.stroke_width(2)))
                .map_err(err)?;
        }

        if top == 0.0 {
            let f = (FAMILY, 18).into_font().color(&MUTED);
            let (xr, yr) = cc.plotting_area().get_pixel_range();
            let msg = "no response times in this period";
            let x = (xr.start + xr.end) / 2 - 130;
            root.draw_text(msg, &f, (x, (yr.start + yr.end) / 2)).map_err(err)?;
        }
        let (xr, yr) = cc.plotting_area().get_pixel_range();
        frame = Frame {
            plot: (xr.start, yr.start, xr.end, yr.end),
            time: (start, end),
            rtt_max_ms,
        };
        root.present().map_err(err)?;
    }
    Ok((encode_png(&buf, WIDTH, HEIGHT)?, frame))
}

/// Runs of consecutive buckets that measured an RTT.
fn segments(s: &Series) -> Vec<Vec<(usize, &Bucket)>> {
    let mut out: Vec<Vec<(usize, &Bucket)>> = Vec::new();
    let mut cur = Vec::new();
    for (i, b) in s.buckets.iter().enumerate() {
        if b.rtt_count > 0 {
            cur.push((i, b));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A round number at or above `v` (1, 2, 2.5 or 5 times a power of ten), at least 1 ms.
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 1.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// `0.25 ms`, `12 ms`, `1.5 s`.
pub fn format_ms(v: f64) -> String {
    if v >= 1000.0 {
        let s = format!("{:.2}", v / 1000.0);
        format!("{} s", s.trim_end_matches('0').trim_end_matches('.'))
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0} ms")
    } else {
        let s = format!("{v:.2}");
        format!("{} ms", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

fn legend<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>) -> Result<(), ChartError> {
    let f = (FAMILY, 13).into_font().color(&TEXT);
    let items: [(&str, RGBColor, bool); 4] = [
        ("min/max", BAND, false),
        ("average", AVG, true),
        ("DOWN", tint(DOWN, 0.6), false),
        ("DEGRADED", tint(DEGRADED, 0.6), false),
    ];
    let mut x = WIDTH as i32 - 360;
    let y = 48;
    for (label, c, line) in items {
        if line {
            root.draw(&PathElement::new(vec![(x, y + 7), (x + 16, y + 7)], c.stroke_width(3)))
                .map_err(err)?;
        } else {
            root.draw(&Rectangle::new([(x, y + 1), (x + 16, y + 13)], c.filled()))
                .map_err(err)?;
        }
        root.draw_text(label, &f, (x + 21, y)).map_err(err)?;
        x += 26 + 8 * label.chars().count() as i32 + 12;
    }
    Ok(())
}

/// RGB bytes to PNG (fast compression: charts are flat colours and Telegram recompresses).
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::with_capacity(64 * 1024);
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(rgb).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::State;

    const T0: u64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

    #[test]
    fn ticks_are_round_utc_times() {
        let (pts, step) = ticks(T0 + 7 * MINUTE_MS, T0 + DAY_MS + 7 * MINUTE_MS);
        assert_eq!(step, 3 * HOUR_MS);
        assert_eq!(pts.first().copied(), i64::try_from(T0 + 3 * HOUR_MS).ok());
        assert!(pts.len() <= 8 && pts.len() >= 4, "{pts:?}");
        assert_eq!(tick_label(T0 + 3 * HOUR_MS, step), "03:00");
        assert_eq!(tick_label(T0, step), "23 Nov");
        assert_eq!(tick_label(T0 + 12 * HOUR_MS, 12 * HOUR_MS), "23 Nov 12:00");
        assert_eq!(tick_label(T0, DAY_MS), "23 Nov");
        let (_, step) = ticks(T0, T0 + HOUR_MS);
        assert_eq!(step, 10 * MINUTE_MS);
        let (_, step) = ticks(T0, T0 + 30 * DAY_MS);
        assert_eq!(step, 5 * DAY_MS);
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(nice_ceiling(0.3), 1.0);
        assert_eq!(nice_ceiling(3.1), 5.0);
        assert_eq!(nice_ceiling(22.0), 25.0);
        assert_eq!(nice_ceiling(101.0), 200.0);
        assert_eq!(format_ms(0.25), "0.25 ms");
        assert_eq!(format_ms(12.0), "12 ms");
        assert_eq!(format_ms(1500.0), "1.5 s");
        assert_eq!(format_ms(0.0), "0 ms");
    }

    /// Decodes a PNG into (width, height, RGB bytes).
    pub(crate) fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = dec.read_info().expect("a PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn px(img: &(u32, u32, Vec<u8>), x: i32, y: i32) -> (u8, u8, u8) {
        let i = ((y as u32 * img.0 + x as u32) * 3) as usize;
        (img.2[i], img.2[i + 1], img.2[i + 2])
    }

    fn bluish((r, _, b): (u8, u8, u8)) -> bool {
        i32::from(b) > i32::from(r) + 30
    }

    fn reddish((r, g, b): (u8, u8, u8)) -> bool {
        i32::from(r) > i32::from(g) + 40 && i32::from(r) > i32::from(b) + 40
    }

    fn amber((r, g, b): (u8, u8, u8)) -> bool {
        i32::from(r) > i32::from(b) + 60 && i32::from(g) > i32::from(b) + 30
    }

    fn plain((r, g, b): (u8, u8, u8)) -> bool {
        r >= 225 && g >= 225 && b >= 225
    }

    /// One hour: UP with RTT 10–20 ms (average 15) except minutes 20–29 DOWN (no
    /// answers) and 30–39 DEGRADED (same RTTs).
    fn known_shape() -> Series {
        let mut s = Series::new(T0, MINUTE_MS, 60);
        for m in 0..60u64 {
            let mut b = Bucket::default();
            let state = match m {
                20..30 => State::Down,
                30..40 => State::Degraded,
                _ => State::Up,
            };
            if state == State::Down {
                b.probe(false, None);
            } else {
                for rtt in [10_000, 15_000, 20_000] {
                    b.probe(true, Some(rtt));
                }
            }
            b.spend(state, MINUTE_MS);
            s.add(T0 + m * MINUTE_MS, &b);
        }
        s
    }

    #[test]
    fn the_png_decodes_at_its_size_and_has_drawn_pixels_in_the_plot() {
        let s = known_shape();
        let (png_bytes, frame) = render(&Chart {
            title: "db (10.0.0.5:5432)",
            subtitle: "last 1 h",
            series: &s,
        })
        .unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let img = decode(&png_bytes);
        assert_eq!((img.0, img.1), (WIDTH, HEIGHT));
        let (l, t, r, b) = frame.plot;
        assert!(
            l > 40 && t > 50 && r < WIDTH as i32 && b < HEIGHT as i32 - 20,
            "{frame:?}"
        );
        let drawn = (t..b)
            .flat_map(|y| (l..r).map(move |x| (x, y)))
            .filter(|(x, y)| !plain(px(&img, *x, *y)))
            .count();
        let area = ((r - l) * (b - t)) as usize;
        assert!(drawn > area / 20, "only {drawn} of {area} plot pixels drawn");
        // Text was drawn above the plot (the title) and below it (time labels).
        let inked = |y0: i32, y1: i32| (y0..y1).any(|y| (0..WIDTH as i32).any(|x| px(&img, x, y).0 < 120));
        assert!(inked(5, 40), "title");
        assert!(inked(b + 2, HEIGHT as i32), "axis labels");
    }

    #[test]
    fn a_known_shape_puts_the_band_and_the_shading_where_the_data_is() {
        let s = known_shape();
        let (png_bytes, f) = render(&Chart {
            title: "t",
            subtitle: "s",
            series: &s,
        })
        .unwrap();
        let img = decode(&png_bytes);
        assert_eq!(f.rtt_max_ms, 25.0, "20 ms × 1.1, rounded up");
        let mid = |m: u64| f.x(T0 + m * MINUTE_MS + MINUTE_MS / 2);
        for m in [5, 12, 45, 55] {
            // Inside the band (between min and max, off the average line).
            for rtt in [11.5, 18.5] {
                let p = px(&img, mid(m), f.y(rtt));
                assert!(bluish(p), "minute {m}, {rtt} ms: band expected, got {p:?}");
            }
            // The average line.
            let p = px(&img, mid(m), f.y(15.0));
            assert!(p.2 > 120 && p.0 < 100, "minute {m}: average line expected, got {p:?}");
            // Below and above the band: nothing (background or grid).
            for rtt in [5.0, 23.0] {
                let p = px(&img, mid(m), f.y(rtt));
                assert!(plain(p), "minute {m}, {rtt} ms: empty expected, got {p:?}");
            }
        }
        for m in [21, 25, 28] {
            // DOWN: shaded over the full height, and no band (no answers).
            for rtt in [3.0, 13.0, 22.0] {
                let p = px(&img, mid(m), f.y(rtt));
                assert!(reddish(p), "minute {m}, {rtt} ms: DOWN shade expected, got {p:?}");
            }
        }
        for m in [31, 35, 38] {
            // DEGRADED: shaded where the band is not, and the band still drawn.
            for rtt in [3.0, 23.0] {
                let p = px(&img, mid(m), f.y(rtt));
                assert!(amber(p), "minute {m}, {rtt} ms: DEGRADED shade expected, got {p:?}");
            }
            assert!(bluish(px(&img, mid(m), f.y(11.5))), "minute {m}: band over the shade");
        }
    }

    #[test]
    fn an_empty_period_still_draws_axes_and_says_so() {
        let s = Series::new(T0, 5 * MINUTE_MS, 288);
        let (png_bytes, f) = render(&Chart {
            title: "new monitor",
            subtitle: "last 24 h",
            series: &s,
        })
        .unwrap();
        let img = decode(&png_bytes);
        assert_eq!((img.0, img.1), (WIDTH, HEIGHT));
        let (l, t, r, b) = f.plot;
        let cy = (t + b) / 2;
        let text = (cy - 12..cy + 12).any(|y| (l..r).any(|x| px(&img, x, y).0 < 150));
        assert!(text, "the no-data message is drawn in the plot");
        assert!(!bluish(px(&img, (l + r) / 2, f.y(0.5))), "no band");
    }

    #[test]
    fn shades_and_tints() {
        assert_eq!(tint(DOWN, 0.0), BACKGROUND);
        assert_eq!(tint(DOWN, 1.0), DOWN);
        let mut b = Bucket::default();
        assert_eq!(shade(&b, MINUTE_MS), None);
        b.spend(State::Degraded, MINUTE_MS);
        assert_eq!(shade(&b, MINUTE_MS), Some(tint(DEGRADED, 0.75)));
        b.spend(State::Down, 1);
        let c = shade(&b, MINUTE_MS).expect("down shows");
        assert!(c.0 > c.1 && c.0 > c.2, "red wins: {c:?}");
    }
}
