//! `AppState`: everything the API's handlers reach, handed to the one router as its state.
//!
//! Handlers name the part they need (`State<Arc<Engine>>`, `State<Orchestrator>`,
//! `State<Arc<Releases>>`, `State<Arc<Repos>>`, `State<Arc<Deployments>>`) and axum takes it out
//! of the state through `FromRef`. This file must hold no policy: it only bundles handles on the
//! engine's services, each cheap to clone.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::deploy::Deployments;
use crate::deploy::releases::Releases;
use crate::repos::Repos;
use crate::runs::dispatch::Engine;
use crate::runs::orchestrator::Orchestrator;

/// The state of the API's router: the engine and the services over it.
#[derive(Clone)]
pub struct AppState {
    engine: Arc<Engine>,
    orchestrator: Orchestrator,
    repos: Arc<Repos>,
    releases: Arc<Releases>,
}

impl AppState {
    /// The API over `orchestrator`'s engine, with watched repositories served by `repos` (which
    /// must be on the same engine). Releases start their runs through `orchestrator`.
    pub fn new(orchestrator: Orchestrator, repos: Arc<Repos>) -> AppState {
        let engine = orchestrator.engine().clone();
        AppState {
            releases: Releases::new(engine.clone()),
            engine,
            orchestrator,
            repos,
        }
    }

    /// `new`, with watched repositories whose runs start through `orchestrator`.
    pub fn with_orchestrator(orchestrator: Orchestrator) -> AppState {
        let repos = Repos::new(
            orchestrator.engine().clone(),
            Arc::new(orchestrator.clone()),
        );
        AppState::new(orchestrator, repos)
    }

    /// The engine every service here runs on.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The orchestrator that starts, cancels and reruns runs.
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// The watched-repositories service (mirrors and triggers).
    pub fn repos(&self) -> &Arc<Repos> {
        &self.repos
    }

    /// The releases service, which starts its runs through the orchestrator.
    pub fn releases(&self) -> &Arc<Releases> {
        &self.releases
    }
}

impl FromRef<AppState> for Arc<Engine> {
    fn from_ref(state: &AppState) -> Arc<Engine> {
        state.engine.clone()
    }
}

impl FromRef<AppState> for Orchestrator {
    fn from_ref(state: &AppState) -> Orchestrator {
        state.orchestrator.clone()
    }
}

impl FromRef<AppState> for Arc<Deployments> {
    fn from_ref(state: &AppState) -> Arc<Deployments> {
        state.orchestrator.deployments().clone()
    }
}

impl FromRef<AppState> for Arc<Repos> {
    fn from_ref(state: &AppState) -> Arc<Repos> {
        state.repos.clone()
    }
}

impl FromRef<AppState> for Arc<Releases> {
    fn from_ref(state: &AppState) -> Arc<Releases> {
        state.releases.clone()
    }
}
