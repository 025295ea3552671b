//! The HTTP client the CLI uses (`xisuan submit`, `jobs`, `cancel`, `plan --server`): blocking
//! requests with the tenant's bearer token, errors turned into one line with the server's
//! message.

use anyhow::{anyhow, Result};
use serde_json::Value;

pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Client {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(std::time::Duration::from_secs(60))).build().into();
        Client { base: base.trim_end_matches('/').to_string(), token, agent }
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The bearer token it sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    fn answer(&self, what: &str, mut r: ureq::http::Response<ureq::Body>) -> Result<(u16, Value)> {
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let msg = v["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            let field = v["error"]["field"].as_str().map(|f| format!(" (field `{f}`)")).unwrap_or_default();
            return Err(anyhow!("{what}: HTTP {status}: {msg}{field}"));
        }
        Ok((status, v))
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.get(&url);
        if let Some(a) = self.auth() {
            req = req.header("Authorization", &a);
        }
        let r = req.call().map_err(|e| anyhow!("GET {url}: {e}"))?;
        Ok(self.answer(&format!("GET {path}"), r)?.1)
    }

    pub fn post(&self, path: &str, body: &Value, idempotency_key: Option<&str>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.post(&url).header("Content-Type", "application/json");
        if let Some(a) = self.auth() {
            req = req.header("Authorization", &a);
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send(serde_json::to_vec(body)?).map_err(|e| anyhow!("POST {url}: {e}"))?;
        self.answer(&format!("POST {path}"), r)
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.delete(&url);
        if let Some(a) = self.auth() {
            req = req.header("Authorization", &a);
        }
        let r = req.call().map_err(|e| anyhow!("DELETE {url}: {e}"))?;
        Ok(self.answer(&format!("DELETE {path}"), r)?.1)
    }
}
