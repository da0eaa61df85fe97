//! Matrix expansion exactly as GitHub documents it: combinations in declaration order (the first
//! key varies slowest), `exclude` first (a partial match removes every combination it matches),
//! then each `include` entry merged into every combination whose original values it does not
//! overwrite, or added as a combination of its own; at most 256 combinations.
//!
//! INTERFACE STUB: filled in by the matrix work.

use indexmap::IndexMap;
use serde_json::Value;

/// One combination: key → value, in declaration order (include-only keys after).
pub type Combination = IndexMap<String, Value>;

/// A matrix with every expression already evaluated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatrixInput {
    pub dimensions: IndexMap<String, Vec<Value>>,
    pub include: Vec<Combination>,
    pub exclude: Vec<Combination>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MatrixError {
    pub message: String,
}

pub const MAX_COMBINATIONS: usize = 256;

impl MatrixInput {
    /// Reads a matrix given as one JSON object (the `${{ fromJSON(...) }}` form).
    pub fn from_value(_value: &Value) -> Result<MatrixInput, MatrixError> {
        Err(MatrixError {
            message: "matrix support is not built yet".into(),
        })
    }
}

/// Expands a matrix into its combinations. An empty matrix yields no combinations.
pub fn expand(_input: &MatrixInput) -> Result<Vec<Combination>, MatrixError> {
    Err(MatrixError {
        message: "matrix support is not built yet".into(),
    })
}
