//! The signature on every callback: `X-Vestnik-Signature: t=<unix seconds>,v1=<hex>`, where
//! `v1` is HMAC-SHA256 with the shared secret over `"<t>.<body>"`. The timestamp is signed
//! with the body, so a receiver that refuses old timestamps (five minutes, say) cannot be
//! fed a recorded callback again; the event id inside the body de-duplicates retries.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const HEADER: &str = "x-vestnik-signature";

/// The header value for `body` sent at `unix_seconds`.
pub fn sign(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac(secret, unix_seconds, body))
    )
}

/// What a receiver does: checks the signature and that `t` is within `tolerance_secs` of
/// `now`. Here for the tests and as the reference for the README's recipe.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), &'static str> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err("malformed signature header");
    };
    if (now - t).abs() > tolerance_secs {
        return Err("timestamp outside the tolerance");
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // Constant-time comparison.
    mac.verify_slice(&v1).map_err(|_| "signature mismatch")
}

fn mac(secret: &[u8], unix_seconds: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_computation() {
        // RFC 4231 test case 2's key, and the HMAC-SHA256 of "1700000000.{}" computed with
        // Python's hmac module: python3 -c 'import hmac,hashlib;
        // print(hmac.new(b"Jefe", b"1700000000.{}", hashlib.sha256).hexdigest())'
        let header = sign(b"Jefe", 1_700_000_000, b"{}");
        assert_eq!(
            header,
            "t=1700000000,v1=d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207"
        );
    }

    #[test]
    fn a_receiver_accepts_the_genuine_article_only() {
        let body = br#"{"event_id":"e1","status":"delivered"}"#;
        let header = sign(b"secret", 1000, body);
        assert_eq!(verify(b"secret", &header, body, 1010, 300), Ok(()));
        assert_eq!(
            verify(b"other", &header, body, 1010, 300),
            Err("signature mismatch")
        );
        assert_eq!(
            verify(
                b"secret",
                &header,
                br#"{"event_id":"e1","status":"failed"}"#,
                1010,
                300
            ),
            Err("signature mismatch")
        );
        assert_eq!(
            verify(b"secret", &header, body, 1000 + 301, 300),
            Err("timestamp outside the tolerance")
        );
        let replayed_with_new_time = header.replace("t=1000", "t=1300");
        assert_eq!(
            verify(b"secret", &replayed_with_new_time, body, 1300, 300),
            Err("signature mismatch")
        );
        assert_eq!(
            verify(b"secret", "v1=00", body, 1000, 300),
            Err("malformed signature header")
        );
    }
}
