//! A job's `container:` and `services:` as the runner receives them: job-level expressions
//! evaluated by the engine, everything else as written in the workflow.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// One container of a job: the job container or a service container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContainerSpec {
    /// The image reference (`node:20`, `docker://…` is not accepted here).
    pub image: String,
    /// `credentials.username` / `credentials.password` for a private registry.
    #[serde(default)]
    pub credentials: Option<RegistryCredentials>,
    /// Environment variables set in the container, by name (`env:` as written).
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// `ports:` entries as written (`5432`, `8080:80`, `127.0.0.1:8080:80/tcp`).
    #[serde(default)]
    pub ports: Vec<String>,
    /// `volumes:` entries as written (`name:/path`, `/host:/path:ro`).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// `options:` as written: a subset of `docker create` flags.
    #[serde(default)]
    pub options: Option<String>,
    /// Service containers only: replaces the image's entrypoint.
    #[serde(default)]
    pub entrypoint: Option<String>,
    /// Service containers only: replaces the image's command (split like a shell would).
    #[serde(default)]
    pub command: Option<String>,
}

/// Registry credentials for pulling a container's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RegistryCredentials {
    /// The user name to log in to the image's registry with.
    pub username: String,
    /// The password or access token for `username`.
    pub password: String,
}
