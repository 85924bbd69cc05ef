//! Webhook signatures, checked the same way by `flowctl dev` and by the deployed ingest:
//! HMAC-SHA256 of the body with a shared secret, in GitHub's style (`X-Hub-Signature-256:
//! sha256=<hex>`, the default) or Stripe's (`Stripe-Signature: t=<unix>,v1=<hex>` over
//! `<t>.<body>`, with a bound on the timestamp's age against replays).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header of GitHub's style (`sha256=<hex>`), the default.
pub const GITHUB_HEADER: &str = "X-Hub-Signature-256";
/// The signature header of Stripe's style (`t=<unix>,v1=<hex>` over `<t>.<body>`).
pub const STRIPE_HEADER: &str = "Stripe-Signature";
/// How old a Stripe-style signature's timestamp may be, in seconds (Stripe's own default).
pub const STRIPE_TOLERANCE: i64 = 300;

/// How a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    GitHub,
    Stripe,
}

impl Style {
    /// The style of a source's `signature_header`: Stripe's for `Stripe-Signature` (any
    /// case), GitHub's for anything else or none.
    pub fn of_header(header: Option<&str>) -> Style {
        match header {
            Some(h) if h.eq_ignore_ascii_case(STRIPE_HEADER) => Style::Stripe,
            _ => Style::GitHub,
        }
    }

    /// The header a request of this style carries its signature in.
    pub fn header(self) -> &'static str {
        match self {
            Style::GitHub => GITHUB_HEADER,
            Style::Stripe => STRIPE_HEADER,
        }
    }
}

/// HMAC-SHA256 of `parts` joined, as lowercase hex.
pub fn sign(secret: &[u8], parts: &[&[u8]]) -> String {
    // HMAC takes a key of any length, so this never fails; an empty answer never matches.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equality that takes as long whatever the first difference, so a signature (or a token)
/// cannot be guessed byte by byte from response times.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a request's signature against `secret`, `now` in Unix seconds (for Stripe's
/// timestamp); `Err` says what is wrong (a 401's body).
pub fn verify(
    secret: &[u8],
    style: Style,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Result<(), String> {
    let name = style.header();
    let value = crate::event::header(headers, name)
        .ok_or_else(|| format!("missing signature: this webhook needs the {name} header"))?;
    match style {
        Style::GitHub => {
            let given = value
                .strip_prefix("sha256=")
                .ok_or_else(|| format!("{name} must be `sha256=<hex HMAC-SHA256 of the body>`"))?;
            if constant_time_eq(
                given.to_ascii_lowercase().as_bytes(),
                sign(secret, &[body]).as_bytes(),
            ) {
                Ok(())
            } else {
                Err(format!("bad signature: {name} does not match the body"))
            }
        }
        Style::Stripe => {
            let mut timestamp = None;
            let mut signatures = Vec::new();
            for part in value.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                    Some(("v1", s)) => signatures.push(s.to_ascii_lowercase()),
                    _ => {}
                }
            }
            let t = timestamp.ok_or_else(|| format!("{name} has no `t=<unix time>`"))?;
            if now.saturating_sub(t).saturating_abs() > STRIPE_TOLERANCE {
                return Err(format!(
                    "bad signature: the timestamp in {name} is more than {STRIPE_TOLERANCE} s from now (a replayed request?)"
                ));
            }
            let expected = sign(secret, &[t.to_string().as_bytes(), b".", body]);
            if signatures
                .iter()
                .any(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()))
            {
                Ok(())
            } else {
                Err(format!(
                    "bad signature: no v1 signature in {name} matches the body"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: String) -> Vec<(String, String)> {
        vec![(name.to_ascii_lowercase(), value)]
    }

    #[test]
    fn github_style_signatures() {
        let body = br#"{"a":1}"#;
        let good = format!("sha256={}", sign(b"s3cret", &[body]));
        assert_eq!(
            verify(
                b"s3cret",
                Style::GitHub,
                &header(GITHUB_HEADER, good.clone()),
                body,
                0
            ),
            Ok(())
        );
        let upper = format!("sha256={}", sign(b"s3cret", &[body]).to_ascii_uppercase());
        assert_eq!(
            verify(
                b"s3cret",
                Style::GitHub,
                &header(GITHUB_HEADER, upper),
                body,
                0
            ),
            Ok(())
        );
        let bad = verify(
            b"other",
            Style::GitHub,
            &header(GITHUB_HEADER, good),
            body,
            0,
        );
        assert!(bad.unwrap_err().starts_with("bad signature"));
        let missing = verify(b"s3cret", Style::GitHub, &[], body, 0);
        assert_eq!(
            missing.unwrap_err(),
            "missing signature: this webhook needs the X-Hub-Signature-256 header"
        );
        let bare = verify(
            b"s3cret",
            Style::GitHub,
            &header(GITHUB_HEADER, sign(b"s3cret", &[body])),
            body,
            0,
        );
        assert!(bare.unwrap_err().contains("must be `sha256="));
    }

    #[test]
    fn stripe_style_signatures_and_their_age() {
        let body = br#"{"a":1}"#;
        let t = 1_700_000_000i64;
        let v1 = sign(b"whsec", &[t.to_string().as_bytes(), b".", body]);
        let value = format!("t={t},v1=deadbeef,v1={v1}");
        assert_eq!(
            verify(
                b"whsec",
                Style::Stripe,
                &header(STRIPE_HEADER, value.clone()),
                body,
                t + 10
            ),
            Ok(())
        );
        let old = verify(
            b"whsec",
            Style::Stripe,
            &header(STRIPE_HEADER, value.clone()),
            body,
            t + 301,
        );
        assert!(old.unwrap_err().contains("more than 300 s"));
        let hostile = verify(
            b"whsec",
            Style::Stripe,
            &header(STRIPE_HEADER, format!("t={},v1={v1}", i64::MIN)),
            body,
            i64::MAX,
        );
        assert!(hostile.unwrap_err().contains("more than 300 s"));
        let other = verify(
            b"other",
            Style::Stripe,
            &header(STRIPE_HEADER, value),
            body,
            t,
        );
        assert!(other.unwrap_err().contains("no v1 signature"));
        let untimed = verify(
            b"whsec",
            Style::Stripe,
            &header(STRIPE_HEADER, format!("v1={v1}")),
            body,
            t,
        );
        assert!(untimed.unwrap_err().contains("no `t=<unix time>`"));
    }

    #[test]
    fn styles_follow_the_header_named() {
        assert_eq!(Style::of_header(None), Style::GitHub);
        assert_eq!(Style::of_header(Some("stripe-signature")), Style::Stripe);
        assert_eq!(Style::of_header(Some(GITHUB_HEADER)), Style::GitHub);
    }
}
