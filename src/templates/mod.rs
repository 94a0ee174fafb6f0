//! Rendering notices from operator-editable Handlebars templates.
//!
//! The default set lives in `templates/`: `<kind>/sms.hbs`, `<kind>/email.subject.hbs`,
//! `<kind>/email.text.hbs`, `<kind>/email.html.hbs`, `<kind>/letter.hbs` (mail, and fax
//! unless `<kind>/fax.hbs` exists), shared `partials/<name>.hbs` and `manifest.toml`. It
//! seeds the database, where operators edit versions ([`set`]); [`check`] validates a
//! version before it is saved. Rendering is strict: a variable missing from the context is
//! an error, never an empty string in a legal notice.

pub mod check;
pub mod context;
pub mod helpers;
pub mod sample;
pub mod set;

use std::collections::HashMap;
use std::path::Path;

use handlebars::Handlebars;
use serde_json::Value;

use crate::intents::IntentKind;
use crate::recipients::Channel;
pub use set::{Parts, Template, TemplateChannel, TemplateSet};

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

pub struct Renderer {
    /// Plain-text parts: no escaping (an SMS must not read `&quot;`).
    text: Handlebars<'static>,
    /// HTML parts: every value escaped, so a field cannot inject markup.
    html: Handlebars<'static>,
    /// Delivery channel → the label of the template that renders it.
    labels: HashMap<(IntentKind, Channel), String>,
}

impl Renderer {
    /// Loads and compiles the files in `dir`; a missing or broken one is an error.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        Self::new(&TemplateSet::load_dir(dir)?)
    }

    /// Compiles every template of `set`; every kind must render on every channel.
    pub fn new(set: &TemplateSet) -> anyhow::Result<Self> {
        let (mut text, mut html) = registries();
        for (name, source) in &set.partials {
            text.register_partial(name, source)
                .map_err(|e| anyhow::anyhow!("partial {name}: {e}"))?;
            html.register_partial(name, source)
                .map_err(|e| anyhow::anyhow!("partial {name}: {e}"))?;
        }
        let mut labels = HashMap::new();
        for kind in IntentKind::ALL {
            for channel in Channel::ALL {
                let template = set.for_delivery(kind, channel).ok_or_else(|| {
                    anyhow::anyhow!(
                        "no template renders {} on {}",
                        kind.as_str(),
                        channel.as_str()
                    )
                })?;
                for (part, source) in &template.parts {
                    let registry = if channel == Channel::Email && part == "html" {
                        &mut html
                    } else {
                        &mut text
                    };
                    registry
                        .register_template_string(&name(kind, channel, part), source)
                        .map_err(|e| {
                            anyhow::anyhow!("template {} ({part}): {e}", template.label)
                        })?;
                }
                labels.insert((kind, channel), template.label.clone());
            }
        }
        Ok(Self { text, html, labels })
    }

    /// Which template version renders `kind` on `channel`; recorded with every message.
    pub fn version(&self, kind: IntentKind, channel: Channel) -> &str {
        &self.labels[&(kind, channel)]
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
                .render(&name(kind, channel, part), context)
                .map_err(|e| format!("{}: {e}", self.version(kind, channel)))
        };
        Ok(match channel {
            Channel::Email => Rendered::Email {
                subject: text("subject")?.trim().to_owned(),
                text: text("text")?,
                html: self
                    .html
                    .render(&name(kind, channel, "html"), context)
                    .map_err(|e| format!("{}: {e}", self.version(kind, channel)))?,
            },
            Channel::Sms => Rendered::Sms {
                text: text("text")?.trim().to_owned(),
            },
            Channel::Mail | Channel::Fax => Rendered::Letter {
                text: text("body")?,
            },
        })
    }
}

/// The two strict registries with the helpers: plain text (no escaping) and HTML.
pub(crate) fn registries() -> (Handlebars<'static>, Handlebars<'static>) {
    let mut text = Handlebars::new();
    text.set_strict_mode(true);
    text.register_escape_fn(handlebars::no_escape);
    helpers::register(&mut text);
    let mut html = Handlebars::new();
    html.set_strict_mode(true);
    helpers::register(&mut html);
    (text, html)
}

fn name(kind: IntentKind, channel: Channel, part: &str) -> String {
    format!("{}/{}/{part}", kind.as_str(), channel.as_str())
}

/// Renders one template outside the live set (a version being validated or previewed);
/// an error names the part.
pub fn render_one(
    channel: TemplateChannel,
    parts: &Parts,
    partials: &std::collections::BTreeMap<String, String>,
    context: &Value,
) -> Result<Rendered, (String, String)> {
    let (mut text, mut html) = registries();
    for (name, source) in partials {
        let _ = text.register_partial(name, source);
        let _ = html.register_partial(name, source);
    }
    for (part, source) in parts {
        let registry = if channel.is_html(part) {
            &mut html
        } else {
            &mut text
        };
        registry
            .register_template_string(part, source)
            .map_err(|e| (part.clone(), e.to_string()))?;
    }
    let render = |part: &str| {
        let registry = if channel.is_html(part) { &html } else { &text };
        registry
            .render(part, context)
            .map_err(|e| (part.to_owned(), e.to_string()))
    };
    Ok(match channel {
        TemplateChannel::Sms => Rendered::Sms {
            text: render("text")?.trim().to_owned(),
        },
        TemplateChannel::Email => Rendered::Email {
            subject: render("subject")?.trim().to_owned(),
            text: render("text")?,
            html: render("html")?,
        },
        TemplateChannel::Letter | TemplateChannel::Fax => Rendered::Letter {
            text: render("body")?,
        },
    })
}
