//! Parse: YAML streams into position-aware trees, and trees into pod specs.

pub mod chunk;
pub mod field;
pub mod node;
pub mod workload;
pub mod yaml;

pub use node::{Entry, Node, Pos, TypeMismatch, Value};
pub use workload::{ObjectRef, PodTemplateKind, PodView};
pub use yaml::Limits;
