//! Builds [`Node`] trees from saphyr-parser events, with hard limits.
//!
//! The parser yields events with spans; this module turns one document chunk
//! (see [`super::chunk`]) into trees without recursion, so a hostile input
//! cannot overflow the stack. Limits: nesting depth, nodes per document, and
//! nodes created by alias expansion (an "alias bomb" fails fast, long before
//! it costs memory). Duplicate keys are errors, as they are for `kubectl`;
//! YAML 1.1 merge keys (`<<`) are applied, as go-yaml v2 applies them.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::node::{Entry, Node, Pos, Scalar, Value};

/// Hard limits for one document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of mappings and sequences.
    pub max_depth: usize,
    /// Nodes in one document, alias expansions included.
    pub max_nodes: usize,
    /// Nodes that alias expansion may add to one document.
    pub max_alias_nodes: usize,
    /// Bytes of one document.
    pub max_document_bytes: usize,
    /// Bytes of one input file.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_nodes: 1_000_000,
            max_alias_nodes: 100_000,
            max_document_bytes: 16 * 1024 * 1024,
            max_file_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// A document that could not be read, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Pos)>,
        merges: Vec<Node>,
        size: usize,
    },
}

struct Builder {
    limits: Limits,
    line_offset: u32,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    alias_nodes: usize,
    docs: Vec<Node>,
}

/// Parse a chunk of text holding zero or more YAML documents.
/// `first_line` is the line of the chunk's first line in its file.
pub fn parse_documents(
    text: &str,
    first_line: u32,
    limits: Limits,
) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder {
        limits,
        line_offset: first_line.saturating_sub(1),
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        alias_nodes: 0,
        docs: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| YamlError {
            pos: Pos {
                line: e.marker().line() as u32 + b.line_offset,
                column: e.marker().col() as u32 + 1,
            },
            message: e.info().to_string(),
        })?;
        let pos = b.pos(&span);
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                b.anchors.clear();
                b.nodes = 0;
                b.alias_nodes = 0;
            }
            Event::DocumentEnd => {}
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                let plain = style == ScalarStyle::Plain && !is_str_tag;
                let node = Node {
                    pos,
                    value: Value::Scalar(Scalar {
                        text: text.into_owned(),
                        plain,
                    }),
                };
                b.count(1, pos)?;
                b.finish(node, anchor, 1)?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = b.anchors.get(&id).cloned() else {
                    return Err(YamlError {
                        pos,
                        message: "alias refers to an unknown anchor".into(),
                    });
                };
                b.alias_nodes += size;
                if b.alias_nodes > b.limits.max_alias_nodes {
                    return Err(YamlError {
                        pos,
                        message: format!(
                            "alias expansion exceeds the limit of {} nodes per document (a YAML \"alias bomb\"?)",
                            b.limits.max_alias_nodes
                        ),
                    });
                }
                b.count(size, pos)?;
                let mut node = node;
                node.pos = pos;
                b.push(node, size)?;
            }
            Event::SequenceStart(anchor, _) => {
                b.open(pos)?;
                b.count(1, pos)?;
                b.stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                    size: 1,
                });
            }
            Event::MappingStart(anchor, _) => {
                b.open(pos)?;
                b.count(1, pos)?;
                b.stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merges: Vec::new(),
                    size: 1,
                });
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq {
                    pos,
                    anchor,
                    items,
                    size,
                }) = b.stack.pop()
                else {
                    return Err(YamlError {
                        pos,
                        message: "unbalanced sequence end".into(),
                    });
                };
                let node = Node {
                    pos,
                    value: Value::Seq(items),
                };
                b.finish(node, anchor, size)?;
            }
            Event::MappingEnd => {
                let Some(Frame::Map {
                    pos,
                    anchor,
                    mut entries,
                    merges,
                    size,
                    ..
                }) = b.stack.pop()
                else {
                    return Err(YamlError {
                        pos,
                        message: "unbalanced mapping end".into(),
                    });
                };
                apply_merges(&mut entries, merges, pos)?;
                let node = Node {
                    pos,
                    value: Value::Map(entries),
                };
                b.finish(node, anchor, size)?;
            }
        }
    }
    Ok(b.docs)
}

impl Builder {
    fn pos(&self, span: &Span) -> Pos {
        Pos {
            line: span.start.line() as u32 + self.line_offset,
            column: span.start.col() as u32 + 1,
        }
    }

    fn open(&self, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError {
                pos,
                message: format!(
                    "nesting deeper than the limit of {} levels",
                    self.limits.max_depth
                ),
            });
        }
        Ok(())
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError {
                pos,
                message: format!(
                    "document has more than the limit of {} nodes",
                    self.limits.max_nodes
                ),
            });
        }
        Ok(())
    }

    /// A node is complete: remember it under its anchor, if it has one, and
    /// attach it to its parent.
    fn finish(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        self.push(node, size)
    }

    /// Attach a finished node to its parent, or make it a document root.
    fn push(&mut self, mut node: Node, node_size: usize) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.docs.push(node);
                Ok(())
            }
            Some(Frame::Seq { items, size, .. }) => {
                *size += node_size;
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                key,
                merges,
                size,
                ..
            }) => {
                *size += node_size;
                match key.take() {
                    None => {
                        let Value::Scalar(s) = node.value else {
                            return Err(YamlError {
                                pos: node.pos,
                                message: "mapping keys must be scalars (complex keys are not Kubernetes YAML)".into(),
                            });
                        };
                        let is_merge = s.plain && s.text == "<<";
                        let text = if is_merge { "<<".to_string() } else { s.text };
                        *key = Some((text, node.pos));
                        Ok(())
                    }
                    Some((k, key_pos)) => {
                        if k == "<<" {
                            merges.push(node);
                            return Ok(());
                        }
                        if let Some(first) = find_key(entries, &k) {
                            return Err(YamlError {
                                pos: key_pos,
                                message: format!(
                                    "duplicate key {k:?} (first defined at line {})",
                                    first.line
                                ),
                            });
                        }
                        node.pos = key_pos;
                        entries.push(Entry {
                            key: k,
                            value: node,
                        });
                        Ok(())
                    }
                }
            }
        }
    }
}

fn find_key(entries: &[Entry], key: &str) -> Option<Pos> {
    entries.iter().find(|e| e.key == key).map(|e| e.value.pos)
}

/// YAML 1.1 merge keys: explicit keys win, then earlier merged maps win.
fn apply_merges(entries: &mut Vec<Entry>, merges: Vec<Node>, pos: Pos) -> Result<(), YamlError> {
    for merge in merges {
        let sources: Vec<Node> = match merge.value {
            Value::Map(_) => vec![merge],
            Value::Seq(items) => items,
            Value::Scalar(_) => {
                return Err(YamlError {
                    pos,
                    message: "merge key `<<` needs a mapping or a list of mappings".into(),
                });
            }
        };
        for source in sources {
            let Value::Map(merged) = source.value else {
                return Err(YamlError {
                    pos,
                    message: "merge key `<<` needs a mapping or a list of mappings".into(),
                });
            };
            for entry in merged {
                if find_key(entries, &entry.key).is_none() {
                    entries.push(entry);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse_documents(text, 1, Limits::default()).expect("parses");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn fields_carry_the_position_of_their_key() {
        let n = one("a:\n  b:\n    c: true\n");
        let c = n.path(&["a", "b", "c"]).unwrap();
        assert_eq!(c.pos, Pos { line: 3, column: 5 });
        assert_eq!(c.as_bool(), Ok(Some(true)));
    }

    #[test]
    fn line_offset_is_applied() {
        let docs = parse_documents("x: 1\n", 10, Limits::default()).unwrap();
        assert_eq!(docs[0].get("x").unwrap().pos.line, 10);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n", 1, Limits::default()).unwrap_err();
        assert_eq!(err.pos.line, 3);
        assert!(
            err.message.contains("duplicate key \"a\""),
            "{}",
            err.message
        );
    }

    #[test]
    fn merge_keys_fill_in_missing_entries() {
        let n = one("base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\n");
        let other = n.get("other").unwrap();
        assert_eq!(other.get("x").unwrap().as_int(), Ok(Some(1)));
        assert_eq!(other.get("y").unwrap().as_int(), Ok(Some(3)));
    }

    #[test]
    fn alias_bombs_fail_fast() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = parse_documents(&text, 1, Limits::default()).unwrap_err();
        assert!(err.message.contains("alias expansion"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut text = String::new();
        for i in 0..10_000 {
            text.push_str(&" ".repeat(i));
            text.push_str("a:\n");
        }
        let err = parse_documents(&text, 1, Limits::default()).unwrap_err();
        assert!(err.message.contains("nesting deeper"), "{}", err.message);
    }

    #[test]
    fn quoted_and_str_tagged_scalars_stay_strings() {
        let n = one("a: \"true\"\nb: !!str yes\nc: yes\n");
        assert!(n.get("a").unwrap().as_bool().is_err());
        assert!(n.get("b").unwrap().as_bool().is_err());
        assert_eq!(n.get("c").unwrap().as_bool(), Ok(Some(true)));
    }
}
