//! The keepalived.conf front end: preprocess (include, $VAR, @id, ~SEQ), lexer, keyword tree, typed
//! model with keepalived's defaults, validation. Diagnostics carry `file:line:col`.

mod braces;
mod build;
pub mod diag;
mod lexer;
pub mod model;
mod preprocess;
pub mod scaleout;
mod tree;
pub(crate) mod validate;
mod values;

pub use build::SCHEDULERS;
pub use diag::{Diagnostic, Severity, SourceMap, Span};
pub use model::Config;

use diag::Diags;
use std::path::Path;

/// How to read a configuration.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Selects `@id` lines; keepalived's default is the host name up to its first dot.
    pub config_id: String,
    /// Also check the machine (do interfaces exist?): warnings only.
    pub check_machine: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            config_id: default_config_id(),
            check_machine: true,
        }
    }
}

/// What loading produced: the model when there was no error, and every diagnostic in file order.
pub struct Loaded {
    pub config: Option<Config>,
    pub diagnostics: Vec<Diagnostic>,
    /// Errors and warnings past the first diag::KEPT_PER_SEVERITY of each: counted only.
    pub more_errors: usize,
    pub more_warnings: usize,
    pub sources: SourceMap,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// Every error, those not kept included.
    pub fn error_count(&self) -> usize {
        self.errors().count() + self.more_errors
    }

    /// Every kept diagnostic rendered as `file:line:col: error|warning: message`, then one line
    /// with the number of those not kept, if any.
    pub fn render(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .diagnostics
            .iter()
            .map(|d| d.render(&self.sources).to_string())
            .collect();
        if self.more_errors + self.more_warnings > 0 {
            lines.push(format!(
                "{} more errors and {} more warnings not shown (the first {} of each are)",
                self.more_errors,
                self.more_warnings,
                diag::KEPT_PER_SEVERITY
            ));
        }
        lines
    }
}

pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    let mut diags = Diags::default();
    let mut model = build::Builder::new();
    // Lines flow into the tree builder, and each finished top-level block straight into the model.
    let mut tree = tree::TreeBuilder::new(|node, diags: &mut Diags| {
        model.top(&mut values::Ctx { diags }, &node)
    });
    let mut pp = preprocess::Preprocessor::new(&opts.config_id, &mut diags, &mut tree);
    pp.read_file(path, None);
    let sources = pp.finish();
    tree.finish(&mut diags);
    let mut ctx = values::Ctx { diags: &mut diags };
    let mut config = model.finish(&mut ctx);
    validate::validate(&mut ctx, &mut config, opts.check_machine);
    let ok = !diags.has_errors();
    let mut diagnostics = diags.list;
    diagnostics.sort_by_key(|d| (d.span.file, d.span.line, d.span.col));
    Loaded {
        config: ok.then_some(config),
        diagnostics,
        more_errors: diags.more_errors,
        more_warnings: diags.more_warnings,
        sources,
    }
}

/// The host name up to its first dot, as keepalived's default config id.
pub fn default_config_id() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length and gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).to_string();
    name.split('.').next().unwrap_or_default().to_string()
}
