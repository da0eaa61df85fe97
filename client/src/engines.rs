//! Several URLs of one engine (replicas serving the same database) and the failover between
//! them: every call goes to the URL that answered last; when it cannot be reached (refused,
//! reset, timed out) or answers 502/503/504 the call is sent again to the next URL, and that
//! one is kept while it answers (no round robin). Clones of a client share which URL is current,
//! so a job's heartbeats, logs and result all move together.
//!
//! A single URL behaves as before: its error comes back unchanged.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::{ClientError, EngineClient};

/// Splits a comma-separated list of engine URLs (`http://a:7766,http://b:7766`), each trimmed
/// and without a trailing `/`. An empty entry, or one that is not an `http://` or `https://`
/// URL with a host, is refused with a message naming it.
pub fn parse_engine_urls(list: &str) -> Result<Vec<String>, String> {
    let entries: Vec<&str> = list.split(',').map(str::trim).collect();
    let several = entries.len() > 1;
    let mut urls = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let place = if several {
            format!(" (entry {} of `{list}`)", index + 1)
        } else {
            String::new()
        };
        if entry.is_empty() {
            return Err(format!("an engine URL is empty{place}"));
        }
        let parsed = reqwest::Url::parse(entry)
            .map_err(|error| format!("engine URL `{entry}`{place} is not a URL: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "engine URL `{entry}`{place} must start with http:// or https:// and name a host"
            ));
        }
        urls.push(entry.trim_end_matches('/').to_string());
    }
    Ok(urls)
}

/// The URLs a client may call and the one it uses now.
#[derive(Debug)]
pub(crate) struct Engines {
    urls: Vec<String>,
    current: AtomicUsize,
    /// Set once every URL failed in one pass: switches are then not worth a warning each (the
    /// caller says once that the engine is away), and the URL that answers again is announced.
    all_down: AtomicBool,
}

impl Engines {
    pub(crate) fn new(urls: Vec<String>) -> Engines {
        Engines {
            urls,
            current: AtomicUsize::new(0),
            all_down: AtomicBool::new(false),
        }
    }

    /// The URL calls go to now.
    pub(crate) fn current(&self) -> &str {
        let index = self.current.load(Ordering::Acquire) % self.urls.len().max(1);
        self.urls.get(index).map_or("", String::as_str)
    }

    /// Every URL, in the order given.
    pub(crate) fn urls(&self) -> &[String] {
        &self.urls
    }
}

impl ClientError {
    /// Worth sending to another URL of the engine: this one could not be reached, or a proxy
    /// in front of it said it is down or overloaded (502, 503, 504).
    pub fn is_failover(&self) -> bool {
        match self {
            ClientError::Network { .. } | ClientError::Unreachable { .. } => true,
            ClientError::Status { status, .. } => matches!(status, 502..=504),
            ClientError::Decode { .. } | ClientError::Setup(_) => false,
        }
    }

    /// Worth sending to another URL even for a call that must not run twice (a dispatch): the
    /// engine cannot have acted on it, since no connection was made or it said it is unavailable
    /// (503). A reset, a timeout or a 502/504 may come after the engine acted.
    pub fn is_failover_unsent(&self) -> bool {
        match self {
            ClientError::Network { unsent, .. } => *unsent,
            ClientError::Status { status, .. } => *status == 503,
            ClientError::Unreachable { tried } => !tried.is_empty(),
            ClientError::Decode { .. } | ClientError::Setup(_) => false,
        }
    }

    /// Why a URL was given up, for a warning or the list in `Unreachable`.
    fn reason(&self) -> String {
        match self {
            // The innermost cause ("Connection refused (os error 111)"): the outer layers of
            // the chain only repeat the URL.
            ClientError::Network { message, .. } => {
                message.rsplit(": ").next().unwrap_or(message).to_string()
            }
            ClientError::Status {
                status, message, ..
            } => format!("answered {status}: {message}"),
            other => other.to_string(),
        }
    }
}

impl EngineClient {
    /// Every engine URL this client was given, in order.
    pub fn engine_urls(&self) -> &[String] {
        self.engines.urls()
    }

    /// Runs `call` against the current URL; while it fails in a way another URL may not
    /// (`is_failover`), moves to the next URL and runs it again, each URL at most once. With
    /// one URL its error comes back as it was; with several, a pass where none answered is
    /// `Unreachable` with each URL and why.
    pub(crate) async fn on_engines<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        self.on_engines_when(ClientError::is_failover, call).await
    }

    /// `on_engines` for a call that must not run twice (a POST of the admin API): it moves on
    /// only when the engine cannot have acted (`is_failover_unsent`).
    pub(crate) async fn on_engines_once<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        self.on_engines_when(ClientError::is_failover_unsent, call)
            .await
    }

    async fn on_engines_when<T, F, Fut>(
        &self,
        move_on: fn(&ClientError) -> bool,
        mut call: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let engines = &self.engines;
        let count = engines.urls.len();
        if count <= 1 {
            return call(engines.current().to_string()).await;
        }
        let mut tried: Vec<(String, String)> = Vec::new();
        for _ in 0..count {
            let index = engines.current.load(Ordering::Acquire) % count;
            let base = engines.urls[index].clone();
            match call(base.clone()).await {
                Err(error) if move_on(&error) => {
                    let reason = error.reason();
                    let next = (index + 1) % count;
                    // Another task of this client may have moved on already: only the first
                    // to see this URL fail moves (and says so).
                    let moved = engines
                        .current
                        .compare_exchange(index, next, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok();
                    if moved && !engines.all_down.load(Ordering::Acquire) {
                        tracing::warn!(
                            "engine {base} unreachable ({reason}); using {}",
                            engines.urls[next]
                        );
                    } else if moved {
                        tracing::debug!(
                            "engine {base} unreachable ({reason}); trying {}",
                            engines.urls[next]
                        );
                    }
                    tried.push((base, reason));
                }
                outcome => {
                    if engines.all_down.swap(false, Ordering::AcqRel) {
                        tracing::warn!("engine {base} answers again; using it");
                    }
                    return outcome;
                }
            }
        }
        engines.all_down.store(true, Ordering::Release);
        Err(ClientError::Unreachable { tried })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_split_trimmed_and_checked_entry_by_entry() {
        assert_eq!(
            parse_engine_urls("http://127.0.0.1:7001/, https://b.example:7002").unwrap(),
            ["http://127.0.0.1:7001", "https://b.example:7002"]
        );
        assert_eq!(
            parse_engine_urls("http://127.0.0.1:7766").unwrap(),
            ["http://127.0.0.1:7766"]
        );
        let empty = parse_engine_urls("http://a:1,,http://b:2").unwrap_err();
        assert!(
            empty.contains("empty") && empty.contains("entry 2"),
            "{empty}"
        );
        let scheme = parse_engine_urls("http://a:1,ftp://b:2").unwrap_err();
        assert!(scheme.contains("`ftp://b:2`"), "{scheme}");
        let junk = parse_engine_urls("localhost:7766").unwrap_err();
        assert!(junk.contains("`localhost:7766`"), "{junk}");
        assert!(parse_engine_urls("").is_err());
    }

    fn client(urls: &str) -> EngineClient {
        EngineClient::new(urls, None, std::time::Duration::from_secs(1)).unwrap()
    }

    fn refused(base: &str) -> ClientError {
        ClientError::Network {
            url: base.to_string(),
            message: "Connection refused".to_string(),
            unsent: true,
        }
    }

    #[tokio::test]
    async fn a_failing_url_is_left_for_the_next_and_the_working_one_kept() {
        let client = client("http://a:1,http://b:2,http://c:3");
        let seen = std::sync::Mutex::new(Vec::new());
        let answer = client
            .on_engines(|base| {
                seen.lock().unwrap().push(base.clone());
                async move {
                    if base == "http://b:2" {
                        Ok(base)
                    } else {
                        Err(refused(&base))
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(answer, "http://b:2");
        assert_eq!(*seen.lock().unwrap(), ["http://a:1", "http://b:2"]);
        // The next call starts where the last one answered; a 500 is not a reason to move.
        let clone = client.clone();
        let status = clone
            .on_engines(|base| async move {
                Err::<(), _>(ClientError::Status {
                    url: base,
                    status: 500,
                    message: "boom".into(),
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(status, ClientError::Status { status: 500, .. }));
        assert_eq!(client.base_url(), "http://b:2");
    }

    #[tokio::test]
    async fn when_no_url_answers_the_error_names_each_and_why() {
        let client = client("http://a:1,http://b:2");
        let error = client
            .on_engines(|base| async move {
                if base == "http://a:1" {
                    Err::<(), _>(refused(&base))
                } else {
                    Err(ClientError::Status {
                        url: base,
                        status: 503,
                        message: "draining".into(),
                    })
                }
            })
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("http://a:1: Connection refused"), "{text}");
        assert!(
            text.contains("http://b:2: answered 503: draining"),
            "{text}"
        );
        assert!(error.is_retryable() && error.is_failover());
        // One URL: its own error, unchanged.
        let single = client_single_error().await;
        assert!(matches!(single, ClientError::Network { .. }), "{single:?}");
    }

    #[tokio::test]
    async fn a_call_that_must_not_repeat_moves_on_only_when_the_engine_cannot_have_acted() {
        let client = client("http://a:1,http://b:2");
        let seen = std::sync::Mutex::new(Vec::new());
        let reset = client
            .on_engines_once(|base| {
                seen.lock().unwrap().push(base.clone());
                async move {
                    Err::<(), _>(ClientError::Network {
                        url: base,
                        message: "connection reset".into(),
                        unsent: false,
                    })
                }
            })
            .await
            .unwrap_err();
        assert!(matches!(reset, ClientError::Network { unsent: false, .. }));
        assert_eq!(*seen.lock().unwrap(), ["http://a:1"]);
        let answered = client
            .on_engines_once(|base| async move {
                if base == "http://a:1" {
                    Err(refused(&base))
                } else {
                    Ok(base)
                }
            })
            .await
            .unwrap();
        assert_eq!(answered, "http://b:2");
    }

    async fn client_single_error() -> ClientError {
        client("http://a:1")
            .on_engines(|base| async move { Err::<(), _>(refused(&base)) })
            .await
            .unwrap_err()
    }
}
