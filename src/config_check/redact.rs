//! The effective configuration as it may be shown: every secret as `***`.
//!
//! Secrets are recognised by name (passwords, tokens, every value under `secrets`) and
//! inside URLs (`postgres://user:PASSWORD@host`). Paths such as the DKIM key file or the
//! admin token file are not secret: they say where a secret is, and the operator needs to
//! see them. An empty value stays empty, so "not set" remains visible.

const MASK: &str = "***";

pub fn redact(value: &mut toml::Value) {
    walk(value, false);
}

fn walk(value: &mut toml::Value, secret: bool) {
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table.iter_mut() {
                walk(v, secret || is_secret_key(key));
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|v| walk(v, secret)),
        toml::Value::String(s) if secret && !s.is_empty() => *s = MASK.into(),
        toml::Value::String(s) => *s = redact_url(s),
        _ if secret => *value = toml::Value::String(MASK.into()),
        _ => {}
    }
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "secrets"
        || key.contains("password")
        || key == "token"
        || key.ends_with("_token")
        || key.ends_with("_secret")
        || key == "secret"
        || key.ends_with("api_key")
}

/// `scheme://user:pass@host/…` → `scheme://user:***@host/…`; anything else unchanged.
pub fn redact_url(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return s.to_owned();
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return s.to_owned();
    };
    format!("{scheme}://{user}:{MASK}@{host}{}", &rest[authority_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_paths_kept() {
        let mut v: toml::Value = toml::from_str(
            r#"
            [database]
            url = "postgres://vestnik:hunter2@db.local:5432/vestnik?sslmode=require"
            [smtp]
            password = "pw"
            username = "mailer"
            [smtp.dkim]
            key_file = "/etc/vestnik/dkim.pem"
            [sms.secrets]
            SMSRU_API_ID = "abc"
            [auth]
            admin_token_file = "data/admin.token"
            "#,
        )
        .unwrap();
        redact(&mut v);
        let text = toml::to_string(&v).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("\"pw\"") && !text.contains("abc"));
        assert!(text.contains("postgres://vestnik:***@db.local:5432/vestnik?sslmode=require"));
        assert!(text.contains("/etc/vestnik/dkim.pem") && text.contains("data/admin.token"));
        assert!(text.contains("mailer"));
    }
}
