//! What a template is: kind × channel × locale, made of named parts, and the set of them
//! a renderer is built from (the files in `templates/`, or the active versions in the
//! database).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::intents::IntentKind;
use crate::recipients::Channel;

/// The one locale the default set is written in.
pub const DEFAULT_LOCALE: &str = "ru";

/// The template channels. Mail and fax both send the letter: mail renders `letter`; fax
/// renders `fax` when one exists and otherwise the letter, so a written notice reads the
/// same on paper and on fax unless an operator deliberately gives fax its own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateChannel {
    Sms,
    Email,
    Letter,
    Fax,
}

impl TemplateChannel {
    pub const ALL: [TemplateChannel; 4] = [Self::Sms, Self::Email, Self::Letter, Self::Fax];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Letter => "letter",
            Self::Fax => "fax",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The parts a template of this channel consists of.
    pub fn parts(self) -> &'static [&'static str] {
        match self {
            Self::Sms => &["text"],
            Self::Email => &["subject", "text", "html"],
            Self::Letter | Self::Fax => &["body"],
        }
    }

    /// HTML parts are rendered with every value escaped.
    pub fn is_html(self, part: &str) -> bool {
        self == Self::Email && part == "html"
    }

    /// The delivery channel a message of this template goes out on.
    pub fn delivery(self) -> Channel {
        match self {
            Self::Sms => Channel::Sms,
            Self::Email => Channel::Email,
            Self::Letter => Channel::Mail,
            Self::Fax => Channel::Fax,
        }
    }

    /// The file of a part in `templates/<kind>/`.
    fn file_name(self, part: &str) -> String {
        match (self, part) {
            (Self::Sms, _) => "sms.hbs".into(),
            (Self::Email, part) => format!("email.{part}.hbs"),
            (Self::Letter, _) => "letter.hbs".into(),
            (Self::Fax, _) => "fax.hbs".into(),
        }
    }
}

/// Which template: kind × channel × locale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateKey {
    pub kind: IntentKind,
    pub channel: TemplateChannel,
    pub locale: String,
}

impl TemplateKey {
    pub fn new(kind: IntentKind, channel: TemplateChannel) -> Self {
        Self {
            kind,
            channel,
            locale: DEFAULT_LOCALE.to_owned(),
        }
    }

    /// `kind/channel/locale`.
    pub fn label(&self) -> String {
        key_label(self.kind, self.channel, &self.locale)
    }

    /// `kind/channel/locale@vN`: what a message rendered by version N records.
    pub fn version_label(&self, version: i64) -> String {
        format!("{}@v{version}", self.label())
    }
}

/// Part name → Handlebars source.
pub type Parts = BTreeMap<String, String>;

/// One template as a renderer uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// What messages record: `kind/channel/locale@vN` from the database, or
    /// `kind/channel/locale@file:<digest>` for the files.
    pub label: String,
    pub parts: Parts,
    /// Does not carry every mandatory field, so it never counts as the legal notice.
    pub supplementary: bool,
}

/// The templates and shared partials a renderer is built from.
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    pub templates: HashMap<(IntentKind, TemplateChannel), Template>,
    /// Partial name → source (`templates/partials/<name>.hbs`); shipped with the release.
    pub partials: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    supplementary: HashMap<IntentKind, Vec<TemplateChannel>>,
}

impl TemplateSet {
    /// Reads `dir`: every kind's sms, email and letter parts (a missing one is an error),
    /// an optional `fax.hbs`, the partials and `manifest.toml`.
    pub fn load_dir(dir: &Path) -> anyhow::Result<Self> {
        let partials = load_partials(&dir.join("partials"))?;
        let manifest_path = dir.join("manifest.toml");
        let manifest: Manifest = if manifest_path.exists() {
            let text = std::fs::read_to_string(&manifest_path)
                .with_context(|| format!("reading {}", manifest_path.display()))?;
            toml::from_str(&text).with_context(|| format!("in {}", manifest_path.display()))?
        } else {
            Manifest {
                supplementary: HashMap::new(),
            }
        };
        let mut templates = HashMap::new();
        for kind in IntentKind::ALL {
            for channel in TemplateChannel::ALL {
                let mut parts = Parts::new();
                for part in channel.parts() {
                    let path = dir.join(kind.as_str()).join(channel.file_name(part));
                    if channel == TemplateChannel::Fax && !path.exists() {
                        break;
                    }
                    let source = std::fs::read_to_string(&path)
                        .with_context(|| format!("template {} is missing", path.display()))?;
                    parts.insert((*part).to_owned(), source);
                }
                if parts.is_empty() {
                    continue;
                }
                let supplementary = manifest
                    .supplementary
                    .get(&kind)
                    .is_some_and(|c| c.contains(&channel));
                let label = format!(
                    "{}@file:{}",
                    key_label(kind, channel, DEFAULT_LOCALE),
                    &digest(&parts, &partials)[..12]
                );
                templates.insert(
                    (kind, channel),
                    Template {
                        label,
                        parts,
                        supplementary,
                    },
                );
            }
        }
        Ok(Self {
            templates,
            partials,
        })
    }

    /// The template that renders `kind` on delivery `channel` (fax falls back to the letter).
    pub fn for_delivery(&self, kind: IntentKind, channel: Channel) -> Option<&Template> {
        let tc = match channel {
            Channel::Sms => TemplateChannel::Sms,
            Channel::Email => TemplateChannel::Email,
            Channel::Mail => TemplateChannel::Letter,
            Channel::Fax => {
                if let Some(fax) = self.templates.get(&(kind, TemplateChannel::Fax)) {
                    return Some(fax);
                }
                TemplateChannel::Letter
            }
        };
        self.templates.get(&(kind, tc))
    }
}

/// `kind/channel/locale`: how a template is named in messages, logs and the API.
pub fn key_label(kind: IntentKind, channel: TemplateChannel, locale: &str) -> String {
    format!("{}/{}/{locale}", kind.as_str(), channel.as_str())
}

fn load_partials(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut partials = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(partials);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".hbs"))
        else {
            continue;
        };
        let source = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        partials.insert(name.to_owned(), source);
    }
    Ok(partials)
}

fn digest(parts: &Parts, partials: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for source in parts.values().chain(partials.values()) {
        hasher.update(source.as_bytes());
    }
    hex::encode(hasher.finalize())
}
