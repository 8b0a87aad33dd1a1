//! The languages of every page a person reads (the console, sign-in, consent, errors): English,
//! Japanese, Korean and Bulgarian. Strings come from Fluent catalogues (`locales/*.ftl`,
//! compiled in); dates and numbers are written the way each language writes them.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language pages can be shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    Ja,
    Ko,
    Bg,
}

tokio::task_local! {
    /// The language of the request being answered, for pages made deep in a handler.
    static PAGE_LOCALE: Locale;
}

/// The language of the request being answered (English outside [`choose`]).
pub fn current() -> Locale {
    PAGE_LOCALE.try_with(|l| *l).unwrap_or(Locale::En)
}

/// The message `key` in the current request's language.
pub fn t(key: &str) -> String {
    current().text(key, &[])
}

/// The message `key` with `args` in the current request's language.
pub fn t_with(key: &str, args: &[(&str, String)]) -> String {
    current().text(key, args)
}

/// Middleware: answers the request in the language it asks for (see [`Locale::of_request`]).
pub async fn choose(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let locale = Locale::of_request(request.headers());
    PAGE_LOCALE.scope(locale, next.run(request)).await
}

/// The cookie that remembers a chosen language (sign-in pages and the console alike).
pub const LANG_COOKIE: &str = "lanyard_lang";

const SOURCES: [(Locale, &str); 4] = [
    (Locale::En, include_str!("../locales/en.ftl")),
    (Locale::Ja, include_str!("../locales/ja.ftl")),
    (Locale::Ko, include_str!("../locales/ko.ftl")),
    (Locale::Bg, include_str!("../locales/bg.ftl")),
];

static BUNDLES: LazyLock<Vec<(Locale, FluentBundle<FluentResource>)>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(locale, source)| {
            let resource = FluentResource::try_new(source.to_string())
                .unwrap_or_else(|(_, errors)| panic!("{} catalogue: {errors:?}", locale.tag()));
            let lang = locale.tag().parse().expect("a language tag");
            let mut bundle = FluentBundle::new_concurrent(vec![lang]);
            // Pages are HTML whose text is escaped after formatting: no bidi isolation marks.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .unwrap_or_else(|errors| panic!("{} catalogue: {errors:?}", locale.tag()));
            (*locale, bundle)
        })
        .collect()
});

impl Locale {
    pub const ALL: [Locale; 4] = [Locale::En, Locale::Ja, Locale::Ko, Locale::Bg];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ja => "ja",
            Locale::Ko => "ko",
            Locale::Bg => "bg",
        }
    }

    /// The language's own name for itself, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Ja => "日本語",
            Locale::Ko => "한국어",
            Locale::Bg => "Български",
        }
    }

    /// The locale a tag names (`ja`, `ja-JP`, `KO-kr`…), if it is one of ours.
    pub fn parse(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Locale::ALL.into_iter().find(|l| l.tag() == primary)
    }

    /// The best of ours for an `Accept-Language` header (RFC 9110 §12.5.4): highest q first,
    /// earlier entries first among equals; English when none is ours.
    pub fn negotiate(accept_language: &str) -> Locale {
        let mut ranked: Vec<(u16, usize, Locale)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(i, item)| {
                let mut parts = item.split(';');
                let locale = Locale::parse(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1000), |q| {
                        q.trim().parse::<f32>().ok().map(|q| (q * 1000.0) as u16)
                    })?;
                (q > 0).then_some((q, i, locale))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map_or(Locale::En, |r| r.2)
    }

    /// The language for a request: the remembered choice, else the browser's preference.
    pub fn of_request(headers: &HeaderMap) -> Locale {
        crate::extract::cookie(headers, LANG_COOKIE)
            .and_then(Locale::parse)
            .unwrap_or_else(|| {
                let accept = headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                Locale::negotiate(accept)
            })
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        &BUNDLES
            .iter()
            .find(|(l, _)| *l == self)
            .expect("every locale has a bundle")
            .1
    }

    /// The message `key` with `args`; English when this catalogue lacks it (a test keeps them
    /// complete), the key itself when English does too.
    pub fn text(self, key: &str, args: &[(&str, String)]) -> String {
        let format = |bundle: &FluentBundle<FluentResource>| {
            let pattern = bundle.get_message(key)?.value()?;
            let mut fluent_args = FluentArgs::new();
            for (name, value) in args {
                fluent_args.set(*name, FluentValue::from(value.clone()));
            }
            let mut errors = vec![];
            Some(
                bundle
                    .format_pattern(pattern, Some(&fluent_args), &mut errors)
                    .into_owned(),
            )
        };
        format(self.bundle())
            .or_else(|| format(Locale::En.bundle()))
            .unwrap_or_else(|| key.to_string())
    }

    /// A time (unix milliseconds) as this language writes a date and time, in UTC.
    pub fn datetime(self, ms: i64) -> String {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        else {
            return String::new();
        };
        let (y, d, h, min) = (t.year(), t.day(), t.hour(), t.minute());
        let m = u8::from(t.month());
        match self {
            Locale::En => {
                let month = &t.month().to_string()[..3];
                format!("{d} {month} {y}, {h:02}:{min:02} UTC")
            }
            Locale::Ja => format!("{y}年{m}月{d}日 {h:02}:{min:02} UTC"),
            Locale::Ko => format!("{y}. {m}. {d}. {h:02}:{min:02} UTC"),
            Locale::Bg => format!("{d:02}.{m:02}.{y} г., {h:02}:{min:02} UTC"),
        }
    }

    /// A whole number with this language's digit grouping.
    pub fn number(self, n: i64) -> String {
        let separator = match self {
            Locale::Bg => '\u{a0}',
            _ => ',',
        };
        let digits = n.unsigned_abs().to_string();
        // Bulgarian groups only from five digits on (1000, but 10 000).
        if self == Locale::Bg && digits.len() <= 4 {
            return if n < 0 { format!("-{digits}") } else { digits };
        }
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(separator);
            }
            out.push(c);
        }
        if n < 0 {
            out.insert(0, '-');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(source: &str) -> std::collections::BTreeSet<String> {
        let resource = FluentResource::try_new(source.to_string()).expect("a valid catalogue");
        resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_catalogue_has_every_english_key() {
        let english = ids(SOURCES[0].1);
        assert!(
            english.len() > 100,
            "the English catalogue is the reference"
        );
        for (locale, source) in &SOURCES[1..] {
            let theirs = ids(source);
            let missing: Vec<_> = english.difference(&theirs).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", locale.tag());
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(
                extra.is_empty(),
                "{} has keys English lacks: {extra:?}",
                locale.tag()
            );
        }
    }

    #[test]
    fn every_catalogue_loads_and_formats() {
        for locale in Locale::ALL {
            let text = locale.text("nav-home", &[]);
            assert!(!text.is_empty() && text != "nav-home", "{}", locale.tag());
        }
        assert_eq!(Locale::Ja.text("nav-home", &[]), "ホーム");
    }

    #[test]
    fn accept_language_is_negotiated_by_quality() {
        assert_eq!(Locale::negotiate("ja-JP,ja;q=0.9,en;q=0.8"), Locale::Ja);
        assert_eq!(Locale::negotiate("fr, ko;q=0.5, bg;q=0.7"), Locale::Bg);
        assert_eq!(Locale::negotiate("fr-FR, de"), Locale::En);
        assert_eq!(Locale::negotiate("ja;q=0, ko"), Locale::Ko);
        assert_eq!(Locale::negotiate(""), Locale::En);
    }

    #[test]
    fn dates_and_numbers_follow_the_language() {
        let ms = 1_764_936_000_000; // 2025-12-05T12:00:00Z
        assert_eq!(Locale::En.datetime(ms), "5 Dec 2025, 12:00 UTC");
        assert_eq!(Locale::Ja.datetime(ms), "2025年12月5日 12:00 UTC");
        assert_eq!(Locale::Ko.datetime(ms), "2025. 12. 5. 12:00 UTC");
        assert_eq!(Locale::Bg.datetime(ms), "05.12.2025 г., 12:00 UTC");
        assert_eq!(Locale::En.number(1_234_567), "1,234,567");
        assert_eq!(Locale::Bg.number(1234), "1234");
        assert_eq!(Locale::Bg.number(12_345), "12\u{a0}345");
        assert_eq!(Locale::Ja.number(-1000), "-1,000");
    }
}
