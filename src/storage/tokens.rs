//! API tokens, stored as SHA-256 digests of their secrets.

use super::{Db, now_ms, with_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    /// Where the status of this token's intents is POSTed, unless an intent names its own.
    pub callback_url: Option<String>,
}

impl Db {
    pub async fn insert_token(
        &self,
        id: &str,
        name: &str,
        role: &str,
        secret_sha256: &str,
        callback_url: Option<&str>,
    ) -> anyhow::Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO tokens (id, name, role, secret_sha256, created_at, callback_url) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(secret_sha256)
        .bind(now_ms())
        .bind(callback_url)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The live token whose secret hashes to `secret_sha256`.
    pub async fn token_by_digest(&self, secret_sha256: &str) -> anyhow::Result<Option<TokenRow>> {
        let row = with_pool!(self, pool => sqlx::query_as::<_, TokenRow>(
            "SELECT id, name, role, callback_url FROM tokens WHERE secret_sha256 = $1 AND revoked_at IS NULL",
        )
        .bind(secret_sha256)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    pub async fn token_count(&self) -> anyhow::Result<i64> {
        let (n,) = with_pool!(self, pool => sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM tokens")
            .fetch_one(pool)
            .await)?;
        Ok(n)
    }
}
