//! The PreSync hook `kpsa argocd generate` appends when the application
//! asks for it (`ARGOCD_ENV_KPSA_PRESYNC_HOOK=true`).
//!
//! Pod Security Admission decides with the live namespace labels and the
//! cluster's version, which the repo server cannot see. Before Argo CD
//! applies anything, a Job in the destination cluster runs
//! `kpsa cluster check` on the application's pod specs and fails — so the
//! sync stops — when admission would refuse a pod. Five objects, each an
//! Argo CD PreSync hook:
//!
//! | object | wave | what |
//! | --- | --- | --- |
//! | ConfigMap | -1 | the pod specs (env values removed) and Namespaces of the render, and the platform's `PodSecurityConfiguration` if any |
//! | ServiceAccount | -1 | the Job's identity |
//! | ClusterRole | -1 | `get` on the namespaces the pods land in, by name, and nothing else |
//! | ClusterRoleBinding | -1 | binds them |
//! | Job | 0 | `kpsa cluster check`, restricted-level pod, deleted when it succeeds |
//!
//! Namespaces are cluster-scoped, hence a ClusterRole; the AppProject must
//! allow ClusterRole and ClusterRoleBinding for the application. Hooks do
//! not run on a selective sync (Argo CD `sync-waves.md`): the plugin's own
//! gate still does.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::manifest::chunk::Chunker;
use crate::manifest::workload::{objects, pod_view};
use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, Node, PodTemplateKind};

/// The most bytes the ConfigMap may hold (the API server refuses more than 1 MiB).
pub const MAX_CONFIGMAP_BYTES: usize = 1_000_000;

/// Where the Job mounts the ConfigMap.
pub const MOUNT: &str = "/etc/kpsa";

/// What the hook needs to know.
pub struct HookInput<'a> {
    pub app: &'a str,
    /// The destination namespace: the Job runs there, and objects without a
    /// namespace land there.
    pub namespace: &'a str,
    pub image: &'a str,
    /// The rendered stream.
    pub manifests: &'a str,
    pub kinds: &'a [PodTemplateKind],
    /// The platform's `PodSecurityConfiguration` (file text), if any.
    pub admission_config: Option<&'a str>,
}

/// The hook objects, as a YAML stream (one JSON document each) to append.
pub fn objects_for(input: &HookInput) -> Result<String, String> {
    let (items, namespaces, defined) = pod_objects(input)?;
    let name = hook_name(input.app, input.namespace);
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let mut data = serde_json::Map::new();
    data.insert(
        "manifests.json".into(),
        Value::String(serde_json::to_string(&list).expect("JSON serializes")),
    );
    if let Some(a) = input.admission_config {
        data.insert("admission.yaml".into(), Value::String(a.to_string()));
    }
    let size: usize = data.values().map(|v| v.as_str().map_or(0, str::len)).sum();
    if size > MAX_CONFIGMAP_BYTES {
        return Err(format!(
            "the PreSync hook's ConfigMap would hold {size} bytes of pod specs, more than the {MAX_CONFIGMAP_BYTES} the API server accepts; \
             turn the hook off for this application (ARGOCD_ENV_KPSA_PRESYNC_HOOK) or split it"
        ));
    }
    let to_get: Vec<&String> = namespaces.difference(&defined).collect();
    let labels = json!({
        "app.kubernetes.io/name": "kpsa-presync",
        "app.kubernetes.io/managed-by": "kpsa",
    });
    let helper = |wave: &str| {
        json!({
            "argocd.argoproj.io/hook": "PreSync",
            "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            "argocd.argoproj.io/sync-wave": wave,
        })
    };
    let meta = |namespaced: bool| {
        let mut m = json!({"name": name, "labels": labels, "annotations": helper("-1")});
        if namespaced {
            m["namespace"] = json!(input.namespace);
        }
        m
    };
    let mut args = vec![
        "cluster".to_string(),
        "check".into(),
        "--manifests".into(),
        format!("{MOUNT}/manifests.json"),
        "--namespace".into(),
        input.namespace.to_string(),
        "--in-cluster".into(),
    ];
    if input.admission_config.is_some() {
        args.push("--admission-config".into());
        args.push(format!("{MOUNT}/admission.yaml"));
    }
    let objects = [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(true), "data": data}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(true)}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta(false),
            "rules": if to_get.is_empty() { json!([]) } else { json!([{
                "apiGroups": [""],
                "resources": ["namespaces"],
                "resourceNames": to_get,
                "verbs": ["get"],
            }]) },
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta(false),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": input.namespace}],
        }),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": input.namespace,
                "labels": labels,
                "annotations": {
                    "argocd.argoproj.io/hook": "PreSync",
                    "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation,HookSucceeded",
                    "argocd.argoproj.io/sync-wave": "0",
                },
            },
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": 300,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": name,
                        // The token is mounted explicitly, short-lived, for
                        // this one container.
                        "automountServiceAccountToken": false,
                        "restartPolicy": "Never",
                        "securityContext": {
                            "runAsNonRoot": true,
                            "runAsUser": 999,
                            "runAsGroup": 999,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [{
                            "name": "kpsa",
                            "image": input.image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/usr/local/bin/kpsa"],
                            "args": args,
                            "env": [{"name": "HOME", "value": "/tmp"}],
                            "securityContext": {
                                "allowPrivilegeEscalation": false,
                                "readOnlyRootFilesystem": true,
                                "runAsNonRoot": true,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "volumeMounts": [
                                {"name": "input", "mountPath": MOUNT, "readOnly": true},
                                {"name": "tmp", "mountPath": "/tmp"},
                                {"name": "token", "mountPath": crate::cluster::kube::SERVICEACCOUNT_DIR, "readOnly": true},
                            ],
                        }],
                        "volumes": [
                            {"name": "input", "configMap": {"name": name}},
                            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                            {"name": "token", "projected": {"sources": [
                                {"serviceAccountToken": {"path": "token", "expirationSeconds": 600}},
                                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                            ]}},
                        ],
                    },
                },
            },
        }),
    ];
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n# Source: kpsa PreSync hook\n");
        out.push_str(&serde_json::to_string_pretty(&o).expect("JSON serializes"));
        out.push('\n');
    }
    Ok(out)
}

/// `kpsa-presync-<app>-<hash>`: unique per application and destination
/// namespace (the ClusterRole and its binding are cluster-scoped), a DNS
/// label of at most 63 characters.
pub fn hook_name(app: &str, namespace: &str) -> String {
    let hash = Sha256::digest(format!("{app}\0{namespace}").as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut slug: String = app
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    slug.truncate(32);
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        format!("kpsa-presync-{hex}")
    } else {
        format!("kpsa-presync-{slug}-{hex}")
    }
}

type PodObjects = (Vec<Value>, BTreeSet<String>, BTreeSet<String>);

/// The objects with pod specs (as `kpsa cluster check` reads them, env
/// values removed) and Namespaces of the render; the namespaces the pods
/// land in; the namespaces the render defines.
fn pod_objects(input: &HookInput) -> Result<PodObjects, String> {
    let limits = Limits::default();
    let mut items = Vec::new();
    let mut namespaces = BTreeSet::new();
    let mut defined = BTreeSet::new();
    let defaults = crate::manifest::workload::default_pod_template_kinds();
    for chunk in Chunker::new(
        input.manifests.as_bytes(),
        limits.max_document_bytes,
        limits.max_file_bytes,
    ) {
        let chunk = chunk.map_err(|e| format!("the render cannot be read: {e:?}"))?;
        let text = chunk
            .text
            .map_err(|e| format!("the render cannot be read: {e:?}"))?;
        let docs = parse_documents(&text, chunk.first_line, limits).map_err(|e| {
            format!(
                "the render does not parse at line {}: {}",
                e.pos.line, e.message
            )
        })?;
        for doc in &docs {
            for object in objects(doc) {
                let r = &object.reference;
                if r.kind == "Namespace" && r.api_version == "v1" {
                    defined.insert(r.name.clone());
                    items.push(json!({
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {
                            "name": r.name,
                            "labels": object.node.path(&["metadata", "labels"]).map_or(json!({}), Node::to_json),
                        },
                    }));
                    continue;
                }
                let Ok(Some(view)) = pod_view(&object, input.kinds) else {
                    continue;
                };
                let namespace = r
                    .namespace
                    .clone()
                    .unwrap_or_else(|| input.namespace.to_string());
                namespaces.insert(namespace.clone());
                let mut template = view.template.to_json();
                scrub_env(&mut template);
                let known = defaults
                    .iter()
                    .any(|k| k.kind == r.kind && k.group == r.group());
                items.push(if view.is_pod {
                    let mut pod = template;
                    pod["apiVersion"] = json!("v1");
                    pod["kind"] = json!("Pod");
                    pod["metadata"]["name"] = json!(r.name);
                    pod["metadata"]["namespace"] = json!(namespace);
                    pod
                } else if known {
                    // The object with only its pod template kept.
                    let mut o = json!({
                        "apiVersion": r.api_version,
                        "kind": r.kind,
                        "metadata": {"name": r.name, "namespace": namespace},
                    });
                    let path: Vec<&str> = view.prefix.trim_end_matches('.').split('.').collect();
                    let mut at = &mut o;
                    for key in &path[..path.len() - 1] {
                        at = &mut at[*key];
                    }
                    at[path[path.len() - 1]] = template;
                    o
                } else {
                    // A kind the platform configured (an Argo Rollout, say):
                    // admission judges its pods, so check it as a PodTemplate.
                    json!({
                        "apiVersion": "v1",
                        "kind": "PodTemplate",
                        "metadata": {
                            "name": format!("{}-{}", r.kind.to_ascii_lowercase(), r.name),
                            "namespace": namespace,
                        },
                        "template": template,
                    })
                });
            }
        }
    }
    Ok((items, namespaces, defined))
}

/// Remove `env` values (they may hold credentials and no Pod Security
/// check reads them) from every container of a pod template.
fn scrub_env(template: &mut Value) {
    let Some(spec) = template.get_mut("spec") else {
        return;
    };
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for c in containers {
                if let Some(o) = c.as_object_mut() {
                    o.remove("env");
                    o.remove("envFrom");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_unique_per_app() {
        let a = hook_name("shop", "prod");
        let b = hook_name("shop", "staging");
        assert_ne!(a, b);
        assert!(a.starts_with("kpsa-presync-shop-"));
        let long = hook_name(&"Very_Long.App".repeat(10), "ns");
        assert!(long.len() <= 63, "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert!(hook_name("___", "ns").starts_with("kpsa-presync-"));
    }

    #[test]
    fn only_pod_specs_and_namespaces_go_into_the_configmap() {
        let manifests = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: x\n        env:\n        - {name: TOKEN, value: hunter2}\n---\n\
apiVersion: v1\nkind: Namespace\nmetadata:\n  name: own\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: other}\nspec: {containers: [{name: c, image: y}]}\n";
        let kinds = crate::manifest::workload::default_pod_template_kinds();
        let input = HookInput {
            app: "shop",
            namespace: "shop",
            image: "kpsa:test",
            manifests,
            kinds: &kinds,
            admission_config: None,
        };
        let (items, namespaces, defined) = pod_objects(&input).unwrap();
        let text = serde_json::to_string(&items).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["kind"], "Deployment");
        assert_eq!(items[0]["metadata"]["namespace"], "shop");
        assert_eq!(
            items[0]["spec"]["template"]["spec"]["containers"][0]["name"],
            "app"
        );
        assert_eq!(items[2]["metadata"]["namespace"], "other");
        assert_eq!(
            namespaces.into_iter().collect::<Vec<_>>(),
            ["other", "shop"]
        );
        assert_eq!(defined.into_iter().collect::<Vec<_>>(), ["own"]);
        let out = objects_for(&input).unwrap();
        assert!(out.contains("\"resourceNames\": [\n"), "{out}");
    }
}
