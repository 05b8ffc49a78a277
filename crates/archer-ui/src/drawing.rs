//! Architecture drawings as SVG, from a space's [`Sketch`]: edge-labelled cells as a row of
//! nodes with an arc per edge, chains as a column of layers with their skips, and any other
//! graph by a small layered layout. Every label is escaped.

use std::fmt::Write;

use archer_space::{CellSketch, LayerSketch, OpGraph, Sketch};

/// `text` safe inside HTML or SVG text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours of the operations, by a stable hash of the name (so one op looks alike in
/// every drawing).
fn op_colour(op: &str) -> &'static str {
    const COLOURS: [&str; 8] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    ];
    if op == "none" {
        return "#bbbbbb";
    }
    let h = op.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    COLOURS[h as usize % COLOURS.len()]
}

/// The drawing, or `None` when the sketch has nothing to draw.
pub fn svg(sketch: &Sketch) -> Option<String> {
    match sketch {
        Sketch::Cells(cells) if !cells.is_empty() => Some(cells_svg(cells)),
        Sketch::Layers(layers) if !layers.is_empty() => Some(layers_svg(layers)),
        Sketch::Graphs(graphs) if graphs.iter().any(|g| g.num_nodes() > 0) => {
            Some(graphs_svg(graphs))
        }
        _ => None,
    }
}

const CELL_GAP: f64 = 170.0;
const CELL_HEIGHT: f64 = 300.0;

fn cells_svg(cells: &[CellSketch]) -> String {
    let width = cells
        .iter()
        .map(|c| 80.0 + CELL_GAP * (c.nodes.len().max(1) - 1) as f64)
        .fold(0.0, f64::max);
    let height = CELL_HEIGHT * cells.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="arch" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    for (k, cell) in cells.iter().enumerate() {
        let top = CELL_HEIGHT * k as f64;
        let mid = top + CELL_HEIGHT / 2.0;
        let x = |n: usize| 40.0 + CELL_GAP * n as f64;
        let _ = write!(
            s,
            r#"<g class="cell" data-cell="{name}"><text x="8" y="{ty:.0}" font-weight="bold">{name}</text>"#,
            name = escape(&cell.name),
            ty = top + 18.0
        );
        // Arcs first, nodes on top. Longer spans bow further; odd spans above, even below.
        for e in &cell.edges {
            let (x0, x1) = (x(e.from), x(e.to));
            let span = e.to.saturating_sub(e.from).max(1);
            let bow = if span == 1 {
                0.0
            } else {
                let h = 34.0 * (span as f64 - 0.4);
                if span % 2 == 0 {
                    -h
                } else {
                    h
                }
            };
            let (cx, cy) = ((x0 + x1) / 2.0, mid + 2.0 * bow);
            let colour = op_colour(&e.op);
            let dash = if e.op == "none" || e.op == "concat" {
                r#" stroke-dasharray="5 4""#
            } else {
                ""
            };
            let _ = write!(
                s,
                r#"<path class="edge" data-from="{f}" data-to="{t}" data-op="{op}" d="M {x0:.1} {mid:.1} Q {cx:.1} {cy:.1} {x1:.1} {mid:.1}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
                f = e.from,
                t = e.to,
                op = escape(&e.op),
            );
            if e.op != "concat" {
                // The curve's midpoint is halfway between the chord and the control point.
                let (lx, ly) = (cx, mid + bow);
                let w = 7.0 * e.op.chars().count() as f64 + 8.0;
                let _ = write!(
                    s,
                    r##"<rect x="{rx:.1}" y="{ry:.1}" width="{w:.1}" height="16" rx="3" fill="#ffffff" stroke="{colour}"/><text class="edge-label" x="{lx:.1}" y="{ty:.1}" text-anchor="middle" fill="#222">{op}</text>"##,
                    rx = lx - w / 2.0,
                    ry = ly - 9.0,
                    ty = ly + 4.0,
                    op = escape(&e.op),
                );
            }
        }
        for (n, label) in cell.nodes.iter().enumerate() {
            // A circle for a short label, a rounded box as wide as a longer one.
            let w = (7.0 * label.chars().count() as f64 + 14.0).max(34.0);
            let _ = write!(
                s,
                r##"<rect class="node" x="{rx:.1}" y="{ry:.1}" width="{w:.1}" height="34" rx="17" fill="#f4f4f4" stroke="#333" stroke-width="1.5"/><text x="{cx:.1}" y="{ty:.1}" text-anchor="middle">{label}</text>"##,
                rx = x(n) - w / 2.0,
                ry = mid - 17.0,
                cx = x(n),
                ty = mid + 4.0,
                label = escape(label),
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

const LAYER_STEP: f64 = 56.0;

fn layers_svg(layers: &[LayerSketch]) -> String {
    // Node 0 is the input, node i + 1 layer i, the last the output.
    let boxes = layers.len() + 2;
    let skips = layers.iter().map(|l| l.skips_from.len()).sum::<usize>();
    let width = 360.0 + 14.0 * skips.min(20) as f64;
    let height = LAYER_STEP * boxes as f64 + 10.0;
    let y = |i: usize| 10.0 + LAYER_STEP * i as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="arch" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    for i in 0..boxes - 1 {
        let _ = write!(
            s,
            r##"<line x1="130" y1="{a:.1}" x2="130" y2="{b:.1}" stroke="#333" stroke-width="1.5"/>"##,
            a = y(i) + 34.0,
            b = y(i + 1)
        );
    }
    let mut lane = 0usize;
    for (i, layer) in layers.iter().enumerate() {
        for &j in &layer.skips_from {
            lane += 1;
            let (a, b) = (y(j + 1) + 17.0, y(i + 1) + 17.0);
            let out = 250.0 + 14.0 * (lane % 20) as f64;
            let _ = write!(
                s,
                r##"<path class="skip" data-from="{j}" data-to="{i}" d="M 250 {a:.1} C {out:.1} {a:.1} {out:.1} {b:.1} 250 {b:.1}" fill="none" stroke="#d62728" stroke-width="1.5"/>"##
            );
        }
    }
    let labels = std::iter::once("input".to_string())
        .chain(layers.iter().map(|l| l.label.clone()))
        .chain(std::iter::once("output".to_string()));
    for (i, label) in labels.enumerate() {
        let op = label.split_whitespace().next().unwrap_or("");
        let colour = if i == 0 || i == boxes - 1 {
            "#666666"
        } else {
            op_colour(op)
        };
        let _ = write!(
            s,
            r##"<rect class="layer" x="10" y="{top:.1}" width="240" height="34" rx="5" fill="#ffffff" stroke="{colour}" stroke-width="2"/><text x="130" y="{ty:.1}" text-anchor="middle">{label}</text>"##,
            top = y(i),
            ty = y(i) + 21.0,
            label = escape(&label),
        );
    }
    s.push_str("</svg>");
    s
}

fn graphs_svg(graphs: &[OpGraph]) -> String {
    let mut parts = Vec::new();
    let mut height = 0.0f64;
    let mut width = 0.0f64;
    for (k, g) in graphs.iter().enumerate() {
        // Layer = longest path from a source; nodes are in topological order already.
        let mut layer = vec![0usize; g.num_nodes()];
        for &(a, b) in &g.edges {
            layer[b] = layer[b].max(layer[a] + 1);
        }
        let columns = layer.iter().copied().max().unwrap_or(0) + 1;
        let mut slot = vec![0usize; g.num_nodes()];
        let mut filled = vec![0usize; columns];
        for n in 0..g.num_nodes() {
            slot[n] = filled[layer[n]];
            filled[layer[n]] += 1;
        }
        let rows = filled.iter().copied().max().unwrap_or(1).max(1);
        let h = 60.0 * rows as f64 + 40.0;
        let top = height;
        let pos = |n: usize| {
            let x = 60.0 + 150.0 * layer[n] as f64;
            let y = top + 40.0 + 60.0 * slot[n] as f64 + 30.0 * (rows - filled[layer[n]]) as f64;
            (x, y)
        };
        let label = |n: usize| match g.labels[n] {
            Some(op) => g.vocabulary.get(op).cloned().unwrap_or_else(|| "?".into()),
            None if g.sources.contains(&n) => {
                format!("in {}", g.sources.iter().position(|&s| s == n).unwrap_or(0))
            }
            None if n == g.sink => "out".into(),
            None => String::new(),
        };
        let mut s = format!(
            r#"<g class="graph"><text x="8" y="{:.0}" font-weight="bold">graph {k}</text>"#,
            top + 16.0
        );
        for &(a, b) in &g.edges {
            let ((x0, y0), (x1, y1)) = (pos(a), pos(b));
            let _ = write!(
                s,
                r##"<line class="edge" x1="{x0:.1}" y1="{y0:.1}" x2="{x1:.1}" y2="{y1:.1}" stroke="#555" stroke-width="1.5"/>"##
            );
        }
        for n in 0..g.num_nodes() {
            let (x, y) = pos(n);
            let text = label(n);
            let w = (7.0 * text.chars().count() as f64 + 14.0).max(34.0);
            let colour = g.labels[n].map_or("#666666", |op| {
                op_colour(g.vocabulary.get(op).map_or("", |s| s.as_str()))
            });
            let _ = write!(
                s,
                r##"<rect class="node" x="{rx:.1}" y="{ry:.1}" width="{w:.1}" height="24" rx="5" fill="#ffffff" stroke="{colour}" stroke-width="2"/><text x="{x:.1}" y="{ty:.1}" text-anchor="middle">{t}</text>"##,
                rx = x - w / 2.0,
                ry = y - 12.0,
                ty = y + 4.0,
                t = escape(&text),
            );
        }
        s.push_str("</g>");
        parts.push(s);
        height += h;
        width = width.max(120.0 + 150.0 * columns as f64);
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="arch" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">{}</svg>"#,
        parts.concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_space::{Nb201Space, SearchSpace};

    #[test]
    fn an_nb201_cell_draws_six_labelled_edges() {
        let space = Nb201Space::default();
        let a = space
            .parse(
                "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
            )
            .unwrap();
        let svg = svg(&space.sketch(&a)).unwrap();
        assert_eq!(svg.matches(r#"class="edge-label""#).count(), 6);
        assert_eq!(svg.matches(r#"class="node""#).count(), 4);
    }

    #[test]
    fn labels_are_escaped() {
        let sketch = Sketch::Cells(vec![CellSketch {
            name: "<b>cell</b>".into(),
            nodes: vec!["<i>0</i>".into(), "1".into()],
            edges: vec![archer_space::SketchEdge {
                from: 0,
                to: 1,
                op: "<script>alert(1)</script>".into(),
            }],
        }]);
        let svg = svg(&sketch).unwrap();
        assert!(!svg.contains("<script>") && !svg.contains("<b>") && !svg.contains("<i>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
