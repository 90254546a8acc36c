//! The one rule for the http(s) URLs the platform is given: the config's anycast URL
//! and Nomad addresses, and a URL typed after `platform-tui probe`. Parsing is the `url`
//! crate's (WHATWG); the checks on top are ours. Each caller words the error for its
//! place (a config key, a command line) from the same [`UrlError`], so the config and the
//! prober can never disagree on whether a string is a usable URL.

use std::borrow::Cow;
use std::fmt;

use ::url::{Host, ParseError, Url};

/// Why a text is not a usable `http://` (or `https://`) URL. `Display` gives the reason
/// alone; the caller says which URL and what form it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Spaces or control characters anywhere: the URL parser would silently drop a tab
    /// or a newline, so the URL used would not be the one written.
    Spaces,
    /// No `scheme://`.
    MissingScheme,
    /// A scheme other than `http` (or `https`, where allowed).
    UnsupportedScheme(String),
    /// `https://` where only plain HTTP is supported yet (the prober).
    HttpsNotSupported,
    /// `http://`, `http:///path`, `http://:80/`.
    MissingHost,
    /// `user:password@host`: credentials never belong in a config file or a command line.
    Credentials,
    /// A host name no resolver would look up (`ho{st`).
    Host(String),
    /// Port 0, or an empty port (`http://host:/`).
    Port(String),
    /// Something after the host that is not a path: `http://host?x`.
    NotAPath,
    /// What the URL parser refused, in its words (`invalid IPv6 address`, ...).
    Invalid(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Spaces => f.write_str("contains spaces or control characters"),
            UrlError::MissingScheme => f.write_str("missing scheme"),
            UrlError::UnsupportedScheme(s) => {
                write!(
                    f,
                    "unsupported scheme `{}`",
                    crate::domain::text::visible(s)
                )
            }
            UrlError::HttpsNotSupported => f.write_str("https is not supported yet"),
            UrlError::MissingHost => f.write_str("missing host"),
            UrlError::Credentials => f.write_str("credentials in the URL are not supported"),
            UrlError::Host(h) => write!(f, "invalid host `{}`", crate::domain::text::visible(h)),
            UrlError::Port(p) => write!(f, "invalid port `{p}`, expected 1..65535"),
            UrlError::NotAPath => f.write_str("the path must start with `/`"),
            UrlError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for UrlError {}

/// Check `text` (already trimmed) as `http://host[:port][/path][?query]`, or also
/// `https://` when `allow_https`. The host is a name (letters, digits, `.`, `-`, `_`,
/// after IDNA), an IPv4 address or a bracketed IPv6 address; the port is 1..=65535;
/// there is no user info.
pub fn http_url(text: &str, allow_https: bool) -> Result<Url, UrlError> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(UrlError::MissingScheme);
    };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Spaces);
    }
    if scheme.eq_ignore_ascii_case("https") {
        if !allow_https {
            return Err(UrlError::HttpsNotSupported);
        }
    } else if !scheme.eq_ignore_ascii_case("http") {
        return Err(UrlError::UnsupportedScheme(scheme.to_string()));
    }
    // Judged on the text: the parser reads `http:///x` as host `x` and `host:` as no port.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    if authority.is_empty() {
        return Err(UrlError::MissingHost);
    }
    if authority.contains('@') {
        return Err(UrlError::Credentials);
    }
    if authority.ends_with(':') {
        return Err(UrlError::Port(String::new()));
    }
    if !(after.is_empty() || after.starts_with('/')) {
        return Err(UrlError::NotAPath);
    }
    let url = Url::parse(text).map_err(|e| match e {
        ParseError::EmptyHost => UrlError::MissingHost,
        e => UrlError::Invalid(e.to_string()),
    })?;
    match url.host() {
        None => return Err(UrlError::MissingHost),
        // The parser allows `{`, `=`, `'` ... in a name; no resolver does.
        Some(Host::Domain(name))
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) =>
        {
            return Err(UrlError::Host(name.to_string()));
        }
        Some(_) => {}
    }
    if url.port() == Some(0) {
        return Err(UrlError::Port("0".to_string()));
    }
    Ok(url)
}

/// `text` as an error may repeat it: user info is cut (`http://...@host/`) and control
/// characters are made visible.
pub fn shown(text: &str) -> Cow<'_, str> {
    let cut = text.split_once("://").and_then(|(scheme, rest)| {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let at = rest[..end].rfind('@')?;
        Some(format!("{scheme}://...@{}", &rest[at + 1..]))
    });
    match cut {
        Some(cut) => Cow::Owned(crate::domain::text::visible(&cut).into_owned()),
        None => crate::domain::text::visible(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_accepted_and_normalised_by_the_parser() {
        for (text, want) in [
            ("http://198.18.0.10:8080/", "http://198.18.0.10:8080/"),
            ("http://198.18.0.10", "http://198.18.0.10/"),
            (
                "HTTP://anycast.example:80/health?x=1",
                "http://anycast.example/health?x=1",
            ),
            ("http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080/"),
            ("http://[::1]", "http://[::1]/"),
            ("http://localhost/a/b", "http://localhost/a/b"),
        ] {
            assert_eq!(
                http_url(text, false).map(String::from),
                Ok(want.into()),
                "{text}"
            );
        }
        assert!(http_url("https://nomad.example:4646", true).is_ok());
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let e = |text: &str| http_url(text, false).unwrap_err();
        assert_eq!(e("198.18.0.10:8080"), UrlError::MissingScheme);
        assert_eq!(e(""), UrlError::MissingScheme);
        assert_eq!(e("ftp://h/"), UrlError::UnsupportedScheme("ftp".into()));
        assert_eq!(e("HTTPS://h/"), UrlError::HttpsNotSupported);
        assert_eq!(
            http_url("gopher://h/", true),
            Err(UrlError::UnsupportedScheme("gopher".into()))
        );
        for missing in ["http://", "http:///path", "http://?x", "http://:80/"] {
            assert_eq!(e(missing), UrlError::MissingHost, "{missing}");
        }
        assert_eq!(e("http://u:p@h/"), UrlError::Credentials);
        assert_eq!(e("http://h:0/"), UrlError::Port("0".into()));
        assert_eq!(e("http://h:/"), UrlError::Port(String::new()));
        assert_eq!(e("http://[::1]:/"), UrlError::Port(String::new()));
        assert_eq!(e("http://h?x"), UrlError::NotAPath);
        assert_eq!(e("http://h\t/"), UrlError::Spaces);
        assert_eq!(e("http://ho st/"), UrlError::Spaces);
        assert_eq!(e("ho st"), UrlError::MissingScheme);
        assert_eq!(e("http://a{b}.test/"), UrlError::Host("a{b}.test".into()));
        assert_eq!(
            e("http://127.0.0..=x/"),
            UrlError::Host("127.0.0..=x".into())
        );
        for invalid in [
            "http://h:65536/",
            "http://h:80x/",
            "http://2001:db8::1/",
            "http://[2001:db8::zz]/",
            "http://[::1/",
            "http://[::1]x/",
        ] {
            assert!(matches!(e(invalid), UrlError::Invalid(_)), "{invalid}");
        }
        assert_eq!(
            UrlError::HttpsNotSupported.to_string(),
            "https is not supported yet"
        );
    }

    #[test]
    fn shown_never_repeats_credentials_or_control_characters() {
        assert_eq!(shown("http://user:secret@h:80/p"), "http://...@h:80/p");
        assert_eq!(shown("http://h/a@b"), "http://h/a@b");
        assert_eq!(shown("http://h/\u{1b}[2J"), "http://h/\\x1b[2J");
        assert_eq!(shown("no scheme"), "no scheme");
    }
}
