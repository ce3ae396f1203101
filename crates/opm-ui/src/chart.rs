//! Server-rendered SVG line charts (no script, no library): one line per group, each with its
//! own dash pattern and point marker as well as its colour, so the chart reads without colour.

use maud::{Markup, html};

/// One line: a name and a value per bucket (`None`: no data in that bucket).
pub struct Series {
    pub name: String,
    pub points: Vec<Option<f64>>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
const COLOURS: [&str; 6] = ["#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e"];
const DASHES: [&str; 6] = ["", "6 3", "2 3", "10 3 2 3", "1 2", "4 4"];

/// A line chart of `series` over `labels` (one per bucket), values formatted by `format`.
pub fn line_chart(title: &str, labels: &[String], series: &[Series], format: fn(f64) -> String) -> Markup {
    let max = series.iter().flat_map(|s| s.points.iter().flatten()).fold(0.0_f64, |a, b| a.max(*b));
    let max = if max <= 0.0 { 1.0 } else { max * 1.1 };
    let n = labels.len().max(1);
    let x = |i: usize| LEFT + (WIDTH - LEFT - RIGHT) * if n == 1 { 0.5 } else { i as f64 / (n - 1) as f64 };
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v / max);
    let ticks = [0.0, 0.5, 1.0];
    let id = title.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-labelledby={ "chart-" (id) } {
                title id={ "chart-" (id) } { (title) }
                @for t in ticks {
                    @let ty = y(max / 1.1 * t);
                    line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(ty) y2=(ty) stroke="#d4d4d8" stroke-width="1" {}
                    text x=(LEFT - 6.0) y=(ty + 4.0) text-anchor="end" font-size="11" fill="#3f3f46" { (format(max / 1.1 * t)) }
                }
                @for (i, label) in labels.iter().enumerate() {
                    @if i == 0 || i + 1 == labels.len() || (labels.len() > 6 && i % (labels.len() / 4).max(1) == 0) {
                        text x=(x(i)) y=(HEIGHT - 8.0) text-anchor="middle" font-size="11" fill="#3f3f46" { (label) }
                    }
                }
                @for (k, s) in series.iter().enumerate() {
                    @let colour = COLOURS[k % COLOURS.len()];
                    @for segment in segments(&s.points) {
                        polyline fill="none" stroke=(colour) stroke-width="2" stroke-dasharray=(DASHES[k % DASHES.len()])
                            points=(segment.iter().map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v))).collect::<Vec<_>>().join(" ")) {}
                    }
                    @for (i, v) in s.points.iter().enumerate() {
                        @if let Some(v) = v { (marker(k, x(i), y(*v), colour)) }
                    }
                }
            }
            figcaption {
                strong { (title) } " "
                @for (k, s) in series.iter().enumerate() {
                    span.legend {
                        svg.key viewBox="0 0 30 10" width="30" height="10" aria-hidden="true" {
                            line x1="0" x2="30" y1="5" y2="5" stroke=(COLOURS[k % COLOURS.len()]) stroke-width="2" stroke-dasharray=(DASHES[k % DASHES.len()]) {}
                            (marker(k, 15.0, 5.0, COLOURS[k % COLOURS.len()]))
                        }
                        " " (s.name)
                    }
                }
            }
        }
    }
}

/// Runs of consecutive points with data.
fn segments(points: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut current: Vec<(usize, f64)> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        match p {
            Some(v) => current.push((i, *v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A point marker whose shape depends on the series (circle, square, triangle, …).
fn marker(k: usize, x: f64, y: f64, colour: &str) -> Markup {
    match k % 3 {
        0 => html! { circle cx=(x) cy=(y) r="3" fill=(colour) {} },
        1 => html! { rect x=(x - 3.0) y=(y - 3.0) width="6" height="6" fill=(colour) {} },
        _ => {
            html! { polygon points=(format!("{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}", x, y - 4.0, x - 4.0, y + 3.0, x + 4.0, y + 3.0)) fill=(colour) {} }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_lines() {
        let s = segments(&[Some(1.0), None, Some(2.0), Some(3.0)]);
        assert_eq!(s, vec![vec![(0, 1.0)], vec![(2, 2.0), (3, 3.0)]]);
    }

    #[test]
    fn renders_an_svg_per_series() {
        let series = vec![Series { name: "v1".into(), points: vec![Some(1.0), Some(2.0)] }];
        let svg = line_chart("Calls", &["a".into(), "b".into()], &series, |v| format!("{v:.0}")).into_string();
        assert!(svg.contains("<svg") && svg.contains("polyline") && svg.contains("v1"));
        assert!(!svg.contains("style="), "inline styles are blocked by the CSP");
    }
}
