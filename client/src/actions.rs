//! Remote actions, the runner's side: the archive of an action at a pinned commit, fetched by
//! the holder of a job's lease (`GET /api/v1/actions/{owner}/{repo}/{sha}.tar.gz`).

use crate::{ClientError, EngineClient, check_status, engine_url, error_chain, path_with_segments};

impl EngineClient {
    /// Downloads the archive of `repository` (`owner/repo`) at `sha` for the leased job
    /// `job_id`; the gzipped tar bytes.
    pub async fn download_action_archive(
        &self,
        job_id: &str,
        fencing_token: u64,
        repository: &str,
        sha: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let (owner, repo) = repository
            .split_once('/')
            .ok_or_else(|| ClientError::Setup(format!("`{repository}` is not owner/repo")))?;
        let archive = format!("{sha}.tar.gz");
        let path = path_with_segments(&["api", "v1", "actions", owner, repo, &archive], None)?;
        self.on_engines(|base| {
            let path = &path;
            async move {
                let url = engine_url(&base, path)?;
                let request = self
                    .short
                    .get(url.clone())
                    .header(protocol::artifacts::FENCING_TOKEN_HEADER, fencing_token)
                    .header(protocol::actions::ACTION_JOB_HEADER, job_id);
                let response = self.send_as_runner(request, url.as_str()).await?;
                let response = check_status(url.as_str(), response).await?;
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|error| ClientError::Network {
                        unsent: false,
                        url: url.to_string(),
                        message: error_chain(&error),
                    })?;
                Ok(bytes.to_vec())
            }
        })
        .await
    }
}
