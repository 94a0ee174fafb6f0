-- Operator-editable templates (issue 7). A template is kind × channel × locale; every edit
-- is a new immutable version; one version per template is active. Dispatch renders the
-- active version and records "kind/channel/locale@vN" in messages.template.

CREATE TABLE template_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- JSON object: part name (subject, text, html, body) → Handlebars source.
    parts TEXT NOT NULL,
    -- Does not carry every mandatory field: never the legal notice.
    supplementary BOOLEAN NOT NULL,
    author TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (kind, channel, locale, version)
);

-- A version is evidence of what was sent: it is never changed or removed.
CREATE TRIGGER template_versions_immutable_update BEFORE UPDATE ON template_versions
BEGIN SELECT RAISE(ABORT, 'template versions are immutable'); END;
CREATE TRIGGER template_versions_immutable_delete BEFORE DELETE ON template_versions
BEGIN SELECT RAISE(ABORT, 'template versions are immutable'); END;

-- Every activation, roll-back and seed, in order (append-only): the history of what was live.
CREATE TABLE template_activations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE template_active (
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    activated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, channel, locale)
);

-- Bumped by every template write, under its row lock: writes serialise on it, and a
-- process compares it (one cheap read per delivery job) to know its cache is current.
CREATE TABLE template_stamp (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stamp BIGINT NOT NULL
);
INSERT INTO template_stamp (id, stamp) VALUES (1, 0);
