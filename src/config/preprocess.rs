//! Line-level preprocessing, as keepalived does it before parsing: comments, `include`, `@id` conditional
//! lines, `$NAME=value` definitions (also multi-line with `\`), `$NAME` / `${NAME}` substitution and the
//! `~SEQ` / `~SEQx` / `~LST` repetition blocks.
//!
//! Every output line remembers where each of its characters came from, so a diagnostic on a token points
//! at the right column even after substitution (substituted text points at its `$`).

use super::braces::expand_braces;
use super::diag::{Diags, FileId, SourceMap, Span};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Substitutions nest (a value may name another parameter); past this depth it is a loop.
const MAX_DEPTH: usize = 32;
/// Lines that substitution and ~SEQ / ~LST may produce in one load. The depth bound alone lets a
/// multi-line definition that names itself inside a ~SEQ grow as rows^depth (found by fuzzing: a
/// 300-byte file ran for minutes); a real configuration of 10,000 services expands to far fewer.
const MAX_EXPANDED: usize = 1_000_000;
/// Characters that expansion may produce in one load: the line bound alone let long lines through
/// (a fuzzed 300-byte file reached 1.2 GB under 1,000,000 lines). Each character also keeps its
/// source column (4 bytes), so this holds expansion near 200 MB; a generated 10,000-service file
/// is a few MB.
const MAX_EXPANDED_CHARS: usize = 32 << 20;
/// A `~SEQ` that would produce more lines than this is refused rather than eating all memory.
const MAX_SEQ_LINES: u64 = 10_000_000;
const MAX_INCLUDE_DEPTH: usize = 64;

/// Where the characters of a line came from: columns of the original line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cols {
    /// The text is a verbatim slice of the source starting at this column.
    Offset(u32),
    /// One column per character (after substitution changed the text).
    Map(Vec<u32>),
}

impl Cols {
    pub fn col(&self, char_idx: usize) -> u32 {
        match self {
            Cols::Offset(c) => c + char_idx as u32,
            Cols::Map(m) => m.get(char_idx).or_else(|| m.last()).copied().unwrap_or(1),
        }
    }

    fn skip(&self, n_chars: usize) -> Cols {
        match self {
            Cols::Offset(c) => Cols::Offset(c + n_chars as u32),
            Cols::Map(m) => Cols::Map(m.get(n_chars..).unwrap_or(&[]).to_vec()),
        }
    }
}

/// One logical configuration line after preprocessing.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    pub file: FileId,
    pub line: u32,
    pub cols: Cols,
}

impl Line {
    pub fn span_at(&self, char_idx: usize) -> Span {
        Span {
            file: self.file,
            line: self.line,
            col: self.cols.col(char_idx),
        }
    }
}

#[derive(Debug, Clone)]
enum Def {
    Single(String),
    Multi(Vec<String>),
}

/// Text being fed through the preprocessor, with its origin.
struct Piece {
    text: String,
    file: FileId,
    line: u32,
    cols: Cols,
}

impl Piece {
    fn span(&self, char_idx: usize) -> Span {
        Span {
            file: self.file,
            line: self.line,
            col: self.cols.col(char_idx),
        }
    }

    /// The piece without leading/trailing white space.
    /// Without white space around it, in place (nearly every line is already trimmed).
    fn trimmed(mut self) -> Piece {
        let end = self.text.trim_end().len();
        self.text.truncate(end);
        let start = self.text.len() - self.text.trim_start().len();
        if start > 0 {
            let lead = self.text[..start].chars().count();
            self.text.drain(..start);
            self.cols = self.cols.skip(lead);
        }
        self
    }

    /// The piece from character `n` on.
    fn tail_from(&self, n: usize) -> Piece {
        let text: String = self.text.chars().skip(n).collect();
        Piece {
            text,
            file: self.file,
            line: self.line,
            cols: self.cols.skip(n),
        }
    }
}

/// Receives each preprocessed line as soon as it is ready, so a large configuration is never held as
/// a whole list of lines.
pub trait LineSink {
    fn line(&mut self, line: Line, diags: &mut Diags);
}

impl LineSink for Vec<Line> {
    fn line(&mut self, line: Line, _: &mut Diags) {
        self.push(line);
    }
}

pub struct Preprocessor<'a> {
    pub sources: SourceMap,
    diags: &'a mut Diags,
    out: &'a mut dyn LineSink,
    config_id: String,
    defs: HashMap<String, Def>,
    /// Canonical paths of the files being read, innermost last (include loops, `${_PWD}`).
    stack: Vec<PathBuf>,
    rng: u64,
    /// `${_ENV NAME}` of a variable that is not set, to warn at its place.
    unset_env: Option<String>,
    /// Lines and characters produced by expansion so far (MAX_EXPANDED, MAX_EXPANDED_CHARS), and
    /// whether a bound was met.
    expanded: usize,
    expanded_chars: usize,
    exhausted: bool,
}

impl<'a> Preprocessor<'a> {
    pub fn new(config_id: &str, diags: &'a mut Diags, out: &'a mut dyn LineSink) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9)
            ^ u64::from(std::process::id());
        Preprocessor {
            sources: SourceMap::default(),
            diags,
            config_id: config_id.to_string(),
            defs: HashMap::new(),
            stack: Vec::new(),
            out,
            rng: seed | 1,
            unset_env: None,
            expanded: 0,
            expanded_chars: 0,
            exhausted: false,
        }
    }

    /// Reads `path` and everything it includes. `from` is the include line, if any.
    pub fn read_file(&mut self, path: &Path, from: Option<Span>) {
        let at = from.unwrap_or_default();
        let canonical = match std::fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) => {
                self.missing_file(path, from, &e.to_string());
                return;
            }
        };
        if let Some(pos) = self.stack.iter().position(|p| p == &canonical) {
            let chain: Vec<String> = self.stack[pos..]
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| p.display().to_string())
                .collect();
            self.diags
                .error(at, format!("include loop: {}", chain.join(" -> ")));
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.diags.error(
                at,
                format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files"),
            );
            return;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.missing_file(path, from, &e.to_string());
                return;
            }
        };
        let file = self.sources.add(path);
        // Validated at full speed first; the lossy decoder only for a file that needs it.
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(&bytes),
        };
        if matches!(text, std::borrow::Cow::Owned(_)) {
            self.diags.warn(
                Span {
                    file,
                    line: 1,
                    col: 1,
                },
                "file is not valid UTF-8; invalid bytes were replaced",
            );
        }
        self.stack.push(canonical);
        let raw: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < raw.len() {
            let line_no = (i + 1) as u32;
            let body = strip_comment(raw[i]);
            let trimmed = body.trim();
            let lead = body[..body.len() - body.trim_start().len()].chars().count();
            let piece = Piece {
                text: trimmed.to_string(),
                file,
                line: line_no,
                cols: Cols::Offset(1 + lead as u32),
            };
            i += 1;
            // A multi-line definition `$NAME= \` takes the following lines up to one without `\`.
            if let Some(selected) = self.select_conditional(piece) {
                if let Some(name) = multiline_definition_name(&selected.text) {
                    let mut body = Vec::new();
                    while i < raw.len() {
                        let l = strip_comment(raw[i]).trim();
                        i += 1;
                        match l.strip_suffix('\\') {
                            Some(cont) => body.push(cont.trim_end().to_string()),
                            None => {
                                body.push(l.to_string());
                                break;
                            }
                        }
                    }
                    self.defs.insert(name, Def::Multi(body));
                } else {
                    self.feed(selected, 0);
                }
            }
        }
        self.stack.pop();
    }

    fn missing_file(&mut self, path: &Path, from: Option<Span>, why: &str) {
        let at = from.unwrap_or_default();
        if from.is_some() {
            self.diags.error(
                at,
                format!("cannot read included file {}: {why}", path.display()),
            );
        } else {
            // The top-level file: there is no place in a file to point at.
            self.diags.error(
                at,
                format!("cannot read configuration file {}: {why}", path.display()),
            );
        }
    }

    pub fn finish(self) -> SourceMap {
        self.sources
    }

    /// Applies an `@id` / `@^id` prefix: `None` when the line is not for this config id.
    fn select_conditional(&mut self, piece: Piece) -> Option<Piece> {
        let Some(rest) = piece.text.strip_prefix('@') else {
            return if piece.text.is_empty() {
                None
            } else {
                Some(piece)
            };
        };
        let (negate, rest) = match rest.strip_prefix('^') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let id: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        let consumed = piece.text.chars().count() - rest.chars().count() + id.chars().count();
        if id.is_empty() {
            self.diags.error(
                piece.span(0),
                "expected a config id right after '@' (as in '@main router_id a')",
            );
            return None;
        }
        if (id == self.config_id) != negate {
            let p = piece.tail_from(consumed).trimmed();
            if p.text.is_empty() {
                None
            } else {
                Some(p)
            }
        } else {
            None
        }
    }

    /// Processes one logical line: definitions, repetition, substitution, include, then output.
    fn feed(&mut self, piece: Piece, depth: usize) {
        if depth > 0 && !self.charge(1, piece.text.len(), piece.span(0)) {
            return;
        }
        if depth > MAX_DEPTH {
            // Said once, and expansion ends there as at the size bounds: a ~SEQ over a definition
            // that names itself reached this depth once per row, each an error to build (fuzzing:
            // 300 bytes took over 20 s).
            self.exhausted = true;
            self.diags.error(
                piece.span(0),
                format!("parameter substitution nests deeper than {MAX_DEPTH} levels (a definition refers to itself?); the rest is not expanded"),
            );
            return;
        }
        let Some(piece) = self.select_conditional(piece.trimmed()) else {
            return;
        };
        if let Some((name, value)) = single_definition(&piece.text) {
            self.defs.insert(name, Def::Single(value));
            return;
        }
        if piece.text.starts_with("~SEQ") || piece.text.starts_with("~LST") {
            self.repeat(piece, depth);
            return;
        }
        match self.substitute(&piece) {
            Some(lines) => {
                for l in lines {
                    self.feed(l, depth + 1);
                }
            }
            None => self.emit_or_include(piece),
        }
    }

    fn emit_or_include(&mut self, piece: Piece) {
        let first = piece.text.split(char::is_whitespace).next().unwrap_or("");
        if matches!(
            first,
            "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
        ) {
            let arg = piece.text[first.len()..].trim();
            let arg = arg.trim_matches(|c| c == '"' || c == '\'');
            let at = piece.span(0);
            if arg.is_empty() {
                self.diags
                    .error(at, format!("{first}: expected a file name or pattern"));
                return;
            }
            self.include(arg, at);
            return;
        }
        let line = Line {
            text: piece.text,
            file: piece.file,
            line: piece.line,
            cols: piece.cols,
        };
        self.out.line(line, self.diags);
    }

    fn include(&mut self, pattern: &str, at: Span) {
        let base = self
            .stack
            .last()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for pat in expand_braces(pattern) {
            let full = if Path::new(&pat).is_absolute() {
                PathBuf::from(&pat)
            } else {
                base.join(&pat)
            };
            let full_s = full.to_string_lossy().to_string();
            let is_glob = pat.contains(['*', '?', '[']);
            if !is_glob {
                self.read_file(&full, Some(at));
                continue;
            }
            let mut matches: Vec<PathBuf> = match glob::glob(&full_s) {
                Ok(paths) => paths
                    .filter_map(Result::ok)
                    .filter(|p| p.is_file())
                    .collect(),
                Err(e) => {
                    self.diags
                        .error(at, format!("include: bad pattern {full_s}: {e}"));
                    continue;
                }
            };
            matches.sort();
            if matches.is_empty() {
                self.diags
                    .warn(at, format!("include: no file matches {full_s}"));
            }
            for m in matches {
                self.read_file(&m, Some(at));
            }
        }
    }

    /// `~SEQ(var, start, step, end)`, `~SEQx(...)` and `~LST(var, v1, v2, ...)` / `~LST({a,b}, {1,2}, ...)`.
    fn repeat(&mut self, piece: Piece, depth: usize) {
        let at = piece.span(0);
        let (kind, after_kw) = if let Some(r) = piece.text.strip_prefix("~SEQx(") {
            ("SEQx", r)
        } else if let Some(r) = piece.text.strip_prefix("~SEQ(") {
            ("SEQ", r)
        } else if let Some(r) = piece.text.strip_prefix("~LST(") {
            ("LST", r)
        } else {
            self.diags.error(
                at,
                "expected ~SEQ(var, start, step, end), ~SEQx(...) or ~LST(var, values...)",
            );
            return;
        };
        let Some(close) = matching_paren(after_kw) else {
            self.diags.error(
                at,
                format!("~{kind}: expected ')' closing the argument list"),
            );
            return;
        };
        let inner = &after_kw[..close];
        let head_chars =
            piece.text.chars().count() - after_kw.chars().count() + inner.chars().count() + 1;
        let rest = piece.tail_from(head_chars);
        let rows: Vec<(Vec<String>, Vec<String>)> = if kind == "LST" {
            match parse_list(inner) {
                Ok(r) => r,
                Err(e) => {
                    self.diags.error(at, format!("~LST: {e}"));
                    return;
                }
            }
        } else {
            match parse_seq(inner, kind == "SEQx") {
                Ok(r) => r,
                Err(e) => {
                    self.diags.error(at, format!("~{kind}: {e}"));
                    return;
                }
            }
        };
        for (vars, values) in rows {
            for (v, val) in vars.iter().zip(values) {
                self.defs.insert(v.clone(), Def::Single(val));
            }
            let p = Piece {
                text: rest.text.clone(),
                file: rest.file,
                line: rest.line,
                cols: rest.cols.clone(),
            };
            self.feed(p, depth + 1);
        }
    }

    /// Counts `lines` and `chars` of expansion against the load's bounds; false (with one error, at
    /// the first place past a bound) once either is spent, and from then on.
    fn charge(&mut self, lines: usize, chars: usize, at: Span) -> bool {
        if self.exhausted {
            return false;
        }
        self.expanded += lines;
        self.expanded_chars += chars;
        if self.expanded <= MAX_EXPANDED && self.expanded_chars <= MAX_EXPANDED_CHARS {
            return true;
        }
        self.exhausted = true;
        let what = if self.expanded > MAX_EXPANDED {
            format!("{MAX_EXPANDED} lines")
        } else {
            format!("{} MiB of text", MAX_EXPANDED_CHARS >> 20)
        };
        self.diags.error(
            at,
            format!("parameter substitution and ~SEQ / ~LST expand to more than {what} (a definition that refers to itself?); the rest is not expanded"),
        );
        false
    }

    /// Replaces defined parameters. `None` when nothing was replaced; otherwise the resulting lines (more
    /// than one when a multi-line definition was used).
    fn substitute(&mut self, piece: &Piece) -> Option<Vec<Piece>> {
        if !piece.text.contains('$') {
            return None;
        }
        let chars: Vec<char> = piece.text.chars().collect();
        let mut lines: Vec<(String, Vec<u32>)> = vec![(String::new(), Vec::new())];
        let mut changed = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '$' {
                let found = self.lookup_at(&chars, i);
                if let Some(var) = self.unset_env.take() {
                    self.diags.warn(
                        piece.span(i),
                        format!("${{_ENV {var}}}: the environment variable {var} is not set; replaced by nothing, as keepalived does"),
                    );
                }
                if let Some((value, used)) = found {
                    let col = piece.cols.col(i);
                    changed = true;
                    let size = match &value {
                        Def::Single(s) => s.len(),
                        Def::Multi(body) => body.iter().map(String::len).sum(),
                    };
                    if !self.charge(0, size, piece.span(i)) {
                        return Some(Vec::new());
                    }
                    match value {
                        Def::Single(s) => {
                            let cur = lines.last_mut().expect("lines is never empty");
                            cur.0.push_str(&s);
                            cur.1.extend(std::iter::repeat_n(col, s.chars().count()));
                        }
                        Def::Multi(body) => {
                            for (k, b) in body.iter().enumerate() {
                                if k > 0 {
                                    lines.push((String::new(), Vec::new()));
                                }
                                let cur = lines.last_mut().expect("lines is never empty");
                                cur.0.push_str(b);
                                cur.1.extend(std::iter::repeat_n(col, b.chars().count()));
                            }
                        }
                    }
                    i += used;
                    continue;
                }
            }
            let cur = lines.last_mut().expect("lines is never empty");
            cur.0.push(c);
            cur.1.push(piece.cols.col(i));
            i += 1;
        }
        if !changed {
            return None;
        }
        Some(
            lines
                .into_iter()
                .map(|(text, cols)| Piece {
                    text,
                    file: piece.file,
                    line: piece.line,
                    cols: Cols::Map(cols),
                })
                .collect(),
        )
    }

    /// A parameter reference at `chars[i]` (a `$`): its value and how many characters it spans.
    fn lookup_at(&mut self, chars: &[char], i: usize) -> Option<(Def, usize)> {
        let next = *chars.get(i + 1)?;
        if next == '{' {
            let close = chars[i + 2..].iter().position(|&c| c == '}')? + i + 2;
            let inner: String = chars[i + 2..close].iter().collect();
            let value = self.value_of(inner.trim())?;
            return Some((value, close - i + 1));
        }
        if !(next.is_ascii_alphabetic() || next == '_') {
            return None;
        }
        let end = chars[i + 1..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(chars.len(), |p| p + i + 1);
        // `$NAME` is replaced only when white space (or the end) follows it.
        if end < chars.len() && !chars[end].is_whitespace() {
            return None;
        }
        let name: String = chars[i + 1..end].iter().collect();
        let value = self.value_of(&name)?;
        Some((value, end - i))
    }

    fn value_of(&mut self, spec: &str) -> Option<Def> {
        let mut words = spec.split_whitespace();
        let name = words.next()?;
        if let Some(d) = self.defs.get(name) {
            return Some(d.clone());
        }
        let v = match name {
            "_PWD" => self
                .stack
                .last()
                .and_then(|p| p.parent())
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            "_INSTANCE" => self.config_id.clone(),
            "_HASH" => "#".to_string(),
            "_BANG" => "!".to_string(),
            // keepalived 2.4.0: the variable of lvsd's own environment (a reload sees the same).
            "_ENV" => {
                let var = words.next()?;
                match std::env::var_os(var) {
                    Some(v) => v.to_string_lossy().into_owned(),
                    None => {
                        self.unset_env = Some(var.to_string());
                        String::new()
                    }
                }
            }
            "_RANDOM" => {
                let min: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let max: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(32767);
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                let span = (hi - lo).saturating_add(1);
                (lo + self.next_random() % span).to_string()
            }
            _ => return None,
        };
        Some(Def::Single(v))
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: only needs to differ between uses, not to be cryptographic.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// The line with any `#` or `!` comment removed (not inside quotes).
pub fn strip_comment(line: &str) -> &str {
    if !line.bytes().any(|b| b == b'#' || b == b'!') {
        return line;
    }
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#' | '!') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn is_param_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$NAME=value` (no space before `=`): the name and the value.
fn single_definition(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix('$')?;
    let eq = rest.find('=')?;
    let name = &rest[..eq];
    if !is_param_name(name) {
        return None;
    }
    Some((name.to_string(), rest[eq + 1..].trim().to_string()))
}

/// `$NAME= \`: the start of a multi-line definition.
fn multiline_definition_name(text: &str) -> Option<String> {
    let (name, value) = single_definition(text)?;
    (value == "\\").then_some(name)
}

fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn parse_int(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16)
    } else {
        body.parse::<i64>()
    }
    .map_err(|_| format!("expected an integer, found '{t}'"))?;
    Ok(if neg { -v } else { v })
}

type Rows = Vec<(Vec<String>, Vec<String>)>;

fn parse_seq(inner: &str, hex: bool) -> Result<Rows, String> {
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let var = parts[0];
    if !is_param_name(var) {
        return Err(format!("expected a variable name first, found '{var}'"));
    }
    let nums: Vec<i64> = parts[1..]
        .iter()
        .map(|p| parse_int(p))
        .collect::<Result<_, _>>()?;
    let (start, step, end) = match nums.as_slice() {
        [end] => (
            if *end >= 0 { 1 } else { -1 },
            if *end >= 0 { 1 } else { -1 },
            *end,
        ),
        [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
        [start, step, end] => (*start, *step, *end),
        _ => {
            return Err("expected (var, end), (var, start, end) or (var, start, step, end)".into())
        }
    };
    if step == 0 {
        return Err("step must not be 0".into());
    }
    let (start, step, end) = (i128::from(start), i128::from(step), i128::from(end));
    let count = if (step > 0 && end < start) || (step < 0 && end > start) {
        0
    } else {
        (end - start).unsigned_abs() / step.unsigned_abs() + 1
    };
    if count > u128::from(MAX_SEQ_LINES) {
        return Err(format!(
            "would repeat {count} times, more than {MAX_SEQ_LINES}"
        ));
    }
    Ok((0..count as i128)
        .map(|k| {
            let v = start + k * step;
            let s = if hex {
                if v < 0 {
                    format!("-{:x}", v.unsigned_abs())
                } else {
                    format!("{v:x}")
                }
            } else {
                v.to_string()
            };
            (vec![var.to_string()], vec![s])
        })
        .collect())
}

/// Splits on commas that are not inside `{...}`.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

fn braced_list(s: &str) -> Vec<String> {
    let inner = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s);
    inner.split(',').map(|x| x.trim().to_string()).collect()
}

fn parse_list(inner: &str) -> Result<Rows, String> {
    let parts = split_top(inner);
    let vars = braced_list(parts[0]);
    if let Some(bad) = vars.iter().find(|v| !is_param_name(v)) {
        return Err(format!("expected variable names first, found '{bad}'"));
    }
    if parts.len() < 2 {
        return Err("expected at least one value after the variable".into());
    }
    parts[1..]
        .iter()
        .map(|p| {
            let vals = braced_list(p);
            if vals.len() != vars.len() {
                Err(format!(
                    "value {p} has {} items for {} variables",
                    vals.len(),
                    vars.len()
                ))
            } else {
                Ok((vars.clone(), vals))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, id: &str) -> (Vec<String>, Diags) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("k.conf");
        std::fs::write(&p, text).expect("write");
        let mut diags = Diags::default();
        let mut lines: Vec<Line> = Vec::new();
        let mut pp = Preprocessor::new(id, &mut diags, &mut lines);
        pp.read_file(&p, None);
        pp.finish();
        (lines.into_iter().map(|l| l.text).collect(), diags)
    }

    #[test]
    fn comments_anywhere_but_not_in_quotes() {
        assert_eq!(strip_comment("a b # c"), "a b ");
        assert_eq!(strip_comment("a ! b"), "a ");
        assert_eq!(strip_comment("x \"a # b\" # c"), "x \"a # b\" ");
        assert_eq!(strip_comment("x 'it''s' ! y"), "x 'it''s' ");
    }

    #[test]
    fn conditional_lines_follow_config_id() {
        let text = "@main router_id a\n@backup router_id b\n@^main peer 1\n@^backup peer 2\n";
        assert_eq!(run(text, "main").0, vec!["router_id a", "peer 2"]);
        assert_eq!(run(text, "backup").0, vec!["router_id b", "peer 1"]);
        assert_eq!(run(text, "other").0, vec!["peer 1", "peer 2"]);
    }

    #[test]
    fn substitution_is_recursive_and_late() {
        let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n";
        assert_eq!(run(text, "x").0, vec!["10.2.0.100/32", "10.2.10.100/32"]);
    }

    #[test]
    fn dollar_name_needs_whitespace_after_and_undefined_stays() {
        let text = "$P=240\npriority $P\nx $Px ${UNDEF} $UNDEF\n";
        assert_eq!(
            run(text, "x").0,
            vec!["priority 240", "x $Px ${UNDEF} $UNDEF"]
        );
    }

    #[test]
    fn substituted_conditional_applies() {
        let text = "$IF_MAIN=@main\n$IF_MAIN priority 240\n";
        assert_eq!(run(text, "main").0, vec!["priority 240"]);
        assert!(run(text, "b").0.is_empty());
    }

    #[test]
    fn multiline_definition_expands_with_conditionals() {
        let text = "$INST= \\\nvrrp_instance VI_${NUM} { \\\n @high priority 130 \\\n @low priority 120 \\\n}\n$NUM=0\n$INST\n";
        assert_eq!(
            run(text, "high").0,
            vec!["vrrp_instance VI_0 {", "priority 130", "}"]
        );
    }

    #[test]
    fn seq_and_lst() {
        assert_eq!(
            run("~SEQ(S, 0, 3) ip 10.0.${S}.1\n", "x").0,
            vec!["ip 10.0.0.1", "ip 10.0.1.1", "ip 10.0.2.1", "ip 10.0.3.1"]
        );
        assert_eq!(
            run("~SEQx(S, 0x90, 0x10, 0xc0) fe80::${S}:1\n", "x").0,
            vec!["fe80::90:1", "fe80::a0:1", "fe80::b0:1", "fe80::c0:1"]
        );
        assert_eq!(run("~SEQ(S, 3) a${S}\n", "x").0, vec!["a1", "a2", "a3"]);
        assert_eq!(
            run("~LST({IP, IP1}, {10,1},{20,4}) 192.168.${IP}.${IP1}\n", "x").0,
            vec!["192.168.10.1", "192.168.20.4"]
        );
        assert_eq!(
            run("~LST(A, 1, 2) ~LST(B, 5,6) ${A}.${B}\n", "x").0,
            vec!["1.5", "1.6", "2.5", "2.6"]
        );
    }

    #[test]
    fn self_reference_is_an_error_not_a_hang() {
        let (_, d) = run("$A=$A x\n$A\n", "x");
        assert!(d.has_errors());
    }

    #[test]
    fn a_multi_line_definition_naming_itself_in_a_seq_ends_with_an_error() {
        // Found by fuzzing: the `\#` comment leaves a `\` that continues the definition over the
        // ~SEQ lines, so each expansion of $VS holds a ~SEQ of $VS again: 3^32 lines unbounded.
        let (_, diags) = run(
            "$VS= \\\na \\# b\n~SEQ(N, 1, 3) $VS\n~SEQ(N, 1, 3) $VS\n",
            "",
        );
        let text: Vec<&str> = diags.list.iter().map(|d| d.message.as_str()).collect();
        // Either bound ends it: the depth (reached first here) or the size.
        assert!(
            text.iter()
                .any(|m| m.contains("nests deeper") || m.contains("expand to more than")),
            "{:?}",
            &text[..text.len().min(5)]
        );
    }

    #[test]
    fn long_lines_from_substitution_are_bounded_by_size() {
        // 26 doublings of a 1-character value: 64 Mi characters on one line, well under the
        // line bound, so only the size bound stops it.
        let mut text = String::from("$A0=x\n");
        for k in 1..=26 {
            text.push_str(&format!("$A{k}=${{A{}}}${{A{}}}\n", k - 1, k - 1));
        }
        text.push_str("router_id ${A26}\n");
        let (lines, diags) = run(&text, "");
        let text: Vec<&str> = diags.list.iter().map(|d| d.message.as_str()).collect();
        assert!(
            text.iter().any(|m| m.contains("MiB of text")),
            "{:?}",
            &text[..text.len().min(5)]
        );
        assert!(
            lines.iter().all(|l| l.len() <= MAX_EXPANDED_CHARS),
            "a line past the bound"
        );
    }

    #[test]
    fn env_values_and_unset_ones_warn() {
        // A variable of the test's own name: no other test reads it.
        std::env::set_var("LVSD_PP_TEST_PRIO", "143");
        let (l, d) = run(
            "priority ${_ENV LVSD_PP_TEST_PRIO}\nx ${_ENV LVSD_PP_TEST_UNSET}y ${_ENV}\n",
            "x",
        );
        assert_eq!(l, vec!["priority 143", "x y ${_ENV}"]);
        assert_eq!(d.list.len(), 1, "{:?}", d.list);
        assert!(d.list[0].message.contains("LVSD_PP_TEST_UNSET is not set"));
        assert_eq!((d.list[0].span.line, d.list[0].span.col), (2, 3));
    }

    #[test]
    fn predefined_values() {
        let (l, _) = run(
            "a ${_HASH} ${_BANG} ${_INSTANCE}\nr ${_RANDOM 5 5}\n",
            "node1",
        );
        assert_eq!(l, vec!["a # ! node1", "r 5"]);
    }

    #[test]
    fn columns_survive_substitution() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("k.conf");
        std::fs::write(&p, "$P=abc\n   priority $P zz\n").expect("write");
        let mut diags = Diags::default();
        let mut lines: Vec<Line> = Vec::new();
        let mut pp = Preprocessor::new("x", &mut diags, &mut lines);
        pp.read_file(&p, None);
        pp.finish();
        let l = &lines[0];
        assert_eq!(l.text, "priority abc zz");
        assert_eq!(l.span_at(0).col, 4);
        assert_eq!(l.span_at(9).col, 13); // 'a' of abc comes from '$' at column 13
        assert_eq!(l.span_at(13).col, 16); // 'z' after the substitution
    }
}
