//! The renderer of the active template versions. Each delivery job asks for it; one cheap
//! read of the template stamp tells whether an operator activated something since the
//! last build (in this process or another one on the same database), and only then are
//! the active versions loaded and compiled again. No restart is needed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use tracing::info;

use crate::storage::Db;
use crate::templates::{Renderer, Template, TemplateSet};

pub struct LiveTemplates {
    db: Db,
    /// The shared partials, shipped with the release (`templates/partials`).
    partials: BTreeMap<String, String>,
    current: RwLock<(i64, Arc<Renderer>)>,
}

impl LiveTemplates {
    pub async fn load(db: Db, partials: BTreeMap<String, String>) -> anyhow::Result<Self> {
        let (stamp, renderer) = build(&db, &partials).await?;
        Ok(Self {
            db,
            partials,
            current: RwLock::new((stamp, Arc::new(renderer))),
        })
    }

    /// The renderer for what is active now.
    pub async fn current(&self) -> anyhow::Result<Arc<Renderer>> {
        let stamp = self.db.template_stamp().await?;
        {
            let current = self.current.read().expect("template cache lock");
            if current.0 == stamp {
                return Ok(current.1.clone());
            }
        }
        let (stamp, renderer) = build(&self.db, &self.partials).await?;
        let renderer = Arc::new(renderer);
        info!(stamp, "templates reloaded");
        *self.current.write().expect("template cache lock") = (stamp, renderer.clone());
        Ok(renderer)
    }
}

/// The stamp is read first: a write that lands during the build moves it again, so the
/// next job rebuilds rather than keeping a stale set.
async fn build(db: &Db, partials: &BTreeMap<String, String>) -> anyhow::Result<(i64, Renderer)> {
    let stamp = db.template_stamp().await?;
    let mut templates = HashMap::new();
    for row in db.active_templates().await? {
        let key = row.key()?;
        templates.insert(
            (key.kind, key.channel),
            Template {
                label: key.version_label(row.version),
                parts: row.parts()?,
                supplementary: row.supplementary,
            },
        );
    }
    let set = TemplateSet {
        templates,
        partials: partials.clone(),
    };
    Ok((stamp, Renderer::new(&set)?))
}
