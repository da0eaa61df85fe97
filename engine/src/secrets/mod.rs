//! Repository secrets and configuration variables: name rules, the engine's secret key, and
//! sealing values at rest with ChaCha20-Poly1305 before the store sees them.
//!
//! A scope is a repository (a name or a path string, as the trigger names it); the empty scope
//! `""` holds values for every repository. A run sees the empty scope overlaid by its own
//! repository's scope (the repository's value wins for the same name).
//!
//! The key is 256 random bits in `<data>/secrets.key` (mode 0600, hex), made on the engine's
//! first start and read from disk once per process (`SecretKey::shared`). Every encryption
//! takes a fresh random 96-bit nonce; the sealed bytes are `nonce || ciphertext+tag`, with the
//! scope and the name as associated data so a sealed value cannot be moved to another slot. Job
//! specs carry their secrets sealed the same way while they sit in the store (`seal_job_secrets` / `open_job_secrets`).
//!
//! This module must not log, return through the API, or store a secret value in plaintext: the
//! only plaintext leaves through `secrets_for_run` and a leased job's spec, on their way to a
//! runner (which masks them).

pub mod job_token;
pub mod privacy;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use indexmap::IndexMap;
use protocol::JobSpec;

use crate::runs::dispatch::Engine;
use crate::store::{SecretRecord, StoreError, VariableRecord, now_us};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "secrets.key";
/// GitHub's limit for one secret or variable value.
pub const MAX_VALUE_BYTES: usize = 48 * 1024;

const NONCE_BYTES: usize = 12;
/// Marks a job-spec secret value that is sealed (the store never sees another form).
const SEALED_PREFIX: &str = "sealed:v1:";

/// What went wrong with a secret or a variable. Messages read after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The secret or variable name breaks GitHub's naming rules.
    #[error(
        "accept name `{name}`: {reason} (names hold only letters, digits and `_`, do not start with a digit or `GITHUB_`)"
    )]
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it breaks, e.g. `it starts with a digit`.
        reason: &'static str,
    },
    /// The value is refused, e.g. larger than [`MAX_VALUE_BYTES`].
    #[error("accept the value of `{name}`: {reason}")]
    InvalidValue {
        /// The name of the secret or variable whose value was refused.
        name: String,
        /// Why, e.g. `it is empty` or its size over the limit.
        reason: String,
    },
    /// The secret key file could not be read, created or written.
    #[error("read or write the secret key {path}: {message}")]
    KeyFile {
        /// The key file, `<data>/secrets.key`.
        path: PathBuf,
        /// The I/O or format error.
        message: String,
    },
    /// A sealed value did not open with the engine's key.
    #[error("decrypt secret `{name}`: the key does not match or the record is damaged")]
    Decrypt {
        /// The secret whose value did not open.
        name: String,
    },
    /// Sealing a value failed.
    #[error("encrypt secret `{name}`")]
    Encrypt {
        /// The secret being sealed.
        name: String,
    },
    /// The operating system's random source failed (for a key or a nonce).
    #[error("get random bytes: {0}")]
    Random(String),
    /// Reading or writing the secret or variable records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the API and the CLI show of a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// The repository scope the secret belongs to; `""` for the secrets every repository sees.
    pub repository: String,
    /// The secret's name as jobs reference it, e.g. `DEPLOY_KEY` in `secrets.DEPLOY_KEY`.
    pub name: String,
    /// When the value was last set, in microseconds since the Unix epoch.
    pub updated_at_us: u64,
}

/// The engine's secret key. Its `Debug` does not show it.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Reads `<data_dir>/secrets.key`, or makes it (random, mode 0600) when it does not exist.
    /// Two processes racing to make it end up with the same key: the file appears whole or not
    /// at all (written aside, then hard-linked into place).
    pub fn load_or_create(data_dir: &Path) -> Result<SecretKey, SecretsError> {
        let path = data_dir.join(KEY_FILE);
        if !path.exists() {
            let mut bytes = [0u8; 32];
            random_fill(&mut bytes)?;
            let key_error = |error: std::io::Error| SecretsError::KeyFile {
                path: path.clone(),
                message: error.to_string(),
            };
            std::fs::create_dir_all(data_dir).map_err(key_error)?;
            let mut suffix = [0u8; 8];
            random_fill(&mut suffix)?;
            let aside = data_dir.join(format!("{KEY_FILE}.{}", hex_encode(&suffix)));
            files::write_private(
                &aside,
                format!("{}\n", hex_encode(&bytes)).as_bytes(),
                files::Existing::Refuse,
            )
            .map_err(key_error)?;
            let linked = std::fs::hard_link(&aside, &path);
            let _ = std::fs::remove_file(&aside);
            match linked {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(key_error(error)),
            }
        }
        SecretKey::load(data_dir)
    }

    /// The key of `data_dir`, read from disk once per process (made if it does not exist, as
    /// `load_or_create`) and shared afterwards: sealing and opening never touch the disk.
    pub fn shared(data_dir: &Path) -> Result<Arc<SecretKey>, SecretsError> {
        static KEYS: OnceLock<Mutex<HashMap<PathBuf, Arc<SecretKey>>>> = OnceLock::new();
        let keys = KEYS.get_or_init(Default::default);
        if let Some(key) = keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(data_dir)
        {
            return Ok(key.clone());
        }
        let key = Arc::new(SecretKey::load_or_create(data_dir)?);
        let mut keys = keys.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.entry(data_dir.to_path_buf()).or_insert(key).clone())
    }

    /// A 256-bit key for `purpose` derived from this one (HMAC-SHA256 of the purpose), so other
    /// signing keys (the job tokens') need no file of their own.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.bytes) else {
            unreachable!("HMAC takes keys of every length")
        };
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Reads `<data_dir>/secrets.key`.
    pub fn load(data_dir: &Path) -> Result<SecretKey, SecretsError> {
        let path = data_dir.join(KEY_FILE);
        let key_error = |message: String| SecretsError::KeyFile {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|error| key_error(error.to_string()))?;
        let decoded = hex_decode(text.trim())
            .ok_or_else(|| key_error("the file does not hold hex digits".into()))?;
        let bytes: [u8; 32] = decoded
            .try_into()
            .map_err(|_| key_error("the key is not 256 bits long".into()))?;
        Ok(SecretKey { bytes })
    }

    /// `nonce || ciphertext+tag` of `plaintext`, bound to `context` (associated data).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let mut nonce = [0u8; NONCE_BYTES];
        random_fill(&mut nonce)?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.bytes));
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Encrypt {
                name: context.to_string(),
            })?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext of `sealed`, which must have been sealed with this key and `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let decrypt_error = || SecretsError::Decrypt {
            name: context.to_string(),
        };
        if sealed.len() < NONCE_BYTES {
            return Err(decrypt_error());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.bytes));
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| decrypt_error())
    }
}

/// GitHub's name rules: letters, digits and `_`; not starting with a digit or `GITHUB_`;
/// case-insensitive. Returns the stored (upper-case) form.
pub fn normalize_name(name: &str) -> Result<String, SecretsError> {
    let invalid = |reason| SecretsError::InvalidName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid(
            "it holds a character other than a letter, a digit or `_`",
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(invalid("it starts with a digit"));
    }
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("GITHUB_") {
        return Err(invalid("the `GITHUB_` prefix is reserved"));
    }
    Ok(upper)
}

/// The scope key of a repository as given on the command line (`None` or blank: every
/// repository).
pub fn normalize_scope(repository: Option<&str>) -> String {
    repository
        .map(|repository| repository.trim().trim_end_matches('/').to_string())
        .unwrap_or_default()
}

impl Engine {
    /// Encrypts and stores a secret; durable on return. Replaces one of the same name and scope.
    pub async fn set_secret(
        &self,
        repository: &str,
        name: &str,
        value: &str,
    ) -> Result<SecretInfo, SecretsError> {
        let name = normalize_name(name)?;
        check_value(&name, value)?;
        let key = SecretKey::shared(&self.config().data_dir)?;
        let sealed = key.seal(&secret_context(repository, &name), value.as_bytes())?;
        let record = SecretRecord {
            repository: repository.to_string(),
            name,
            sealed: hex_encode(&sealed),
            updated_at_us: now_us(),
        };
        self.store().put_secret(&record).await?;
        Ok(info(&record))
    }

    /// Secrets of one scope, or of every scope (`None`), by scope then name. No values.
    pub fn list_secrets(&self, repository: Option<&str>) -> Result<Vec<SecretInfo>, SecretsError> {
        Ok(self.store().secrets(repository)?.iter().map(info).collect())
    }

    /// Removes a secret; `false` when there was none. Durable on return.
    pub async fn remove_secret(&self, repository: &str, name: &str) -> Result<bool, SecretsError> {
        let name = normalize_name(name)?;
        Ok(self.store().remove_secret(repository, &name).await?)
    }

    /// Stores a configuration variable (plain text: variables are not secret).
    pub async fn set_variable(
        &self,
        repository: &str,
        name: &str,
        value: &str,
    ) -> Result<VariableRecord, SecretsError> {
        let name = normalize_name(name)?;
        check_value(&name, value)?;
        let record = VariableRecord {
            repository: repository.to_string(),
            name,
            value: value.to_string(),
            updated_at_us: now_us(),
        };
        self.store().put_variable(&record).await?;
        Ok(record)
    }

    /// Variables of one scope, or of every scope (`None`), by scope then name.
    pub fn list_variables(
        &self,
        repository: Option<&str>,
    ) -> Result<Vec<VariableRecord>, SecretsError> {
        Ok(self.store().variables(repository)?)
    }

    /// Removes a variable; `false` when there was none. Durable on return.
    pub async fn remove_variable(
        &self,
        repository: &str,
        name: &str,
    ) -> Result<bool, SecretsError> {
        let name = normalize_name(name)?;
        Ok(self.store().remove_variable(repository, &name).await?)
    }

    /// The secrets a run of `repository` sees, decrypted: every-repository ones overlaid by the
    /// repository's own. For `RunInput.secrets`; the scheduler passes each job only the ones its
    /// templates reference.
    pub fn secrets_for_run(
        &self,
        repository: &str,
    ) -> Result<IndexMap<String, String>, SecretsError> {
        let records = self.scoped(repository, |scope| self.store().secrets(Some(scope)))?;
        self.open_records(records)
    }

    /// The secrets of exactly one scope (an environment's `env:<name>`), decrypted.
    pub fn environment_secrets(
        &self,
        scope: &str,
    ) -> Result<IndexMap<String, String>, SecretsError> {
        let records = self.store().secrets(Some(scope))?;
        self.open_records(records)
    }

    /// Decrypts stored secrets, later records winning over earlier ones of the same name.
    fn open_records(
        &self,
        records: Vec<SecretRecord>,
    ) -> Result<IndexMap<String, String>, SecretsError> {
        let mut secrets = IndexMap::new();
        if records.is_empty() {
            return Ok(secrets);
        }
        let key = SecretKey::shared(&self.config().data_dir)?;
        for record in records {
            let context = secret_context(&record.repository, &record.name);
            let sealed = hex_decode(&record.sealed).ok_or_else(|| SecretsError::Decrypt {
                name: record.name.clone(),
            })?;
            let plaintext = key.open(&context, &sealed)?;
            let value = String::from_utf8(plaintext).map_err(|_| SecretsError::Decrypt {
                name: record.name.clone(),
            })?;
            secrets.insert(record.name, value);
        }
        Ok(secrets)
    }

    /// The variables a run of `repository` sees (`vars` context): every-repository ones
    /// overlaid by the repository's own.
    pub fn vars_for_run(&self, repository: &str) -> Result<IndexMap<String, String>, SecretsError> {
        let records = self.scoped(repository, |scope| self.store().variables(Some(scope)))?;
        Ok(records
            .into_iter()
            .map(|record| (record.name, record.value))
            .collect())
    }

    /// The empty scope's records, then the repository's (so later inserts win).
    fn scoped<R>(
        &self,
        repository: &str,
        read: impl Fn(&str) -> Result<Vec<R>, StoreError>,
    ) -> Result<Vec<R>, SecretsError> {
        self.scoped_names(&[repository.to_string()], read)
    }

    /// The empty scope's records, then those of each of the repository's names in turn (its
    /// watched name, its `owner/name`), so later inserts win.
    fn scoped_names<R>(
        &self,
        names: &[String],
        read: impl Fn(&str) -> Result<Vec<R>, StoreError>,
    ) -> Result<Vec<R>, SecretsError> {
        let mut records = read("")?;
        let mut seen: Vec<&str> = Vec::new();
        for name in names.iter().map(|name| name.trim()) {
            if name.is_empty() || seen.contains(&name) {
                continue;
            }
            seen.push(name);
            records.extend(read(name)?);
        }
        Ok(records)
    }

    /// The secrets a run of the repository known by `names` sees, decrypted: every-repository
    /// ones overlaid by the repository's own (under any of its names).
    pub fn secrets_for_repository(
        &self,
        names: &[String],
    ) -> Result<IndexMap<String, String>, SecretsError> {
        let records = self.scoped_names(names, |scope| self.store().secrets(Some(scope)))?;
        self.open_records(records)
    }

    /// The variables a run of the repository known by `names` sees (see
    /// `secrets_for_repository`).
    pub fn vars_for_repository(
        &self,
        names: &[String],
    ) -> Result<IndexMap<String, String>, SecretsError> {
        let records = self.scoped_names(names, |scope| self.store().variables(Some(scope)))?;
        Ok(records
            .into_iter()
            .map(|record| (record.name, record.value))
            .collect())
    }
}

/// Seals every secret value of a job spec before the store keeps it (see `open_job_secrets`).
pub fn seal_job_secrets(key: &SecretKey, mut spec: JobSpec) -> Result<JobSpec, SecretsError> {
    for (name, value) in spec.secrets.iter_mut() {
        if value.starts_with(SEALED_PREFIX) {
            continue;
        }
        let sealed = key.seal(&job_context(name), value.as_bytes())?;
        *value = format!("{SEALED_PREFIX}{}", hex_encode(&sealed));
    }
    Ok(spec)
}

/// Seals every string value of `secrets` (a run's secrets as the saved scheduler input holds
/// them), so no secret is written to the store in plaintext.
pub fn seal_secret_values(
    key: &SecretKey,
    secrets: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), SecretsError> {
    for (name, value) in secrets.iter_mut() {
        let Some(text) = value.as_str() else {
            continue;
        };
        if text.starts_with(SEALED_PREFIX) {
            continue;
        }
        let sealed = key.seal(&job_context(name), text.as_bytes())?;
        *value = serde_json::Value::String(format!("{SEALED_PREFIX}{}", hex_encode(&sealed)));
    }
    Ok(())
}

/// `seal_secret_values` undone.
pub fn open_secret_values(
    key: &SecretKey,
    secrets: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), SecretsError> {
    for (name, value) in secrets.iter_mut() {
        let Some(sealed) = value
            .as_str()
            .and_then(|text| text.strip_prefix(SEALED_PREFIX))
        else {
            continue;
        };
        let decrypt_error = || SecretsError::Decrypt { name: name.clone() };
        let sealed = hex_decode(sealed).ok_or_else(decrypt_error)?;
        let plaintext = key.open(&job_context(name), &sealed)?;
        *value =
            serde_json::Value::String(String::from_utf8(plaintext).map_err(|_| decrypt_error())?);
    }
    Ok(())
}

/// The spec with its sealed secret values opened again, for the runner that leased it.
pub fn open_job_secrets(key: &SecretKey, mut spec: JobSpec) -> Result<JobSpec, SecretsError> {
    for (name, value) in spec.secrets.iter_mut() {
        let Some(sealed) = value.strip_prefix(SEALED_PREFIX) else {
            continue;
        };
        let decrypt_error = || SecretsError::Decrypt { name: name.clone() };
        let sealed = hex_decode(sealed).ok_or_else(decrypt_error)?;
        let plaintext = key.open(&job_context(name), &sealed)?;
        *value = String::from_utf8(plaintext).map_err(|_| decrypt_error())?;
    }
    Ok(spec)
}

/// A `SecretsError` met while the engine opens or hands out a job, as the store error the
/// dispatch path speaks (named after the key file).
pub fn as_store_error(data_dir: &Path, error: SecretsError) -> StoreError {
    match error {
        SecretsError::Store(error) => error,
        other => StoreError::Database {
            path: data_dir.join(KEY_FILE),
            message: other.to_string(),
        },
    }
}

/// Bound to the secret's name only, so a rerun that copies a spec into a new run still opens.
fn job_context(name: &str) -> String {
    format!("job-secret\0{name}")
}

fn secret_context(repository: &str, name: &str) -> String {
    format!("secret\0{repository}\0{name}")
}

fn info(record: &SecretRecord) -> SecretInfo {
    SecretInfo {
        repository: record.repository.clone(),
        name: record.name.clone(),
        updated_at_us: record.updated_at_us,
    }
}

fn check_value(name: &str, value: &str) -> Result<(), SecretsError> {
    let invalid = |reason: String| SecretsError::InvalidValue {
        name: name.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(invalid("it is empty".into()));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(invalid(format!(
            "it is {} bytes long, the limit is {MAX_VALUE_BYTES}",
            value.len()
        )));
    }
    Ok(())
}

fn random_fill(bytes: &mut [u8]) -> Result<(), SecretsError> {
    getrandom::fill(bytes).map_err(|error| SecretsError::Random(error.to_string()))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_in(dir: &Path) -> SecretKey {
        SecretKey::load_or_create(dir).unwrap()
    }

    #[test]
    fn names_follow_github_rules() {
        for (name, stored) in [
            ("api_key", "API_KEY"),
            ("_x", "_X"),
            ("Token2", "TOKEN2"),
            ("GITHUBX", "GITHUBX"),
        ] {
            assert_eq!(normalize_name(name).unwrap(), stored, "{name}");
        }
        for name in ["", "1ABC", "github_token", "GITHUB_X", "A-B", "A B", "é"] {
            assert!(normalize_name(name).is_err(), "{name} should be refused");
        }
    }

    #[test]
    fn seal_round_trips_with_fresh_nonces_and_binds_its_context() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_in(dir.path());
        let first = key.seal("secret\0\0A", b"hunter2").unwrap();
        let second = key.seal("secret\0\0A", b"hunter2").unwrap();
        assert_ne!(first, second, "every encryption takes its own nonce");
        assert_ne!(first.get(..NONCE_BYTES), second.get(..NONCE_BYTES));
        assert_eq!(key.open("secret\0\0A", &first).unwrap(), b"hunter2");
        assert!(
            key.open("secret\0\0B", &first).is_err(),
            "moved to another slot"
        );
        let mut tampered = first.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key.open("secret\0\0A", &tampered).is_err());
        assert!(key.open("secret\0\0A", b"short").is_err());
    }

    #[test]
    fn the_key_file_is_private_stable_and_random() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_in(dir.path());
        let again = key_in(dir.path());
        assert_eq!(key.bytes, again.bytes);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(key.bytes, key_in(other.path()).bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the key file is left behind (the aside copy is gone).
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(KEY_FILE)]);
        // A key sealed elsewhere does not open here.
        let sealed = key.seal("c", b"v").unwrap();
        assert!(key_in(other.path()).open("c", &sealed).is_err());
    }

    #[test]
    fn job_spec_secrets_are_sealed_and_opened() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_in(dir.path());
        let mut spec = JobSpec {
            run_id: "r".into(),
            job_key: "build".into(),
            ..JobSpec::default()
        };
        spec.secrets
            .insert("TOKEN".into(), "plain-value-123".into());
        let sealed = seal_job_secrets(&key, spec.clone()).unwrap();
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(!text.contains("plain-value-123"), "{text}");
        assert_eq!(seal_job_secrets(&key, sealed.clone()).unwrap(), sealed);
        assert_eq!(open_job_secrets(&key, sealed.clone()).unwrap(), spec);
        // A value moved to another name does not open.
        let mut moved = sealed;
        let value = moved.secrets.swap_remove("TOKEN").unwrap();
        moved.secrets.insert("OTHER".into(), value);
        assert!(open_job_secrets(&key, moved).is_err());
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        assert_eq!(
            hex_decode(&hex_encode(&[0, 255, 16])).unwrap(),
            vec![0, 255, 16]
        );
        assert!(hex_decode("abc").is_none());
        assert!(hex_decode("zz").is_none());
    }
}
