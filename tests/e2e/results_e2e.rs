//! The artifact service of `actions/upload-artifact@v4` / `download-artifact@v4` (the toolkit's
//! v4 protocol: Twirp `ArtifactService` calls on the origin of `ACTIONS_RESULTS_URL`, blobs sent
//! as Azure block blobs to the signed URL) against a real engine and two runners. The real
//! actions cannot be installed here (no npm registry), so the workflow's steps run a small node
//! client the test writes, which speaks the protocol the way `@actions/artifact` does: run and job
//! ids from the token's `scp` claim, `CreateArtifact` → block `PUT`s → block list →
//! `FinalizeArtifact` with size and `sha256:` hash; `ListArtifacts` → `GetSignedArtifactURL` →
//! `GET` on the other runner in a later job. Also: a duplicate name is refused, an artifact over
//! `serve --max-artifact-bytes` is refused clearly (by the built-in upload-artifact too), deletion, reading another run of the same
//! repository by naming it, and a run of another repository can neither read nor create there.
//!
//! Node is required under `CI=true`; elsewhere its absence is a loud SKIPPED.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support;

use support::engine::TestEngine;
use support::{job, repo_with};

/// The limit the engine is started with (1 MiB).
const LIMIT: u64 = 1024 * 1024;

/// The test's protocol client: `node client.js COMMAND ARGS…`, a JSON answer on stdout, the
/// error on stderr and exit 1 when a call fails.
const CLIENT: &str = r#"
const fs = require("fs");
const crypto = require("crypto");

const token = process.env.ACTIONS_RUNTIME_TOKEN;
const origin = new URL(process.env.ACTIONS_RESULTS_URL).origin;
const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
const scope = claims.scp.split(" ").map((part) => part.split(":")).find((part) => part[0] === "Actions.Results");
const ids = { workflow_run_backend_id: scope[1], workflow_job_run_backend_id: scope[2] };
const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");
const BLOCK = 256 * 1024;

async function rpc(method, body) {
  const response = await fetch(`${origin}/twirp/github.actions.results.api.v1.ArtifactService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const answer = JSON.parse(await response.text());
  if (!response.ok) throw new Error(`${method}: (${response.status}) ${answer.code}: ${answer.msg}`);
  return answer;
}

async function put(url, query, headers, body) {
  const target = new URL(url);
  for (const [key, value] of Object.entries(query)) target.searchParams.set(key, value);
  const response = await fetch(target, { method: "PUT", headers, body });
  if (response.status !== 201) throw new Error(`PUT ${query.comp || "blob"}: (${response.status}) ${await response.text()}`);
}

const commands = {
  async upload(name, file, mode) {
    const data = fs.readFileSync(file);
    const created = await rpc("CreateArtifact", { ...ids, name, version: 4 });
    if (!created.ok) throw new Error("CreateArtifact: not ok");
    const url = created.signed_upload_url;
    if (mode === "single") {
      await put(url, {}, { "x-ms-blob-type": "BlockBlob" }, data);
    } else {
      const blocks = [];
      for (let offset = 0; offset < data.length; offset += BLOCK) {
        blocks.push(Buffer.from(String(blocks.length).padStart(6, "0")).toString("base64"));
      }
      // Blocks go up at once, in any order, as the Azure client sends them.
      await Promise.all(blocks.map((id, index) =>
        put(url, { comp: "block", blockid: id }, {}, data.subarray(index * BLOCK, (index + 1) * BLOCK))));
      const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${blocks.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
      await put(url, { comp: "blocklist" }, { "Content-Type": "application/xml" }, xml);
    }
    const done = await rpc("FinalizeArtifact", { ...ids, name, size: String(data.length), hash: `sha256:${sha256(data)}` });
    return { ok: done.ok, artifact_id: done.artifact_id };
  },
  async download(name, out, run) {
    const where = run ? { ...ids, workflow_run_backend_id: run } : ids;
    const { artifacts } = await rpc("ListArtifacts", { ...where, name_filter: name });
    if (artifacts.length !== 1) throw new Error(`ListArtifacts: ${artifacts.length} artifacts named ${name}`);
    const { signed_url } = await rpc("GetSignedArtifactURL", { ...where, name });
    const response = await fetch(signed_url);
    if (response.status !== 200) throw new Error(`GET: (${response.status}) ${await response.text()}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = `sha256:${sha256(bytes)}`;
    if (digest !== artifacts[0].digest) throw new Error(`digest ${digest}, listed ${artifacts[0].digest}`);
    fs.writeFileSync(out, bytes);
    return { content_type: response.headers.get("content-type"), size: artifacts[0].size, digest };
  },
  async list(run) {
    const where = run ? { ...ids, workflow_run_backend_id: run } : ids;
    const { artifacts } = await rpc("ListArtifacts", where);
    return artifacts.map((artifact) => artifact.name).sort();
  },
  async delete(name) {
    return rpc("DeleteArtifact", { ...ids, name });
  },
  async "create-in"(run, name) {
    return rpc("CreateArtifact", { ...ids, workflow_run_backend_id: run, name, version: 4 });
  },
  async "get-blob"(run, name) {
    const url = `${origin}/api/v1/toolkit/_apis/artifactblob/${run}/${encodeURIComponent(name)}?sig=${token}`;
    const response = await fetch(url);
    throw new Error(`GET: (${response.status}) ${await response.text()}`);
  },
};

const [command, ...args] = process.argv.slice(2);
commands[command](...args).then(
  (answer) => console.log(JSON.stringify(answer)),
  (error) => { console.error(error.message); process.exit(1); },
);
"#;

/// Uploads on runner `alpha`, downloads on runner `beta` in a later job, plus the refusals.
const UP: &str = r#"
on: workflow_dispatch
env:
  CLIENT: CLIENT_PATH
  NODE: NODE_PATH
  OUT: OUT_DIR
jobs:
  up:
    runs-on: [self-hosted, alpha]
    steps:
      - run: |
          head -c 700000 /dev/urandom > blob.bin
          cp blob.bin "$OUT/up.bin"
          "$NODE" "$CLIENT" upload dist blob.bin > "$OUT/upload.json"
          "$NODE" "$CLIENT" upload single blob.bin single > "$OUT/upload-single.json"
          if "$NODE" "$CLIENT" upload dist blob.bin 2> "$OUT/duplicate.txt"; then exit 1; fi
          head -c 1500000 /dev/urandom > big.bin
          if "$NODE" "$CLIENT" upload big big.bin 2> "$OUT/big.txt"; then exit 1; fi
          "$NODE" "$CLIENT" upload gone blob.bin
          "$NODE" "$CLIENT" delete gone > "$OUT/delete.json"
          if "$NODE" "$CLIENT" delete gone 2> "$OUT/delete-again.txt"; then exit 1; fi
          "$NODE" "$CLIENT" list > "$OUT/list-up.json"
  builtin:
    runs-on: [self-hosted, alpha]
    steps:
      - run: head -c 1500000 /dev/urandom > big.bin
      - id: big
        continue-on-error: true
        uses: actions/upload-artifact@v4
        with:
          name: builtin-big
          path: big.bin
      - run: test "${{ steps.big.outcome }}" = failure
  down:
    needs: up
    runs-on: [self-hosted, beta]
    steps:
      - run: |
          echo "$ACTIONS_RESULTS_URL" > "$OUT/results-url"
          "$NODE" "$CLIENT" download dist got.bin > "$OUT/download.json"
          cmp got.bin "$OUT/up.bin"
          "$NODE" "$CLIENT" download single got-single.bin
          cmp got-single.bin "$OUT/up.bin"
"#;

/// A later run: its own run has no artifacts; naming the first run reads it (same repository),
/// writing there is refused. In another repository, reading is refused too.
const PEEK: &str = r#"
on:
  workflow_dispatch:
    inputs:
      run:
        required: true
      tag:
        required: true
env:
  CLIENT: CLIENT_PATH
  NODE: NODE_PATH
  OUT: OUT_DIR
jobs:
  peek:
    runs-on: [self-hosted, beta]
    steps:
      - run: |
          T="$OUT/${{ inputs.tag }}"
          "$NODE" "$CLIENT" list > "$T-own.json"
          "$NODE" "$CLIENT" list "${{ inputs.run }}" > "$T-cross.json" 2> "$T-cross.txt" || true
          "$NODE" "$CLIENT" download dist cross.bin "${{ inputs.run }}" 2> "$T-download.txt" && cmp cross.bin "$OUT/up.bin" && echo same > "$T-same" || true
          "$NODE" "$CLIENT" get-blob "${{ inputs.run }}" dist 2> "$T-blob.txt" || true
          "$NODE" "$CLIENT" create-in "${{ inputs.run }}" intruder 2> "$T-create.txt" || true
"#;

fn node() -> Option<PathBuf> {
    let node = ["/usr/bin/node", "/usr/local/bin/node"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
    let ci = std::env::var("CI").is_ok_and(|value| value == "true");
    match node {
        Some(node) => Some(node),
        None if ci => panic!("node is missing (CI=true)"),
        None => {
            eprintln!("\n*** SKIPPED: the artifact service e2e needs node ***\n");
            None
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_artifact_v4_protocol_across_runners() {
    let Some(node) = node() else { return };
    let temp = tempfile::tempdir().expect("temp dir");
    let out = temp.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let client = temp.path().join("client.js");
    std::fs::write(&client, CLIENT).expect("write the client");
    let fill = |workflow: &str| {
        workflow
            .replace("CLIENT_PATH", &client.display().to_string())
            .replace("NODE_PATH", &node.display().to_string())
            .replace("OUT_DIR", &out.display().to_string())
    };
    let repo = repo_with(
        &temp.path().join("project"),
        &[("up.yml", &fill(UP)), ("peek.yml", &fill(PEEK))],
    );
    let other_repo = repo_with(&temp.path().join("elsewhere"), &[("peek.yml", &fill(PEEK))]);

    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .arg("--max-artifact-bytes")
        .arg(LIMIT.to_string())
        .start()
        .await;
    // Two runners with their own work dirs: what `up` makes reaches `down` only through the engine.
    let toolkit_env = [("SLIPWAY_TOOLKIT_ENV_IN_RUN_STEPS", "1")];
    let _alpha = engine
        .start_runner_with_env(
            &temp.path().join("alpha"),
            Some("self-hosted,alpha"),
            &toolkit_env,
        )
        .await;
    let _beta = engine
        .start_runner_with_env(
            &temp.path().join("beta"),
            Some("self-hosted,beta"),
            &toolkit_env,
        )
        .await;

    let run_a = engine.dispatch(&repo, "up.yml").await;
    let run = engine.wait_completed(&run_a).await;
    let logs = |job_key: &'static str, run_id: String| {
        let engine = &engine;
        async move {
            let (_, log) = engine
                .get_raw(&format!("/api/v1/runs/{run_id}/jobs/{job_key}/logs"))
                .await;
            String::from_utf8_lossy(&log).to_string()
        }
    };
    assert_eq!(
        job(&run, "up")["conclusion"],
        "success",
        "{run:#}\n{}",
        logs("up", run_a.clone()).await
    );
    assert_eq!(
        job(&run, "down")["conclusion"],
        "success",
        "{run:#}\n{}",
        logs("down", run_a.clone()).await
    );

    // Uploads answered with an artifact id; the blob arrived whole on the other runner.
    let uploaded = read_json(&out.join("upload.json"));
    assert_eq!(uploaded["ok"], true, "{uploaded}");
    assert!(
        uploaded["artifact_id"]
            .as_str()
            .is_some_and(|id| id.parse::<u64>().is_ok()),
        "{uploaded}"
    );
    let downloaded = read_json(&out.join("download.json"));
    assert_eq!(
        downloaded["content_type"], "application/zip",
        "{downloaded}"
    );
    assert_eq!(downloaded["size"], "700000", "{downloaded}");
    // The job had the results service's URL beside the runtime token.
    assert_eq!(
        read(&out.join("results-url")).trim(),
        format!("{}/api/v1/toolkit/", engine.url)
    );

    // The built-in upload-artifact keeps to the same limit.
    let builtin = logs("builtin", run_a.clone()).await;
    assert_eq!(job(&run, "builtin")["conclusion"], "success", "{builtin}");
    assert!(
        builtin.contains(&format!("over the limit of {LIMIT}")),
        "{builtin}"
    );
    // A second `dist` in the same run is refused as GitHub refuses it.
    let duplicate = read(&out.join("duplicate.txt"));
    assert!(
        duplicate.contains("(409) already_exists") && duplicate.contains("`dist` already exists"),
        "{duplicate}"
    );
    // Over the engine's limit: refused, saying the limit.
    let big = read(&out.join("big.txt"));
    assert!(
        big.contains("RequestBodyTooLarge") && big.contains(&format!("over the limit of {LIMIT}")),
        "{big}"
    );
    // Deleted: gone from the list, a second delete finds nothing.
    assert_eq!(read_json(&out.join("delete.json"))["ok"], true);
    let again = read(&out.join("delete-again.txt"));
    assert!(again.contains("(404) not_found"), "{again}");
    assert_eq!(
        read_json(&out.join("list-up.json")),
        json!(["dist", "single"])
    );

    // The artifacts are the engine's artifacts: the run's API lists them.
    let listed = engine.get(&format!("/api/v1/runs/{run_a}/artifacts")).await;
    let names: Vec<&str> = listed["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|artifact| artifact["name"].as_str())
        .collect();
    assert_eq!(names, ["dist", "single"], "{listed:#}");

    // A later run of the same repository: nothing of its own, run A's artifacts when it names
    // run A, and no writing there.
    let run_b = engine
        .dispatch_with_inputs(&repo, "peek.yml", json!({"run": run_a, "tag": "same"}))
        .await;
    let run = engine.wait_completed(&run_b).await;
    assert_eq!(
        job(&run, "peek")["conclusion"],
        "success",
        "{run:#}\n{}",
        logs("peek", run_b.clone()).await
    );
    assert_eq!(read_json(&out.join("same-own.json")), json!([]));
    assert_eq!(
        read_json(&out.join("same-cross.json")),
        json!(["dist", "single"]),
        "{}",
        read(&out.join("same-cross.txt"))
    );
    assert!(
        out.join("same-same").exists(),
        "the cross-run download: {}",
        read(&out.join("same-download.txt"))
    );
    let create = read(&out.join("same-create.txt"));
    assert!(create.contains("(403) permission_denied"), "{create}");

    // A run of another repository: refused reading run A by the service and by the blob URL.
    let run_c = engine
        .dispatch_with_inputs(
            &other_repo,
            "peek.yml",
            json!({"run": run_a, "tag": "other"}),
        )
        .await;
    let run = engine.wait_completed(&run_c).await;
    assert_eq!(job(&run, "peek")["conclusion"], "success", "{run:#}");
    let cross = read(&out.join("other-cross.txt"));
    assert!(
        cross.contains("(403) permission_denied") && cross.contains("another repository"),
        "{cross}"
    );
    assert!(!out.join("other-same").exists());
    let blob = read(&out.join("other-blob.txt"));
    assert!(
        blob.contains("(403)") && blob.contains("AuthorizationFailure"),
        "{blob}"
    );
    let create = read(&out.join("other-create.txt"));
    assert!(create.contains("(403) permission_denied"), "{create}");
}
