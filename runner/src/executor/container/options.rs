//! `options:` of a job or service container: the subset of `docker create` flags GitHub
//! documents, turned into fields of the container's create request. Anything else is refused
//! with an error naming the flag, so a workflow never silently loses a setting.

use std::collections::HashMap;

use bollard::models::{HealthConfig, HostConfig};
pub use workflows::validate::split_words;

/// The settings `options:` can carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateOptions {
    /// `-e`/`--env`: `NAME=value` entries added to the container's environment.
    pub env: Vec<String>,
    /// `-u`/`--user`: the user (name or uid, optionally `:group`) the container runs as.
    pub user: Option<String>,
    /// `-w`/`--workdir`: the container's working directory.
    pub workdir: Option<String>,
    /// `-h`/`--hostname`: the container's host name.
    pub hostname: Option<String>,
    /// `--entrypoint`: overrides the image's entrypoint.
    pub entrypoint: Option<String>,
    /// The health check built from `--health-cmd`, `--health-interval`, … (`--no-healthcheck`
    /// disables the image's).
    pub health: Option<HealthConfig>,
    /// `-v`/`--volume`: bind mounts, as written (`/host:/container[:ro]`).
    pub binds: Vec<String>,
    /// `-p`/`--publish`: port mappings, as written (`8080:80`).
    pub ports: Vec<String>,
    /// `-l`/`--label`: label key → value (empty when no `=` is given).
    pub labels: HashMap<String, String>,
    /// `--network-alias`: extra names the container answers to on the job's network.
    pub network_aliases: Vec<String>,
    /// `--cap-add`: Linux capabilities to add.
    pub cap_add: Vec<String>,
    /// `--cap-drop`: Linux capabilities to drop.
    pub cap_drop: Vec<String>,
    /// `--privileged`: run the container with extended privileges.
    pub privileged: bool,
    /// `--init`: run an init process inside the container that reaps zombies.
    pub init: bool,
    /// `-m`/`--memory`: the memory limit, in bytes.
    pub memory: Option<i64>,
    /// `--cpus`: the CPU limit, in billionths of a CPU (`1.5` → `1_500_000_000`).
    pub nano_cpus: Option<i64>,
    /// `--shm-size`: the size of `/dev/shm`, in bytes.
    pub shm_size: Option<i64>,
    /// `--tmpfs`: mount path → tmpfs mount options (empty for the defaults).
    pub tmpfs: HashMap<String, String>,
    /// `--add-host`: extra `/etc/hosts` entries (`host:ip`).
    pub add_hosts: Vec<String>,
    /// `--security-opt`: security options, as written (e.g. `seccomp=unconfined`).
    pub security_opt: Vec<String>,
    /// `--ulimit`: ulimits, as written (e.g. `nofile=1024:2048`).
    pub ulimits: Vec<String>,
}

impl CreateOptions {
    /// Applies the host-side settings to `host`.
    pub fn apply_host(&self, host: &mut HostConfig) {
        if self.privileged {
            host.privileged = Some(true);
        }
        if self.init {
            host.init = Some(true);
        }
        let extend = |target: &mut Option<Vec<String>>, items: &[String]| {
            if !items.is_empty() {
                target
                    .get_or_insert_with(Vec::new)
                    .extend(items.iter().cloned());
            }
        };
        extend(&mut host.binds, &self.binds);
        extend(&mut host.cap_add, &self.cap_add);
        extend(&mut host.cap_drop, &self.cap_drop);
        extend(&mut host.extra_hosts, &self.add_hosts);
        extend(&mut host.security_opt, &self.security_opt);
        host.memory = self.memory.or(host.memory);
        host.nano_cpus = self.nano_cpus.or(host.nano_cpus);
        host.shm_size = self.shm_size.or(host.shm_size);
        if !self.tmpfs.is_empty() {
            host.tmpfs = Some(self.tmpfs.clone());
        }
    }
}

/// Parses `options:`. Errors name the flag at fault.
pub fn parse(text: &str) -> Result<CreateOptions, String> {
    let words = split_words(text)?;
    let mut options = CreateOptions::default();
    let mut health = HealthConfig::default();
    let mut has_health = false;
    let mut index = 0;
    while index < words.len() {
        let word = &words[index];
        index += 1;
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (word.clone(), None),
        };
        if !flag.starts_with('-') {
            return Err(format!(
                "unexpected `{word}`: options are `docker create` flags"
            ));
        }
        let boolean = matches!(
            flag.as_str(),
            "--privileged" | "--init" | "--no-healthcheck"
        );
        let value = if boolean {
            String::new()
        } else if let Some(value) = inline {
            value
        } else {
            let Some(value) = words.get(index) else {
                return Err(format!("`{flag}` needs a value"));
            };
            index += 1;
            value.clone()
        };
        match flag.as_str() {
            "-e" | "--env" => options.env.push(value),
            "-u" | "--user" => options.user = Some(value),
            "-w" | "--workdir" => options.workdir = Some(value),
            "-h" | "--hostname" => options.hostname = Some(value),
            "--entrypoint" => options.entrypoint = Some(value),
            "-v" | "--volume" => options.binds.push(value),
            "-p" | "--publish" => options.ports.push(value),
            "-l" | "--label" => {
                let (key, value) = value.split_once('=').unwrap_or((value.as_str(), ""));
                options.labels.insert(key.to_string(), value.to_string());
            }
            "--network-alias" => options.network_aliases.push(value),
            "--cap-add" => options.cap_add.push(value),
            "--cap-drop" => options.cap_drop.push(value),
            "--add-host" => options.add_hosts.push(value),
            "--security-opt" => options.security_opt.push(value),
            "--ulimit" => options.ulimits.push(value),
            "--privileged" => options.privileged = true,
            "--init" => options.init = true,
            "-m" | "--memory" => options.memory = Some(parse_bytes(&flag, &value)?),
            "--shm-size" => options.shm_size = Some(parse_bytes(&flag, &value)?),
            "--cpus" => {
                let cpus: f64 = value
                    .parse()
                    .map_err(|_| format!("`--cpus`: `{value}` is not a number"))?;
                options.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "--tmpfs" => {
                let (path, mount) = value.split_once(':').unwrap_or((value.as_str(), ""));
                options.tmpfs.insert(path.to_string(), mount.to_string());
            }
            "--health-cmd" => {
                has_health = true;
                health.test = Some(vec!["CMD-SHELL".to_string(), value]);
            }
            "--no-healthcheck" => {
                has_health = true;
                health.test = Some(vec!["NONE".to_string()]);
            }
            "--health-interval" => {
                has_health = true;
                health.interval = Some(parse_duration(&flag, &value)?);
            }
            "--health-timeout" => {
                has_health = true;
                health.timeout = Some(parse_duration(&flag, &value)?);
            }
            "--health-start-period" => {
                has_health = true;
                health.start_period = Some(parse_duration(&flag, &value)?);
            }
            "--health-retries" => {
                has_health = true;
                health.retries = Some(
                    value
                        .parse()
                        .map_err(|_| format!("`--health-retries`: `{value}` is not a number"))?,
                );
            }
            other => {
                return Err(format!(
                    "unsupported option `{other}` (supported: --env, --user, --workdir, --hostname, --entrypoint, --volume, --publish, --label, --network-alias, --cap-add, --cap-drop, --add-host, --security-opt, --privileged, --init, --memory, --shm-size, --cpus, --tmpfs, --health-cmd, --health-interval, --health-timeout, --health-start-period, --health-retries, --no-healthcheck)"
                ));
            }
        }
    }
    if !options.ulimits.is_empty() {
        return Err("`--ulimit` is not supported yet".to_string());
    }
    if has_health {
        options.health = Some(health);
    }
    Ok(options)
}

/// `10s`, `1m30s`, `500ms`, `2h` → nanoseconds.
fn parse_duration(flag: &str, text: &str) -> Result<i64, String> {
    let error = || format!("`{flag}`: `{text}` is not a duration (like 10s, 1m30s, 500ms)");
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().map_err(|_| error())?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1e6
            }
            ('u' | 'µ', Some('s')) => {
                chars.next();
                1e3
            }
            ('n', Some('s')) => {
                chars.next();
                1.0
            }
            ('s', _) => 1e9,
            ('m', _) => 60e9,
            ('h', _) => 3600e9,
            _ => return Err(error()),
        };
        total += value * unit;
        any = true;
    }
    if !number.is_empty() || !any {
        return Err(error());
    }
    Ok(total as i64)
}

/// `512m`, `1g`, `1024` → bytes.
fn parse_bytes(flag: &str, text: &str) -> Result<i64, String> {
    let error = || format!("`{flag}`: `{text}` is not a size (like 512m, 1g)");
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (digits, unit) = match trimmed.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&trimmed[..at], c),
        _ => (trimmed, ' '),
    };
    let value: f64 = digits.parse().map_err(|_| error())?;
    let scale = match unit {
        ' ' => 1.0,
        'k' => 1024.0,
        'm' => 1024.0 * 1024.0,
        'g' => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(error()),
    };
    Ok((value * scale) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_options_are_parsed_with_quotes() {
        let options = parse(
            r#"--health-cmd "nc -z localhost 5432" --health-interval 2s --health-timeout=1s --health-retries 5 -e A=1 --cpus 1.5"#,
        )
        .unwrap();
        let health = options.health.unwrap();
        assert_eq!(
            health.test.unwrap(),
            vec!["CMD-SHELL".to_string(), "nc -z localhost 5432".to_string()]
        );
        assert_eq!(health.interval, Some(2_000_000_000));
        assert_eq!(health.timeout, Some(1_000_000_000));
        assert_eq!(health.retries, Some(5));
        assert_eq!(options.env, vec!["A=1".to_string()]);
        assert_eq!(options.nano_cpus, Some(1_500_000_000));
    }

    #[test]
    fn unknown_and_incomplete_options_are_named() {
        let error = parse("--rm --user 1").unwrap_err();
        assert!(error.contains("unsupported option `--rm`"), "{error}");
        let error = parse("--user").unwrap_err();
        assert!(error.contains("`--user` needs a value"), "{error}");
        let error = parse("--health-interval soon").unwrap_err();
        assert!(error.contains("`--health-interval`"), "{error}");
        assert!(parse("--memory 1x").is_err());
        assert_eq!(parse("-m 1g").unwrap().memory, Some(1 << 30));
        assert_eq!(
            parse("--health-interval 1m30s")
                .unwrap()
                .health
                .unwrap()
                .interval,
            Some(90_000_000_000)
        );
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words(r#"a "b c" 'd e' f\ g"#).unwrap(),
            vec!["a", "b c", "d e", "f g"]
        );
        assert!(split_words("'open").is_err());
    }
}
