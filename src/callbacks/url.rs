//! Where an intent's status callbacks go: an absolute `http` or `https` URL with a host,
//! parsed once at intake.

use std::fmt;

/// A receiver's URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl(::url::Url);

/// Long enough for any real endpoint, short enough not to be a storage vector.
const MAX_LEN: usize = 2000;

impl CallbackUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() > MAX_LEN {
            return Err(format!("must be at most {MAX_LEN} characters"));
        }
        let url = ::url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("must be http or https, not '{}'", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials would be stored and logged with the URL; the signature
            // authenticates us to the receiver instead.
            return Err("must not carry a user name or password".into());
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn http_and_https_urls_with_a_host_are_taken() {
        let url = CallbackUrl::parse(" https://billing.example.ru/vestnik/status?src=1 ").unwrap();
        assert_eq!(
            url.as_str(),
            "https://billing.example.ru/vestnik/status?src=1"
        );
        assert!(CallbackUrl::parse("http://127.0.0.1:8081/hook").is_ok());
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        for (text, why) in [
            ("ftp://example.ru/x", "http or https"),
            ("not a url", "is not a URL"),
            ("https://user:pw@example.ru/", "user name or password"),
            ("/relative/path", "is not a URL"),
        ] {
            let err = CallbackUrl::parse(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        let long = format!("https://example.ru/{}", "a".repeat(MAX_LEN));
        assert!(CallbackUrl::parse(&long).unwrap_err().contains("at most"));
    }

    proptest! {
        #[test]
        fn whatever_is_taken_is_http_or_https(text in "\\PC{0,80}") {
            if let Ok(url) = CallbackUrl::parse(&text) {
                prop_assert!(url.as_str().starts_with("http://") || url.as_str().starts_with("https://"));
            }
        }
    }
}
