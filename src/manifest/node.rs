//! A small YAML tree that remembers where every field was written.
//!
//! Scalars keep their source text; they are resolved the way Kubernetes'
//! YAML decoder (`sigs.k8s.io/yaml`, YAML 1.1 rules) resolves them only when a
//! check asks for a boolean, an integer or a string. A node that is the value
//! of a mapping entry carries the position of its *key*, because that is the
//! line a person reads as "the field"; every other node carries its own start.

use std::fmt;

/// A position in a source file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// One node of a YAML document.
#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The shape of a node.
#[derive(Debug, Clone)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A scalar as written, with what is needed to resolve its type later.
#[derive(Debug, Clone)]
pub struct Scalar {
    pub text: String,
    /// Plain (unquoted, untagged) scalars are resolved by YAML 1.1 rules;
    /// quoted, block and `!!str` scalars are always strings.
    pub plain: bool,
}

/// One `key: value` pair of a mapping. Keys are always strings here.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub value: Node,
}

/// What a scalar resolves to under the rules Kubernetes applies to YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float,
    Str(&'a str),
}

/// A field had a type the Kubernetes API would refuse to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    pub pos: Pos,
    pub expected: &'static str,
    pub found: String,
}

impl fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, found {}", self.expected, self.found)
    }
}

impl Scalar {
    /// Resolve the scalar the way go-yaml v2 (used by `sigs.k8s.io/yaml`) does.
    pub fn resolve(&self) -> Resolved<'_> {
        if !self.plain {
            return Resolved::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
                return Resolved::Bool(true);
            }
            "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
            | "OFF" => return Resolved::Bool(false),
            _ => {}
        }
        if let Some(i) = parse_int(t) {
            return Resolved::Int(i);
        }
        if looks_like_float(t) {
            return Resolved::Float;
        }
        Resolved::Str(t)
    }
}

/// Integers as Go's `strconv.ParseInt(s, 0, 64)` reads them after go-yaml
/// removed underscores: decimal, `0x` hex, leading-zero octal, `0o`, `0b`.
fn parse_int(t: &str) -> Option<i64> {
    let cleaned: String;
    let t = if t.contains('_') {
        cleaned = t.replace('_', "");
        cleaned.as_str()
    } else {
        t
    };
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits.strip_prefix("0x").or(digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        (8, rest)
    } else if let Some(rest) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let value = if neg { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn looks_like_float(t: &str) -> bool {
    matches!(
        t,
        ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | ".nan"
            | ".NaN"
            | ".NAN"
    ) || (t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
        && t.replace('_', "").parse::<f64>().is_ok())
}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// Follow a path of keys; stops at the first missing one.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// Follow a path of keys as far as it exists, skipping null values.
    /// Returns the deepest node reached and whether the whole path exists.
    pub fn deepest(&self, keys: &[&str]) -> (&Node, bool) {
        let mut node = self;
        for key in keys {
            match node.get(key) {
                Some(next) if !next.is_null() => node = next,
                Some(next) => return (next, false),
                None => return (node, false),
            }
        }
        (node, true)
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.resolve() == Resolved::Null)
    }

    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// The node as JSON, its scalars resolved the way the Kubernetes API
    /// decodes YAML (a float keeps its text when JSON cannot hold it).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => J::Null,
                Resolved::Bool(b) => J::Bool(b),
                Resolved::Int(i) => J::from(i),
                Resolved::Float => s
                    .text
                    .replace('_', "")
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| J::String(s.text.clone()), J::Number),
                Resolved::Str(t) => J::String(t.to_string()),
            },
        }
    }

    /// A short description of what this node holds, for error messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Map(_) => "a mapping".to_string(),
            Value::Seq(_) => "a list".to_string(),
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => "null".to_string(),
                Resolved::Bool(b) => format!("boolean {b}"),
                Resolved::Int(i) => format!("integer {i}"),
                Resolved::Float => format!("number {}", s.text),
                Resolved::Str(t) => format!("string {t:?}"),
            },
        }
    }

    fn mismatch(&self, expected: &'static str) -> TypeMismatch {
        TypeMismatch {
            pos: self.pos,
            expected,
            found: self.describe(),
        }
    }

    /// A boolean field: `Ok(None)` when null.
    pub fn as_bool(&self) -> Result<Option<bool>, TypeMismatch> {
        match &self.value {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => Ok(None),
                Resolved::Bool(b) => Ok(Some(b)),
                _ => Err(self.mismatch("a boolean")),
            },
            _ => Err(self.mismatch("a boolean")),
        }
    }

    /// An integer field: `Ok(None)` when null.
    pub fn as_int(&self) -> Result<Option<i64>, TypeMismatch> {
        match &self.value {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => Ok(None),
                Resolved::Int(i) => Ok(Some(i)),
                _ => Err(self.mismatch("an integer")),
            },
            _ => Err(self.mismatch("an integer")),
        }
    }

    /// A string field: `Ok(None)` when null.
    pub fn as_str(&self) -> Result<Option<&str>, TypeMismatch> {
        match &self.value {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => Ok(None),
                Resolved::Str(t) => Ok(Some(t)),
                _ => Err(self.mismatch("a string")),
            },
            _ => Err(self.mismatch("a string")),
        }
    }

    /// The scalar text whatever its resolved type (for names and labels).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) if s.resolve() != Resolved::Null => Some(&s.text),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(t: &str) -> Scalar {
        Scalar {
            text: t.to_string(),
            plain: true,
        }
    }

    #[test]
    fn resolves_yaml_1_1_booleans_like_kubernetes() {
        for t in ["yes", "On", "TRUE", "y"] {
            assert_eq!(plain(t).resolve(), Resolved::Bool(true), "{t}");
        }
        for t in ["no", "off", "False", "N"] {
            assert_eq!(plain(t).resolve(), Resolved::Bool(false), "{t}");
        }
        let quoted = Scalar {
            text: "true".into(),
            plain: false,
        };
        assert_eq!(quoted.resolve(), Resolved::Str("true"));
    }

    #[test]
    fn resolves_integers_in_every_base_go_accepts() {
        assert_eq!(plain("0").resolve(), Resolved::Int(0));
        assert_eq!(plain("-0").resolve(), Resolved::Int(0));
        assert_eq!(plain("00").resolve(), Resolved::Int(0));
        assert_eq!(plain("0x10").resolve(), Resolved::Int(16));
        assert_eq!(plain("010").resolve(), Resolved::Int(8));
        assert_eq!(plain("1_000").resolve(), Resolved::Int(1000));
        assert_eq!(plain("0b11").resolve(), Resolved::Int(3));
        assert_eq!(plain("1.5").resolve(), Resolved::Float);
        assert_eq!(plain("08").resolve(), Resolved::Float);
        assert_eq!(plain("abc").resolve(), Resolved::Str("abc"));
        assert_eq!(plain("~").resolve(), Resolved::Null);
    }
}
