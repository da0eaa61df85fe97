//! Which secrets a job reads: the one selector behind "a job receives only the secrets it names",
//! used by the scheduler (run secrets) and the engine (environment secrets) alike.
//!
//! Every expression a runner evaluates for the job (steps' `name`, `run`, `uses`, `shell`,
//! `working-directory`, `with`, `env`, `if`, `continue-on-error`, `timeout-minutes`; workflow and
//! job `env`; `outputs`; container and service credentials and env; the `deployment:` block's
//! strings) is parsed, and the syntax tree is walked for:
//! - `secrets.NAME` and `secrets['NAME']`: that name;
//! - `github.token`: `GITHUB_TOKEN` (the token's other spelling);
//! - `secrets` read as a whole (`toJSON(secrets)`, `secrets[format(…)]`, `secrets[matrix.x]`,
//!   `secrets.*`): every secret.
//!
//! Names compare case-insensitively, as GitHub's property access does. Text that is not an
//! expression (outside `${{ }}`) is never read, so `secrets.db_password` grants `db_password` and
//! nothing else, and `mysecrets.x` grants nothing. An expression that does not parse grants
//! nothing: the runner fails on it before it could read a secret.
//!
//! This module must not evaluate anything or see secret values other than to filter a map.

use indexmap::{IndexMap, IndexSet};

use super::parser::{Index, Node, NodeKind};
use super::{CONTEXT_NAMES, Condition, ConditionBody, Expr, Template};
use crate::model::{BoolOrExpr, Container, Job, NumberOrExpr, Step, Workflow};

/// The secrets a set of expressions reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretReferences {
    /// Lowercased names read one by one.
    names: IndexSet<String>,
    /// The `secrets` object is read as a whole: every secret may be needed.
    all: bool,
}

/// The parts of a job a runner evaluates expressions in, whatever they were read from (the
/// workflow model or a `JobSpec` built from it).
#[derive(Debug, Clone, Copy, Default)]
pub struct JobExpressions<'a> {
    /// The job's steps, whose `if:`, `run`, `with`, `env` and other fields may hold expressions.
    pub steps: &'a [Step],
    /// `env`, `outputs`, credentials: templates (`text ${{ expr }} text`).
    pub templates: &'a [&'a str],
    /// A JSON block whose strings are templates (the `deployment:` block).
    pub block: Option<&'a serde_json::Value>,
    /// `if:` conditions (an expression with or without `${{ }}`), for steps given as plain
    /// data rather than as `steps`.
    pub conditions: &'a [&'a str],
}

impl SecretReferences {
    /// The secrets job `job` of `workflow` reads.
    pub fn of_job(workflow: &Workflow, job: &Job) -> SecretReferences {
        let mut templates: Vec<&str> = Vec::new();
        let env = workflow.env.values().chain(job.env.values());
        templates.extend(env.chain(job.outputs.values()).map(|v| v.value.as_str()));
        for container in job.container.iter().chain(job.services.values()) {
            templates.extend(container_templates(container));
        }
        SecretReferences::of(JobExpressions {
            steps: &job.steps,
            templates: &templates,
            block: job.deployment.as_ref().map(|block| &block.value),
            conditions: &[],
        })
    }

    /// The secrets `parts` read.
    pub fn of(parts: JobExpressions<'_>) -> SecretReferences {
        let mut references = SecretReferences::default();
        for text in parts.templates {
            references.add_template(text);
        }
        if let Some(block) = parts.block {
            references.add_block(block);
        }
        for step in parts.steps {
            references.add_step(step);
        }
        for condition in parts.conditions {
            references.add_condition(condition);
        }
        references
    }

    /// Whether the secret called `name` is read (case-insensitively).
    pub fn reads(&self, name: &str) -> bool {
        self.all || self.names.contains(&name.to_ascii_lowercase())
    }

    /// Whether `secrets` is read as a whole.
    pub fn reads_all(&self) -> bool {
        self.all
    }

    /// The entries of `available` that are read, in their order.
    pub fn select(&self, available: &IndexMap<String, String>) -> IndexMap<String, String> {
        available
            .iter()
            .filter(|(name, _)| self.reads(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    fn add_step(&mut self, step: &Step) {
        let fields = [
            &step.name,
            &step.run,
            &step.uses,
            &step.shell,
            &step.working_directory,
        ];
        for text in fields.into_iter().flatten() {
            self.add_template(text);
        }
        for value in step.with.values().chain(step.env.values()) {
            self.add_template(value);
        }
        if let Some(condition) = &step.condition {
            self.add_condition(condition);
        }
        if let Some(BoolOrExpr::Expr(text)) = step.continue_on_error.as_ref().map(|v| &v.value) {
            self.add_template(text);
        }
        if let Some(NumberOrExpr::Expr(text)) = step.timeout_minutes.as_ref().map(|v| &v.value) {
            self.add_template(text);
        }
    }

    /// `text ${{ expr }} text`: the expressions inside `${{ }}`.
    fn add_template(&mut self, text: &str) {
        if !text.contains("${{") {
            return;
        }
        if let Ok(template) = Template::parse_with_names(text, CONTEXT_NAMES) {
            template.expressions().for_each(|expr| self.add_expr(expr));
        }
    }

    /// An `if:`: an expression with or without `${{ }}`.
    fn add_condition(&mut self, text: &str) {
        let Ok(condition) = Condition::parse_with_names(text, CONTEXT_NAMES) else {
            return;
        };
        match &condition.body {
            ConditionBody::Empty => {}
            ConditionBody::Expr(expr) => self.add_expr(expr),
            ConditionBody::Template(template) => {
                template.expressions().for_each(|expr| self.add_expr(expr))
            }
        }
    }

    fn add_block(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(text) => self.add_template(text),
            serde_json::Value::Array(items) => items.iter().for_each(|item| self.add_block(item)),
            serde_json::Value::Object(map) => map.values().for_each(|item| self.add_block(item)),
            _ => {}
        }
    }

    fn add_expr(&mut self, expr: &Expr) {
        if let Some(root) = &expr.root {
            self.walk(root);
        }
    }

    fn walk(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Null | NodeKind::Bool(_) | NodeKind::Number(_) | NodeKind::String(_) => {}
            // `secrets` reached on its own (not as the target of `.NAME`/`['NAME']`).
            NodeKind::Context(name) => {
                if name.eq_ignore_ascii_case("secrets") {
                    self.all = true;
                }
            }
            NodeKind::Index { target, index } => {
                if let NodeKind::Context(context) = &target.kind {
                    if context.eq_ignore_ascii_case("secrets") {
                        match index {
                            Index::Property { name, .. } => {
                                self.names.insert(name.to_ascii_lowercase());
                            }
                            Index::Expr(inner) => match &inner.kind {
                                NodeKind::String(name) => {
                                    self.names.insert(name.to_ascii_lowercase());
                                }
                                _ => {
                                    self.all = true;
                                    self.walk(inner);
                                }
                            },
                            Index::Star => self.all = true,
                        }
                        return;
                    }
                    if context.eq_ignore_ascii_case("github")
                        && matches!(index, Index::Property { name, .. } if name.eq_ignore_ascii_case("token"))
                    {
                        self.names.insert("github_token".to_string());
                        return;
                    }
                }
                self.walk(target);
                if let Index::Expr(inner) = index {
                    self.walk(inner);
                }
            }
            NodeKind::Not(operand) => self.walk(operand),
            NodeKind::Compare { first, rest } => {
                self.walk(first);
                rest.iter().for_each(|(_, operand)| self.walk(operand));
            }
            NodeKind::And(operands) | NodeKind::Or(operands) => {
                operands.iter().for_each(|operand| self.walk(operand))
            }
            NodeKind::Call { args, .. } => args.iter().for_each(|arg| self.walk(arg)),
        }
    }
}

fn container_templates(container: &Container) -> impl Iterator<Item = &str> {
    container
        .credentials
        .values()
        .chain(container.env.values())
        .map(|value| value.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Span, Spanned};

    fn read(template: &str) -> SecretReferences {
        SecretReferences::of(JobExpressions {
            templates: &[template],
            ..JobExpressions::default()
        })
    }

    fn names(references: &SecretReferences) -> Vec<&str> {
        references.names.iter().map(String::as_str).collect()
    }

    #[test]
    fn a_dotted_name_is_read_alone_and_case_insensitively() {
        let references = read("${{ secrets.DEPLOY_KEY }}");
        assert_eq!(names(&references), ["deploy_key"]);
        assert!(!references.reads_all());
        assert!(references.reads("deploy_key") && references.reads("Deploy_Key"));
        assert!(!references.reads("deploy"));
    }

    #[test]
    fn a_longer_name_does_not_grant_its_prefix() {
        let references = read("psql ${{ secrets.db_password }}");
        assert!(references.reads("DB_PASSWORD"));
        assert!(!references.reads("db"));
        assert!(!references.reads("db_pass"));
    }

    #[test]
    fn quoted_indexes_are_names() {
        let references = read("${{ secrets['my-key'] || secrets['Other'] }}");
        assert_eq!(names(&references), ["my-key", "other"]);
        assert!(!references.reads_all());
    }

    #[test]
    fn the_whole_object_grants_everything() {
        for text in [
            "${{ toJSON(secrets) }}",
            "${{ secrets[format('{0}_KEY', matrix.env)] }}",
            "${{ secrets[matrix.name] }}",
            "${{ secrets.* }}",
            "${{ join(secrets, ',') }}",
        ] {
            assert!(read(text).reads_all(), "{text}");
        }
    }

    #[test]
    fn github_token_is_the_token_secret() {
        assert_eq!(names(&read("${{ github.token }}")), ["github_token"]);
        assert!(read("${{ github.token }}").reads("GITHUB_TOKEN"));
    }

    #[test]
    fn text_outside_expressions_and_other_contexts_read_nothing() {
        for text in [
            "echo secrets.db",
            "${{ env.secrets_dir }}",
            "${{ mysecrets.x }}",
            "${{ github.event.secrets }}",
            "${{ 'secrets.db' }}",
            "${{ github.token_x }}",
        ] {
            assert_eq!(read(text), SecretReferences::default(), "{text}");
        }
        // An expression that does not parse grants nothing.
        assert_eq!(read("${{ secrets.db && }}"), SecretReferences::default());
    }

    fn spanned<T>(value: T) -> Spanned<T> {
        Spanned::new(value, Span::default())
    }

    #[test]
    fn every_step_field_is_read_and_a_bare_if_is_an_expression() {
        let step = Step {
            id: None,
            name: Some(spanned("${{ secrets.a }}".to_string())),
            condition: Some(spanned("secrets.b != ''".to_string())),
            run: Some(spanned("echo ${{ secrets.c }}".to_string())),
            uses: None,
            shell: None,
            with: [("x".to_string(), spanned("${{ secrets['d'] }}".to_string()))]
                .into_iter()
                .collect(),
            env: [("Y".to_string(), spanned("${{ secrets.e }}".to_string()))]
                .into_iter()
                .collect(),
            working_directory: None,
            continue_on_error: Some(spanned(BoolOrExpr::Expr(
                "${{ secrets.f == 'x' }}".to_string(),
            ))),
            timeout_minutes: Some(spanned(NumberOrExpr::Expr(
                "${{ fromJSON(secrets.g) }}".to_string(),
            ))),
            background: false,
            control: None,
            span: Span::default(),
        };
        let references = SecretReferences::of(JobExpressions {
            steps: std::slice::from_ref(&step),
            ..JobExpressions::default()
        });
        assert_eq!(names(&references).len(), 7);
        for name in ["a", "b", "c", "d", "e", "f", "g"] {
            assert!(references.reads(name), "{name}");
        }
        assert!(!references.reads_all());
    }

    #[test]
    fn a_deployment_block_and_selection_keep_the_run_order() {
        let block = serde_json::json!({"targets": ["${{ secrets.host }}"], "verify": "curl x"});
        let references = SecretReferences::of(JobExpressions {
            block: Some(&block),
            templates: &["${{ secrets.Token }}"],
            ..JobExpressions::default()
        });
        let available: IndexMap<String, String> = [("db", "1"), ("TOKEN", "2"), ("HOST", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let selected = references.select(&available);
        let selected: Vec<&str> = selected.keys().map(String::as_str).collect();
        assert_eq!(selected, ["TOKEN", "HOST"]);
    }
}
