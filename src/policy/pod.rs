//! Typed, position-aware reading of one pod spec, as the checks need it.
//!
//! Checks ask for fields by key path; they get the value (null counts as
//! absent, like a nil pointer in Go) and the position of the field or, when
//! it is missing, of the nearest parent that exists. A field whose type the
//! Kubernetes API would refuse to decode is recorded as an error and treated
//! as absent, so the run fails closed instead of guessing.

use std::cell::RefCell;

use crate::manifest::{Node, PodView, Pos, TypeMismatch};

/// Which list a container came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

impl ContainerKind {
    pub fn list(self) -> &'static str {
        match self {
            ContainerKind::Init => "initContainers",
            ContainerKind::Regular => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }
}

/// One container of the pod.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    pub kind: ContainerKind,
    pub name: String,
    pub node: &'a Node,
    /// `spec.containers[name=app]`.
    pub path: String,
}

/// A field read from the pod: its value, if set, and where to point.
#[derive(Debug, Clone, Copy)]
pub struct Field<T> {
    pub value: Option<T>,
    pub pos: Pos,
}

/// A field with a type the API server would reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTypeError {
    pub field: String,
    pub mismatch: TypeMismatch,
}

/// One pod spec under evaluation.
pub struct Pod<'a> {
    pub view: &'a PodView<'a>,
    containers: Vec<Container<'a>>,
    errors: RefCell<Vec<FieldTypeError>>,
}

impl<'a> Pod<'a> {
    pub fn new(view: &'a PodView<'a>) -> Pod<'a> {
        let mut containers = Vec::new();
        for kind in [
            ContainerKind::Init,
            ContainerKind::Regular,
            ContainerKind::Ephemeral,
        ] {
            let Some(list) = view.spec.get(kind.list()) else {
                continue;
            };
            for (i, node) in list.items().iter().enumerate() {
                let name = node
                    .get("name")
                    .and_then(Node::scalar_text)
                    .unwrap_or("")
                    .to_string();
                let path = if name.is_empty() {
                    format!("spec.{}[{i}]", kind.list())
                } else {
                    format!("spec.{}[name={name}]", kind.list())
                };
                containers.push(Container {
                    kind,
                    name,
                    node,
                    path,
                });
            }
        }
        Pod {
            view,
            containers,
            errors: RefCell::new(Vec::new()),
        }
    }

    /// Init containers, then containers, then ephemeral containers
    /// (upstream `visitContainers` order).
    pub fn containers(&self) -> &[Container<'a>] {
        &self.containers
    }

    pub fn spec(&self) -> &'a Node {
        self.view.spec
    }

    /// `metadata.annotations` as (key, value, position), in document order.
    pub fn annotations(&self) -> Vec<(&'a str, &'a str, Pos)> {
        let Some(ann) = self.view.metadata.and_then(|m| m.get("annotations")) else {
            return Vec::new();
        };
        ann.entries()
            .iter()
            .map(|e| {
                (
                    e.key.as_str(),
                    e.value.scalar_text().unwrap_or(""),
                    e.value.pos,
                )
            })
            .collect()
    }

    /// `spec.os.name` is `windows`.
    pub fn is_windows(&self) -> bool {
        self.string(self.spec(), "spec", &["os", "name"]).value == Some("windows")
    }

    /// `spec.hostUsers` is explicitly `false` (the pod runs in a user namespace).
    pub fn host_users_false(&self) -> bool {
        self.bool(self.spec(), "spec", &["hostUsers"]).value == Some(false)
    }

    /// From v1.35 a pod in a user namespace is relieved of the root-user
    /// checks: `eval` applies only when `hostUsers` is not `false`.
    pub fn unless_user_namespace(
        &self,
        eval: fn(&Pod) -> Vec<super::Offense>,
    ) -> Vec<super::Offense> {
        if self.host_users_false() {
            Vec::new()
        } else {
            eval(self)
        }
    }

    fn lookup<T>(
        &self,
        base: &'a Node,
        base_path: &str,
        keys: &[&str],
        read: impl Fn(&'a Node) -> Result<Option<T>, TypeMismatch>,
    ) -> Field<T> {
        let (node, complete) = base.deepest(keys);
        if !complete {
            return Field {
                value: None,
                pos: node.pos,
            };
        }
        match read(node) {
            Ok(value) => Field {
                value,
                pos: node.pos,
            },
            Err(mismatch) => {
                let field = format!("{}{}.{}", self.view.prefix, base_path, keys.join("."));
                let err = FieldTypeError { field, mismatch };
                let mut errors = self.errors.borrow_mut();
                if !errors.contains(&err) {
                    errors.push(err);
                }
                Field {
                    value: None,
                    pos: node.pos,
                }
            }
        }
    }

    pub fn bool(&self, base: &'a Node, base_path: &str, keys: &[&str]) -> Field<bool> {
        self.lookup(base, base_path, keys, Node::as_bool)
    }

    pub fn int(&self, base: &'a Node, base_path: &str, keys: &[&str]) -> Field<i64> {
        self.lookup(base, base_path, keys, Node::as_int)
    }

    pub fn string(&self, base: &'a Node, base_path: &str, keys: &[&str]) -> Field<&'a str> {
        self.lookup(base, base_path, keys, Node::as_str)
    }

    /// A field that holds an object: present (and not null) or not.
    pub fn object(&self, base: &'a Node, keys: &[&str]) -> Field<&'a Node> {
        let (node, complete) = base.deepest(keys);
        Field {
            value: complete.then_some(node),
            pos: node.pos,
        }
    }

    /// A list of strings (capabilities), with the position of each item.
    pub fn strings(
        &self,
        base: &'a Node,
        base_path: &str,
        keys: &[&str],
    ) -> Field<Vec<(&'a str, Pos)>> {
        self.lookup(base, base_path, keys, |node| {
            if node.is_null() {
                return Ok(None);
            }
            if !matches!(node.value, crate::manifest::Value::Seq(_)) {
                return Err(TypeMismatch {
                    pos: node.pos,
                    expected: "a list",
                    found: node.describe(),
                });
            }
            let mut out = Vec::new();
            for item in node.items() {
                match item.as_str()? {
                    Some(s) => out.push((s, item.pos)),
                    None => out.push(("", item.pos)),
                }
            }
            Ok(Some(out))
        })
    }

    /// Type errors met so far.
    pub fn take_errors(&self) -> Vec<FieldTypeError> {
        std::mem::take(&mut self.errors.borrow_mut())
    }
}

/// Volume sources the restricted level allows.
pub const RESTRICTED_ALLOWED_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Every other inline volume source, in upstream's order.
const OTHER_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// The source type of a volume as upstream's `restrictedVolumes` names it.
/// A volume without any source is an `emptyDir`: the API server defaults it
/// so before admission runs.
pub fn volume_source(volume: &Node) -> &str {
    for key in RESTRICTED_ALLOWED_SOURCES.iter().chain(OTHER_SOURCES) {
        if volume.get(key).is_some_and(|v| !v.is_null()) {
            return key;
        }
    }
    "emptyDir"
}

/// `spec.volumes[name=data]`.
pub fn volume_path(volume: &Node, index: usize) -> String {
    match volume.get("name").and_then(Node::scalar_text) {
        Some(name) => format!("spec.volumes[name={name}]"),
        None => format!("spec.volumes[{index}]"),
    }
}

pub fn volume_name(volume: &Node) -> String {
    volume
        .get("name")
        .and_then(Node::scalar_text)
        .unwrap_or("")
        .to_string()
}
