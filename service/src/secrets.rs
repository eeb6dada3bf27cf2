//! Keeping connection passwords out of every output (contract §5).
//!
//! Two layers:
//! - [`mask_url`] is how a URL is shown anywhere (error lines, logs, the page):
//!   the password of `user:password@host` and every query parameter whose
//!   name holds `password` (`?password=`, `sslpassword=`) become `***`.
//! - [`remember_url`] notes the passwords of the URLs this process connects
//!   with, and [`scrub`] replaces them in any text before it leaves the
//!   process: a server or driver error that quotes its connection string, a
//!   job error stored in `job_runs`. [`ScrubbingWriter`] applies it to logs.
use std::borrow::Cow;
use std::io::Write;
use std::sync::RwLock;

const MASK: &str = "***";

/// Shorter secrets are not scrubbed from free text: replacing every `ab` in a
/// log line would garble it. [`mask_url`] still hides them in URLs.
const MIN_SCRUBBED_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The URL (or comma-separated URLs, as for a Redis Cluster) with every password masked.
pub fn mask_url(url: &str) -> String {
    split_urls(url)
        .into_iter()
        .map(mask_one)
        .collect::<Vec<_>>()
        .join(",")
}

/// A comma-separated list of URLs (a Redis Cluster's nodes), split only where a
/// new `scheme://` begins: a comma inside a password stays in its URL.
pub fn split_urls(list: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _) in list.match_indices(',') {
        let rest = &list[i + 1..];
        if i >= start && (starts_with_scheme(rest) || rest.trim().is_empty()) {
            parts.push(&list[start..i]);
            start = i + 1;
        }
    }
    parts.push(&list[start..]);
    parts
}

fn starts_with_scheme(s: &str) -> bool {
    let s = s.trim_start();
    match s.find("://") {
        Some(n) if n > 0 => {
            let scheme = &s[..n];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        _ => false,
    }
}

fn mask_one(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match user_password(base) {
        Some((start, end)) => format!("{}{MASK}{}", &base[..start], &base[end..]),
        None => base.to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_password_key(k) => format!("{k}={MASK}"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// The byte range of the password in `scheme://user:password@host...`, if any.
fn user_password(base: &str) -> Option<(usize, usize)> {
    let authority_start = base.find("://")? + 3;
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let authority = &base[authority_start..authority_end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some((authority_start + colon + 1, authority_start + at))
}

fn is_password_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("password")
}

/// The passwords a URL carries, raw and percent-decoded.
fn passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    for one in split_urls(url) {
        let (base, query) = match one.split_once('?') {
            Some((b, q)) => (b, q),
            None => (one, ""),
        };
        if let Some((s, e)) = user_password(base) {
            found.push(base[s..e].to_owned());
        }
        for kv in query.split('&') {
            if let Some((k, v)) = kv.split_once('=') {
                if is_password_key(k) {
                    found.push(v.to_owned());
                }
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decode(p)).collect();
    found.extend(decoded);
    found.retain(|p| p.len() >= MIN_SCRUBBED_LEN);
    found
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Notes the passwords of `url` so that [`scrub`] hides them from any text.
pub fn remember_url(url: &str) {
    let found = passwords(url);
    if found.is_empty() {
        return;
    }
    if let Ok(mut secrets) = SECRETS.write() {
        for p in found {
            if !secrets.contains(&p) {
                secrets.push(p);
            }
        }
        // Longest first: a password that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every remembered password replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let Ok(secrets) = SECRETS.read() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), MASK));
        }
    }
    out
}

/// A writer that scrubs what passes through it. tracing-subscriber's fmt layer
/// writes each event with one `write_all`, so a password is never split.
pub struct ScrubbingWriter<W: Write>(pub W);

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                self.0.write_all(scrub(text).as_bytes())?;
                Ok(buf.len())
            }
            Err(_) => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_user_info_and_query_passwords() {
        assert_eq!(
            mask_url("postgres://u:secret@h:5432/db?password=other&sslmode=disable"),
            "postgres://u:***@h:5432/db?password=***&sslmode=disable"
        );
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            mask_url("redis://:pw@a:7000,redis://:pw@b:7000"),
            "redis://:***@a:7000,redis://:***@b:7000"
        );
        assert_eq!(
            mask_url("postgres://u@h/db?sslPassword=x"),
            "postgres://u@h/db?sslPassword=***"
        );
        // A comma inside a password does not split the URL (and so does not leak it).
        assert_eq!(
            mask_url("redis://u:p,w@a:7000,redis://u:p,w@b:7000"),
            "redis://u:***@a:7000,redis://u:***@b:7000"
        );
        // An '@' in the path is not userinfo.
        assert_eq!(mask_url("postgres://h/db@x"), "postgres://h/db@x");
    }

    #[test]
    fn scrub_hides_remembered_passwords_raw_and_decoded() {
        remember_url("postgres://u:s3cr%40t-pass@h/db?password=query-secret");
        let text = "failed: s3cr@t-pass and s3cr%40t-pass and query-secret";
        assert_eq!(scrub(text), "failed: *** and *** and ***");
    }
}
