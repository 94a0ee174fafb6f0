//! Rendering notices from the operator-editable Handlebars templates in `templates/`.
//!
//! Layout of the directory: `<kind>/sms.hbs`, `<kind>/email.subject.hbs`,
//! `<kind>/email.text.hbs`, `<kind>/email.html.hbs`, `<kind>/letter.hbs` (mail, and fax
//! unless `<kind>/fax.hbs` exists) and shared `partials/<name>.hbs`. Rendering is strict:
//! a variable missing from the context is an error, never an empty string in a legal notice.

pub mod context;
pub mod helpers;

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use handlebars::Handlebars;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::intents::IntentKind;
use crate::recipients::Channel;

/// A message's content, ready for a gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    Email {
        subject: String,
        text: String,
        html: String,
    },
    Sms {
        text: String,
    },
    /// The letter body (Markdown subset) for mail and fax.
    Letter {
        text: String,
    },
    /// The letter typeset as the PDF a print house or fax receives (see [`crate::letters`]).
    Pdf {
        pdf: std::sync::Arc<Vec<u8>>,
        pages: u32,
    },
}

/// The parts each kind must provide, and the registry (text or HTML) each belongs to.
const PARTS: [(&str, bool); 5] = [
    ("sms", false),
    ("email.subject", false),
    ("email.text", false),
    ("email.html", true),
    ("letter", false),
];

pub struct Renderer {
    /// Plain-text parts: no escaping (an SMS must not read `&quot;`).
    text: Handlebars<'static>,
    /// HTML parts: every value escaped, so a field cannot inject markup.
    html: Handlebars<'static>,
    /// `kind/channel` → `kind/channel@<digest of the sources used>`.
    versions: HashMap<(IntentKind, Channel), String>,
}

impl Renderer {
    /// Loads and compiles every template; a missing or broken one stops start-up.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        helpers::register(&mut text);
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        helpers::register(&mut html);

        let mut partial_sources = String::new();
        let partials = dir.join("partials");
        if partials.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(&partials)?.collect::<Result<_, _>>()?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".hbs"))
                else {
                    continue;
                };
                let source = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                text.register_partial(name, &source)
                    .with_context(|| format!("partial {}", path.display()))?;
                html.register_partial(name, &source)
                    .with_context(|| format!("partial {}", path.display()))?;
                partial_sources.push_str(&source);
            }
        }

        let mut versions = HashMap::new();
        for kind in IntentKind::ALL {
            let mut sources: HashMap<&str, String> = HashMap::new();
            for (part, is_html) in PARTS {
                let path = dir.join(kind.as_str()).join(format!("{part}.hbs"));
                let source = std::fs::read_to_string(&path)
                    .with_context(|| format!("template {} is missing", path.display()))?;
                let registry = if is_html { &mut html } else { &mut text };
                registry
                    .register_template_string(&name(kind, part), &source)
                    .with_context(|| format!("template {}", path.display()))?;
                sources.insert(part, source);
            }
            let fax_path = dir.join(kind.as_str()).join("fax.hbs");
            let fax_source = if fax_path.exists() {
                let source = std::fs::read_to_string(&fax_path)?;
                text.register_template_string(&name(kind, "fax"), &source)
                    .with_context(|| format!("template {}", fax_path.display()))?;
                Some(source)
            } else {
                None
            };
            for channel in Channel::ALL {
                let used: Vec<&str> = match channel {
                    Channel::Email => vec![
                        &sources["email.subject"],
                        &sources["email.text"],
                        &sources["email.html"],
                    ],
                    Channel::Sms => vec![&sources["sms"]],
                    Channel::Mail => vec![&sources["letter"]],
                    Channel::Fax => vec![fax_source.as_deref().unwrap_or(&sources["letter"])],
                };
                let mut hasher = Sha256::new();
                for source in used {
                    hasher.update(source.as_bytes());
                }
                hasher.update(partial_sources.as_bytes());
                let digest = hex::encode(hasher.finalize());
                versions.insert(
                    (kind, channel),
                    format!("{}/{}@{}", kind.as_str(), channel.as_str(), &digest[..12]),
                );
            }
        }
        Ok(Self {
            text,
            html,
            versions,
        })
    }

    /// Which template version renders `kind` on `channel`; recorded with every message.
    pub fn version(&self, kind: IntentKind, channel: Channel) -> &str {
        &self.versions[&(kind, channel)]
    }

    /// Renders one message; an error means the notice cannot be produced as it stands.
    pub fn render(
        &self,
        kind: IntentKind,
        channel: Channel,
        context: &Value,
    ) -> Result<Rendered, String> {
        let text = |part: &str| {
            self.text
                .render(&name(kind, part), context)
                .map_err(|e| format!("{}/{part}: {e}", kind.as_str()))
        };
        Ok(match channel {
            Channel::Email => Rendered::Email {
                subject: text("email.subject")?.trim().to_owned(),
                text: text("email.text")?,
                html: self
                    .html
                    .render(&name(kind, "email.html"), context)
                    .map_err(|e| format!("{}/email.html: {e}", kind.as_str()))?,
            },
            Channel::Sms => Rendered::Sms {
                text: text("sms")?.trim().to_owned(),
            },
            Channel::Mail => Rendered::Letter {
                text: text("letter")?,
            },
            Channel::Fax if self.text.has_template(&name(kind, "fax")) => {
                Rendered::Letter { text: text("fax")? }
            }
            Channel::Fax => Rendered::Letter {
                text: text("letter")?,
            },
        })
    }
}

fn name(kind: IntentKind, part: &str) -> String {
    format!("{}/{part}", kind.as_str())
}
