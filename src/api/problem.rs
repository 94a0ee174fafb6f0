//! API errors as RFC 9457 `application/problem+json`.
//!
//! 4xx answers say exactly what was wrong, field by field; 5xx answers say nothing about
//! internals (those go to the log with their cause chain).

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::error;

use crate::validation::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this token's role may not {0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// RFC 9457 problem details, as every error answer carries them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub(super) struct Problem<'a> {
    /// `/problems/<slug>`: `unauthorized`, `invalid-fields`, `not-found`, …
    #[serde(rename = "type")]
    #[schema(example = "/problems/invalid-fields")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    /// Every rejected field, by JSON path (or header or check name), with its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<ProblemField>>)]
    errors: Option<&'a [FieldError]>,
}

/// One rejected field of a problem.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents `FieldError`'s wire shape; the domain type knows no OpenAPI
pub(super) struct ProblemField {
    #[schema(example = "recipients[0].contacts.phone")]
    field: String,
    reason: String,
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MalformedJson(_) => {
                (StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
            }
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-fields",
                "Invalid fields",
            ),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            error!(error = format!("{cause:#}"), "request failed");
        }
        let (status, slug, title) = self.parts();
        let errors = match &self {
            ApiError::Invalid(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let detail = match &self {
            ApiError::Invalid(errors) => format!("{} field(s) rejected; see errors", errors.len()),
            other => other.to_string(),
        };
        let body = Problem {
            kind: format!("/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON body, or the precise reason it is not one: `415` without the JSON content type,
/// `400` for malformed JSON, `422` naming the field (by its path) that does not fit, `413`
/// over `limit` bytes.
pub fn json_body<T>(
    body: Result<axum::Json<T>, JsonRejection>,
    limit: usize,
) -> Result<T, ApiError> {
    body.map(|axum::Json(v)| v).map_err(|e| match e {
        e if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(limit),
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::Invalid(vec![FieldError {
            field: "body".into(),
            reason: e.body_text(),
        }]),
        other => ApiError::BadRequest(other.body_text()),
    })
}

/// A raw body, or why it could not be read: `413` naming the limit, `400` otherwise.
pub fn bytes_body(
    body: Result<axum::body::Bytes, BytesRejection>,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(limit),
        _ => ApiError::BadRequest(e.body_text()),
    })
}
