//! `slipway run`'s remote actions: pinned against the engine's mirrors in a data dir (no
//! engine needs to run, nothing is fetched from the network) and read from them, or found as
//! plain checkouts in `--action-dir` folders (the executor looks there first).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use runner::executor::{ActionArchives, ArtifactFuture};
use workflows::Workflow;

/// The archives of the mirrors under a data dir.
#[derive(Debug, Clone)]
pub(crate) struct MirrorArchives {
    pub data_dir: PathBuf,
}

impl ActionArchives for MirrorArchives {
    fn archive<'a>(&'a self, repository: &'a str, sha: &'a str) -> ArtifactFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let data_dir = self.data_dir.clone();
            let repository = repository.to_string();
            let sha = sha.to_string();
            tokio::task::spawn_blocking(move || {
                engine::actions::archive_from_mirror(&data_dir, &repository, &sha)
                    .map_err(|error| error.to_string())
            })
            .await
            .map_err(|error| error.to_string())?
        })
    }
}

/// The workflow's remote actions pinned against the mirrors under `data_dir` (those not
/// mirrored are left out: the executor looks for them in the action directories, and fails the
/// step with the not-available message otherwise).
pub(crate) fn pin(data_dir: &Path, workflow: &Workflow) -> IndexMap<String, String> {
    let uses = engine::actions::resolve::remote_uses_of(workflow);
    if uses.is_empty() || !data_dir.join("actions").is_dir() {
        return IndexMap::new();
    }
    engine::actions::pin_from_mirrors(data_dir, uses).pinned
}
