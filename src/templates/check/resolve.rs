//! Name resolution in a template's scopes: what `event.tariffs`, `../org.name`, `this`,
//! `@root.org`, a block param or a partial's hash argument refers to in the context.

use std::collections::HashMap;

use super::shape::Shape;

/// A resolved reference: its canonical path (`event.tariffs[].name`) and shape.
#[derive(Debug, Clone)]
pub struct Ref {
    pub path: String,
    pub shape: Shape,
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub this: Ref,
    /// Block params and partial hash arguments visible in this frame.
    pub locals: HashMap<String, Option<Ref>>,
    /// Inside `#each`: `@index`, `@first`… exist.
    pub in_each: bool,
}

/// Resolves `raw` (`event.tariffs`, `../org.name`, `this`, `@root.org`, a block param or
/// hash argument) in `scope`. `Ok(None)`: a computed value (an `#each` index param);
/// `Err`: the reason it names nothing.
pub fn resolve(raw: &str, scope: &[Frame]) -> Result<Option<Ref>, String> {
    let mut rest = raw;
    let mut up = 0;
    let mut from_root = false;
    if let Some(r) = rest.strip_prefix("@root") {
        from_root = true;
        rest = r.trim_start_matches(['.', '/']);
    }
    while let Some(r) = rest.strip_prefix("../") {
        up += 1;
        rest = r;
    }
    for prefix in ["this.", "this/", "./"] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r;
        }
    }
    if rest == "this" || rest == "." {
        rest = "";
    }
    let segments: Vec<&str> = rest
        .split(['.', '/'])
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_start_matches('[').trim_end_matches(']'))
        .collect();
    let Some(frame) = (if from_root {
        scope.first()
    } else {
        scope.len().checked_sub(up + 1).and_then(|i| scope.get(i))
    }) else {
        return Err(format!("`{raw}` climbs above the root of the context"));
    };
    let mut current = frame.this.clone();
    let mut segments = segments.as_slice();
    if !from_root
        && up == 0
        && let Some((first, tail)) = segments.split_first()
        && let Some(local) = frame.locals.get(*first)
    {
        // A block param or a hash argument; `None` is a computed one (an index).
        let Some(local) = local.clone() else {
            return Ok(None);
        };
        current = local;
        segments = tail;
    }
    for seg in segments {
        let next = match &current.shape {
            Shape::Object(fields) => fields.get(seg).map(|shape| Ref {
                path: join(&current.path, seg),
                shape: shape.clone(),
            }),
            Shape::List(item) if seg.parse::<usize>().is_ok() => Some(Ref {
                path: format!("{}[]", current.path),
                shape: (**item).clone(),
            }),
            _ => None,
        };
        match next {
            Some(r) => current = r,
            None => {
                let known = match &current.shape {
                    Shape::Object(fields) => {
                        let names: Vec<&str> = fields.keys().copied().collect();
                        format!("; `{}` has: {}", display(&current.path), names.join(", "))
                    }
                    _ => String::new(),
                };
                return Err(format!(
                    "unknown variable `{raw}` (not in this kind's fields{known})"
                ));
            }
        }
    }
    Ok(Some(current))
}
fn join(base: &str, seg: &str) -> String {
    if base.is_empty() {
        seg.to_owned()
    } else {
        format!("{base}.{seg}")
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() { "the context" } else { path }
}
