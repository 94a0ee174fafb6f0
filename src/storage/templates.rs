//! Template versions: immutable rows, one active per kind × channel × locale, an
//! append-only log of activations, and a stamp every write bumps (see the migration
//! `20261128000010`).

use std::collections::HashMap;

use anyhow::Context as _;

use super::{Db, now_ms, with_pool};
use crate::intents::IntentKind;
use crate::templates::set::{Parts, Template, TemplateChannel, TemplateKey, TemplateSet};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateVersionRow {
    pub id: i64,
    pub kind: String,
    pub channel: String,
    pub locale: String,
    pub version: i64,
    /// JSON: part name → source.
    pub parts: String,
    pub supplementary: bool,
    pub author: String,
    pub comment: String,
    pub created_at: i64,
}

impl TemplateVersionRow {
    pub fn parts(&self) -> anyhow::Result<Parts> {
        serde_json::from_str(&self.parts).context("stored template parts are not JSON")
    }

    pub fn key(&self) -> anyhow::Result<TemplateKey> {
        Ok(TemplateKey {
            kind: IntentKind::parse(&self.kind)
                .with_context(|| format!("unknown kind {}", self.kind))?,
            channel: TemplateChannel::parse(&self.channel)
                .with_context(|| format!("unknown template channel {}", self.channel))?,
            locale: self.locale.clone(),
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ActivationRow {
    pub version: i64,
    /// `seed`, `activate` or `rollback`.
    pub action: String,
    pub actor: String,
    pub created_at: i64,
}

/// What changed, as the ledger will record it.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateChange {
    Created {
        key: TemplateKey,
        version: i64,
        author: String,
    },
    /// `action` is `seed`, `activate` or `rollback`.
    Activated {
        key: TemplateKey,
        version: i64,
        action: &'static str,
        actor: String,
    },
}

/// The one place every template write passes through inside its transaction: it bumps the
/// stamp (serialising writers on its row lock), logs activations and appends the change to
/// the proof ledger, all in the caller's transaction.
macro_rules! record_change {
    ($tx:expr, $change:expr) => {{
        let change: &TemplateChange = $change;
        sqlx::query("UPDATE template_stamp SET stamp = stamp + 1 WHERE id = 1")
            .execute(&mut *$tx)
            .await?;
        let (key, version, action, actor) = match change {
            TemplateChange::Created { key, version, author } => (key, *version, "create", author),
            TemplateChange::Activated { key, version, action, actor } => (key, *version, *action, actor),
        };
        let fact = crate::ledger::Fact::TemplateChanged {
            template: format!("{}/{}/{}", key.kind.as_str(), key.channel.as_str(), key.locale),
            version,
            action: action.to_owned(),
            actor: actor.clone(),
        };
        let entry = super::ledger::NewEntry::new(now_ms(), None, None, fact);
        super::Dialect::append_ledger(&mut $tx, vec![entry], now_ms()).await?;
        if let TemplateChange::Activated {
            key,
            version,
            action,
            actor,
        } = change
        {
            sqlx::query(
                "INSERT INTO template_activations (kind, channel, locale, version, action, actor, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(key.kind.as_str())
            .bind(key.channel.as_str())
            .bind(&key.locale)
            .bind(*version)
            .bind(*action)
            .bind(actor)
            .bind(now_ms())
            .execute(&mut *$tx)
            .await?;
            sqlx::query(
                "INSERT INTO template_active (kind, channel, locale, version, activated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, channel, locale) \
                 DO UPDATE SET version = excluded.version, activated_at = excluded.activated_at",
            )
            .bind(key.kind.as_str())
            .bind(key.channel.as_str())
            .bind(&key.locale)
            .bind(*version)
            .bind(now_ms())
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

const VERSION_COLUMNS: &str =
    "id, kind, channel, locale, version, parts, supplementary, author, comment, created_at";

impl Db {
    /// Changes whenever any template is written; cheap enough to read once per job.
    pub async fn template_stamp(&self) -> anyhow::Result<i64> {
        let (stamp,) = with_pool!(self, pool => sqlx::query_as::<_, (i64,)>(
            "SELECT stamp FROM template_stamp WHERE id = 1").fetch_one(pool).await)?;
        Ok(stamp)
    }

    /// First start (and any template the database lacks): imports it from `set` as
    /// version 1 and activates it. Returns how many were seeded.
    pub async fn seed_templates(&self, set: &TemplateSet) -> anyhow::Result<usize> {
        let mut seeded = 0;
        for ((kind, channel), template) in sorted(set) {
            let key = TemplateKey::new(kind, channel);
            if !self.template_versions(&key).await?.is_empty() {
                continue;
            }
            let created = self
                .create_template_version(&key, template, "templates/", "the default set")
                .await;
            match created {
                Ok(version) => {
                    self.activate_template(&key, version, "templates/", "seed")
                        .await?;
                    seeded += 1;
                }
                // Another process seeded it first (unique version number).
                Err(_) if !self.template_versions(&key).await?.is_empty() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(seeded)
    }

    /// Re-import: a new (inactive) version of every template of `set` that differs from
    /// the latest version stored. Returns the keys and versions created.
    pub async fn import_templates(
        &self,
        set: &TemplateSet,
        author: &str,
    ) -> anyhow::Result<Vec<(TemplateKey, i64)>> {
        let mut created = Vec::new();
        for ((kind, channel), template) in sorted(set) {
            let key = TemplateKey::new(kind, channel);
            let latest = self.template_versions(&key).await?.into_iter().last();
            let same = latest.as_ref().is_some_and(|row| {
                row.parts().ok().as_ref() == Some(&template.parts)
                    && row.supplementary == template.supplementary
            });
            if !same {
                let version = self
                    .create_template_version(&key, template, author, "re-imported from templates/")
                    .await?;
                created.push((key, version));
            }
        }
        Ok(created)
    }

    /// Stores a new immutable version; the caller has validated it.
    pub async fn create_template_version(
        &self,
        key: &TemplateKey,
        template: &Template,
        author: &str,
        comment: &str,
    ) -> anyhow::Result<i64> {
        let parts = serde_json::to_string(&template.parts)?;
        let version = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE template_stamp SET stamp = stamp WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            let (version,) = sqlx::query_as::<_, (i64,)>(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM template_versions \
                 WHERE kind = $1 AND channel = $2 AND locale = $3",
            )
            .bind(key.kind.as_str())
            .bind(key.channel.as_str())
            .bind(&key.locale)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO template_versions (kind, channel, locale, version, parts, supplementary, author, comment, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(key.kind.as_str())
            .bind(key.channel.as_str())
            .bind(&key.locale)
            .bind(version)
            .bind(&parts)
            .bind(template.supplementary)
            .bind(author)
            .bind(comment)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            record_change!(tx, &TemplateChange::Created { key: key.clone(), version, author: author.to_owned() });
            tx.commit().await?;
            Ok::<_, anyhow::Error>(version)
        })?;
        Ok(version)
    }

    /// Every version of a template, oldest first.
    pub async fn template_versions(
        &self,
        key: &TemplateKey,
    ) -> anyhow::Result<Vec<TemplateVersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM template_versions \
             WHERE kind = $1 AND channel = $2 AND locale = $3 ORDER BY version"
        );
        let rows = with_pool!(self, pool => sqlx::query_as::<_, TemplateVersionRow>(sqlx::AssertSqlSafe(sql))
            .bind(key.kind.as_str())
            .bind(key.channel.as_str())
            .bind(&key.locale)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    pub async fn template_version(
        &self,
        key: &TemplateKey,
        version: i64,
    ) -> anyhow::Result<Option<TemplateVersionRow>> {
        Ok(self
            .template_versions(key)
            .await?
            .into_iter()
            .find(|r| r.version == version))
    }

    /// The activation log of a template, oldest first.
    pub async fn template_activations(
        &self,
        key: &TemplateKey,
    ) -> anyhow::Result<Vec<ActivationRow>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, ActivationRow>(
            "SELECT version, action, actor, created_at FROM template_activations \
             WHERE kind = $1 AND channel = $2 AND locale = $3 ORDER BY id")
            .bind(key.kind.as_str())
            .bind(key.channel.as_str())
            .bind(&key.locale)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// The active version of every template.
    pub async fn active_templates(&self) -> anyhow::Result<Vec<TemplateVersionRow>> {
        let sql = format!(
            "SELECT {} FROM template_versions v JOIN template_active a \
             ON a.kind = v.kind AND a.channel = v.channel AND a.locale = v.locale AND a.version = v.version",
            VERSION_COLUMNS
                .split(", ")
                .map(|c| format!("v.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = with_pool!(self, pool => sqlx::query_as::<_, TemplateVersionRow>(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Which version of each template is active.
    pub async fn active_versions(&self) -> anyhow::Result<HashMap<TemplateKey, i64>> {
        let mut out = HashMap::new();
        for row in self.active_templates().await? {
            out.insert(row.key()?, row.version);
        }
        Ok(out)
    }

    /// Makes `version` the live one; `false` if it does not exist.
    pub async fn activate_template(
        &self,
        key: &TemplateKey,
        version: i64,
        actor: &str,
        action: &'static str,
    ) -> anyhow::Result<bool> {
        if self.template_version(key, version).await?.is_none() {
            return Ok(false);
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            record_change!(tx, &TemplateChange::Activated {
                key: key.clone(),
                version,
                action,
                actor: actor.to_owned(),
            });
            tx.commit().await?;
            Ok::<_, anyhow::Error>(())
        })?;
        Ok(true)
    }

    /// Undoes the last activation: the version live before it becomes live again. `None`
    /// when there is nothing to roll back to.
    pub async fn rollback_template(
        &self,
        key: &TemplateKey,
        actor: &str,
    ) -> anyhow::Result<Option<i64>> {
        // The log is read under the stamp's row lock, so two roll-backs at once undo two
        // activations rather than the same one twice.
        let previous = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE template_stamp SET stamp = stamp WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            let log = sqlx::query_as::<_, ActivationRow>(
                "SELECT version, action, actor, created_at FROM template_activations \
                 WHERE kind = $1 AND channel = $2 AND locale = $3 ORDER BY id")
                .bind(key.kind.as_str())
                .bind(key.channel.as_str())
                .bind(&key.locale)
                .fetch_all(&mut *tx)
                .await?;
            let previous = previous_version(&log);
            if let Some(version) = previous {
                record_change!(tx, &TemplateChange::Activated {
                    key: key.clone(),
                    version,
                    action: "rollback",
                    actor: actor.to_owned(),
                });
            }
            tx.commit().await?;
            Ok::<_, anyhow::Error>(previous)
        })?;
        Ok(previous)
    }
}

/// The log read as a stack: seeds and activations push, roll-backs pop. The version under
/// the top is the one a roll-back restores.
pub fn previous_version(log: &[ActivationRow]) -> Option<i64> {
    let mut stack: Vec<i64> = Vec::new();
    for row in log {
        if row.action == "rollback" {
            stack.pop();
        } else {
            stack.push(row.version);
        }
    }
    stack.len().checked_sub(2).map(|i| stack[i])
}

fn sorted(set: &TemplateSet) -> Vec<((IntentKind, TemplateChannel), &Template)> {
    let mut all: Vec<_> = set.templates.iter().map(|(k, t)| (*k, t)).collect();
    all.sort_by_key(|((kind, channel), _)| (kind.as_str(), *channel));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64, action: &str) -> ActivationRow {
        ActivationRow {
            version,
            action: action.into(),
            actor: "t".into(),
            created_at: 0,
        }
    }

    #[test]
    fn rollback_walks_back_through_activations() {
        assert_eq!(previous_version(&[row(1, "seed")]), None);
        let log = vec![row(1, "seed"), row(2, "activate"), row(3, "activate")];
        assert_eq!(previous_version(&log), Some(2));
        let mut log = log;
        log.push(row(2, "rollback"));
        assert_eq!(previous_version(&log), Some(1));
    }
}
