//! `slipway artifacts RUN [--json]` (what a run's jobs uploaded: name, size, files, job, expiry)
//! and `slipway artifacts RUN --download NAME [--dir DIR]` (one artifact's files into DIR).
//!
//! This file must not write outside DIR: every path the engine names is checked to stay inside
//! it before anything is written, and the whole artifact is refused when one path would not.

use std::path::{Component, Path, PathBuf};

use protocol::artifacts::{ArtifactList, ArtifactManifest};

use super::runs::resolve_run;
use super::{ClientError, EngineArgs, EngineClient, block_on, print_json, table};
use crate::exit;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ArtifactsArgs {
    /// The run: its id, or its run number
    pub run: String,
    /// Download this artifact's files (into --dir, default ./NAME)
    #[arg(long, value_name = "NAME")]
    pub download: Option<String>,
    /// Where --download writes the files
    #[arg(long, value_name = "DIR", requires = "download")]
    pub dir: Option<PathBuf>,
    /// Print the list as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub(crate) fn artifacts(args: &ArtifactsArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        let list = client
            .inner
            .run_artifacts(&run_id)
            .await
            .map_err(|error| client.error(error))?;
        match &args.download {
            Some(name) => download(&client, &run_id, &list, name, args.dir.as_deref()).await,
            None if args.json => {
                print_json(&list)?;
                Ok(exit::SUCCESS)
            }
            None => {
                print_table(&list);
                Ok(exit::SUCCESS)
            }
        }
    })
}

fn print_table(list: &ArtifactList) {
    if list.artifacts.is_empty() {
        println!("no artifacts");
        return;
    }
    let rows: Vec<Vec<String>> = list
        .artifacts
        .iter()
        .map(|artifact| {
            vec![
                artifact.name.clone(),
                artifact.size.to_string(),
                artifact.files.len().to_string(),
                artifact.job_key.clone(),
                table::time(artifact.expires_at_us),
            ]
        })
        .collect();
    table::print(&["NAME", "SIZE", "FILES", "JOB", "EXPIRES"], &rows);
}

async fn download(
    client: &EngineClient,
    run_id: &str,
    list: &ArtifactList,
    name: &str,
    dir: Option<&Path>,
) -> Result<i32, ClientError> {
    // The newest attempt's artifact of that name wins, as a re-run's download would see it.
    let artifact: &ArtifactManifest = list
        .artifacts
        .iter()
        .filter(|artifact| artifact.name == name)
        .max_by_key(|artifact| artifact.attempt)
        .ok_or_else(|| {
            ClientError::Usage(format!(
                "download: run {run_id} has no artifact `{name}` (`slipway artifacts {run_id}` lists them)"
            ))
        })?;
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from(name),
    };
    let mut targets = Vec::new();
    for file in &artifact.files {
        targets.push((file, target_in(&dir, &file.path)?));
    }
    let mut total = 0u64;
    for (file, target) in targets {
        total += client
            .inner
            .download_run_artifact_file(&artifact.run_id, name, &file.path, &target)
            .await
            .map_err(|error| client.error(error))?;
    }
    println!(
        "downloaded `{name}` ({} files, {total} bytes) into {}",
        artifact.files.len(),
        dir.display()
    );
    Ok(exit::SUCCESS)
}

/// Where the artifact file `path` goes under `dir`; refused when it would leave `dir` (an
/// absolute path, `..`, a drive prefix) or names no file.
fn target_in(dir: &Path, path: &str) -> Result<PathBuf, ClientError> {
    let mut target = dir.to_path_buf();
    let mut parts = 0;
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => {
                target.push(part);
                parts += 1;
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ClientError::Io(format!(
                    "download: artifact file `{path}` would be written outside {}",
                    dir.display()
                )));
            }
        }
    }
    if parts == 0 {
        return Err(ClientError::Io(format!(
            "download: artifact file `{path}` names no file"
        )));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_stay_inside_the_directory() {
        let dir = Path::new("out");
        assert_eq!(
            target_in(dir, "a/b.txt").ok(),
            Some(PathBuf::from("out/a/b.txt"))
        );
        assert_eq!(
            target_in(dir, "./c.txt").ok(),
            Some(PathBuf::from("out/c.txt"))
        );
        assert!(target_in(dir, "../escape.txt").is_err());
        assert!(target_in(dir, "a/../../escape.txt").is_err());
        assert!(target_in(dir, "/etc/passwd").is_err());
        assert!(target_in(dir, "").is_err());
    }
}
