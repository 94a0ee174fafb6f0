//! The bearer-token extractor: every `/v1` handler takes a [`Principal`] and states the
//! roles it admits.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::auth::{self, Principal, Role};

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        auth::authenticate(&state.db, secret)
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

/// Fails with 403 unless the caller holds one of `roles`; `action` names what was refused.
pub fn require(
    principal: &Principal,
    roles: &[Role],
    action: &'static str,
) -> Result<(), ApiError> {
    if principal.has(roles) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(action))
    }
}
