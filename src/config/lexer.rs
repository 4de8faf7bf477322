//! Splits a preprocessed line into words, quoted strings and braces.
//!
//! Quoting works like the shell: `abcd" efg "h` is one word `abcd efg h`; inside quotes the escapes
//! keepalived documents are decoded (`\n`, `\t`, `\x41`, `\101`, `\cA`, `\"` ...). An unquoted `{` or
//! `}` is always a brace, even when it touches a word (`80{`), except inside `${...}`.

use super::diag::{Diags, Span};
use super::preprocess::Line;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokKind {
    Word,
    Open,
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokKind,
    pub text: String,
    pub span: Span,
}

pub fn tokenize(line: &Line, diags: &mut Diags, out: &mut Vec<Token>) {
    if line.text.bytes().any(|b| matches!(b, b'"' | b'\'' | b'$')) {
        general(line, diags, out);
    } else {
        plain(line, out);
    }
}

/// Any line: quotes, escapes and `${...}` as well.
fn general(line: &Line, diags: &mut Diags, out: &mut Vec<Token>) {
    let chars: Vec<char> = line.text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '{' || c == '}' {
            let kind = if c == '{' {
                TokKind::Open
            } else {
                TokKind::Close
            };
            out.push(Token {
                kind,
                text: c.to_string(),
                span: line.span_at(i),
            });
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() || c == '{' || c == '}' {
                break;
            }
            if c == '$' && chars.get(i + 1) == Some(&'{') {
                // An undefined `${NAME}` stays literal, braces included.
                if let Some(end) = chars[i..].iter().position(|&c| c == '}') {
                    text.extend(&chars[i..=i + end]);
                    i += end + 1;
                    continue;
                }
            }
            if c == '"' || c == '\'' {
                match read_quoted(&chars, i, &mut text) {
                    Some(next) => i = next,
                    None => {
                        diags.error(
                            line.span_at(i),
                            format!("unterminated quoted string: expected a closing {c} before the end of the line"),
                        );
                        i = chars.len();
                    }
                }
                continue;
            }
            text.push(c);
            i += 1;
        }
        out.push(Token {
            kind: TokKind::Word,
            text,
            span: line.span_at(start),
        });
    }
}

/// A line without quotes or parameters, as nearly every line is: words are slices of it, split at
/// white space and braces (a reload of a 10,000-service file tokenizes 170,000 lines).
fn plain(line: &Line, out: &mut Vec<Token>) {
    let text = line.text.as_str();
    // (byte offset, char index) where the current word started.
    let mut word: Option<(usize, usize)> = None;
    let end_word = |word: &mut Option<(usize, usize)>, at: usize, out: &mut Vec<Token>| {
        if let Some((b, c)) = word.take() {
            out.push(Token {
                kind: TokKind::Word,
                text: text[b..at].to_string(),
                span: line.span_at(c),
            });
        }
    };
    for (n, (at, c)) in text.char_indices().enumerate() {
        if c.is_whitespace() {
            end_word(&mut word, at, out);
        } else if c == '{' || c == '}' {
            end_word(&mut word, at, out);
            out.push(Token {
                kind: if c == '{' {
                    TokKind::Open
                } else {
                    TokKind::Close
                },
                text: c.to_string(),
                span: line.span_at(n),
            });
        } else if word.is_none() {
            word = Some((at, n));
        }
    }
    end_word(&mut word, text.len(), out);
}

/// Reads a quoted part starting at `chars[start]` (the quote); returns the index after the closing quote.
fn read_quoted(chars: &[char], start: usize, text: &mut String) -> Option<usize> {
    let q = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == q {
            return Some(i + 1);
        }
        if c == '\\' && i + 1 < chars.len() {
            i = decode_escape(chars, i + 1, text);
            continue;
        }
        text.push(c);
        i += 1;
    }
    None
}

/// Decodes the escape whose letter is at `chars[i]`; returns the index after it.
fn decode_escape(chars: &[char], i: usize, text: &mut String) -> usize {
    let c = chars[i];
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' | 'e' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(s) = simple {
        text.push(s);
        return i + 1;
    }
    if c == 'x' {
        let digits: String = chars[i + 1..]
            .iter()
            .take(2)
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        if let Ok(v) = u8::from_str_radix(&digits, 16) {
            text.push(char::from(v));
            return i + 1 + digits.len();
        }
        text.push('x');
        return i + 1;
    }
    if c.is_digit(8) {
        let digits: String = chars[i..]
            .iter()
            .take(3)
            .take_while(|c| c.is_digit(8))
            .collect();
        let v = u32::from_str_radix(&digits, 8).unwrap_or(0) & 0xff;
        text.push(char::from_u32(v).unwrap_or('?'));
        return i + digits.len();
    }
    if c == 'c' {
        if let Some(&n) = chars.get(i + 1) {
            text.push(char::from((n.to_ascii_uppercase() as u8) ^ 0x40));
            return i + 2;
        }
    }
    text.push(c);
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preprocess::Cols;

    fn toks(s: &str) -> Vec<(TokKind, String, u32)> {
        let line = Line {
            text: s.to_string(),
            file: 0,
            line: 1,
            cols: Cols::Offset(1),
        };
        let mut d = Diags::default();
        let mut out = Vec::new();
        tokenize(&line, &mut d, &mut out);
        assert!(!d.has_errors(), "{:?}", d.list);
        out.into_iter()
            .map(|t| (t.kind, t.text, t.span.col))
            .collect()
    }

    #[test]
    fn quotes_join_like_the_shell() {
        let t = toks(r#"abcd" efg h jkl "mnop"#);
        assert_eq!(t, vec![(TokKind::Word, "abcd efg h jkl mnop".into(), 1)]);
        let t = toks(r#"abcd "efg h jkl" mnop"#);
        assert_eq!(
            t.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            vec!["abcd", "efg h jkl", "mnop"]
        );
    }

    #[test]
    fn escapes_in_quotes() {
        let t = toks(r#""a\tb\x41\101\"q\\ \cA""#);
        assert_eq!(t[0].1, "a\tbAA\"q\\ \x01");
    }

    #[test]
    fn braces_split_words_but_not_parameters() {
        let t = toks("vs 1.2.3.4 80{ x ${U} }");
        let kinds: Vec<_> = t.iter().map(|x| (x.0.clone(), x.1.as_str(), x.2)).collect();
        assert_eq!(
            kinds,
            vec![
                (TokKind::Word, "vs", 1),
                (TokKind::Word, "1.2.3.4", 4),
                (TokKind::Word, "80", 12),
                (TokKind::Open, "{", 14),
                (TokKind::Word, "x", 16),
                (TokKind::Word, "${U}", 18),
                (TokKind::Close, "}", 23)
            ]
        );
    }

    #[test]
    fn plain_lines_split_as_the_general_path_does() {
        for text in [
            "virtual_server 10.0.0.1 80 {",
            "  real_server\t10.0.0.2 8080{weight 1}  ",
            "}}{ a{b}c ",
            "métrique é{ü } \\x",
            "",
            "   ",
        ] {
            let line = Line {
                text: text.to_string(),
                file: 0,
                line: 1,
                cols: Cols::Offset(3),
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut d = Diags::default();
            plain(&line, &mut a);
            general(&line, &mut d, &mut b);
            assert_eq!(a, b, "{text:?}");
        }
    }

    #[test]
    fn unterminated_quote_is_an_error_with_column() {
        let line = Line {
            text: "script \"abc".into(),
            file: 0,
            line: 3,
            cols: Cols::Offset(5),
        };
        let mut d = Diags::default();
        let mut out = Vec::new();
        tokenize(&line, &mut d, &mut out);
        assert_eq!(d.list.len(), 1);
        assert_eq!(d.list[0].span.col, 12);
    }
}
