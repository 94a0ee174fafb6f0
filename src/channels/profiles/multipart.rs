//! `multipart/form-data` bodies (RFC 7578) as fax providers post their webhooks: the parts,
//! and the text fields apart from the files.

/// One part of a multipart body as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPart {
    pub name: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

/// Text parts as (name, value); parts with a filename as (name, contents).
#[allow(clippy::type_complexity)]
pub(super) fn split_parts(
    parts: Vec<ReceivedPart>,
) -> (Vec<(String, String)>, Vec<(String, Vec<u8>)>) {
    let mut fields = Vec::new();
    let mut files = Vec::new();
    for p in parts {
        match p.filename {
            Some(_) => files.push((p.name, p.data)),
            None => fields.push((p.name, String::from_utf8_lossy(&p.data).into_owned())),
        }
    }
    (fields, files)
}

/// Reads a `multipart/form-data` body (RFC 7578). The boundary is taken from the body's
/// first delimiter line, so no header is needed.
pub fn parse_multipart(body: &[u8]) -> Result<Vec<ReceivedPart>, String> {
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let first = if body.starts_with(b"--") {
        0
    } else {
        find(body, b"\r\n--", 0).ok_or("no multipart delimiter")? + 2
    };
    let line_end = find(body, b"\r\n", first).ok_or("no line after the first delimiter")?;
    let boundary = body[first + 2..line_end].trim_ascii_end();
    if boundary.is_empty() || boundary.len() > 200 {
        return Err("no usable multipart boundary".into());
    }
    let mut delimiter = b"\r\n--".to_vec();
    delimiter.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut pos = line_end + 2;
    loop {
        let end = find(body, &delimiter, pos).ok_or("a part is not closed")?;
        let part = &body[pos..end];
        let (head_len, skip) = match find(part, b"\r\n\r\n", 0) {
            Some(i) => (i, i + 4),
            None if part.starts_with(b"\r\n") => (0, 2),
            None => return Err("a part has no header end".into()),
        };
        let head = String::from_utf8_lossy(&part[..head_len]);
        let (mut name, mut filename) = (None, None);
        for line in head.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for param in value.split(';').skip(1) {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" => filename = Some(v),
                    _ => {}
                }
            }
        }
        parts.push(ReceivedPart {
            name: name.ok_or("a part has no name")?,
            filename,
            data: part[skip..].to_vec(),
        });
        pos = end + delimiter.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("a delimiter is not followed by a line break".into());
        }
        pos += 2;
    }
}
