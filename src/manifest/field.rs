//! Field paths as kpsa writes them (`spec.containers[name=app].ports[0]`):
//! parse them, follow them through a document, and turn them into JSON
//! pointers with list positions (`/spec/containers/1/ports/0`).

use super::Node;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    /// The list item whose `key` is `value` (`[name=app]`).
    Named(String, String),
    /// The list item at a position (`[0]`).
    Index(usize),
}

/// Parse `a.b[name=x].c[0]`.
pub fn parse(field: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut key = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !key.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut key)));
                }
            }
            '[' => {
                if !key.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut key)));
                }
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                segs.push(match inner.split_once('=') {
                    Some((k, v)) => Seg::Named(k.to_string(), v.to_string()),
                    None => match inner.parse() {
                        Ok(i) => Seg::Index(i),
                        Err(_) => Seg::Key(inner),
                    },
                });
            }
            _ => key.push(c),
        }
    }
    if !key.is_empty() {
        segs.push(Seg::Key(key));
    }
    segs
}

/// The node one step below `node`.
pub fn step<'a>(node: &'a Node, seg: &Seg) -> Option<(&'a Node, usize)> {
    match seg {
        Seg::Key(k) => node.get(k).map(|n| (n, 0)),
        Seg::Named(k, v) => node
            .items()
            .iter()
            .enumerate()
            .find(|(_, item)| item.get(k).and_then(Node::scalar_text) == Some(v.as_str()))
            .map(|(i, n)| (n, i)),
        Seg::Index(i) => node.items().get(*i).map(|n| (n, *i)),
    }
}

/// Follow `segs` as far as the document goes: the deepest node reached and
/// how many steps were taken.
pub fn deepest<'a>(node: &'a Node, segs: &[Seg]) -> (&'a Node, usize) {
    let mut cur = node;
    for (depth, seg) in segs.iter().enumerate() {
        match step(cur, seg) {
            Some((next, _)) => cur = next,
            None => return (cur, depth),
        }
    }
    (cur, segs.len())
}

/// The JSON pointer of a field path in a document, with list positions;
/// steps the document does not have keep their names.
pub fn pointer(node: &Node, segs: &[Seg]) -> String {
    let mut out = String::new();
    let mut cur = Some(node);
    for seg in segs {
        let next = cur.and_then(|n| step(n, seg));
        out.push('/');
        match (seg, next) {
            (Seg::Key(k), _) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            (_, Some((_, i))) => out.push_str(&i.to_string()),
            (Seg::Index(i), None) => out.push_str(&i.to_string()),
            (Seg::Named(_, v), None) => out.push_str(v),
        }
        cur = next.map(|(n, _)| n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Limits;
    use crate::manifest::yaml::parse_documents;

    #[test]
    fn parse_and_pointer() {
        let segs = parse("spec.containers[name=b].ports[1].hostPort");
        assert_eq!(
            segs,
            vec![
                Seg::Key("spec".into()),
                Seg::Key("containers".into()),
                Seg::Named("name".into(), "b".into()),
                Seg::Key("ports".into()),
                Seg::Index(1),
                Seg::Key("hostPort".into()),
            ]
        );
        let doc = &parse_documents(
            "spec:\n  containers:\n  - name: a\n  - name: b\n    ports: [{containerPort: 1}, {hostPort: 2}]\n",
            1,
            Limits::default(),
        )
        .unwrap()[0];
        assert_eq!(pointer(doc, &segs), "/spec/containers/1/ports/1/hostPort");
        let (node, depth) = deepest(
            doc,
            &parse("spec.containers[name=b].securityContext.privileged"),
        );
        assert_eq!((node.pos.line, depth), (4, 3));
    }
}
