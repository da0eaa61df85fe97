//! The artifacts of the toolkit's v4 protocol (`actions/upload-artifact@v4`,
//! `download-artifact@v4`, anything built on `@actions/artifact` 2.x): one blob per artifact (a
//! zip, or one raw file), sent the way Azure Blob Storage takes a block blob, kept in the same
//! run folders as every other artifact (`super::RunArtifacts`), with the same limits, retention
//! and sweep.
//!
//! A blob upload of job `J` (lease `F`) for artifact `N` lives under
//! `<family>/.staging/J-F/`: `.results/N.json` says what `CreateArtifact` opened (the blob's file
//! name, content type, retention), `.blocks/N/` holds the blocks sent so far (one file each,
//! named by the hex of the block id), and `N/<file>` the blob once whole (a block list
//! assembled, or one `PUT`). `FinalizeArtifact` checks its size and SHA-256 and commits the
//! folder through `RunArtifacts::commit`, with a `.blob.json` beside the file saying it is a blob
//! artifact (what `ListArtifacts` shows). The sweep removes staging nobody finalized.
//!
//! Plain blocking file work, no HTTP (that is `api::results`).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use protocol::artifacts::{ArtifactFile, ArtifactManifest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    ArtifactError, DEFAULT_RETENTION_DAYS, RunArtifacts, check_name, hex_digest, io_error,
    read_manifest,
};

/// The sidecar that marks a committed artifact as a blob artifact.
const BLOB_SIDECAR: &str = ".blob.json";
const PENDING_DIR: &str = ".results";
const BLOCKS_DIR: &str = ".blocks";
/// The longest block id Azure accepts (64 bytes before base64, so 88 characters after).
const MAX_BLOCK_ID_CHARS: usize = 100;

/// What `CreateArtifact` opened, until it is finalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBlob {
    /// The blob's file name inside the artifact (`NAME.zip`, or the raw file's name).
    pub file: String,
    /// The blob's content type (what a download answers with).
    pub content_type: String,
    /// Days to keep it, when the job asked (capped at the default).
    pub retention_days: Option<u32>,
}

/// What marks a committed blob artifact: its single file and content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// The blob's file name inside the artifact folder.
    pub file: String,
    /// The content type a download answers with.
    pub content_type: String,
}

/// The blob upload of one artifact by one lease of one job.
#[derive(Debug, Clone)]
pub struct BlobUpload {
    place: RunArtifacts,
    job_id: String,
    fencing_token: u64,
    name: String,
}

impl BlobUpload {
    /// The upload of `name` by lease `fencing_token` of `job_id` in `place` (nothing touched yet).
    pub fn new(
        place: RunArtifacts,
        job_id: &str,
        fencing_token: u64,
        name: &str,
    ) -> Result<BlobUpload, ArtifactError> {
        check_name(name)?;
        Ok(BlobUpload {
            place,
            job_id: job_id.to_string(),
            fencing_token,
            name: name.to_string(),
        })
    }

    fn lease_dir(&self) -> PathBuf {
        self.place
            .family_dir
            .join(super::STAGING_DIR)
            .join(format!("{}-{}", self.job_id, self.fencing_token))
    }

    fn pending_path(&self) -> PathBuf {
        self.lease_dir()
            .join(PENDING_DIR)
            .join(format!("{}.json", self.name))
    }

    fn blocks_dir(&self) -> PathBuf {
        self.lease_dir().join(BLOCKS_DIR).join(&self.name)
    }

    /// Opens the upload: refuses a name this run attempt already has (GitHub's rule; a later
    /// attempt replaces an earlier one's), then records `pending` and clears what an earlier
    /// `CreateArtifact` of the same name by this lease left.
    pub fn create(&self, pending: &PendingBlob) -> Result<(), ArtifactError> {
        super::check_path(&self.name, &pending.file)?;
        if let Some(existing) =
            read_manifest::<ArtifactManifest>(&self.place.family_dir.join(&self.name))?
            && existing.attempt >= self.place.attempt
        {
            return Err(ArtifactError::Exists {
                name: self.name.clone(),
            });
        }
        let staged = self
            .place
            .staging(&self.job_id, self.fencing_token, &self.name)?;
        remove_dir_contents(&staged)?;
        let blocks = self.blocks_dir();
        if blocks.exists() {
            fs::remove_dir_all(&blocks).map_err(|source| io_error(&blocks, source))?;
        }
        let path = self.pending_path();
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
        }
        let bytes = serde_json::to_vec(pending)
            .map_err(|error| io_error(&path, io::Error::other(error)))?;
        fs::write(&path, bytes).map_err(|source| io_error(&path, source))
    }

    /// What `create` recorded; `NotFound` when this lease opened no such upload.
    pub fn pending(&self) -> Result<PendingBlob, ArtifactError> {
        let path = self.pending_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| io_error(&path, io::Error::other(error))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Err(ArtifactError::NotFound {
                name: self.name.clone(),
                run: self.place.run_id.to_string(),
            }),
            Err(source) => Err(io_error(&path, source)),
        }
    }

    /// Where the block `block_id` is written, and how many bytes the blocks other than it hold
    /// already (for the size limit). The id must be Azure's base64 text.
    pub fn block_path(&self, block_id: &str) -> Result<(PathBuf, u64), ArtifactError> {
        self.pending()?;
        let file = block_file_name(block_id).ok_or_else(|| ArtifactError::InvalidPath {
            name: self.name.clone(),
            path: block_id.to_string(),
            reason: "a block id is base64 text of at most 64 bytes",
        })?;
        let dir = self.blocks_dir();
        fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
        let mut others = 0u64;
        for entry in fs::read_dir(&dir).map_err(|source| io_error(&dir, source))? {
            let entry = entry.map_err(|source| io_error(&dir, source))?;
            if entry.file_name().to_string_lossy() != file {
                others += entry.metadata().map(|meta| meta.len()).unwrap_or(0);
            }
        }
        Ok((dir.join(file), others))
    }

    /// Where a whole blob sent in one `PUT` is written.
    pub fn blob_path(&self) -> Result<PathBuf, ArtifactError> {
        let pending = self.pending()?;
        let staged = self
            .place
            .staging(&self.job_id, self.fencing_token, &self.name)?;
        Ok(staged.join(super::check_path(&self.name, &pending.file)?))
    }

    /// Joins the blocks `block_ids` (in order) into the blob, as Azure's `Put Block List` does;
    /// blocks not named are dropped. Refuses an unknown block and a blob over `limit` bytes.
    /// The blob's size.
    pub fn commit_blocks(&self, block_ids: &[String], limit: u64) -> Result<u64, ArtifactError> {
        let target = self.blob_path()?;
        let partial = target.with_extension("partial");
        let dir = self.blocks_dir();
        let mut out = io::BufWriter::new(
            fs::File::create(&partial).map_err(|source| io_error(&partial, source))?,
        );
        let mut size = 0u64;
        let mut buffer = vec![0u8; 256 * 1024];
        for id in block_ids {
            let path = block_file_name(id)
                .map(|file| dir.join(file))
                .filter(|path| path.is_file())
                .ok_or_else(|| ArtifactError::Mismatch {
                    name: self.name.clone(),
                    path: self.pending().map(|p| p.file).unwrap_or_default(),
                    problem: format!("lists block `{id}`, which was never uploaded"),
                })?;
            let mut block = fs::File::open(&path).map_err(|source| io_error(&path, source))?;
            loop {
                let read = block
                    .read(&mut buffer)
                    .map_err(|source| io_error(&path, source))?;
                if read == 0 {
                    break;
                }
                size += read as u64;
                if size > limit {
                    drop(out);
                    let _ = fs::remove_file(&partial);
                    return Err(self.too_large(size, limit));
                }
                out.write_all(&buffer[..read])
                    .map_err(|source| io_error(&partial, source))?;
            }
        }
        let file = out
            .into_inner()
            .map_err(|error| io_error(&partial, error.into_error()))?;
        file.sync_data()
            .map_err(|source| io_error(&partial, source))?;
        fs::rename(&partial, &target).map_err(|source| io_error(&target, source))?;
        fs::remove_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
        Ok(size)
    }

    /// The error of an artifact of `size` bytes over `limit`.
    pub fn too_large(&self, size: u64, limit: u64) -> ArtifactError {
        ArtifactError::TooLarge {
            name: self.name.clone(),
            what: "the artifact's size",
            value: size,
            limit,
            kind: "BYTES",
        }
    }

    /// Checks the blob against what the job says it sent (`size`, and `sha256` hex when given)
    /// and makes it the artifact, all at once.
    pub fn finalize(
        &self,
        job_key: &str,
        size: u64,
        sha256: Option<&str>,
        limit: u64,
        now_us: u64,
    ) -> Result<ArtifactManifest, ArtifactError> {
        let pending = self.pending()?;
        let blob = self.blob_path()?;
        let (actual_size, digest) =
            super::hash_file(&blob).map_err(|error| match error.kind() {
                io::ErrorKind::NotFound => ArtifactError::Mismatch {
                    name: self.name.clone(),
                    path: pending.file.clone(),
                    problem: "was never uploaded".to_string(),
                },
                _ => io_error(&blob, error),
            })?;
        if actual_size > limit {
            return Err(self.too_large(actual_size, limit));
        }
        if actual_size != size {
            return Err(ArtifactError::Mismatch {
                name: self.name.clone(),
                path: pending.file.clone(),
                problem: format!("has {actual_size} bytes, FinalizeArtifact says {size}"),
            });
        }
        if let Some(expected) = sha256
            && !expected.eq_ignore_ascii_case(&digest)
        {
            return Err(ArtifactError::Mismatch {
                name: self.name.clone(),
                path: pending.file.clone(),
                problem: "does not match the SHA-256 FinalizeArtifact gives".to_string(),
            });
        }
        let staged = self
            .place
            .staging(&self.job_id, self.fencing_token, &self.name)?;
        let info = BlobInfo {
            file: pending.file.clone(),
            content_type: pending.content_type.clone(),
        };
        let sidecar = staged.join(BLOB_SIDECAR);
        let bytes = serde_json::to_vec(&info)
            .map_err(|error| io_error(&sidecar, io::Error::other(error)))?;
        fs::write(&sidecar, bytes).map_err(|source| io_error(&sidecar, source))?;
        let files = vec![ArtifactFile {
            path: pending.file.clone(),
            size: actual_size,
            sha256: digest,
        }];
        let retention = pending
            .retention_days
            .map(|days| days.min(DEFAULT_RETENTION_DAYS));
        let manifest = self.place.commit(
            &self.job_id,
            self.fencing_token,
            job_key,
            &self.name,
            files,
            false,
            retention,
            now_us,
        )?;
        let _ = fs::remove_file(self.pending_path());
        Ok(manifest)
    }
}

impl RunArtifacts {
    /// The blob artifacts of the family (those `FinalizeArtifact` made), by name.
    pub fn blobs(&self) -> Result<Vec<(ArtifactManifest, BlobInfo)>, ArtifactError> {
        let mut blobs = Vec::new();
        for manifest in self.list()? {
            if let Some(info) = self.blob_info(&manifest) {
                blobs.push((manifest, info));
            }
        }
        Ok(blobs)
    }

    /// One blob artifact and where its file is.
    pub fn blob(&self, name: &str) -> Result<(ArtifactManifest, BlobInfo, PathBuf), ArtifactError> {
        let manifest = self.manifest(name)?;
        let info = self
            .blob_info(&manifest)
            .ok_or_else(|| ArtifactError::NotFound {
                name: name.to_string(),
                run: self.run_id.to_string(),
            })?;
        let path = self.file(name, &info.file)?;
        Ok((manifest, info, path))
    }

    /// Deletes the artifact `name` (any kind); its manifest.
    pub fn delete(&self, name: &str, now_us: u64) -> Result<ArtifactManifest, ArtifactError> {
        let manifest = self.manifest(name)?;
        let target = self.family_dir.join(name);
        let trash = self
            .family_dir
            .join(super::STAGING_DIR)
            .join(format!("deleted-{name}-{now_us}"));
        if let Some(parent) = trash.parent() {
            fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
        }
        fs::rename(&target, &trash).map_err(|source| io_error(&target, source))?;
        fs::remove_dir_all(&trash).map_err(|source| io_error(&trash, source))?;
        super::sync_dir(&self.family_dir);
        Ok(manifest)
    }

    /// The sidecar of a blob artifact, when `manifest` is one: its single file is the one the
    /// sidecar names.
    fn blob_info(&self, manifest: &ArtifactManifest) -> Option<BlobInfo> {
        let path = self.family_dir.join(&manifest.name).join(BLOB_SIDECAR);
        let info: BlobInfo = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
        (manifest.files.len() == 1 && manifest.files[0].path == info.file).then_some(info)
    }
}

/// The file name a block is kept under: the hex of its id's text, when the id is base64 text
/// Azure would take.
fn block_file_name(block_id: &str) -> Option<String> {
    let valid = !block_id.is_empty()
        && block_id.len() <= MAX_BLOCK_ID_CHARS
        && block_id.bytes().all(|byte| {
            byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=' | b'-' | b'_')
        });
    valid.then(|| block_id.bytes().map(|byte| format!("{byte:02x}")).collect())
}

/// The SHA-256 of a file as the toolkit names it (`sha256:HEX`).
pub fn digest_of(manifest: &ArtifactManifest) -> Option<String> {
    manifest
        .files
        .first()
        .map(|file| format!("sha256:{}", file.sha256))
}

/// The block ids of an Azure `Put Block List` body (`<BlockList><Latest>ID</Latest>…`; the
/// `Committed` and `Uncommitted` forms name blocks the same way here), in order.
pub fn parse_block_list(xml: &str) -> Result<Vec<String>, String> {
    let start = xml
        .find("<BlockList")
        .ok_or("the body has no <BlockList> element")?;
    let mut rest = &xml[start..];
    let mut ids = Vec::new();
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let close = rest.find('>').ok_or("an element is not closed")?;
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        if matches!(tag, "Latest" | "Committed" | "Uncommitted") {
            let end_tag = format!("</{tag}>");
            let end = rest
                .find(&end_tag)
                .ok_or_else(|| format!("<{tag}> has no {end_tag}"))?;
            ids.push(rest[..end].trim().to_string());
            rest = &rest[end + end_tag.len()..];
        }
    }
    Ok(ids)
}

fn remove_dir_contents(dir: &Path) -> Result<(), ArtifactError> {
    for entry in fs::read_dir(dir).map_err(|source| io_error(dir, source))? {
        let entry = entry.map_err(|source| io_error(dir, source))?;
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|source| io_error(&path, source))?;
    }
    Ok(())
}

/// The lowercase hex SHA-256 of `bytes` (tests and small bodies).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    hex_digest(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lists_are_read_in_order() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<BlockList><Latest>AAAA</Latest><Uncommitted>AAAB</Uncommitted><Latest> AAAC </Latest></BlockList>"#;
        assert_eq!(
            parse_block_list(xml).expect("parsed"),
            ["AAAA", "AAAB", "AAAC"]
        );
        assert!(parse_block_list("<Nope/>").is_err());
        assert!(parse_block_list("<BlockList><Latest>AAAA</BlockList>").is_err());
    }

    #[test]
    fn block_ids_become_safe_file_names() {
        assert_eq!(block_file_name("AB=").as_deref(), Some("41423d"));
        assert_eq!(block_file_name("../x"), None);
        assert_eq!(block_file_name(""), None);
        assert_eq!(block_file_name(&"A".repeat(101)), None);
    }

    #[test]
    fn a_blob_is_assembled_checked_and_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let place = RunArtifacts {
            family_dir: dir.path().join("artifacts/run1"),
            run_id: crate::store::RunId::new(),
            attempt: 1,
        };
        let upload = BlobUpload::new(place.clone(), "job1", 3, "dist").expect("upload");
        let pending = PendingBlob {
            file: "dist.zip".into(),
            content_type: "application/zip".into(),
            retention_days: Some(5),
        };
        upload.create(&pending).expect("create");
        for (id, bytes) in [("AAAB", &b"world"[..]), ("AAAA", &b"hello "[..])] {
            let (path, _) = upload.block_path(id).expect("block path");
            fs::write(path, bytes).expect("write block");
        }
        assert!(
            upload
                .commit_blocks(&["AAAA".into(), "AAAB".into()], 5)
                .is_err()
        );
        let size = upload
            .commit_blocks(&["AAAA".into(), "AAAB".into()], 100)
            .expect("commit blocks");
        assert_eq!(size, 11);
        let digest = sha256_hex(b"hello world");
        assert!(upload.finalize("build", 10, None, 100, 1).is_err());
        assert!(upload.finalize("build", 11, Some("00"), 100, 1).is_err());
        let manifest = upload
            .finalize("build", 11, Some(&digest), 100, 1)
            .expect("finalize");
        assert_eq!(manifest.size, 11);
        let (_, info, path) = place.blob("dist").expect("blob");
        assert_eq!(info.content_type, "application/zip");
        assert_eq!(fs::read(path).expect("read"), b"hello world");
        assert_eq!(place.blobs().expect("blobs").len(), 1);
        // The same name again in the same attempt is refused; after a delete it is free.
        assert!(matches!(
            upload.create(&pending),
            Err(ArtifactError::Exists { .. })
        ));
        place.delete("dist", 2).expect("delete");
        assert!(place.blobs().expect("blobs").is_empty());
        upload.create(&pending).expect("create again");
    }
}
