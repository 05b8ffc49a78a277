//! Plots as SVG: anytime curves (mean per strategy with a ±1 std band) and Pareto fronts.

use std::path::Path;

use plotters::prelude::*;

use crate::nb201::CurvePoint;
use crate::BenchError;

const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws one line (mean) and band (mean ± std) per strategy found in `points`, in order of
/// first appearance. The y range covers the bands after the first tenth of the x range,
/// where the curves are still climbing steeply.
pub fn anytime_svg(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[CurvePoint],
) -> Result<(), BenchError> {
    let mut strategies: Vec<&str> = Vec::new();
    for p in points {
        if !strategies.contains(&p.strategy.as_str()) {
            strategies.push(&p.strategy);
        }
    }
    let finite: Vec<&CurvePoint> = points
        .iter()
        .filter(|p| p.mean_test_acc.is_finite())
        .collect();
    if finite.is_empty() {
        return Ok(());
    }
    let x_max = finite.iter().map(|p| p.x).fold(f64::MIN, f64::max);
    let x_min = finite.iter().map(|p| p.x).fold(f64::MAX, f64::min).min(0.0);
    let tail: Vec<&&CurvePoint> = finite
        .iter()
        .filter(|p| p.x >= x_min + 0.1 * (x_max - x_min))
        .collect();
    let lo = tail
        .iter()
        .map(|p| p.mean_test_acc - p.std_test_acc.max(0.0))
        .fold(f64::MAX, f64::min);
    let hi = tail
        .iter()
        .map(|p| p.mean_test_acc + p.std_test_acc.max(0.0))
        .fold(f64::MIN, f64::max);
    let pad = ((hi - lo) * 0.05).max(if hi - lo < 1.0 { 0.005 } else { 0.05 });
    // Rising curves leave the lower right free; falling ones (regret) the upper right.
    let first = finite.first().map_or(0.0, |p| p.mean_test_acc);
    let last = finite.last().map_or(0.0, |p| p.mean_test_acc);
    let lower_right = last >= first;
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| {
                if (hi - lo) < 1.0 {
                    format!("{y:.3}")
                } else {
                    format!("{y:.1}")
                }
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, s) in strategies.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let mine: Vec<&&CurvePoint> = finite.iter().filter(|p| p.strategy == *s).collect();
            let upper: Vec<(f64, f64)> = mine
                .iter()
                .map(|p| (p.x, p.mean_test_acc + p.std_test_acc))
                .collect();
            let mut band = upper.clone();
            band.extend(
                mine.iter()
                    .rev()
                    .map(|p| (p.x, p.mean_test_acc - p.std_test_acc)),
            );
            chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.15))))?;
            chart
                .draw_series(LineSeries::new(
                    mine.iter().map(|p| (p.x, p.mean_test_acc)),
                    colour.stroke_width(2),
                ))?
                .label(format!("{s} (n = {})", mine.last().map_or(0, |p| p.runs)))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(if lower_right {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| BenchError::io(path, e))
}

/// One series of points for [`front_svg`].
pub struct FrontSeries<'a> {
    pub label: String,
    pub points: &'a [(f64, f64)],
    /// Drawn as a staircase line through the points (sorted by x) as well as markers.
    pub line: bool,
}

/// A scatter of Pareto fronts in two objectives (original units), e.g. a run's front against
/// the benchmark's true front.
pub fn front_svg(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[FrontSeries],
) -> Result<(), BenchError> {
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    if all.is_empty() {
        return Ok(());
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let px = ((x1 - x0) * 0.05).max(1e-6);
    let py = ((y1 - y0) * 0.05).max(1e-6);
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, 620)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let colour = if i == 0 {
                RGBColor(150, 150, 150)
            } else {
                COLOURS[(i - 1) % COLOURS.len()]
            };
            let mut pts: Vec<(f64, f64)> = s.points.to_vec();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            if s.line {
                chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(1)))?;
            }
            let size = if i == 0 { 3 } else { 5 };
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, size, colour.filled())))?
                .label(format!("{} ({} points)", s.label, pts.len()))
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| BenchError::io(path, e))
}
