//! Masking of personal data (Federal Law 152-FZ) for logs, traces and error messages.
//!
//! The one place that decides how a phone, an email or a name looks when it must be
//! mentioned at all: `+7******4567`, `i***@m***.ru`, `И*** И.`.

/// `+79161234567` → `+7******4567`: country prefix and last four digits stay, so support
/// can match a complaint to a message without the log holding the number.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

/// `ivan@mail.ru` → `i***@m***.ru`.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "***".into();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    format!("{}***@{}***.{tld}", first(local), first(host))
}

/// `Иванов Иван Иванович` → `И*** И.`: enough to tell two log lines apart, not to identify.
pub fn mask_name(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().and_then(|w| w.chars().next());
    let second = words.next().and_then(|w| w.chars().next());
    match (first, second) {
        (Some(a), Some(b)) => format!("{a}*** {b}."),
        (Some(a), None) => format!("{a}***"),
        _ => "***".into(),
    }
}

/// Every run of 7 or more digits (a phone number, bare or in E.164) masked to its last four:
/// for free text from outside, such as a gateway's error answer.
pub fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str(&"*".repeat(run.len() - 4));
            out.push_str(&run[run.len() - 4..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Free text from outside (a relay's or provider's error answer) with every email address
/// and every phone-like digit run masked: such answers often quote the address refused.
/// Letters are any script's: internationalized addresses (RFC 6531, `иван@почта.рф`) are
/// addresses too.
pub fn mask_free_text(text: &str) -> String {
    let is_local = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_local(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let end = rest[at + 1..]
            .char_indices()
            .find(|(_, c)| !is_domain(*c))
            .map_or(rest.len(), |(i, _)| at + 1 + i);
        let domain = rest[at + 1..end].trim_end_matches('.');
        let end = at + 1 + domain.len();
        if start < at && domain.contains('.') {
            out.push_str(&rest[..start]);
            out.push_str(&mask_email(&rest[start..end]));
        } else {
            out.push_str(&rest[..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    mask_digit_runs(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_support_needs() {
        assert_eq!(mask_phone("+79161234567"), "+7******4567");
        assert_eq!(mask_email("ivan@mail.ru"), "i***@m***.ru");
        assert_eq!(mask_name("Иванов Иван Иванович"), "И*** И.");
        assert_eq!(mask_name(""), "***");
        assert_eq!(
            mask_digit_runs(r#"{"sms":{"79161234567":{"status_code":207}}}"#),
            r#"{"sms":{"*******4567":{"status_code":207}}}"#
        );
        assert_eq!(
            mask_free_text("550 5.1.1 <t.nik@example.ru>: rejected; a@b, +79161234567."),
            "550 5.1.1 <t***@e***.ru>: rejected; a@b, +*******4567."
        );
        assert_eq!(
            mask_free_text("550 5.1.1 <иван.петров@почта.рф>: неизвестен"),
            "550 5.1.1 <и***@п***.рф>: неизвестен"
        );
    }
}
