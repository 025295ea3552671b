//! `xisuan export`: a plan in the formats other schedulers take.

use crate::BadInput;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use xisuan_server::k8s;

#[derive(Subcommand)]
pub enum ExportCmd {
    /// Kubernetes manifests for a plan: one batch/v1 Job per placed job, queued through Kueue
    /// (its queue-name label; created suspended, as Kueue admits it), asking for its
    /// accelerators and selecting nodes labelled xisuan.io/accelerator=TYPE; with --karmada a
    /// PropagationPolicy pinning each Job to its site's cluster, with --multikueue
    /// spec.managedBy for MultiKueue. The planned start and end are annotations: create each Job
    /// at its start. Written as one v1/List for `kubectl apply -f`.
    K8s(K8sArgs),
}

#[derive(Args)]
#[command(
    after_help = "Example:\n  xisuan plan examples/edwc/scenario.toml --json > plan.json\n  xisuan export k8s plan.json --image registry.local/train:v3 --queue team-a --karmada \\\n    --cluster edwc-guian=guizhou-1 -o manifests.json\n  kubectl apply -f manifests.json"
)]
pub struct K8sArgs {
    /// The plan: the output of `xisuan plan --json` (`-` reads standard input).
    plan: PathBuf,
    /// The training image each Job runs.
    #[arg(long)]
    image: String,
    /// The command to run in it (default: the image's entrypoint); repeat for each argument.
    #[arg(long = "command", value_name = "ARG")]
    command: Vec<String>,
    /// Namespace of the Jobs.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Kueue LocalQueue (the kueue.x-k8s.io/queue-name label).
    #[arg(long, default_value = "xisuan")]
    queue: String,
    /// A site's cluster name as Karmada or MultiKueue knows it: SITE=CLUSTER (repeatable;
    /// default: the site id).
    #[arg(long = "cluster", value_name = "SITE=CLUSTER")]
    clusters: Vec<String>,
    /// Also write a Karmada PropagationPolicy per Job, pinning it to its site's cluster.
    #[arg(long)]
    karmada: bool,
    /// Set spec.managedBy=kueue.x-k8s.io/multikueue so a MultiKueue manager runs the Job on a
    /// worker cluster (the chosen cluster is the xisuan.io/cluster annotation).
    #[arg(long)]
    multikueue: bool,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(cmd: &ExportCmd) -> anyhow::Result<()> {
    match cmd {
        ExportCmd::K8s(a) => k8s_export(a),
    }
}

fn k8s_export(a: &K8sArgs) -> anyhow::Result<()> {
    let text = if a.plan.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&a.plan).map_err(|e| BadInput(format!("{}: {e}", a.plan.display())))?
    };
    let works = k8s::works_from_plan_json(&text).map_err(|m| BadInput(format!("{}: {m}", a.plan.display())))?;
    if a.image.trim().is_empty() {
        return Err(BadInput("--image: empty".into()).into());
    }
    let mut clusters = BTreeMap::new();
    for c in &a.clusters {
        let (site, cluster) = c
            .split_once('=')
            .filter(|(s, c)| !s.is_empty() && !c.is_empty())
            .ok_or_else(|| BadInput(format!("--cluster: `{c}` is not SITE=CLUSTER")))?;
        clusters.insert(site.to_string(), cluster.to_string());
    }
    let o = k8s::Options {
        namespace: a.namespace.clone(),
        queue: a.queue.clone(),
        image: a.image.clone(),
        command: (!a.command.is_empty()).then(|| a.command.clone()),
        clusters,
        karmada: a.karmada,
        multikueue: a.multikueue,
        store: None,
    };
    let out = serde_json::to_string_pretty(&k8s::manifests(&works, &o))? + "\n";
    match &a.output {
        Some(path) => {
            std::fs::write(path, out).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
            eprintln!(
                "xisuan export k8s: {} Jobs{} written to {}",
                works.len(),
                if a.karmada { " and PropagationPolicies" } else { "" },
                path.display()
            );
            Ok(())
        }
        None => crate::emit(&out),
    }
}
