//! Builds the keyword tree: a statement is a keyword with its arguments up to the end of the line, and
//! optionally a `{ ... }` block, whose `{` may be on the keyword's line or alone on the next.

use super::diag::{Diags, Span};
use super::lexer::{tokenize, TokKind, Token};
use super::preprocess::Line;

#[derive(Debug, Clone)]
pub struct Node {
    pub name: Token,
    pub args: Vec<Token>,
    /// `Some` when the statement has a `{ ... }` block.
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn span(&self) -> Span {
        self.name.span
    }

    pub fn kw(&self) -> &str {
        &self.name.text
    }

    /// The span just after the last token, for "expected a value" errors.
    pub fn end_span(&self) -> Span {
        let last = self.args.last().unwrap_or(&self.name);
        Span {
            col: last.span.col + last.text.chars().count() as u32 + 1,
            ..last.span
        }
    }
}

struct Open {
    node: Node,
    children: Vec<Node>,
    brace: Span,
}

pub fn build(lines: &[Line], diags: &mut Diags) -> Vec<Node> {
    let mut root: Vec<Node> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    // A statement still open to arguments (same line) or to a `{` (first token of the next line).
    let mut pending: Option<Node> = None;
    let mut toks = Vec::new();

    fn children<'a>(root: &'a mut Vec<Node>, stack: &'a mut [Open]) -> &'a mut Vec<Node> {
        match stack.last_mut() {
            Some(o) => &mut o.children,
            None => root,
        }
    }

    for line in lines {
        toks.clear();
        tokenize(line, diags, &mut toks);
        for (idx, tok) in toks.drain(..).enumerate() {
            match tok.kind {
                TokKind::Word => {
                    let same_line = idx > 0;
                    match pending.as_mut() {
                        Some(p) if same_line => p.args.push(tok),
                        _ => {
                            if let Some(p) = pending.take() {
                                children(&mut root, &mut stack).push(p);
                            }
                            pending = Some(Node {
                                name: tok,
                                args: Vec::new(),
                                block: None,
                            });
                        }
                    }
                }
                TokKind::Open => {
                    let node = match pending.take() {
                        Some(p) => p,
                        None => {
                            diags.error(
                                tok.span,
                                "'{' without a keyword before it: expected 'keyword [values] {'",
                            );
                            Node {
                                name: tok.clone(),
                                args: Vec::new(),
                                block: None,
                            }
                        }
                    };
                    stack.push(Open {
                        node,
                        children: Vec::new(),
                        brace: tok.span,
                    });
                }
                TokKind::Close => {
                    if let Some(p) = pending.take() {
                        children(&mut root, &mut stack).push(p);
                    }
                    match stack.pop() {
                        Some(mut o) => {
                            o.node.block = Some(o.children);
                            children(&mut root, &mut stack).push(o.node);
                        }
                        None => diags.error(
                            tok.span,
                            "unexpected '}': no block is open here (an extra '}'?)",
                        ),
                    }
                }
            }
        }
        // A statement's arguments end with its line; it stays pending only for a `{` on the next.
    }
    if let Some(p) = pending.take() {
        children(&mut root, &mut stack).push(p);
    }
    while let Some(mut o) = stack.pop() {
        diags.error(
            o.brace,
            format!(
                "block '{}' opened here is not closed: expected '}}' before the end of the configuration",
                o.node.name.text
            ),
        );
        o.node.block = Some(o.children);
        children(&mut root, &mut stack).push(o.node);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preprocess::Cols;

    fn lines(text: &str) -> Vec<Line> {
        text.lines()
            .enumerate()
            .map(|(i, l)| Line {
                text: l.to_string(),
                file: 0,
                line: i as u32 + 1,
                cols: Cols::Offset(1),
            })
            .collect()
    }

    fn shape(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let args: Vec<&str> = n.args.iter().map(|a| a.text.as_str()).collect();
                let mut s = format!("{}({})", n.kw(), args.join(","));
                if let Some(b) = &n.block {
                    s.push_str(&format!("[{}]", shape(b)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn brace_on_same_or_next_line_and_one_line_blocks() {
        let mut d = Diags::default();
        let t = build(&lines("a 1 2 {\n b 3\n}\nc\n{\n d { e 4 }\n}\nf"), &mut d);
        assert!(!d.has_errors());
        assert_eq!(shape(&t), "a(1,2)[b(3)] c()[d()[e(4)]] f()");
    }

    #[test]
    fn unclosed_and_extra_braces_are_errors_with_places() {
        let mut d = Diags::default();
        build(&lines("a {\n b {\n}\n"), &mut d);
        assert_eq!(d.list.len(), 1);
        assert_eq!((d.list[0].span.line, d.list[0].span.col), (1, 3));
        let mut d = Diags::default();
        build(&lines("a {\n}\n  }\n"), &mut d);
        assert_eq!((d.list[0].span.line, d.list[0].span.col), (3, 3));
    }
}
