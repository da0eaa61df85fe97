//! The read and admin API of the engine (what the CLI calls): reads and changes, each sent
//! with the user's token (the engine's role table decides what it reaches). Bodies are `protocol` types; every JSON body sent gets
//! `protocol_version`.
//!
//! Unlike the runner calls these are not retried: a person is waiting and the command says what
//! failed. A client given several engine URLs tries them in order until one answers
//! (`on_engines`). Must not know the CLI's flags or rendering.

use protocol::PROTOCOL_VERSION;
use protocol::wire::ErrorBody;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{ClientError, EngineClient};

impl EngineClient {
    /// The admin token sent with [`EngineClient::admin_get`], [`EngineClient::admin_send`]
    /// and [`EngineClient::admin_delete`].
    pub fn with_admin_token(mut self, token: Option<String>) -> EngineClient {
        self.admin_token = token;
        self
    }

    /// Whether an admin token is set (a 401 without one deserves a hint).
    pub fn has_admin_token(&self) -> bool {
        self.admin_token.is_some()
    }

    /// `GET path` → JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.on_engines(|base| async move {
            let response = self
                .send(&base, self.request(&base, Method::GET, path))
                .await?;
            self.decode(&base, path, response).await
        })
        .await
    }

    /// `GET path` with the admin token → JSON.
    pub async fn admin_get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.on_engines(|base| async move {
            let response = self
                .send(&base, self.admin(self.request(&base, Method::GET, path)))
                .await?;
            self.decode(&base, path, response).await
        })
        .await
    }

    /// `GET path` → the answer as it streams (a text log, server-sent events); reads may
    /// wait as long as the long-poll limit this client was made with.
    /// With several engine URLs, the answer comes from the first that gives one; a stream
    /// that breaks later is the caller's to open again (it then starts at the next URL when
    /// this one is down).
    pub async fn get_stream(&self, path: &str) -> Result<Response, ClientError> {
        self.on_engines(|base| async move {
            self.send(&base, self.request(&base, Method::GET, path))
                .await
        })
        .await
    }

    /// `method path` with a JSON body (given `protocol_version`), sent with the admin token;
    /// `None` for 204 No Content.
    pub async fn admin_send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, ClientError> {
        let mut body = serde_json::to_value(body).map_err(|error| ClientError::Decode {
            url: self.url(path),
            message: format!("encode the request: {error}"),
        })?;
        if let Some(object) = body.as_object_mut() {
            object.insert("protocol_version".into(), PROTOCOL_VERSION.into());
        }
        // A POST may start something (a run, a release): it goes to the next URL only when this
        // one cannot have acted on it.
        let call = |base: String| {
            let (method, body) = (method.clone(), &body);
            async move {
                let response = self
                    .send(
                        &base,
                        self.admin(self.request(&base, method, path)).json(body),
                    )
                    .await?;
                if response.status() == StatusCode::NO_CONTENT {
                    return Ok(None);
                }
                self.decode(&base, path, response).await.map(Some)
            }
        };
        if method == Method::POST {
            self.on_engines_once(call).await
        } else {
            self.on_engines(call).await
        }
    }

    /// `DELETE path` with the admin token.
    pub async fn admin_delete(&self, path: &str) -> Result<(), ClientError> {
        self.on_engines(|base| async move {
            self.send(&base, self.admin(self.request(&base, Method::DELETE, path)))
                .await
                .map(|_| ())
        })
        .await
    }

    /// `GET /api/v1/runs/{run_id}/artifacts`: the artifacts a run's jobs uploaded (and those of
    /// its earlier attempts).
    pub async fn run_artifacts(
        &self,
        run_id: &str,
    ) -> Result<protocol::artifacts::ArtifactList, ClientError> {
        let path = crate::path_with_segments(&["api", "v1", "runs", run_id, "artifacts"], None)?;
        self.get(&path).await
    }

    /// `GET /api/v1/runs/{run_id}/artifacts/{name}/files/{path}` into `target` (its parent
    /// directories created); the bytes written. The caller decides that `target` is safe.
    pub async fn download_run_artifact_file(
        &self,
        run_id: &str,
        name: &str,
        path_in_artifact: &str,
        target: &std::path::Path,
    ) -> Result<u64, ClientError> {
        let mut segments = vec!["api", "v1", "runs", run_id, "artifacts", name, "files"];
        segments.extend(path_in_artifact.split('/').filter(|part| !part.is_empty()));
        let path = crate::path_with_segments(&segments, None)?;
        self.get_file(&path, None, target).await
    }

    /// `POST /api/v1/actions/sources` (admin): adds a source actions are fetched from.
    pub async fn add_action_source(
        &self,
        location: &str,
        name: Option<&str>,
    ) -> Result<protocol::actions::ActionSource, ClientError> {
        let body = protocol::actions::AddActionSourceRequest {
            protocol_version: Some(PROTOCOL_VERSION),
            location: location.to_string(),
            name: name.map(str::to_string),
        };
        let path = "/api/v1/actions/sources";
        self.admin_send(Method::POST, path, &body)
            .await?
            .ok_or_else(|| ClientError::Decode {
                url: self.url(path),
                message: "the answer has no body".to_string(),
            })
    }

    /// `GET /api/v1/actions/sources` (admin).
    pub async fn action_sources(
        &self,
    ) -> Result<Vec<protocol::actions::ActionSource>, ClientError> {
        self.admin_get("/api/v1/actions/sources").await
    }

    /// `POST /api/v1/actions/mirror` (admin): fetches `owner/repo` now; `git_ref` must exist
    /// afterwards when given.
    pub async fn mirror_action(
        &self,
        repository: &str,
        git_ref: Option<&str>,
    ) -> Result<protocol::actions::ActionMirror, ClientError> {
        let body = protocol::actions::MirrorActionRequest {
            protocol_version: Some(PROTOCOL_VERSION),
            repository: repository.to_string(),
            git_ref: git_ref.map(str::to_string),
        };
        let path = "/api/v1/actions/mirror";
        self.admin_send(Method::POST, path, &body)
            .await?
            .ok_or_else(|| ClientError::Decode {
                url: self.url(path),
                message: "the answer has no body".to_string(),
            })
    }

    /// `GET /api/v1/actions` (admin): the mirrored action repositories.
    pub async fn action_mirrors(
        &self,
    ) -> Result<Vec<protocol::actions::ActionMirror>, ClientError> {
        self.admin_get("/api/v1/actions").await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Every call of the read and admin API carries the token when one is set: reads need
    /// the `viewer` role too.
    fn request(&self, base: &str, method: Method, path: &str) -> RequestBuilder {
        self.admin(self.long.request(method, format!("{base}{path}")))
    }

    fn admin(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends; a transport failure is `Network` (its innermost cause: the outer layers only
    /// repeat the URL), a non-2xx answer `Status` with the engine's message.
    async fn send(&self, base: &str, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(|error| ClientError::Network {
            unsent: error.is_connect(),
            url: base.to_string(),
            message: innermost_cause(&error),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let url = response.url().to_string();
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|body| body.error)
            .unwrap_or(text);
        Err(ClientError::Status {
            url,
            status: status.as_u16(),
            message,
        })
    }

    /// The answer's JSON; a connection that breaks while it is read is `Network` (another
    /// engine URL may give it whole).
    async fn decode<T: DeserializeOwned>(
        &self,
        base: &str,
        path: &str,
        response: Response,
    ) -> Result<T, ClientError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ClientError::Network {
                unsent: false,
                url: base.to_string(),
                message: format!("read the answer: {}", innermost_cause(&error)),
            })?;
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Decode {
            url: format!("{base}{path}"),
            message: error.to_string(),
        })
    }
}

/// What actually happened ("Connection refused"), marked when it was a timeout.
fn innermost_cause(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    if error.is_timeout() {
        message = format!("timed out ({message})");
    }
    message
}
