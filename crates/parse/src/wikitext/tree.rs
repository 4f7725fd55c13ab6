//! The brace tree of MediaWiki's preprocessor: `{{template|…}}` and `{{{param|…}}}` nodes
//! over preprocessed text, with `[[…]]` tracked so that a pipe inside a link does not split
//! a template argument. Runs of braces are matched as MediaWiki does: a closing run matches
//! the innermost opening braces, three make a parameter, two a template, and what is left
//! over stays literal text.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Text(Range<usize>),
    Template(Vec<Part>),
    Param(Vec<Part>),
}

/// One `|`-separated part. `eq` is the index of the node that starts with the part's first
/// top-level `=`, which separates a named argument's name from its value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Part {
    pub nodes: Vec<Node>,
    pub eq: Option<usize>,
}

#[derive(Debug)]
enum Kind {
    Brace,
    Link,
}

#[derive(Debug)]
struct Open {
    kind: Kind,
    /// Byte offset of the first opening character of the run.
    start: usize,
    count: usize,
    parts: Vec<Part>,
    /// Offsets of the `|` that began parts 1.. (for flattening back to text).
    seps: Vec<usize>,
}

struct Builder {
    stack: Vec<Open>,
    root: Part,
    text_start: usize,
}

impl Builder {
    fn current(&mut self) -> &mut Part {
        match self.stack.last_mut() {
            Some(o) => o.parts.last_mut().expect("an open element has a part"),
            None => &mut self.root,
        }
    }

    fn flush(&mut self, upto: usize) {
        if upto > self.text_start {
            let r = self.text_start..upto;
            let part = self.current();
            match part.nodes.last_mut() {
                Some(Node::Text(prev)) if prev.end == r.start => prev.end = r.end,
                _ => part.nodes.push(Node::Text(r)),
            }
        }
        self.text_start = upto;
    }

    fn push_node(&mut self, node: Node) {
        self.current().nodes.push(node);
    }

    /// Turns an unclosed element back into text nodes in its parent.
    fn flatten(&mut self, open: Open) {
        let opener = match open.kind {
            Kind::Brace => open.start..open.start + open.count,
            Kind::Link => open.start..open.start + 2,
        };
        self.push_node(Node::Text(opener));
        for (i, part) in open.parts.into_iter().enumerate() {
            if i > 0 {
                let s = open.seps[i - 1];
                self.push_node(Node::Text(s..s + 1));
            }
            for n in part.nodes {
                self.push_node(n);
            }
        }
    }
}

fn run_len(b: &[u8], i: usize, c: u8) -> usize {
    b[i..].iter().take_while(|&&x| x == c).count()
}

pub(crate) fn parse(text: &str) -> Vec<Node> {
    let b = text.as_bytes();
    let mut bl = Builder {
        stack: Vec::new(),
        root: Part::default(),
        text_start: 0,
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => {
                let n = run_len(b, i, b'{');
                bl.flush(i);
                bl.stack.push(Open {
                    kind: Kind::Brace,
                    start: i,
                    count: n,
                    parts: vec![Part::default()],
                    seps: vec![],
                });
                i += n;
                bl.text_start = i;
            }
            // `[[` only matters inside braces (a pipe in a link does not split arguments);
            // at the top level it is plain text, which keeps long pages cheap.
            b'[' if b.get(i + 1) == Some(&b'[') && !bl.stack.is_empty() => {
                bl.flush(i);
                bl.stack.push(Open {
                    kind: Kind::Link,
                    start: i,
                    count: 2,
                    parts: vec![Part::default()],
                    seps: vec![],
                });
                i += 2;
                bl.text_start = i;
            }
            b'}' if b.get(i + 1) == Some(&b'}')
                && matches!(
                    bl.stack.last(),
                    Some(Open {
                        kind: Kind::Brace,
                        ..
                    })
                ) =>
            {
                let mut m = run_len(b, i, b'}');
                bl.flush(i);
                while m >= 2 {
                    let Some(top) = bl.stack.last() else { break };
                    if !matches!(top.kind, Kind::Brace) {
                        break;
                    }
                    let matched = m.min(top.count).min(3);
                    if matched < 2 {
                        break;
                    }
                    let mut open = bl.stack.pop().expect("checked above");
                    let parts = std::mem::take(&mut open.parts);
                    let node = if matched == 3 {
                        Node::Param(parts)
                    } else {
                        Node::Template(parts)
                    };
                    open.count -= matched;
                    m -= matched;
                    i += matched;
                    if open.count >= 2 {
                        // The outer braces stay open, now holding the node.
                        open.parts = vec![Part {
                            nodes: vec![node],
                            eq: None,
                        }];
                        open.seps.clear();
                        bl.stack.push(open);
                    } else {
                        if open.count == 1 {
                            bl.push_node(Node::Text(open.start..open.start + 1));
                        }
                        bl.push_node(node);
                    }
                }
                bl.text_start = i;
                // Closing braces left over are plain text.
                i += m;
            }
            b']' if b.get(i + 1) == Some(&b']')
                && matches!(
                    bl.stack.last(),
                    Some(Open {
                        kind: Kind::Link,
                        ..
                    })
                ) =>
            {
                bl.flush(i + 2);
                let open = bl.stack.pop().expect("checked above");
                bl.flatten(open);
                i += 2;
                bl.text_start = i;
            }
            b'|' if matches!(
                bl.stack.last(),
                Some(Open {
                    kind: Kind::Brace,
                    ..
                })
            ) =>
            {
                bl.flush(i);
                let top = bl.stack.last_mut().expect("checked above");
                top.parts.push(Part::default());
                top.seps.push(i);
                i += 1;
                bl.text_start = i;
            }
            b'=' if matches!(
                bl.stack.last(),
                Some(Open {
                    kind: Kind::Brace,
                    ..
                })
            ) =>
            {
                let has_eq = bl.current().eq.is_some();
                if !has_eq {
                    bl.flush(i);
                    let part = bl.current();
                    part.eq = Some(part.nodes.len());
                    part.nodes.push(Node::Text(i..i + 1));
                    bl.text_start = i + 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    bl.flush(b.len());
    // Each unclosed element sits at the end of the one below it, so flattening from the
    // bottom up appends everything in order, in linear time.
    let stack = std::mem::take(&mut bl.stack);
    for open in stack {
        bl.flatten(open);
    }
    bl.root.nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders a tree back to a bracketed debug string.
    fn show(text: &str, nodes: &[Node]) -> String {
        let mut s = String::new();
        for n in nodes {
            match n {
                Node::Text(r) => s.push_str(&text[r.clone()]),
                Node::Template(parts) | Node::Param(parts) => {
                    s.push_str(if matches!(n, Node::Template(_)) {
                        "T("
                    } else {
                        "P("
                    });
                    let ps: Vec<String> = parts.iter().map(|p| show(text, &p.nodes)).collect();
                    s.push_str(&ps.join(";"));
                    s.push(')');
                }
            }
        }
        s
    }

    fn t(text: &str) -> String {
        show(text, &parse(text))
    }

    #[test]
    fn shapes() {
        assert_eq!(t("a{{b|c=d|[[e|f]]}}g"), "aT(b;c=d;[[e|f]])g");
        assert_eq!(t("{{{1|x}}}"), "P(1;x)");
        assert_eq!(t("{{{{{a}}}}}"), "T(P(a))");
        assert_eq!(t("{{{{x}}}}"), "{P(x)}");
        assert_eq!(t("{{a}}}"), "T(a)}");
        assert_eq!(t("{{a|b"), "{{a|b");
        assert_eq!(t("}}x{{"), "}}x{{");
        assert_eq!(t("{{a|{{b}}|c}}"), "T(a;T(b);c)");
        assert_eq!(t("[[a|{{b|c}}]]"), "[[a|T(b;c)]]");
    }

    #[test]
    fn first_equals_splits_named_arguments() {
        let text = "{{a|k=v=w|x}}";
        let nodes = parse(text);
        let Node::Template(parts) = &nodes[0] else {
            panic!()
        };
        assert_eq!(parts[1].eq, Some(1));
        assert_eq!(parts[2].eq, None);
    }
}
