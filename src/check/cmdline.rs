//! Splits a misc_path command line into words like a shell would, but without running one:
//! whitespace separates words, single quotes keep everything literally, double quotes keep spaces
//! (with `\"` and `\\` escapes), a backslash outside quotes escapes the next character.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("unterminated {0} quote in command line")]
    Unterminated(&'static str),
    #[error("empty command line")]
    Empty,
}

pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError::Unterminated("single")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err(SplitError::Unterminated("double")),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError::Unterminated("double")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            ch => {
                in_word = true;
                cur.push(ch);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split("/bin/check  -h 'a b' \"c \\\"d\\\"\" e\\ f ''").unwrap(),
            vec!["/bin/check", "-h", "a b", "c \"d\"", "e f", ""]
        );
        assert_eq!(split("a'b'c").unwrap(), vec!["abc"]);
    }

    #[test]
    fn rejects_broken_lines() {
        assert!(split("x 'open").is_err());
        assert!(split("x \"open").is_err());
        assert!(split("   ").is_err());
    }
}
