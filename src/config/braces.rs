//! csh-style brace expansion for `include` patterns: `{foo/{,cat,dog},bar}` becomes
//! `foo/`, `foo/cat`, `foo/dog`, `bar` (the glob crate does not do braces).

/// Expands every `{a,b,...}` group (nested too); a pattern without braces comes back unchanged.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let Some(open) = chars.iter().position(|&c| c == '{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        // An unbalanced brace is literal, as in the shell.
        return vec![pattern.to_string()];
    };
    let prefix: String = chars[..open].iter().collect();
    let suffix: String = chars[close + 1..].iter().collect();
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt: String = chars[w[0] + 1..w[1]].iter().collect();
        for tail in expand_braces(&format!("{alt}{suffix}")) {
            out.push(format!("{prefix}{tail}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_groups_expand_in_order() {
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}"),
            vec!["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(
            expand_braces("a{1,2}b{x,y}"),
            vec!["a1bx", "a1by", "a2bx", "a2by"]
        );
        assert_eq!(expand_braces("plain*.conf"), vec!["plain*.conf"]);
        assert_eq!(expand_braces("open{a,b"), vec!["open{a,b"]);
    }
}
