//! A commit's tree as a gzipped tar archive: what a runner downloads to run an action. Files keep
//! their executable bit, symbolic links stay links; submodules are left out (GitHub's action
//! archives have none either). The archive's paths are relative to the repository root.

use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use git2::{ObjectType, Oid, Repository, Tree};

use super::ActionError;

/// Builds the archive of commit `sha` of the bare repository at `mirror`.
pub fn tar_gz_of_commit(mirror: &Path, sha: &str) -> Result<Vec<u8>, ActionError> {
    let repo = Repository::open_bare(mirror).map_err(|error| {
        ActionError::NotFound(format!(
            "open the action mirror {}: {error}",
            mirror.display()
        ))
    })?;
    let oid = Oid::from_str(sha)
        .map_err(|_| ActionError::Invalid(format!("`{sha}` is not a commit sha")))?;
    let tree = repo
        .find_commit(oid)
        .and_then(|commit| commit.tree())
        .map_err(|error| {
            ActionError::NotFound(format!(
                "commit {sha} is not in {}: {error}",
                mirror.display()
            ))
        })?;
    // Fast compression: the archive is made once per runner cache miss and read at once.
    let encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    append_tree(&repo, &tree, "", &mut builder)?;
    let encoder = builder
        .into_inner()
        .map_err(|error| ActionError::Fetch(format!("write the archive: {error}")))?;
    encoder
        .finish()
        .map_err(|error| ActionError::Fetch(format!("write the archive: {error}")))
}

fn append_tree(
    repo: &Repository,
    tree: &Tree,
    prefix: &str,
    builder: &mut tar::Builder<GzEncoder<Vec<u8>>>,
) -> Result<(), ActionError> {
    let failed =
        |error: &dyn std::fmt::Display| ActionError::Fetch(format!("write the archive: {error}"));
    for entry in tree.iter() {
        let Ok(name) = entry.name() else { continue };
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let subtree = repo.find_tree(entry.id()).map_err(|e| failed(&e))?;
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{path}/"), std::io::empty())
                    .map_err(|e| failed(&e))?;
                append_tree(repo, &subtree, &path, builder)?;
            }
            Some(ObjectType::Blob) => {
                let blob = repo.find_blob(entry.id()).map_err(|e| failed(&e))?;
                let mode = entry.filemode();
                let mut header = tar::Header::new_gnu();
                if mode == 0o120000 {
                    let target = String::from_utf8_lossy(blob.content()).to_string();
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder
                        .append_link(&mut header, &path, target)
                        .map_err(|e| failed(&e))?;
                } else {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 });
                    header.set_size(blob.content().len() as u64);
                    builder
                        .append_data(&mut header, &path, blob.content())
                        .map_err(|e| failed(&e))?;
                }
            }
            // Submodules (commits) and anything else are not part of an action's files.
            _ => {}
        }
    }
    Ok(())
}
