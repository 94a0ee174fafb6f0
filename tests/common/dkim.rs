//! An independent DKIM check (RFC 6376, relaxed/relaxed, Ed25519-SHA256 per RFC 8463),
//! written from the RFCs rather than from lettre, so a signer bug cannot pass by agreeing
//! with itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// The DKIM-Signature tags, for assertions (`d`, `s`, `h`, …).
pub type Tags = Vec<(String, String)>;

/// Verifies the message's DKIM-Signature against `key`; returns its tags.
pub fn verify(raw: &[u8], key: &VerifyingKey) -> Result<Tags, String> {
    let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("no header/body separator")?;
    let fields = header_fields(head);
    let signature = fields
        .iter()
        .find(|f| name(f).eq_ignore_ascii_case("DKIM-Signature"))
        .ok_or("no DKIM-Signature header")?;
    let tags: Tags = value(signature)
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect();
    let tag = |k: &str| {
        tags.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .ok_or(format!("tag {k}= missing"))
    };
    if tag("a")? != "ed25519-sha256" || tag("c")? != "relaxed/relaxed" {
        return Err(format!("unexpected a={} c={}", tag("a")?, tag("c")?));
    }
    let body_hash = B64.encode(Sha256::digest(relaxed_body(body)));
    if body_hash != tag("bh")? {
        return Err(format!("body hash {body_hash} != bh={}", tag("bh")?));
    }
    let mut signed = String::new();
    for wanted in tag("h")?.split(':') {
        if let Some(field) = fields
            .iter()
            .rev()
            .find(|f| name(f).eq_ignore_ascii_case(wanted))
        {
            signed.push_str(&relaxed_header(field));
            signed.push_str("\r\n");
        }
    }
    // The signature header itself, with the b= value emptied and no final CRLF.
    let unsigned = blank_b(signature);
    signed.push_str(&relaxed_header(&unsigned));
    let b = B64.decode(tag("b")?).map_err(|e| e.to_string())?;
    let signature = Signature::from_slice(&b).map_err(|e| e.to_string())?;
    key.verify(&Sha256::digest(signed.as_bytes()), &signature)
        .map_err(|e| format!("signature does not verify: {e}"))?;
    Ok(tags)
}

fn header_fields(head: &str) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push_str("\r\n");
                last.push_str(line);
            }
            _ => fields.push(line.to_owned()),
        }
    }
    fields
}

fn name(field: &str) -> &str {
    field.split_once(':').map_or(field, |(n, _)| n).trim()
}

fn value(field: &str) -> &str {
    field.split_once(':').map_or("", |(_, v)| v)
}

fn relaxed_header(field: &str) -> String {
    let unfolded = value(field).replace("\r\n", "");
    let compact = unfolded
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>();
    format!("{}:{}", name(field).to_ascii_lowercase(), compact.join(" "))
}

fn relaxed_body(body: &str) -> Vec<u8> {
    let mut lines: Vec<String> = body.split("\r\n").map(compress_wsp).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
        .iter()
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        .into_bytes()
}

/// Runs of spaces and tabs become one space; trailing ones go.
fn compress_wsp(line: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in line.chars() {
        if c == ' ' || c == '\t' {
            gap = true;
        } else {
            if gap {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        }
    }
    out
}

fn blank_b(field: &str) -> String {
    // Find the b= tag (not bh=) and drop its value up to the next ';' or the end.
    let mut out = String::new();
    let mut rest = field;
    while let Some(pos) = rest.find("b=") {
        let before = &rest[..pos];
        let is_tag = before
            .trim_end_matches([' ', '\t', '\r', '\n'])
            .ends_with([';', ':']);
        out.push_str(&rest[..pos + 2]);
        rest = &rest[pos + 2..];
        if is_tag {
            let end = rest.find(';').unwrap_or(rest.len());
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}
