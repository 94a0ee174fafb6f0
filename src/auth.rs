//! Who may call the API: bearer tokens with a role.
//!
//! A token is `vst_` + 32 random bytes in hex; only its SHA-256 is stored, so a database
//! dump does not hand out working credentials.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::callbacks::CallbackUrl;
use crate::storage::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Upstream systems: create intents and read their own.
    Ingest,
    /// Template editors.
    Operator,
    /// Read-only: intents, proofs, reports.
    Auditor,
    /// Everything, including tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Ingest, Role::Operator, Role::Auditor, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller behind a valid token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: String,
    /// The client name; idempotency keys and `ingest` visibility are scoped by it.
    pub client: String,
    pub role: Role,
    /// The token's status-callback URL, for intents that name none.
    pub callback_url: Option<CallbackUrl>,
}

impl Principal {
    pub fn has(&self, allowed: &[Role]) -> bool {
        allowed.contains(&self.role)
    }
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token and returns its secret — the only time the secret exists in clear.
pub async fn create_token(db: &Db, name: &str, role: Role) -> anyhow::Result<String> {
    create_token_calling_back(db, name, role, None).await
}

/// As [`create_token`], for a token whose intents report their status to `callback_url`.
pub async fn create_token_calling_back(
    db: &Db,
    name: &str,
    role: Role,
    callback_url: Option<&CallbackUrl>,
) -> anyhow::Result<String> {
    let secret = new_secret();
    let id = uuid::Uuid::now_v7().to_string();
    db.insert_token(
        &id,
        name,
        role.as_str(),
        &digest(&secret),
        callback_url.map(CallbackUrl::as_str),
    )
    .await?;
    Ok(secret)
}

/// A fresh secret: `vst_` + 32 random bytes in hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("vst_{}", hex::encode(bytes))
}

/// Stores a token for `secret` (its digest only).
pub async fn store_token(db: &Db, name: &str, role: Role, secret: &str) -> anyhow::Result<()> {
    let id = uuid::Uuid::now_v7().to_string();
    db.insert_token(&id, name, role.as_str(), &digest(secret), None)
        .await
}

/// The principal for a presented secret, if the token exists and is live.
pub async fn authenticate(db: &Db, secret: &str) -> anyhow::Result<Option<Principal>> {
    let Some(row) = db.token_by_digest(&digest(secret)).await? else {
        return Ok(None);
    };
    let role = Role::parse(&row.role)
        .ok_or_else(|| anyhow::anyhow!("token {} has unknown role {}", row.id, row.role))?;
    // Checked when the token was made; a URL that no longer parses is dropped, not fatal.
    let callback_url = row
        .callback_url
        .as_deref()
        .and_then(|url| CallbackUrl::parse(url).ok());
    Ok(Some(Principal {
        token_id: row.id,
        client: row.name,
        role,
        callback_url,
    }))
}
