//! The study's charts as SVG text, drawn by plotters (which escapes every label). Every chart
//! down-samples, so a study of 100,000 trials draws as fast as one of 1,000.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(170, 170, 170);
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    GREEN,
    RED,
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Width of the study page's charts: two fit side by side on a laptop screen.
const WIDTH: u32 = 660;

/// Points a scatter keeps at most; above that, an even stride over the points.
pub const MAX_POINTS: usize = 2_000;

/// Every `len / max`-th index, so at most about `max` of `len` remain (all when fewer).
pub fn stride(len: usize, max: usize) -> impl Iterator<Item = usize> {
    let step = len.div_ceil(max.max(1)).max(1);
    (0..len).step_by(step)
}

/// A chart's text when it has nothing to draw.
pub fn empty(width: u32, height: u32, message: &str) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = root.draw_text(
            message,
            &("sans-serif", 16)
                .into_font()
                .color(&RGBColor(120, 120, 120)),
            (20, (height / 2) as i32),
        );
        let _ = root.present();
    }
    out
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return None;
    }
    let pad = if hi - lo > 1e-9 * (1.0 + lo.abs()) {
        (hi - lo) * 0.05
    } else {
        // One value (or all equal): a range around it, not a magnified rounding error.
        (lo.abs() * 0.01).max(0.5)
    };
    Some((lo - pad, hi + pad))
}

/// The value below which a `share` of `values` lie (nearest rank).
fn quantile(values: impl Iterator<Item = f64>, share: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * share).round() as usize;
    Some(v[i])
}

/// The frame every x-y chart shares: title, axes, light grid, legend.
struct Frame<'t> {
    size: (u32, u32),
    title: &'t str,
    x_label: &'t str,
    y_label: &'t str,
    x: (f64, f64),
    y: (f64, f64),
    legend: SeriesLabelPosition,
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Draws `frame`, then `series` into it, then the legend; a chart that cannot be drawn
/// says so in its place.
fn xy_chart(frame: Frame, series: impl FnOnce(&mut Chart) -> Drawn) -> String {
    let mut out = String::new();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::with_string(&mut out, frame.size).into_drawing_area();
        root.fill(&WHITE).map_err(boxed)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(frame.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(frame.x.0..frame.x.1, frame.y.0..frame.y.1)
            .map_err(boxed)?;
        chart
            .configure_mesh()
            .x_desc(frame.x_label)
            .y_desc(frame.y_label)
            .x_label_formatter(&|x| {
                if frame.x.1 - frame.x.0 < 20.0 {
                    format!("{x:.1}")
                } else {
                    format!("{x:.0}")
                }
            })
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(boxed)?;
        series(&mut chart)?;
        chart
            .configure_series_labels()
            .position(frame.legend)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(boxed)?;
        root.present().map_err(boxed)?;
        Ok(())
    })()
    .is_ok();
    if drawn {
        out
    } else {
        empty(frame.size.0, frame.size.1, "the chart could not be drawn")
    }
}

fn boxed(e: impl std::error::Error + Send + Sync) -> Box<dyn std::error::Error> {
    e.to_string().into()
}

/// The incumbent (a step line) over every trial's value (grey dots), against `x_label`.
/// `trials` are `(x, value)`, `incumbent` the running best at each change.
pub fn anytime(
    title: &str,
    x_label: &str,
    y_label: &str,
    trials: &[(f64, f64)],
    incumbent: &[(f64, f64)],
) -> String {
    // The y range leaves out the worst 5 % of the trials (a diverged run at 10 % would
    // flatten everything else), but always shows the whole incumbent.
    let floor = quantile(trials.iter().map(|p| p.1), 0.05);
    let (Some((x0, x1)), Some((y0, y1))) = (
        bounds(trials.iter().map(|p| p.0).chain([0.0])),
        bounds(
            trials
                .iter()
                .map(|p| p.1)
                .filter(|&v| floor.is_none_or(|f| v >= f))
                .chain(incumbent.iter().map(|p| p.1)),
        ),
    ) else {
        return empty(WIDTH, 360, "no complete trial yet");
    };
    let frame = Frame {
        size: (WIDTH, 360),
        title,
        x_label,
        y_label,
        x: (x0, x1),
        y: (y0, y1),
        legend: SeriesLabelPosition::LowerRight,
    };
    xy_chart(frame, |chart| {
        chart
            .draw_series(
                stride(trials.len(), MAX_POINTS)
                    .map(|i| trials[i])
                    .filter(|p| p.0.is_finite() && p.1 >= y0 && p.1 <= y1)
                    .map(|p| Circle::new(p, 2, GREY.filled())),
            )
            .map_err(boxed)?
            .label(format!("trials ({})", trials.len()))
            .legend(|(x, y)| Circle::new((x + 10, y), 3, GREY.filled()));
        let mut steps = Vec::with_capacity(incumbent.len() * 2 + 1);
        for (i, &(x, y)) in incumbent.iter().enumerate() {
            if i > 0 {
                steps.push((x, incumbent[i - 1].1));
            }
            steps.push((x, y));
        }
        if let Some(&(_, y)) = incumbent.last() {
            steps.push((x1, y));
        }
        chart
            .draw_series(LineSeries::new(steps, BLUE.stroke_width(2)))
            .map_err(boxed)?
            .label("best so far")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        Ok(())
    })
}

/// Two objectives in their own units: every complete trial (grey), the study's Pareto
/// front (blue, a line through it), and a reference front such as a benchmark's true one
/// (green).
pub fn pareto(
    x_label: &str,
    y_label: &str,
    trials: &[(f64, f64)],
    front: &[(f64, f64)],
    reference: Option<(&str, &[(f64, f64)])>,
) -> String {
    let all = || {
        trials
            .iter()
            .chain(front)
            .chain(reference.map_or(&[][..], |r| r.1))
    };
    let (Some(x), Some(y)) = (bounds(all().map(|p| p.0)), bounds(all().map(|p| p.1))) else {
        return empty(WIDTH, 420, "no complete trial yet");
    };
    let frame = Frame {
        size: (WIDTH, 420),
        title: "Pareto front",
        x_label,
        y_label,
        x,
        y,
        legend: SeriesLabelPosition::UpperLeft,
    };
    xy_chart(frame, |chart| {
        chart
            .draw_series(
                stride(trials.len(), MAX_POINTS)
                    .map(|i| trials[i])
                    .map(|p| Circle::new(p, 2, GREY.filled())),
            )
            .map_err(boxed)?
            .label(format!("trials ({})", trials.len()))
            .legend(|(x, y)| Circle::new((x + 10, y), 3, GREY.filled()));
        let mut fronts = vec![("study front", front, BLUE, 5)];
        if let Some((name, points)) = reference {
            fronts.insert(0, (name, points, GREEN, 3));
        }
        for (name, points, colour, size) in fronts {
            let mut pts = points.to_vec();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(1)))
                .map_err(boxed)?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, size, colour.filled())))
                .map_err(boxed)?
                .label(format!("{name} ({} points)", pts.len()))
                .legend(move |(x, y)| Circle::new((x + 10, y), size, colour.filled()));
        }
        Ok(())
    })
}

/// A mark on an intermediate-value curve: where a scheduler acted.
pub struct Mark {
    pub step: u32,
    pub value: f64,
    /// `paused`, `promoted`, `stopped`.
    pub what: &'static str,
}

/// Intermediate values per trial (`(label, points)`), with the scheduler's marks.
pub fn curves(y_label: &str, series: &[(String, Vec<(u32, f64)>)], marks: &[Mark]) -> String {
    let points = || series.iter().flat_map(|s| s.1.iter());
    let (Some(x), Some(y)) = (
        bounds(points().map(|p| f64::from(p.0)).chain([0.0])),
        bounds(points().map(|p| p.1).chain(marks.iter().map(|m| m.value))),
    ) else {
        return empty(WIDTH, 360, "no intermediate values reported");
    };
    let frame = Frame {
        size: (WIDTH, 360),
        title: "Intermediate values",
        x_label: "step (epoch)",
        y_label,
        x,
        y,
        legend: SeriesLabelPosition::LowerRight,
    };
    xy_chart(frame, |chart| {
        let labelled = series.len() <= PALETTE.len();
        for (i, (label, pts)) in series.iter().enumerate() {
            let colour: RGBAColor = if labelled {
                PALETTE[i % PALETTE.len()].to_rgba()
            } else {
                BLUE.mix(0.35)
            };
            let line = chart
                .draw_series(
                    LineSeries::new(
                        pts.iter().map(|&(s, v)| (f64::from(s), v)),
                        colour.stroke_width(if labelled { 2 } else { 1 }),
                    )
                    .point_size(if pts.len() < 30 { 2 } else { 0 }),
                )
                .map_err(boxed)?;
            if labelled {
                line.label(label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            }
        }
        for (what, colour) in [("paused", ORANGE), ("promoted", GREEN), ("stopped", RED)] {
            let mine: Vec<&Mark> = marks.iter().filter(|m| m.what == what).collect();
            if mine.is_empty() {
                continue;
            }
            chart
                .draw_series(
                    mine.iter().map(|m| {
                        TriangleMarker::new((f64::from(m.step), m.value), 6, colour.filled())
                    }),
                )
                .map_err(boxed)?
                .label(format!("{what} ({})", mine.len()))
                .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, colour.filled()));
        }
        Ok(())
    })
}

/// One bar per choice of a dimension: the mean objective of the trials that made it, with
/// the number of trials beside its name.
pub fn effect(title: &str, y_label: &str, bars: &[(String, f64, usize)]) -> String {
    let n = bars.len();
    let longest = bars
        .iter()
        .map(|b| b.0.chars().count() + 5)
        .max()
        .unwrap_or(4);
    let width = (80 + n * (longest * 6 + 12)).clamp(300, 1400) as u32;
    let Some((y0, y1)) = bounds(bars.iter().map(|b| b.1)) else {
        return empty(width, 220, "no complete trial yet");
    };
    let mut out = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut out, (width, 220)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n.saturating_sub(1)).into_segmented(), y0..y1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_label)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => bars
                    .get(*i)
                    .map(|b| format!("{} ({})", b.0, b.2))
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style(("sans-serif", 10))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), y0),
                    (SegmentValue::Exact(i + 1), b.1),
                ],
                BLUE.mix(0.7).filled(),
            )
        }))?;
        root.present()?;
        Ok(())
    })()
    .is_ok();
    if drawn {
        out
    } else {
        empty(width, 220, "the chart could not be drawn")
    }
}
