//! Where the deployments service's "now" comes from: the system clock, or (tests and drills) an
//! instant written in a file. It must not hold any other state.

use std::path::PathBuf;

use jiff::Timestamp;

/// Where "now" comes from. Tests (and drills) point the engine at a file holding an RFC 3339
/// instant, so a freeze window can end without waiting for the wall clock.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The machine's wall clock; what the engine uses outside tests.
    #[default]
    System,
    /// The instant written in this file, or the system time while the file is missing/empty.
    File(PathBuf),
}

impl Clock {
    /// The current instant by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or_else(Timestamp::now),
        }
    }
}
