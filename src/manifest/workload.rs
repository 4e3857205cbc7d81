//! From Kubernetes objects to the pod specs Pod Security Admission evaluates.
//!
//! Which kinds hold a pod template, and where, is a table rather than code, so
//! custom resources with pod templates (Argo Rollouts, …) can be added from
//! configuration. The default table is exactly the set upstream admission
//! evaluates (`admission/admission.go`): Pods, and the pod templates of
//! PodTemplate, ReplicationController, ReplicaSet, Deployment, StatefulSet,
//! DaemonSet, Job and CronJob, in any version of their API group.

use serde::Serialize;

use super::node::{Node, Pos};

/// Which object a finding belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// The API group of `apiVersion` (`""` for the core group).
    pub fn group(&self) -> &str {
        match self.api_version.rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// `Deployment default/web`, `Pod web` when there is no namespace.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.kind, ns, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// A Kubernetes object found in a document, with the node that holds it.
#[derive(Debug, Clone)]
pub struct Object<'a> {
    pub reference: ObjectRef,
    pub node: &'a Node,
}

/// One kind that holds a pod template, and the path to that template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTemplateKind {
    /// API group, `""` for core.
    pub group: String,
    pub kind: String,
    /// Keys from the object to the template (`metadata` + `spec`);
    /// empty for a Pod, whose template is the object itself.
    pub path: Vec<String>,
}

impl PodTemplateKind {
    pub fn new(group: &str, kind: &str, path: &[&str]) -> Self {
        PodTemplateKind {
            group: group.into(),
            kind: kind.into(),
            path: path.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The kinds upstream Pod Security Admission evaluates.
pub fn default_pod_template_kinds() -> Vec<PodTemplateKind> {
    vec![
        PodTemplateKind::new("", "Pod", &[]),
        PodTemplateKind::new("", "PodTemplate", &["template"]),
        PodTemplateKind::new("", "ReplicationController", &["spec", "template"]),
        PodTemplateKind::new("apps", "ReplicaSet", &["spec", "template"]),
        PodTemplateKind::new("apps", "Deployment", &["spec", "template"]),
        PodTemplateKind::new("apps", "StatefulSet", &["spec", "template"]),
        PodTemplateKind::new("apps", "DaemonSet", &["spec", "template"]),
        PodTemplateKind::new("batch", "Job", &["spec", "template"]),
        PodTemplateKind::new(
            "batch",
            "CronJob",
            &["spec", "jobTemplate", "spec", "template"],
        ),
    ]
}

/// A pod spec to evaluate: a bare Pod, or the pod template of a workload.
#[derive(Debug, Clone)]
pub struct PodView<'a> {
    pub object: ObjectRef,
    /// Where the object starts in its file.
    pub object_pos: Pos,
    /// Field path from the object to the template, with a trailing dot
    /// (`spec.template.`), empty for a Pod.
    pub prefix: String,
    /// True for a bare Pod (enforce applies at admission), false for a template.
    pub is_pod: bool,
    /// The template node (holding `metadata` and `spec`).
    pub template: &'a Node,
    pub metadata: Option<&'a Node>,
    pub spec: &'a Node,
}

/// An object that claims to hold a pod spec but does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractError {
    pub pos: Pos,
    pub message: String,
}

/// The Kubernetes objects of one document: the document itself, or the
/// items of a `List` / `*List`. Documents that are not objects (no string
/// `apiVersion` and `kind`) yield nothing.
pub fn objects(root: &Node) -> Vec<Object<'_>> {
    let mut out = Vec::new();
    let mut pending = vec![root];
    while let Some(node) = pending.pop() {
        let Some(reference) = object_ref(node) else {
            continue;
        };
        if reference.kind.ends_with("List") {
            if let Some(items) = node.get("items") {
                // Reverse so that items come out in document order.
                pending.extend(items.items().iter().rev());
                continue;
            }
        }
        out.push(Object { reference, node });
    }
    out
}

fn object_ref(node: &Node) -> Option<ObjectRef> {
    let api_version = node.get("apiVersion")?.as_str().ok()??.to_string();
    let kind = node.get("kind")?.as_str().ok()??.to_string();
    let meta = node.get("metadata");
    let text = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(|n| n.scalar_text())
            .map(str::to_string)
    };
    let name = text("name")
        .or_else(|| text("generateName"))
        .unwrap_or_else(|| "<unnamed>".to_string());
    Some(ObjectRef {
        api_version,
        kind,
        namespace: text("namespace"),
        name,
    })
}

/// The pod spec of an object, if its kind holds one.
pub fn pod_view<'a>(
    object: &Object<'a>,
    kinds: &[PodTemplateKind],
) -> Result<Option<PodView<'a>>, ExtractError> {
    let r = &object.reference;
    let Some(kind) = kinds
        .iter()
        .find(|k| k.kind == r.kind && k.group == r.group())
    else {
        return Ok(None);
    };
    let keys: Vec<&str> = kind.path.iter().map(String::as_str).collect();
    let (deepest, complete) = object.node.deepest(&keys);
    let missing = |what: &str| ExtractError {
        pos: deepest.pos,
        message: format!(
            "{} has no {what}, so there is no pod spec to evaluate",
            r.display()
        ),
    };
    if !complete || !deepest.is_map() {
        return Err(missing(&kind.path.join(".")));
    }
    let template = deepest;
    let spec = match template.get("spec") {
        Some(spec) if spec.is_map() => spec,
        _ => {
            let at = if kind.path.is_empty() {
                "spec".to_string()
            } else {
                format!("{}.spec", kind.path.join("."))
            };
            return Err(missing(&at));
        }
    };
    let prefix = if kind.path.is_empty() {
        String::new()
    } else {
        format!("{}.", kind.path.join("."))
    };
    Ok(Some(PodView {
        object: r.clone(),
        object_pos: object.node.pos,
        prefix,
        is_pod: kind.path.is_empty(),
        template,
        metadata: template.get("metadata").filter(|m| m.is_map()),
        spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::{Limits, parse_documents};

    fn doc(text: &str) -> Node {
        parse_documents(text, 1, Limits::default())
            .unwrap()
            .remove(0)
    }

    #[test]
    fn cronjob_template_is_found_two_levels_down() {
        let n = doc(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: ns}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: []\n",
        );
        let objs = objects(&n);
        let view = pod_view(&objs[0], &default_pod_template_kinds())
            .unwrap()
            .unwrap();
        assert_eq!(view.prefix, "spec.jobTemplate.spec.template.");
        assert_eq!(view.object.display(), "CronJob ns/c");
        assert!(!view.is_pod);
    }

    #[test]
    fn list_items_are_objects_in_order() {
        let n = doc(
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {}}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}, spec: {}}\n",
        );
        let names: Vec<_> = objects(&n).into_iter().map(|o| o.reference.name).collect();
        assert_eq!(names, vec!["a", "b"]);
    }

    #[test]
    fn other_groups_with_the_same_kind_are_not_workloads() {
        let n = doc("apiVersion: example.com/v1\nkind: Deployment\nspec: {}\n");
        assert!(
            pod_view(&objects(&n)[0], &default_pod_template_kinds())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_workload_without_a_template_is_an_error() {
        let n = doc(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 1\n",
        );
        let err = pod_view(&objects(&n)[0], &default_pod_template_kinds()).unwrap_err();
        assert!(
            err.message.contains("has no spec.template"),
            "{}",
            err.message
        );
        assert_eq!(err.pos.line, 4);
    }
}
