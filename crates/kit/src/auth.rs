//! The optional ingestion token (`INGEST_TOKEN`): one check, used by the HTTP front of both routes
//! (`Authorization: Bearer <token>`) and by grpc-server (the `authorization` gRPC metadata).
//! Without a token configured nothing is checked.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Problem;

/// The `INGEST_TOKEN` setting of the services that take grades (grpc-client, rest-api,
/// grpc-server).
#[derive(Clone, clap::Args)]
pub struct IngestAuthArgs {
    /// Shared secret every POST /grades (and every GradeIngestion gRPC call) must carry as
    /// `Authorization: Bearer <token>`; grpc-client sends its own to grpc-server. Unset or empty:
    /// no authentication.
    #[arg(long, env = "INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
}

impl std::fmt::Debug for IngestAuthArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.ingest_token.as_deref().is_some_and(|t| !t.is_empty());
        f.debug_struct("IngestAuthArgs").field("ingest_token", &if set { "<set>" } else { "<unset>" }).finish()
    }
}

impl IngestAuthArgs {
    /// The configured token; `None` when unset or empty. A token that cannot travel in an HTTP
    /// header as a bearer token (RFC 6750 `token68`) is refused, saying how to make one.
    pub fn token(&self) -> Result<Option<IngestToken>, String> {
        match self.ingest_token.as_deref() {
            None | Some("") => Ok(None),
            Some(token) => IngestToken::new(token).map(Some),
        }
    }
}

/// The expected token, kept only as its SHA-256 digest.
#[derive(Clone)]
pub struct IngestToken {
    digest: Arc<[u8; 32]>,
    /// The token itself, for a client that sends it on (grpc-client to grpc-server).
    secret: Arc<str>,
}

impl std::fmt::Debug for IngestToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IngestToken(<redacted>)")
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header (metadata) at all.
    Missing,
    /// `Authorization` present but not `Bearer <token>`.
    WrongScheme,
    /// A bearer token that is not the configured one.
    WrongToken,
}

impl AuthFailure {
    /// What the client did wrong and what to send instead.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "This service requires a token: send the header Authorization: Bearer <INGEST_TOKEN>.",
            Self::WrongScheme => "The Authorization header must be Bearer <INGEST_TOKEN> (another scheme was sent).",
            Self::WrongToken => "The token is not this service's INGEST_TOKEN: send Authorization: Bearer <INGEST_TOKEN>.",
        }
    }
}

impl IngestToken {
    /// A token from its text: RFC 6750 `token68` characters (letters, digits, `-._~+/`, then `=`).
    pub fn new(token: &str) -> Result<Self, String> {
        let body = token.trim_end_matches('=');
        let valid = !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if !valid {
            return Err("INGEST_TOKEN must be a bearer token: letters, digits and -._~+/ (then optional =); \
                        make one with `openssl rand -hex 32`"
                .to_owned());
        }
        Ok(Self { digest: Arc::new(Sha256::digest(token.as_bytes()).into()), secret: Arc::from(token) })
    }

    /// The token's text, to send it on.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Checks an `Authorization` value (`None`: absent). The token is compared as a SHA-256
    /// digest in constant time, so neither its length nor a matching prefix shows in the timing.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), AuthFailure> {
        let value = authorization.ok_or(AuthFailure::Missing)?;
        let presented = match value.iter().position(|b| *b == b' ') {
            Some(space) if value[..space].eq_ignore_ascii_case(b"bearer") => value[space + 1..].trim_ascii(),
            _ => return Err(AuthFailure::WrongScheme),
        };
        let digest: [u8; 32] = Sha256::digest(presented).into();
        if bool::from(digest.ct_eq(&*self.digest)) {
            Ok(())
        } else {
            Err(AuthFailure::WrongToken)
        }
    }
}

/// `router` with every request required to carry `token` (401 problem+json otherwise, with
/// `WWW-Authenticate: Bearer`); `None` returns it unchanged.
pub fn require_token(router: Router, token: Option<IngestToken>) -> Router {
    match token {
        Some(token) => router.layer(axum::middleware::from_fn_with_state(token, check_request)),
        None => router,
    }
}

async fn check_request(State(token): State<IngestToken>, request: Request, next: Next) -> Response {
    let authorization = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    match token.check(authorization) {
        Ok(()) => next.run(request).await,
        Err(failure) => {
            let mut response = Problem::new(StatusCode::UNAUTHORIZED, failure.message()).into_response();
            let challenge = match failure {
                AuthFailure::WrongToken => "Bearer realm=\"grades\", error=\"invalid_token\"",
                AuthFailure::Missing | AuthFailure::WrongScheme => "Bearer realm=\"grades\"",
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_bearer_token_passes() {
        let token = IngestToken::new("s3cret-Token_1").unwrap();
        assert_eq!(token.check(Some(b"Bearer s3cret-Token_1")), Ok(()));
        assert_eq!(token.check(Some(b"bearer s3cret-Token_1")), Ok(()), "the scheme is case-insensitive");
        assert_eq!(token.check(None), Err(AuthFailure::Missing));
        assert_eq!(token.check(Some(b"Basic czNjcmV0")), Err(AuthFailure::WrongScheme));
        assert_eq!(token.check(Some(b"s3cret-Token_1")), Err(AuthFailure::WrongScheme));
        assert_eq!(token.check(Some(b"Bearer s3cret-Token_")), Err(AuthFailure::WrongToken), "a prefix is not the token");
        assert_eq!(token.check(Some(b"Bearer s3cret-Token_12")), Err(AuthFailure::WrongToken));
        assert_eq!(token.check(Some(b"Bearer ")), Err(AuthFailure::WrongToken));
    }

    #[test]
    fn unset_or_empty_means_no_authentication_and_bad_tokens_are_refused() {
        assert!(IngestAuthArgs { ingest_token: None }.token().unwrap().is_none());
        assert!(IngestAuthArgs { ingest_token: Some(String::new()) }.token().unwrap().is_none());
        for bad in ["has space", "new\nline", "é", "==="] {
            let error = IngestAuthArgs { ingest_token: Some(bad.into()) }.token().unwrap_err();
            assert!(error.contains("openssl rand"), "{bad:?}: {error}");
        }
        let args = IngestAuthArgs { ingest_token: Some("abc".into()) };
        assert!(!format!("{args:?}").contains("abc"), "Debug never shows the token");
        assert!(!format!("{:?}", args.token().unwrap().unwrap()).contains("abc"));
    }
}
