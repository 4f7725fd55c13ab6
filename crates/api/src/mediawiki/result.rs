//! The result envelope: MediaWiki's `ApiResult` key order, bc-format warnings and errors.

use crate::json::{Json, Obj};

/// A fatal error: code, plain-text info, and extra fields of the error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub code: &'static str,
    pub info: String,
    pub extra: Vec<(&'static str, Json)>,
}

impl ApiError {
    pub fn new(code: &'static str, info: String) -> Self {
        ApiError {
            code,
            info,
            extra: Vec::new(),
        }
    }

    pub fn badcontinue() -> Self {
        ApiError::new("badcontinue", "Invalid continue param. You should pass the original value returned by the previous query.".into())
    }
}

pub(crate) struct ApiResult {
    fv2: bool,
    top: Obj,
}

impl ApiResult {
    pub fn new(fv2: bool) -> Self {
        ApiResult {
            fv2,
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

    /// A warning of `module`. The `warnings` object and each module's entry are put in
    /// front when created; a module's warnings are joined with newlines, without repeats.
    pub fn warn(&mut self, module: &str, text: &str) {
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
                w.prepend(module, Json::Obj(entry));
            }
        }
    }

    pub fn warn_main(&mut self, text: &str) {
        self.warn("main", text);
    }

    pub fn prepend(&mut self, key: &str, v: Json) {
        self.top.prepend(key, v);
    }

    pub fn push(&mut self, key: &str, v: Json) {
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

    pub fn finish(self) -> Json {
        Json::Obj(self.top)
    }

    /// The bc error object, followed by the warnings gathered before the error.
    pub fn error(self, e: ApiError, docref: &str) -> Json {
        let mut err = Obj::new();
        err.push("code", Json::str(e.code))
            .push("info", Json::Str(e.info));
        for (k, v) in e.extra {
            err.push(k, v);
        }
        err.push(if self.fv2 { "docref" } else { "*" }, Json::str(docref));
        let mut top = Obj::new();
        top.push("error", Json::Obj(err));
        if let Some((_, w)) = self.top.0.into_iter().find(|(k, _)| k == "warnings") {
            top.push("warnings", w);
        }
        Json::Obj(top)
    }
}
