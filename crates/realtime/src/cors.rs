//! Which browser origins may call the API: the dashboard's, configured, never any.

use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Default `CORS_ALLOWED_ORIGINS`: the dashboard as every local setup serves it (compose on
/// :3000, `just dev` on :5173, the end-to-end run on a free port), all on the loopback host.
/// Deployments set their dashboard's public origin instead.
pub const DEFAULT_ALLOWED_ORIGINS: &str = "http://localhost:*,http://127.0.0.1:*";

/// Allowed origins: exact (`https://grades.example.com`) or any port of one host (`http://localhost:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigins {
    exact: Vec<String>,
    any_port: Vec<String>,
}

impl AllowedOrigins {
    /// Parses a comma-separated list; the error names the entry that is not an origin.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut origins = Self { exact: Vec::new(), any_port: Vec::new() };
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let entry = entry.to_ascii_lowercase();
            let (scheme, rest) = entry.split_once("://").unwrap_or(("", ""));
            let (host, port) = rest.rsplit_once(':').map_or((rest, None), |(h, p)| (h, Some(p)));
            let valid = matches!(scheme, "http" | "https")
                && !host.is_empty()
                && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
                && port.is_none_or(|p| p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
            if !valid {
                return Err(format!(
                    "CORS_ALLOWED_ORIGINS: {entry:?} is not an origin like https://grades.example.com or http://localhost:* \
                     (scheme://host[:port], no path)"
                ));
            }
            if port == Some("*") {
                origins.any_port.push(format!("{scheme}://{host}"));
            } else {
                origins.exact.push(entry);
            }
        }
        Ok(origins)
    }

    /// Whether a request's `Origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        if self.exact.contains(&origin) {
            return true;
        }
        self.any_port.iter().any(|base| {
            origin.strip_prefix(base.as_str()).is_some_and(|rest| {
                rest.is_empty() || rest.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            })
        })
    }

    /// The CORS layer: GET for the API, POST for Socket.IO long-polling; other origins get no
    /// CORS headers, so browsers refuse them the answers.
    pub fn layer(self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| origin.to_str().is_ok_and(|o| self.allows(o))))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([axum::http::header::CONTENT_TYPE])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins_and_any_port_of_a_host() {
        let origins = AllowedOrigins::parse("https://grades.example.com, http://localhost:*").unwrap();
        assert!(origins.allows("https://grades.example.com"));
        assert!(origins.allows("HTTPS://Grades.Example.com"));
        assert!(origins.allows("http://localhost:3000"));
        assert!(origins.allows("http://localhost"));
        assert!(!origins.allows("http://grades.example.com"), "scheme matters");
        assert!(!origins.allows("https://grades.example.com.evil.test"));
        assert!(!origins.allows("http://localhost.evil.test:3000"));
        assert!(!origins.allows("http://localhost:3000.evil.test"));
        assert!(!origins.allows("null"));
        let defaults = AllowedOrigins::parse(DEFAULT_ALLOWED_ORIGINS).unwrap();
        assert!(defaults.allows("http://127.0.0.1:5173") && defaults.allows("http://localhost:3000"));
        assert!(!defaults.allows("https://example.com"));
    }

    #[test]
    fn entries_that_are_not_origins_are_refused() {
        for bad in ["*", "localhost:3000", "https://example.com/path", "ftp://example.com", "http://:80", "http://a:b"] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(AllowedOrigins::parse("").unwrap(), AllowedOrigins { exact: vec![], any_port: vec![] });
    }
}
