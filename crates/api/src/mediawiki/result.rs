//! The result envelope: MediaWiki's `ApiResult` key order, warnings and errors in the bc
//! and the structured error formats.

use crate::json::{Json, Obj};

/// A fatal error: code, plain-text info, and extra fields of the error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub code: &'static str,
    pub info: String,
    pub extra: Vec<(&'static str, Json)>,
    /// The module path that failed (`main`, `query+backlinks`), for structured error formats.
    pub module: String,
}

impl ApiError {
    pub fn new(code: &'static str, info: String) -> Self {
        ApiError {
            code,
            info,
            extra: Vec::new(),
            module: "main".into(),
        }
    }

    /// Attributes an error raised while a query module ran to that module.
    pub fn in_module(mut self, path: &str) -> Self {
        if self.module == "main" {
            self.module = path.to_string();
        }
        self
    }

    pub fn badcontinue() -> Self {
        ApiError::new("badcontinue", "Invalid continue param. You should pass the original value returned by the previous query.".into())
    }
}

/// The index failed underneath a module: MediaWiki's shape for internal errors.
pub(crate) fn store_err(e: inlink_store::StoreError) -> ApiError {
    ApiError::new(
        "internal_api_error_StoreError",
        format!("[inlink] The index could not answer: {e}"),
    )
}

/// A prop module's `…limit`: 10 by default, `max`, or a number clamped into 1…500 (5000 for
/// bots) with MediaWiki's warning. Returns the limit and, for `max`, the value for `limits`.
pub(crate) fn prop_limit(
    p: &mut super::Params,
    res: &mut ApiResult,
    module: &str,
    name: &str,
    high_limits: bool,
) -> Result<(usize, Option<i64>), ApiError> {
    let max: i64 = if high_limits { 5000 } else { 500 };
    Ok(match p.single(name)?.as_deref() {
        None => (10, None),
        Some("max") => (max as usize, Some(max)),
        Some(v) => {
            let n = super::params::parse_int(v).ok_or_else(|| {
                ApiError::new(
                    "badinteger",
                    format!("Invalid value \"{v}\" for integer parameter \"{name}\"."),
                )
            })?;
            if !(1..=max).contains(&n) {
                let mut data = Obj::new();
                data.push("min", Json::Int(1))
                    .push("curmax", Json::Int(max))
                    .push("max", Json::Int(500))
                    .push("highmax", Json::Int(5000));
                let text = format!(
                    "The value \"{v}\" for parameter \"{name}\" must be between 1 and {}.",
                    super::format_num(max)
                );
                res.warn_with(module, "outofrange", &text, Some(Json::Obj(data)));
            }
            (n.clamp(1, max) as usize, None)
        }
    })
}

/// `errorformat`: MediaWiki's historical `bc` shape, or the structured one with plain text,
/// wikitext or HTML (`raw` is answered as `plaintext`), or codes only (`none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorFormat {
    Bc,
    Plain,
    Wikitext,
    Html,
    None,
}

/// Messages are written in their wikitext form (`<var>name</var>`, escaped values); the plain
/// form, as in `bc` and `plaintext`, turns those tags into quotes and decodes entities.
pub(crate) fn plain(rich: &str) -> String {
    let mut s = rich.to_string();
    for tag in [
        "<var>", "</var>", "<kbd>", "</kbd>", "<code>", "</code>", "<samp>", "</samp>",
    ] {
        s = s.replace(tag, "\"");
    }
    inlink_model::decode_char_references(&s).into_owned()
}

/// MediaWiki's `wfEscapeWikiText`, for values echoed in wikitext messages.
pub(crate) fn escape_wikitext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' | '&' | '\'' | '<' | '=' | '>' | '[' | ']' | '{' | '|' | '}' | ';' => {
                out.push_str(&format!("&#{};", c as u32))
            }
            '#' | '*' | ':' | ' ' | '\n' | '\r' if i == 0 => {
                out.push_str(&format!("&#{};", c as u32))
            }
            c => out.push(c),
        }
    }
    out.replace("://", "&#58;//")
        .replace("__", "_&#95;")
        .replace("~~~", "~~&#126;")
}

pub(crate) struct ApiResult {
    fv2: bool,
    /// Non-ASCII escaped as `\uXXXX`: text written ahead (`Json::Raw`) must know.
    ascii: bool,
    format: ErrorFormat,
    top: Obj,
}

impl ApiResult {
    pub fn new(fv2: bool, ascii: bool) -> Self {
        ApiResult {
            fv2,
            ascii,
            format: ErrorFormat::Bc,
            top: Obj::new(),
        }
    }

    fn text_key(&self) -> &'static str {
        if self.fv2 {
            "warnings"
        } else {
            "*"
        }
    }

    pub fn set_format(&mut self, format: ErrorFormat) {
        self.format = format;
    }

    /// The path of a module in structured messages.
    fn path(module: &str) -> String {
        match module {
            "main" | "query" | "result" => module.to_string(),
            m => format!("query+{m}"),
        }
    }

    /// One structured message: code, text (per format), data, module.
    fn message(&self, code: &str, text: &str, data: Option<Json>, module: &str) -> Json {
        let mut o = Obj::new();
        o.push("code", Json::str(code));
        let member = match self.format {
            ErrorFormat::Plain => Some(("text", plain(text))),
            ErrorFormat::Wikitext => Some(("text", text.to_string())),
            ErrorFormat::Html => Some(("html", text.to_string())),
            ErrorFormat::Bc | ErrorFormat::None => None,
        };
        if let (Some((key, t)), true) = (&member, self.fv2) {
            o.push(*key, Json::str(t.as_str()));
        }
        if let Some(d) = data {
            o.push("data", d);
        }
        o.push("module", Json::str(module));
        if let (Some((_, t)), false) = (member, self.fv2) {
            o.push("*", Json::Str(t));
        }
        Json::Obj(o)
    }

    /// A warning of `module` with its code and data. In the bc format the `warnings` object
    /// and each module's entry are put in front when created and a module's warnings are
    /// joined with newlines, without repeats; otherwise warnings form an array in order.
    pub fn warn_with(&mut self, module: &str, code: &str, text: &str, data: Option<Json>) {
        if self.format != ErrorFormat::Bc {
            let m = self.message(code, text, data, &Self::path(module));
            if !self.top.contains("warnings") {
                self.top.prepend("warnings", Json::Arr(Vec::new()));
            }
            if let Some(Json::Arr(list)) = self.top.get_mut("warnings") {
                list.push(m);
            }
            return;
        }
        self.warn(module, &plain(text));
    }

    fn warn(&mut self, module: &str, text: &str) {
        let key = self.text_key();
        if !self.top.contains("warnings") {
            self.top.prepend("warnings", Json::Obj(Obj::new()));
        }
        let Some(Json::Obj(w)) = self.top.get_mut("warnings") else {
            unreachable!("created above")
        };
        match w.get_mut(module) {
            Some(Json::Obj(entry)) => {
                if let Some(Json::Str(s)) = entry.get_mut(key) {
                    if !s.split('\n').any(|l| l == text) {
                        s.push('\n');
                        s.push_str(text);
                    }
                }
            }
            _ => {
                let mut entry = Obj::new();
                entry.push(key, Json::str(text));
                w.prepend(module.to_string(), Json::Obj(entry));
            }
        }
    }

    pub fn prepend(&mut self, key: impl Into<crate::json::Key>, v: Json) {
        self.top.prepend(key, v);
    }

    pub fn push(&mut self, key: impl Into<crate::json::Key>, v: Json) {
        self.top.push(key, v);
    }

    pub fn set_query(&mut self, query: Obj) {
        self.top.push("query", Json::Obj(query));
    }

    pub fn batchcomplete(&mut self) {
        let v = if self.fv2 {
            Json::Bool(true)
        } else {
            Json::str("")
        };
        self.top.prepend("batchcomplete", v);
    }

    /// The flag value of formatversion 1 (`""`) or 2 (`true`).
    pub fn flag(&self) -> Json {
        if self.fv2 {
            Json::Bool(true)
        } else {
            Json::str("")
        }
    }

    pub fn fv2(&self) -> bool {
        self.fv2
    }

    pub fn ascii(&self) -> bool {
        self.ascii
    }

    pub fn finish(self) -> Json {
        Json::Obj(self.top)
    }

    /// The error, followed by the warnings gathered before it: bc `{"error":…}` or the
    /// structured `{"errors":[…],"warnings":…,"docref"}`.
    pub fn error(self, e: ApiError, docref: &str) -> Json {
        let docref_key = if self.fv2 { "docref" } else { "*" };
        let warnings = self
            .top
            .0
            .iter()
            .find(|(k, _)| k == "warnings")
            .map(|(_, w)| w.clone());
        let mut top = Obj::new();
        if self.format == ErrorFormat::Bc {
            let mut err = Obj::new();
            err.push("code", Json::str(e.code))
                .push("info", Json::Str(plain(&e.info)));
            for (k, v) in e.extra {
                err.push(k, v);
            }
            err.push(docref_key, Json::str(docref));
            top.push("error", Json::Obj(err));
            if let Some(w) = warnings {
                top.push("warnings", w);
            }
        } else {
            let data = (!e.extra.is_empty()).then(|| {
                Json::Obj(Obj(e
                    .extra
                    .iter()
                    .map(|(k, v)| ((*k).into(), v.clone()))
                    .collect()))
            });
            let m = self.message(e.code, &e.info, data, &e.module);
            top.push("errors", Json::Arr(vec![m]));
            if let Some(w) = warnings {
                top.push("warnings", w);
            }
            top.push(docref_key, Json::str(docref));
        }
        Json::Obj(top)
    }
}
