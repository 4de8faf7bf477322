//! Builds the keyword tree: a statement is a keyword with its arguments up to the end of the line, and
//! optionally a `{ ... }` block, whose `{` may be on the keyword's line or alone on the next.

use super::diag::{Diags, Span};
use super::lexer::{tokenize, TokKind, Token};
use super::preprocess::{Line, LineSink};

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

/// Blocks nest at most this deep (keepalived's deepest is four: virtual_server, real_server, a
/// checker, url). Past it the text is skipped to its closing brace: an unclosed `{` repeated by
/// ~SEQ nested a million deep and overflowed the stack when the tree was dropped (fuzzing).
const MAX_NESTING: usize = 32;

struct Open {
    node: Node,
    children: Vec<Node>,
    brace: Span,
}

/// Builds the tree line by line and hands each finished top-level statement to `top` at once, so only
/// one top-level block is held at a time.
pub struct TreeBuilder<F: FnMut(Node, &mut Diags)> {
    stack: Vec<Open>,
    /// A statement still open to arguments (same line) or to a `{` (first token of the next line).
    pending: Option<Node>,
    toks: Vec<Token>,
    top: F,
    /// Braces open past MAX_NESTING, whose contents are skipped.
    too_deep: usize,
}

impl<F: FnMut(Node, &mut Diags)> TreeBuilder<F> {
    pub fn new(top: F) -> Self {
        TreeBuilder {
            stack: Vec::new(),
            pending: None,
            toks: Vec::new(),
            top,
            too_deep: 0,
        }
    }

    fn place(&mut self, node: Node, diags: &mut Diags) {
        match self.stack.last_mut() {
            Some(o) => o.children.push(node),
            None => (self.top)(node, diags),
        }
    }

    pub fn push_line(&mut self, line: &Line, diags: &mut Diags) {
        let mut toks = std::mem::take(&mut self.toks);
        tokenize(line, diags, &mut toks);
        for (idx, tok) in toks.drain(..).enumerate() {
            if self.too_deep > 0 {
                match tok.kind {
                    TokKind::Open => self.too_deep += 1,
                    TokKind::Close => self.too_deep -= 1,
                    TokKind::Word => {}
                }
                continue;
            }
            if tok.kind == TokKind::Open && self.stack.len() >= MAX_NESTING {
                diags.error(
                    tok.span,
                    format!("blocks nest deeper than {MAX_NESTING} levels here (a '}}' missing above?); skipped to its closing '}}'"),
                );
                self.pending = None;
                self.too_deep = 1;
                continue;
            }
            match tok.kind {
                TokKind::Word => match self.pending.as_mut() {
                    // Arguments end with their line.
                    Some(p) if idx > 0 => p.args.push(tok),
                    _ => {
                        if let Some(p) = self.pending.take() {
                            self.place(p, diags);
                        }
                        self.pending = Some(Node {
                            name: tok,
                            args: Vec::new(),
                            block: None,
                        });
                    }
                },
                TokKind::Open => {
                    let node = match self.pending.take() {
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
                    self.stack.push(Open {
                        node,
                        children: Vec::new(),
                        brace: tok.span,
                    });
                }
                TokKind::Close => {
                    if let Some(p) = self.pending.take() {
                        self.place(p, diags);
                    }
                    match self.stack.pop() {
                        Some(mut o) => {
                            o.node.block = Some(o.children);
                            self.place(o.node, diags);
                        }
                        None => diags.error(
                            tok.span,
                            "unexpected '}': no block is open here (an extra '}'?)",
                        ),
                    }
                }
            }
        }
        self.toks = toks;
    }

    /// Ends the input: reports blocks left open and hands over what is left.
    pub fn finish(mut self, diags: &mut Diags) {
        if let Some(p) = self.pending.take() {
            self.place(p, diags);
        }
        while let Some(mut o) = self.stack.pop() {
            diags.error(
                o.brace,
                format!(
                    "block '{}' opened here is not closed: expected '}}' before the end of the configuration",
                    o.node.name.text
                ),
            );
            o.node.block = Some(o.children);
            self.place(o.node, diags);
        }
    }
}

impl<F: FnMut(Node, &mut Diags)> LineSink for TreeBuilder<F> {
    fn line(&mut self, line: Line, diags: &mut Diags) {
        self.push_line(&line, diags);
    }
}

/// The whole tree of a list of lines.
#[cfg(test)]
pub fn build(lines: &[Line], diags: &mut Diags) -> Vec<Node> {
    let mut root = Vec::new();
    let mut b = TreeBuilder::new(|n, _: &mut Diags| root.push(n));
    for l in lines {
        b.push_line(l, diags);
    }
    b.finish(diags);
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

    #[test]
    fn deep_nesting_is_an_error_and_the_text_is_skipped_to_its_brace() {
        // 100,000 blocks opened, each closed: past MAX_NESTING the contents are skipped, the tree
        // stays shallow (dropping it used to overflow the stack), and what follows is read.
        let mut text = "a {\n".repeat(100_000);
        text.push_str("x 1\n");
        text.push_str(&"}\n".repeat(100_000));
        text.push_str("after 2\n");
        let mut d = Diags::default();
        let t = build(&lines(&text), &mut d);
        let errors: Vec<_> = d
            .list
            .iter()
            .map(|e| (e.span.line, e.message.as_str()))
            .collect();
        assert_eq!(errors.len(), 1, "{:?}", &errors[..errors.len().min(3)]);
        assert_eq!(errors[0].0, MAX_NESTING as u32 + 1);
        assert!(errors[0].1.contains("nest deeper"), "{}", errors[0].1);
        assert_eq!(shape(&t[1..]), "after(2)");
        let mut depth = 0;
        let mut n = &t[0];
        while let Some(b) = &n.block {
            depth += 1;
            match b.first() {
                Some(c) => n = c,
                None => break,
            }
        }
        assert_eq!(depth, MAX_NESTING);
    }
}
