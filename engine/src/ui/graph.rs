//! A run's job graph as inline SVG: the boxes and edges `layout` placed, each box coloured by its
//! job's state (a CSS class), a matrix job drawn as one box with its legs counted and a dot per
//! leg, each box a link to the job's entry on the page. Every text is escaped here.

use std::fmt::Write as _;

use super::ansi::escape_into;
use super::layout::{GraphJob, NODE_HEIGHT, NODE_WIDTH, layout};
use super::runs::JobGroup;

/// The SVG element of the graph of `jobs` (in declaration order) with the states of `groups`.
pub(super) fn svg(jobs: &[GraphJob], groups: &[JobGroup], run_id: &str) -> String {
    let placed = layout(jobs);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"graph\" role=\"img\" aria-label=\"job graph of run {}\" viewBox=\"0 0 {:.0} {:.0}\" width=\"{:.0}\" height=\"{:.0}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(run_id),
        placed.width,
        placed.height,
        placed.width,
        placed.height
    );
    for edge in &placed.edges {
        let mut path = String::new();
        for (i, pair) in edge.points.windows(2).enumerate() {
            let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
            if i == 0 {
                let _ = write!(path, "M{x1:.1},{y1:.1}");
            }
            if (y1 - y2).abs() < 0.5 {
                let _ = write!(path, " L{x2:.1},{y2:.1}");
            } else {
                let middle = (x1 + x2) / 2.0;
                let _ = write!(
                    path,
                    " C{middle:.1},{y1:.1} {middle:.1},{y2:.1} {x2:.1},{y2:.1}"
                );
            }
        }
        let _ = write!(
            out,
            "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"{path}\"/>",
            escape(&edge.from),
            escape(&edge.to)
        );
    }
    for node in &placed.nodes {
        let group = groups.iter().find(|group| group.id == node.id);
        let state = group.map_or("pending", |group| group.state);
        let name = group.map_or(node.id.as_str(), |group| group.name.as_str());
        let legs = group.map_or(0, |group| group.legs.len());
        let label = if legs > 1 {
            format!("{name} ×{legs}")
        } else {
            name.to_string()
        };
        let shown: String = if label.chars().count() > 24 {
            label.chars().take(23).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = write!(
            out,
            "<a href=\"#job-{}\" class=\"node {state}\" data-job=\"{}\"><title>{} — {state}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"7\"/><circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"6\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            escape(&node.id),
            escape(&node.id),
            escape(&label),
            node.x,
            node.y,
            node.x + 16.0,
            node.y + NODE_HEIGHT / 2.0,
            node.x + 30.0,
            node.y + NODE_HEIGHT / 2.0 + 5.0,
            escape(&shown)
        );
        if let Some(group) = group.filter(|group| group.legs.len() > 1) {
            for (i, leg) in group.legs.iter().take(20).enumerate() {
                let _ = write!(
                    out,
                    "<circle class=\"leg {}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>",
                    leg.state,
                    node.x + 30.0 + i as f64 * 8.0,
                    node.y + NODE_HEIGHT - 7.0
                );
            }
        }
        out.push_str("</a>");
    }
    out.push_str("</svg>");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_in_the_svg() {
        let jobs = vec![GraphJob {
            id: "<script>x</script>".into(),
            needs: vec![],
        }];
        let svg = svg(&jobs, &[], "\"><script>");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;x&lt;/script&gt;"));
    }
}
