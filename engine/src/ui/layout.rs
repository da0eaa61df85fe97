//! The job graph of a run laid out for drawing (a layered, Sugiyama-style layout): each job goes
//! in the layer of its longest `needs` path from a root, edges that span several layers pass
//! through placeholder points, and the order inside a layer is improved by barycentre sweeps
//! (down and up) to cut crossings. Matrix legs are one node (the job id); the caller draws them
//! grouped.
//!
//! Edges are exactly the `needs` the caller gives, never more (no edge implies a dependency that
//! is not there) and never fewer. This file is pure: no store, no HTTP, no SVG.

use std::collections::HashMap;

/// Width of a node box, in SVG user units.
pub const NODE_WIDTH: f64 = 180.0;
/// Height of a node box.
pub const NODE_HEIGHT: f64 = 44.0;
const GAP_X: f64 = 70.0;
const GAP_Y: f64 = 18.0;
const MARGIN: f64 = 10.0;
const SWEEPS: usize = 6;

/// A job to place: its id and the ids it needs (unknown ids are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphJob {
    /// The job's id in the workflow, e.g. `build`.
    pub id: String,
    /// The ids of the jobs it needs, as written in its `needs:`.
    pub needs: Vec<String>,
}

/// A placed job: its box's top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    /// The job's id, as given in [`GraphJob::id`].
    pub id: String,
    /// The job's column, counted from 0: the length of its longest `needs` path from a root.
    pub layer: usize,
    /// The job's row inside its layer, counted from 0 at the top.
    pub order: usize,
    /// The box's left edge, in SVG user units.
    pub x: f64,
    /// The box's top edge, in SVG user units.
    pub y: f64,
}

/// An edge from `from` (a dependency) to `to` (the job that needs it), through `points`
/// (source's right side, placeholder points, target's left side).
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEdge {
    /// The id of the job that is needed.
    pub from: String,
    /// The id of the job whose `needs` names `from`.
    pub to: String,
    /// The polyline to draw, as `(x, y)` points in SVG user units.
    pub points: Vec<(f64, f64)>,
}

/// The whole drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Every job's box, in the order the jobs were given.
    pub nodes: Vec<PlacedNode>,
    /// One edge per `needs` entry that names a known job.
    pub edges: Vec<PlacedEdge>,
    /// The drawing's total width (margins included), in SVG user units.
    pub width: f64,
    /// The drawing's total height (margins included), in SVG user units.
    pub height: f64,
}

/// Lays out `jobs` (in declaration order). Job ids in `needs` compare case-insensitively, as
/// GitHub compares them.
pub fn layout(jobs: &[GraphJob]) -> Layout {
    let index: HashMap<String, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| (job.id.to_lowercase(), i))
        .collect();
    // Direct dependencies by index, without repeats and self-loops.
    let needs: Vec<Vec<usize>> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let mut found: Vec<usize> = Vec::new();
            for need in &job.needs {
                if let Some(&n) = index.get(&need.to_lowercase())
                    && n != i
                    && !found.contains(&n)
                {
                    found.push(n);
                }
            }
            found
        })
        .collect();
    let layers = longest_path_layers(&needs);

    // Vertices: the jobs, then one placeholder per layer crossed by a long edge.
    // `chain[e]` lists the vertices edge `e` passes through, source first.
    let mut vertex_layer: Vec<usize> = layers.clone();
    let mut edges: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for (to, deps) in needs.iter().enumerate() {
        for &from in deps {
            let mut chain = vec![from];
            for layer in layers[from] + 1..layers[to] {
                vertex_layer.push(layer);
                chain.push(vertex_layer.len() - 1);
            }
            chain.push(to);
            edges.push((from, to, chain));
        }
    }
    let layer_count = vertex_layer.iter().max().map_or(0, |max| max + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (vertex, &layer) in vertex_layer.iter().enumerate() {
        rows[layer].push(vertex);
    }
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); vertex_layer.len()];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); vertex_layer.len()];
    for (_, _, chain) in &edges {
        for pair in chain.windows(2) {
            up[pair[1]].push(pair[0]);
            down[pair[0]].push(pair[1]);
        }
    }
    order_by_barycentre(&mut rows, &up, &down, vertex_layer.len());

    let tallest = rows.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let column_height = |count: usize| count as f64 * (NODE_HEIGHT + GAP_Y) - GAP_Y;
    let mut position = vec![(0.0, 0.0); vertex_layer.len()];
    let mut order_of = vec![0; vertex_layer.len()];
    for (layer, row) in rows.iter().enumerate() {
        let offset = (column_height(tallest as usize) - column_height(row.len())) / 2.0;
        for (order, &vertex) in row.iter().enumerate() {
            position[vertex] = (
                MARGIN + layer as f64 * (NODE_WIDTH + GAP_X),
                MARGIN + offset.max(0.0) + order as f64 * (NODE_HEIGHT + GAP_Y),
            );
            order_of[vertex] = order;
        }
    }
    let nodes = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| PlacedNode {
            id: job.id.clone(),
            layer: layers[i],
            order: order_of[i],
            x: position[i].0,
            y: position[i].1,
        })
        .collect();
    let edges = edges
        .into_iter()
        .map(|(from, to, chain)| {
            let mut points = Vec::with_capacity(chain.len());
            for (k, &vertex) in chain.iter().enumerate() {
                let (x, y) = position[vertex];
                let middle = y + NODE_HEIGHT / 2.0;
                if k == 0 {
                    points.push((x + NODE_WIDTH, middle));
                } else if k == chain.len() - 1 {
                    points.push((x, middle));
                } else {
                    // A placeholder is crossed straight through its box's width.
                    points.push((x, middle));
                    points.push((x + NODE_WIDTH, middle));
                }
            }
            PlacedEdge {
                from: jobs[from].id.clone(),
                to: jobs[to].id.clone(),
                points,
            }
        })
        .collect();
    Layout {
        nodes,
        edges,
        width: 2.0 * MARGIN + layer_count as f64 * (NODE_WIDTH + GAP_X)
            - GAP_X.min(layer_count as f64 * GAP_X),
        height: 2.0 * MARGIN + column_height(tallest as usize).max(0.0),
    }
}

/// Layer of each job: 0 without needs, else one more than its deepest dependency. A cycle
/// (which validation refuses before a run exists) cannot loop: depth is capped by the job count.
fn longest_path_layers(needs: &[Vec<usize>]) -> Vec<usize> {
    let mut layers = vec![0usize; needs.len()];
    for _ in 0..needs.len() {
        let mut changed = false;
        for (job, deps) in needs.iter().enumerate() {
            let layer = deps.iter().map(|&d| layers[d] + 1).max().unwrap_or(0);
            if layer > layers[job] && layer < needs.len() {
                layers[job] = layer;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    layers
}

/// Reorders each layer by the mean position of its neighbours in the layer before (sweeping
/// down) or after (sweeping up); vertices without neighbours keep their place. Stable, so the
/// declaration order breaks ties.
fn order_by_barycentre(
    rows: &mut [Vec<usize>],
    up: &[Vec<usize>],
    down: &[Vec<usize>],
    vertices: usize,
) {
    let mut place = vec![0.0f64; vertices];
    let record = |rows: &[Vec<usize>], place: &mut [f64]| {
        for row in rows {
            for (order, &vertex) in row.iter().enumerate() {
                place[vertex] = order as f64;
            }
        }
    };
    record(rows, &mut place);
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let layers: Vec<usize> = if downward {
            (1..rows.len()).collect()
        } else {
            (0..rows.len().saturating_sub(1)).rev().collect()
        };
        for layer in layers {
            let neighbours = if downward { up } else { down };
            let mut keyed: Vec<(f64, usize)> = rows[layer]
                .iter()
                .map(|&vertex| {
                    let around = &neighbours[vertex];
                    let key = if around.is_empty() {
                        place[vertex]
                    } else {
                        around.iter().map(|&n| place[n]).sum::<f64>() / around.len() as f64
                    };
                    (key, vertex)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[layer] = keyed.into_iter().map(|(_, vertex)| vertex).collect();
            for (order, &vertex) in rows[layer].iter().enumerate() {
                place[vertex] = order as f64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(spec: &[(&str, &[&str])]) -> Vec<GraphJob> {
        spec.iter()
            .map(|(id, needs)| GraphJob {
                id: id.to_string(),
                needs: needs.iter().map(|n| n.to_string()).collect(),
            })
            .collect()
    }

    fn layer_of(layout: &Layout, id: &str) -> usize {
        layout.nodes.iter().find(|n| n.id == id).unwrap().layer
    }

    /// Every drawn edge is a declared `needs`, and every declared `needs` is drawn once.
    fn edges_match_needs(input: &[GraphJob], layout: &Layout) {
        let mut declared: Vec<(String, String)> = input
            .iter()
            .flat_map(|job| {
                job.needs
                    .iter()
                    // A self-dependency is no edge (validation refuses it anyway).
                    .filter(|n| !n.eq_ignore_ascii_case(&job.id))
                    .filter(|n| input.iter().any(|j| j.id.eq_ignore_ascii_case(n)))
                    .map(move |n| {
                        let from = input.iter().find(|j| j.id.eq_ignore_ascii_case(n)).unwrap();
                        (from.id.clone(), job.id.clone())
                    })
            })
            .collect();
        declared.sort();
        declared.dedup();
        let mut drawn: Vec<(String, String)> = layout
            .edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect();
        drawn.sort();
        assert_eq!(drawn, declared);
    }

    #[test]
    fn layers_follow_the_longest_path() {
        let input = jobs(&[
            ("build", &[]),
            ("lint", &[]),
            ("test", &["build"]),
            ("package", &["test", "build"]),
            ("deploy", &["package", "lint"]),
        ]);
        let layout = layout(&input);
        assert_eq!(layer_of(&layout, "build"), 0);
        assert_eq!(layer_of(&layout, "lint"), 0);
        assert_eq!(layer_of(&layout, "test"), 1);
        assert_eq!(layer_of(&layout, "package"), 2);
        assert_eq!(layer_of(&layout, "deploy"), 3);
        edges_match_needs(&input, &layout);
        // Edges go left to right and start/end on the boxes they join.
        for edge in &layout.edges {
            let first = edge.points.first().unwrap();
            let last = edge.points.last().unwrap();
            let from = layout.nodes.iter().find(|n| n.id == edge.from).unwrap();
            let to = layout.nodes.iter().find(|n| n.id == edge.to).unwrap();
            assert_eq!(first.0, from.x + NODE_WIDTH);
            assert_eq!(last.0, to.x);
            assert!(edge.points.windows(2).all(|p| p[0].0 <= p[1].0));
        }
    }

    #[test]
    fn no_edge_without_a_needs_and_transitive_needs_stay_drawn() {
        let input = jobs(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["b", "A"]), // transitive and case-insensitive
            ("d", &[]),
            ("e", &["nope", "e"]), // unknown and self dependencies are not edges
        ]);
        let layout = layout(&input);
        edges_match_needs(&input, &layout);
        assert_eq!(layout.edges.len(), 3);
        assert!(
            layout
                .edges
                .iter()
                .all(|e| e.to != "d" && e.from != "d" && e.to != "e")
        );
        // The long edge a → c passes through a placeholder in layer 1.
        let long = layout
            .edges
            .iter()
            .find(|e| e.from == "a" && e.to == "c")
            .unwrap();
        assert_eq!(long.points.len(), 4);
    }

    #[test]
    fn barycentre_order_uncrosses_edges() {
        // Declared so that the naive order crosses: x1→y2, x2→y1.
        let input = jobs(&[("x1", &[]), ("x2", &[]), ("y1", &["x2"]), ("y2", &["x1"])]);
        let layout = layout(&input);
        let order = |id: &str| layout.nodes.iter().find(|n| n.id == id).unwrap().order;
        assert_eq!(order("x1") < order("x2"), order("y2") < order("y1"));
        edges_match_needs(&input, &layout);
    }

    #[test]
    fn nodes_never_overlap() {
        let input = jobs(&[
            ("a", &[]),
            ("b", &[]),
            ("c", &[]),
            ("d", &["a", "b", "c"]),
            ("e", &["a"]),
            ("f", &["d", "e"]),
        ]);
        let layout = layout(&input);
        for (i, a) in layout.nodes.iter().enumerate() {
            for b in &layout.nodes[i + 1..] {
                let apart = (a.x - b.x).abs() >= NODE_WIDTH || (a.y - b.y).abs() >= NODE_HEIGHT;
                assert!(apart, "{} and {} overlap", a.id, b.id);
            }
            assert!(a.x + NODE_WIDTH <= layout.width && a.y + NODE_HEIGHT <= layout.height);
        }
    }

    #[test]
    fn empty_and_cyclic_inputs_do_not_panic() {
        assert!(layout(&[]).nodes.is_empty());
        let cyclic = jobs(&[("a", &["b"]), ("b", &["a"])]);
        assert_eq!(layout(&cyclic).nodes.len(), 2);
    }
}
