//! The metadata file of an action (`action.yml` / `action.yaml`): its inputs, outputs and how
//! it runs (composite steps, a JavaScript entry point with `pre`/`post`, or a Docker image), and
//! [`RemoteAction`], what a `uses: owner/repo[/path]@ref` names.
//!
//! Pure like the rest of the crate: the caller reads the file; this module only turns text into a
//! model plus diagnostics, and never panics on user input.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::model::Step;
use crate::parse::jobs::steps;
use crate::parse::reader::Reader;
use crate::span::{Span, Spanned};
use crate::yaml::{self, Node, ScalarKind};

/// A parsed `action.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The file name as given to the parser.
    pub file: String,
    /// The action's display name (`name:`), shown in logs.
    pub name: Option<Spanned<String>>,
    /// What the action does (`description:`), as written.
    pub description: Option<Spanned<String>>,
    /// Inputs keyed by name as written (callers compare names case-insensitively).
    pub inputs: IndexMap<String, ActionInput>,
    /// Outputs keyed by name as written, in declaration order.
    pub outputs: IndexMap<String, ActionOutput>,
    /// How the action runs: composite steps, a JavaScript entry point or a Docker image.
    pub runs: ActionRuns,
}

/// One entry of the action's `inputs:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionInput {
    /// The input's name as written in `inputs:` (callers compare names case-insensitively).
    pub name: Spanned<String>,
    /// The input's `description:`, if any.
    pub description: Option<String>,
    /// Whether the caller must give the input (`required: true`); `false` when not written.
    pub required: bool,
    /// The default as written; it may hold `${{ }}` (evaluated by the runner in the caller's contexts).
    pub default: Option<Spanned<String>>,
    /// `deprecationMessage:`: the warning shown when a caller still passes this input.
    pub deprecation_message: Option<String>,
}

/// One entry of the action's `outputs:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutput {
    /// The output's name as written in `outputs:`.
    pub name: Spanned<String>,
    /// The output's `description:`, if any.
    pub description: Option<String>,
    /// For composite actions: the template mapping the output from the inner steps.
    pub value: Option<Spanned<String>>,
}

/// `runs:`. `steps` is filled only for composite actions; `main`, `pre`, `post` and their
/// conditions for JavaScript actions; `image` for Docker actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRuns {
    /// `composite`, `node20`, `docker`, …
    pub using: Spanned<String>,
    /// Composite actions: the steps to run, in order (empty for other kinds).
    pub steps: Vec<Step>,
    /// Where the `runs:` mapping starts in the file.
    pub span: Span,
    /// The entry point (JavaScript), relative to the action's directory.
    #[serde(default)]
    pub main: Option<String>,
    /// JavaScript actions: the `pre` entry point run before the job's steps, relative to the
    /// action's directory.
    #[serde(default)]
    pub pre: Option<String>,
    /// `pre-if` as written (default `always()`).
    #[serde(default)]
    pub pre_if: Option<String>,
    /// JavaScript actions: the `post` entry point run after the job's steps, relative to the
    /// action's directory.
    #[serde(default)]
    pub post: Option<String>,
    /// `post-if` as written (default `always()`).
    #[serde(default)]
    pub post_if: Option<String>,
    /// Docker actions: `Dockerfile` or `docker://image`.
    #[serde(default)]
    pub image: Option<String>,
    /// Docker actions only (`using: docker`): the image and how it is started.
    #[serde(default)]
    pub docker: Option<DockerRuns>,
}

/// `runs:` of a Docker action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DockerRuns {
    /// `Dockerfile` (a path relative to the action's directory) or `docker://image`.
    pub image: Spanned<String>,
    /// `runs.env`: environment variables set in the container, values as written.
    pub env: crate::model::Env,
    /// `runs.entrypoint`: overrides the image's entrypoint for the main run.
    pub entrypoint: Option<Spanned<String>>,
    /// `runs.pre-entrypoint`: an entrypoint run in the image before the job's steps.
    pub pre_entrypoint: Option<Spanned<String>>,
    /// `runs.post-entrypoint`: an entrypoint run in the image after the job's steps.
    pub post_entrypoint: Option<Spanned<String>>,
    /// Arguments as written; each may hold `${{ inputs.x }}`.
    pub args: Vec<Spanned<String>>,
}

impl ActionRuns {
    /// Whether this is a composite action (`using: composite`, any case).
    pub fn is_composite(&self) -> bool {
        self.using.value.eq_ignore_ascii_case("composite")
    }

    /// `node12`, `node16`, `node20`, `node24`: the major version of node, for JavaScript actions.
    pub fn node_version(&self) -> Option<u32> {
        let using = self.using.value.trim().to_ascii_lowercase();
        using.strip_prefix("node")?.parse().ok()
    }

    /// Whether this is a Docker action (`using: docker`, any case).
    pub fn is_docker(&self) -> bool {
        self.using.value.eq_ignore_ascii_case("docker")
    }
}

/// What a remote `uses:` names: `owner/repo[/path]@ref`. Local (`./…`) and `docker://` uses are
/// not remote actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteAction {
    /// The GitHub account or organisation that owns the action's repository.
    pub owner: String,
    /// The name of the repository that holds the action.
    pub repo: String,
    /// The action's folder inside the repository (`""` for the root).
    pub path: String,
    /// The ref as written: a tag, a branch, a short or full commit sha.
    pub git_ref: String,
}

impl RemoteAction {
    /// Parses a `uses:` value; `None` for local, Docker and malformed ones.
    pub fn parse(uses: &str) -> Option<RemoteAction> {
        let uses = uses.trim();
        if uses.starts_with("./") || uses.starts_with("../") || uses.starts_with("docker://") {
            return None;
        }
        let (name, git_ref) = uses.split_once('@')?;
        let mut parts = name.trim_end_matches('/').split('/');
        let owner = parts.next()?.to_string();
        let repo = parts.next()?.to_string();
        let path = parts.collect::<Vec<_>>().join("/");
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(&owner) || !valid(&repo) || git_ref.trim().is_empty() {
            return None;
        }
        if path.split('/').any(|part| part == ".." || part == ".") {
            return None;
        }
        Some(RemoteAction {
            owner,
            repo,
            path,
            git_ref: git_ref.trim().to_string(),
        })
    }

    /// `owner/repo`, as written.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// `owner/repo[/path]`, lower-cased: what the built-in actions are known by.
    pub fn name(&self) -> String {
        let mut name = self.repository();
        if !self.path.is_empty() {
            name.push('/');
            name.push_str(&self.path);
        }
        name.to_ascii_lowercase()
    }

    /// Whether Slipway has a built-in equivalent of this action (`actions/checkout` always runs
    /// built in; cache and artifact actions do unless the real action is mirrored).
    pub fn built_in(&self) -> BuiltIn {
        match self.name().as_str() {
            // The engine serves the cache protocol and the artifact (v4) protocol the real actions
            // speak (`engine::api::toolkit`, `engine::api::results`); upload/download-artifact stay
            // built in until a real copy of them is in the tests' conformance data.
            "actions/checkout" | "actions/upload-artifact" | "actions/download-artifact" => {
                BuiltIn::Always
            }
            "actions/cache" | "actions/cache/restore" | "actions/cache/save" => {
                BuiltIn::UnlessMirrored
            }
            _ => BuiltIn::No,
        }
    }

    /// The error of an action that is neither mirrored nor fetchable.
    pub fn not_available(&self) -> String {
        format!(
            "action {}@{} is not available: mirror it with slipway action mirror {}",
            self.repository(),
            self.git_ref,
            self.repository()
        )
    }
}

/// How a remote action relates to Slipway's built-in actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    /// Always the built-in (`actions/checkout`, `actions/upload-artifact`,
    /// `actions/download-artifact`).
    Always,
    /// The built-in, unless the real action is mirrored (then the real one runs).
    UnlessMirrored,
    /// No built-in: the action must be mirrored.
    No,
}

/// Top-level keys of an action metadata file.
const ACTION_KEYS: &[&str] = &[
    "name",
    "author",
    "description",
    "inputs",
    "outputs",
    "runs",
    "branding",
];
const INPUT_KEYS: &[&str] = &["description", "required", "default", "deprecationMessage"];
const OUTPUT_KEYS: &[&str] = &["description", "value"];
const RUNS_KEYS: &[&str] = &[
    "using",
    "steps",
    "main",
    "pre",
    "pre-if",
    "post",
    "post-if",
    "image",
    "env",
    "entrypoint",
    "pre-entrypoint",
    "post-entrypoint",
    "args",
];

/// Parses one action metadata file. `file` names it in diagnostics. `action` is `None` only when
/// the file could not be read as an action at all.
pub fn parse_action(file: &str, source: &str) -> (Option<Action>, Vec<Diagnostic>) {
    let (root, yaml_errors) = yaml::parse(source);
    let mut diagnostics: Vec<Diagnostic> = yaml_errors
        .into_iter()
        .map(|error| Diagnostic::error(file, error.span, error.message))
        .collect();
    let Some(root) = root else {
        if diagnostics.is_empty() {
            diagnostics.push(Diagnostic::error(
                file,
                Span::new(0, 1, 1),
                "action metadata file is empty",
            ));
        }
        return (None, diagnostics);
    };
    let mut reader = Reader::new(file);
    let action = build_action(&mut reader, &root);
    diagnostics.append(&mut reader.diagnostics);
    (action, diagnostics)
}

fn build_action(reader: &mut Reader, root: &Node) -> Option<Action> {
    let entries = reader.mapping(root, "the action metadata")?;
    let mut action = Action {
        file: reader.file.to_string(),
        name: None,
        description: None,
        inputs: IndexMap::new(),
        outputs: IndexMap::new(),
        runs: ActionRuns {
            using: Spanned::default(),
            steps: Vec::new(),
            span: root.span,
            main: None,
            pre: None,
            pre_if: None,
            post: None,
            post_if: None,
            image: None,
            docker: None,
        },
    };
    let mut runs = None;
    for entry in entries {
        let what = format!("`{}` of the action", entry.key);
        match entry.key.as_str() {
            "name" => action.name = reader.string(&entry.value, &what),
            "description" => action.description = reader.string(&entry.value, &what),
            "author" | "branding" => {}
            "inputs" => action.inputs = inputs(reader, &entry.value),
            "outputs" => action.outputs = outputs(reader, &entry.value),
            "runs" => runs = build_runs(reader, &entry.value),
            _ => reader.unknown_key(entry, ACTION_KEYS, "the action metadata"),
        }
    }
    match runs {
        Some(runs) => action.runs = runs,
        None => {
            if !entries.iter().any(|entry| entry.key == "runs") {
                reader.error(root.span, "the action metadata needs `runs`");
            }
            return None;
        }
    }
    Some(action)
}

fn inputs(reader: &mut Reader, node: &Node) -> IndexMap<String, ActionInput> {
    let mut inputs = IndexMap::new();
    let Some(entries) = reader.mapping_or_null(node, "`inputs` of the action") else {
        return inputs;
    };
    for entry in entries {
        let place = format!("input `{}`", entry.key);
        let mut input = ActionInput {
            name: Spanned::new(entry.key.clone(), entry.key_span),
            description: None,
            required: false,
            default: None,
            deprecation_message: None,
        };
        if let Some(fields) = reader.mapping_or_null(&entry.value, &place) {
            for field in fields {
                let what = format!("`{}` of {place}", field.key);
                match field.key.as_str() {
                    "description" => {
                        input.description =
                            reader.string_or_empty(&field.value, &what).map(|d| d.value)
                    }
                    "required" => input.required = loose_bool(reader, &field.value, &what),
                    "default" => input.default = reader.string_or_empty(&field.value, &what),
                    "deprecationMessage" => {
                        input.deprecation_message =
                            reader.string_or_empty(&field.value, &what).map(|d| d.value)
                    }
                    _ => reader.unknown_key(field, INPUT_KEYS, &place),
                }
            }
        }
        inputs.insert(entry.key.clone(), input);
    }
    inputs
}

fn outputs(reader: &mut Reader, node: &Node) -> IndexMap<String, ActionOutput> {
    let mut outputs = IndexMap::new();
    let Some(entries) = reader.mapping_or_null(node, "`outputs` of the action") else {
        return outputs;
    };
    for entry in entries {
        let place = format!("output `{}`", entry.key);
        let mut output = ActionOutput {
            name: Spanned::new(entry.key.clone(), entry.key_span),
            description: None,
            value: None,
        };
        if let Some(fields) = reader.mapping_or_null(&entry.value, &place) {
            for field in fields {
                let what = format!("`{}` of {place}", field.key);
                match field.key.as_str() {
                    "description" => {
                        output.description =
                            reader.string_or_empty(&field.value, &what).map(|d| d.value)
                    }
                    "value" => output.value = reader.string_or_empty(&field.value, &what),
                    _ => reader.unknown_key(field, OUTPUT_KEYS, &place),
                }
            }
        }
        outputs.insert(entry.key.clone(), output);
    }
    outputs
}

fn build_runs(reader: &mut Reader, node: &Node) -> Option<ActionRuns> {
    let entries = reader.mapping(node, "`runs` of the action")?;
    let mut using = None;
    let mut steps_node = None;
    let mut fields: IndexMap<&str, String> = IndexMap::new();
    let mut image = None;
    let mut env = crate::model::Env::new();
    let mut entrypoints: [Option<Spanned<String>>; 3] = [None, None, None];
    let mut args = Vec::new();
    for entry in entries {
        match entry.key.as_str() {
            "using" => using = reader.string(&entry.value, "`using` of `runs`"),
            "steps" => steps_node = Some(&entry.value),
            key @ ("main" | "pre" | "pre-if" | "post" | "post-if") => {
                let what = format!("`{key}` of `runs`");
                if let Some(value) = reader.string(&entry.value, &what) {
                    fields.insert(key, value.value);
                }
            }
            "image" => image = reader.string(&entry.value, "`image` of `runs`"),
            "env" => env = reader.string_map(&entry.value, "`env` of `runs`"),
            "entrypoint" => entrypoints[0] = reader.string(&entry.value, "`entrypoint` of `runs`"),
            "pre-entrypoint" => {
                entrypoints[1] = reader.string(&entry.value, "`pre-entrypoint` of `runs`")
            }
            "post-entrypoint" => {
                entrypoints[2] = reader.string(&entry.value, "`post-entrypoint` of `runs`")
            }
            "args" => {
                if let Some(items) = reader.sequence(&entry.value, "`args` of `runs`") {
                    args = items
                        .iter()
                        .filter_map(|item| reader.string(item, "each entry of `args`"))
                        .collect();
                }
            }
            key if RUNS_KEYS.contains(&key) => {}
            _ => reader.unknown_key(entry, RUNS_KEYS, "`runs` of the action"),
        }
    }
    let Some(using) = using else {
        reader.error(node.span, "`runs` of the action needs `using`");
        return None;
    };
    let mut runs = ActionRuns {
        using,
        steps: Vec::new(),
        span: node.span,
        main: fields.get("main").cloned(),
        pre: fields.get("pre").cloned(),
        pre_if: fields.get("pre-if").cloned(),
        post: fields.get("post").cloned(),
        post_if: fields.get("post-if").cloned(),
        image: image.as_ref().map(|image| image.value.clone()),
        docker: None,
    };
    if runs.node_version().is_some() && runs.main.is_none() {
        reader.error(node.span, "a JavaScript action needs `main` under `runs`");
    }
    if runs.using.value.eq_ignore_ascii_case("docker") {
        match image {
            Some(image) => {
                let [entrypoint, pre_entrypoint, post_entrypoint] = entrypoints;
                runs.docker = Some(DockerRuns {
                    image,
                    env,
                    entrypoint,
                    pre_entrypoint,
                    post_entrypoint,
                    args,
                });
            }
            None => reader.error(node.span, "a Docker action needs `image` under `runs`"),
        }
    }
    if runs.is_composite() {
        match steps_node {
            Some(steps_node) => runs.steps = steps(reader, steps_node, "the composite action"),
            None => reader.error(node.span, "a composite action needs `steps` under `runs`"),
        }
        for step in &runs.steps {
            // GitHub's parallel steps are for jobs; composite actions reject them.
            if step.background || step.control.is_some() {
                reader.error(
                    step.span,
                    "parallel steps (`background`, `wait`, `wait-all`, `cancel`, `parallel`) are not allowed in a composite action",
                );
            }
        }
        for (index, step) in runs.steps.iter().enumerate() {
            if step.run.is_some() && step.shell.is_none() {
                reader.error(
                    step.span,
                    format!("step {} of the composite action has `run` but no `shell` (composite steps need one)", index + 1),
                );
            }
        }
    }
    Some(runs)
}

/// `required: true`, also written as the string `'true'` in many published actions.
fn loose_bool(reader: &mut Reader, node: &Node, what: &str) -> bool {
    match node.as_scalar() {
        Some(scalar) if matches!(scalar.kind, ScalarKind::Bool(_) | ScalarKind::String) => {
            matches!(scalar.kind, ScalarKind::Bool(true))
                || scalar.text.trim().eq_ignore_ascii_case("true")
        }
        _ => {
            reader.error(
                node.span,
                format!("{what} must be a boolean, found {}", node.describe()),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_docker_action() {
        let source = "name: D\nruns:\n  using: docker\n  image: Dockerfile\n  entrypoint: /main.sh\n  pre-entrypoint: /pre.sh\n  post-entrypoint: /post.sh\n  env:\n    A: b\n  args:\n    - ${{ inputs.who }}\n    - 2\n";
        let (action, diagnostics) = parse_action("action.yml", source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let docker = action.unwrap().runs.docker.unwrap();
        assert_eq!(docker.image.value, "Dockerfile");
        assert_eq!(docker.entrypoint.unwrap().value, "/main.sh");
        assert_eq!(docker.pre_entrypoint.unwrap().value, "/pre.sh");
        assert_eq!(docker.post_entrypoint.unwrap().value, "/post.sh");
        assert_eq!(docker.env["A"].value, "b");
        let args: Vec<_> = docker.args.iter().map(|arg| arg.value.as_str()).collect();
        assert_eq!(args, ["${{ inputs.who }}", "2"]);
        // Without `image` the file names what is missing, with its place.
        let (_, diagnostics) = parse_action("action.yml", "runs:\n  using: docker\n");
        assert!(
            diagnostics
                .iter()
                .any(|d| d.to_string().contains("a Docker action needs `image`")),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn reads_a_composite_action() {
        let source = "name: Greet\ninputs:\n  who:\n    required: true\n    default: world\n  loud: {}\noutputs:\n  greeting:\n    value: ${{ steps.say.outputs.text }}\nruns:\n  using: composite\n  steps:\n    - id: say\n      run: echo hi\n      shell: bash\n";
        let (action, diagnostics) = parse_action("action.yml", source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let action = action.unwrap();
        assert!(action.runs.is_composite());
        assert_eq!(action.runs.steps.len(), 1);
        let who = action.inputs.get("who").unwrap();
        assert!(who.required);
        assert_eq!(
            who.default.as_ref().map(|d| d.value.as_str()),
            Some("world")
        );
        assert!(action.inputs.contains_key("loud"));
        assert_eq!(
            action
                .outputs
                .get("greeting")
                .unwrap()
                .value
                .as_ref()
                .unwrap()
                .value,
            "${{ steps.say.outputs.text }}"
        );
    }

    #[test]
    fn reports_errors_with_positions() {
        let (_, diagnostics) = parse_action(
            "a.yml",
            "runs:\n  using: composite\n  steps:\n    - run: echo\nnmae: x\n",
        );
        let messages: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("no `shell`") && m.starts_with("a.yml:4:")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("unknown key `nmae`") && m.contains("did you mean `name`")),
            "{messages:?}"
        );
        let (action, diagnostics) = parse_action("a.yml", "name: x\n");
        assert!(action.is_none());
        assert!(
            diagnostics
                .iter()
                .any(|d| d.message.contains("needs `runs`"))
        );
        let (action, _) = parse_action("a.yml", "runs:\n  using: node20\n  main: index.js\n");
        assert!(!action.unwrap().runs.is_composite());
        let (action, diagnostics) = parse_action("a.yml", "runs: [\n");
        assert!(action.is_none() && !diagnostics.is_empty());
    }

    #[test]
    fn reads_a_javascript_action() {
        let source = "runs:\n  using: node20\n  main: dist/index.js\n  post: dist/post.js\n  post-if: success()\n";
        let (action, diagnostics) = parse_action("action.yml", source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let runs = action.unwrap().runs;
        assert_eq!(runs.node_version(), Some(20));
        assert_eq!(runs.main.as_deref(), Some("dist/index.js"));
        assert_eq!(runs.post.as_deref(), Some("dist/post.js"));
        assert_eq!(runs.post_if.as_deref(), Some("success()"));
        assert_eq!(runs.pre, None);
        let (_, diagnostics) = parse_action("a.yml", "runs:\n  using: node20\n");
        assert!(
            diagnostics
                .iter()
                .any(|d| d.message.contains("needs `main`"))
        );
    }

    fn check_remote(uses: &str, expected: Option<(&str, &str, &str, &str)>) {
        let parsed = RemoteAction::parse(uses);
        let got = parsed.as_ref().map(|action| {
            (
                action.owner.as_str(),
                action.repo.as_str(),
                action.path.as_str(),
                action.git_ref.as_str(),
            )
        });
        assert_eq!(got, expected, "{uses}");
    }

    #[test]
    fn parses_remote_uses() {
        check_remote("actions/cache@v4", Some(("actions", "cache", "", "v4")));
        check_remote(
            "actions/cache/restore@v4",
            Some(("actions", "cache", "restore", "v4")),
        );
        check_remote("o/r/a/b@main", Some(("o", "r", "a/b", "main")));
        check_remote("./local", None);
        check_remote("docker://alpine:3", None);
        check_remote("actions/cache", None);
        check_remote("actions@v1", None);
        check_remote("o/r/../x@v1", None);
        check_remote("o/r@ ", None);
        let cache = RemoteAction::parse("Actions/Cache@v4").unwrap();
        assert_eq!(cache.built_in(), BuiltIn::UnlessMirrored);
        assert_eq!(
            RemoteAction::parse("actions/checkout@v4")
                .unwrap()
                .built_in(),
            BuiltIn::Always
        );
        assert_eq!(
            RemoteAction::parse("o/r@v4").unwrap().not_available(),
            "action o/r@v4 is not available: mirror it with slipway action mirror o/r"
        );
    }
}
