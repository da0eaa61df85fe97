//! Shapes that appear at more than one level of a workflow: `env`, `defaults`, `concurrency`,
//! `permissions`, containers. Reading only; what the values mean is decided elsewhere.

use indexmap::IndexMap;

use crate::model::{Concurrency, Container, Defaults, Env, Permissions};
use crate::span::Spanned;
use crate::yaml::{Node, NodeValue};

use super::reader::{Reader, is_expression};

/// Permission scopes GitHub documents for `permissions:`.
pub(crate) const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

pub(crate) fn env(reader: &mut Reader, node: &Node, place: &str) -> Env {
    // `env: ${{ fromJSON(…) }}`: one entry standing for the whole mapping (see `model::Env`).
    if let Some(scalar) = node
        .as_scalar()
        .filter(|scalar| is_expression(&scalar.text))
    {
        let mut env = Env::new();
        env.insert(
            format!("{}{place}", crate::model::ENV_EXPRESSION_PREFIX),
            Spanned::new(scalar.text.clone(), node.span),
        );
        return env;
    }
    reader.string_map(node, &format!("`env` of {place}"))
}

pub(crate) fn defaults(reader: &mut Reader, node: &Node, place: &str) -> Option<Defaults> {
    let entries = reader.mapping(node, &format!("`defaults` of {place}"))?;
    let mut defaults = Defaults::default();
    for entry in entries {
        if entry.key != "run" {
            reader.unknown_key(entry, &["run"], &format!("`defaults` of {place}"));
            continue;
        }
        let Some(run) = reader.mapping(&entry.value, &format!("`defaults.run` of {place}")) else {
            continue;
        };
        for setting in run {
            let what = format!("`defaults.run.{}` of {place}", setting.key);
            match setting.key.as_str() {
                "shell" => defaults.shell = reader.string(&setting.value, &what),
                "working-directory" => {
                    defaults.working_directory = reader.string(&setting.value, &what)
                }
                _ => reader.unknown_key(
                    setting,
                    &["shell", "working-directory"],
                    &format!("`defaults.run` of {place}"),
                ),
            }
        }
    }
    Some(defaults)
}

/// `concurrency: group-name` or `{group, cancel-in-progress}`.
pub(crate) fn concurrency(reader: &mut Reader, node: &Node, place: &str) -> Option<Concurrency> {
    let what = format!("`concurrency` of {place}");
    if let NodeValue::Mapping(entries) = &node.value {
        let mut group = None;
        let mut cancel_in_progress = None;
        for entry in entries {
            match entry.key.as_str() {
                "group" => {
                    group = reader.string(&entry.value, &format!("`concurrency.group` of {place}"))
                }
                "cancel-in-progress" => {
                    cancel_in_progress = reader.bool_or_expr(
                        &entry.value,
                        &format!("`concurrency.cancel-in-progress` of {place}"),
                    )
                }
                "queue" => {
                    let queue_what = format!("`concurrency.queue` of {place}");
                    if reader.string(&entry.value, &queue_what).is_some() {
                        reader.warning(
                            entry.key_span,
                            format!("{queue_what} is not supported by slipway and is ignored"),
                        );
                    }
                }
                _ => reader.unknown_key(entry, &["group", "cancel-in-progress", "queue"], &what),
            }
        }
        let Some(group) = group else {
            reader.error(node.span, format!("{what} needs a `group`"));
            return None;
        };
        return Some(Concurrency {
            group,
            cancel_in_progress,
        });
    }
    let group = match &node.value {
        NodeValue::Scalar(_) if !node.is_null() => reader.string(node, &what)?,
        _ => {
            reader.error(
                node.span,
                format!(
                    "{what} must be a string or a mapping, found {}",
                    node.describe()
                ),
            );
            return None;
        }
    };
    Some(Concurrency {
        group,
        cancel_in_progress: None,
    })
}

/// `permissions: read-all | write-all | {scope: read|write|none}` (`{}` takes every permission away).
pub(crate) fn permissions(reader: &mut Reader, node: &Node, place: &str) -> Option<Permissions> {
    let what = format!("`permissions` of {place}");
    match &node.value {
        NodeValue::Mapping(entries) => {
            let mut scopes = IndexMap::new();
            for entry in entries {
                if !PERMISSION_SCOPES.contains(&entry.key.as_str()) {
                    reader.unknown_key(entry, PERMISSION_SCOPES, &what);
                    continue;
                }
                let Some(level) = reader.string(
                    &entry.value,
                    &format!("permission `{}` of {place}", entry.key),
                ) else {
                    continue;
                };
                let allowed: &[&str] = match entry.key.as_str() {
                    "id-token" => &["write", "none"],
                    "models" => &["read", "none"],
                    _ => &["read", "write", "none"],
                };
                if !allowed.contains(&level.value.as_str()) {
                    reader.error(
                        level.span,
                        format!(
                            "permission `{}` of {place} must be {}, found `{}`",
                            entry.key,
                            allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            level.value
                        ),
                    );
                    continue;
                }
                scopes.insert(entry.key.clone(), level);
            }
            Some(Permissions::Scopes(scopes))
        }
        NodeValue::Scalar(scalar) if scalar.text == "read-all" => Some(Permissions::ReadAll),
        NodeValue::Scalar(scalar) if scalar.text == "write-all" => Some(Permissions::WriteAll),
        NodeValue::Scalar(scalar) if !node.is_null() => {
            reader.error(
                node.span,
                format!(
                    "{what} must be `read-all`, `write-all` or a mapping, found `{}`",
                    scalar.text
                ),
            );
            None
        }
        _ => {
            reader.error(
                node.span,
                format!(
                    "{what} must be `read-all`, `write-all` or a mapping, found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

const CONTAINER_KEYS: &[&str] = &[
    "image",
    "credentials",
    "env",
    "ports",
    "volumes",
    "options",
    "entrypoint",
    "command",
];

/// `container:` / a service: an image name, or `{image, credentials, env, ports, volumes, options}`.
pub(crate) fn container(reader: &mut Reader, node: &Node, place: &str) -> Option<Container> {
    let mut container = Container {
        image: Spanned::new(String::new(), node.span),
        credentials: IndexMap::new(),
        env: Env::new(),
        ports: Vec::new(),
        volumes: Vec::new(),
        options: None,
        entrypoint: None,
        command: None,
    };
    let entries = match &node.value {
        NodeValue::Mapping(entries) => entries,
        NodeValue::Scalar(_) if !node.is_null() => {
            container.image = reader.string(node, place)?;
            return Some(container);
        }
        _ => {
            reader.error(
                node.span,
                format!(
                    "{place} must be an image name or a mapping, found {}",
                    node.describe()
                ),
            );
            return None;
        }
    };
    let mut has_image = false;
    for entry in entries {
        let what = format!("`{}` of {place}", entry.key);
        match entry.key.as_str() {
            "image" => {
                if let Some(image) = reader.string(&entry.value, &what) {
                    container.image = image;
                    has_image = true;
                }
            }
            "credentials" => {
                if reader.unsupported_expression(&entry.value, &what) {
                    continue;
                }
                if let Some(credentials) = reader.mapping(&entry.value, &what) {
                    for credential in credentials {
                        let credential_what =
                            format!("`credentials.{}` of {place}", credential.key);
                        match credential.key.as_str() {
                            "username" | "password" => {
                                if let Some(value) =
                                    reader.string(&credential.value, &credential_what)
                                {
                                    container.credentials.insert(credential.key.clone(), value);
                                }
                            }
                            _ => reader.unknown_key(credential, &["username", "password"], &what),
                        }
                    }
                }
            }
            "env" => container.env = reader.string_map(&entry.value, &what),
            "ports" => {
                container.ports = reader.string_list(&entry.value, &what).unwrap_or_default()
            }
            "volumes" => {
                container.volumes = reader.string_list(&entry.value, &what).unwrap_or_default()
            }
            "options" => container.options = reader.string(&entry.value, &what),
            "entrypoint" => container.entrypoint = reader.string(&entry.value, &what),
            "command" => container.command = reader.string(&entry.value, &what),
            _ => reader.unknown_key(entry, CONTAINER_KEYS, place),
        }
    }
    if !has_image {
        reader.error(node.span, format!("{place} needs an `image`"));
    }
    Some(container)
}
