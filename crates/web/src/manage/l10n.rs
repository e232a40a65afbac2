//! Localisation: every string a page shows comes from a Fluent catalogue
//! (`locales/<lang>/manage.ftl`, built into the binary), in the language MS-PCWP's
//! `clientlang` names, else the first the browser's `Accept-Language` prefers that
//! Parlance has, else en-US. Dates and numbers are written the language's way.

use std::borrow::Cow;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages Parlance speaks, the first being the fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    EnUs,
    DeDe,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::EnUs, Lang::DeDe];

    /// The tag, as the page's `lang` attribute and MS-PCWP's `clientlang` write it.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::EnUs => "en-US",
            Lang::DeDe => "de-DE",
        }
    }

    fn catalogue(self) -> &'static str {
        match self {
            Lang::EnUs => include_str!("../../locales/en-US/manage.ftl"),
            Lang::DeDe => include_str!("../../locales/de-DE/manage.ftl"),
        }
    }

    /// The language for a tag such as `de-AT` or `en`: by its language part, so a region
    /// Parlance has no catalogue for still gets its language.
    fn of(tag: &str) -> Option<Lang> {
        let language = tag.split(['-', '_']).next()?.trim();
        Lang::ALL
            .into_iter()
            .find(|l| l.tag()[..2].eq_ignore_ascii_case(language))
    }

    /// `clientlang` first, then the browser's preferences, then en-US.
    pub fn choose(clientlang: Option<&str>, accept_language: Option<&str>) -> Lang {
        clientlang
            .and_then(Lang::of)
            .or_else(|| accept_language.and_then(preferred))
            .unwrap_or(Lang::EnUs)
    }
}

/// The best language of an `Accept-Language` header Parlance has (RFC 9110 §12.5.4):
/// by weight, then by order.
fn preferred(header: &str) -> Option<Lang> {
    let mut offers: Vec<(u16, usize, Lang)> = header
        .split(',')
        .take(20)
        .enumerate()
        .filter_map(|(order, item)| {
            let mut parts = item.split(';');
            let lang = Lang::of(parts.next()?)?;
            let weight =
                parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1000), |q| {
                        q.parse::<f32>()
                            .ok()
                            .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                    })?;
            (weight > 0).then_some((weight, order, lang))
        })
        .collect();
    offers.sort_by_key(|&(weight, order, _)| (std::cmp::Reverse(weight), order));
    offers.first().map(|&(_, _, lang)| lang)
}

/// Every catalogue, parsed once at start.
pub struct L10n {
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

impl std::fmt::Debug for L10n {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L10n").finish_non_exhaustive()
    }
}

impl L10n {
    /// Parses the built-in catalogues; they are part of the binary, so a broken one is a
    /// bug the tests catch, not a condition to handle.
    pub fn new() -> L10n {
        let bundles = Lang::ALL
            .into_iter()
            .map(|lang| {
                let resource = FluentResource::try_new(lang.catalogue().to_owned())
                    .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", lang.tag()));
                let id: LanguageIdentifier = lang.tag().parse().expect("a language tag");
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                // Pages are HTML, escaped by the templates: Unicode isolation marks around
                // placeables would only show up in form values.
                bundle.set_use_isolating(false);
                bundle.add_resource(resource).expect("unique message ids");
                (lang, bundle)
            })
            .collect();
        L10n { bundles }
    }

    pub fn tr(&self, lang: Lang) -> Tr<'_> {
        let bundle = &self
            .bundles
            .iter()
            .find(|(l, _)| *l == lang)
            .expect("every language has a bundle")
            .1;
        Tr { lang, bundle }
    }
}

impl Default for L10n {
    fn default() -> L10n {
        L10n::new()
    }
}

/// One language's strings, as templates use them.
#[derive(Clone, Copy)]
pub struct Tr<'a> {
    pub lang: Lang,
    bundle: &'a FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Tr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tr").field("lang", &self.lang).finish()
    }
}

impl Tr<'_> {
    /// The message `id`; the id itself when the catalogue lacks it (a test keeps both
    /// catalogues complete).
    pub fn get(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with one argument.
    pub fn arg(&self, id: &str, name: &str, value: &str) -> String {
        self.args(id, &[(name, value)])
    }

    /// The message `id` with its arguments, already written as the page shows them.
    pub fn args(&self, id: &str, values: &[(&str, &str)]) -> String {
        let mut args = FluentArgs::new();
        for (name, value) in values {
            args.set(*name, FluentValue::String(Cow::Borrowed(*value)));
        }
        self.format(id, Some(&args))
    }

    fn format(&self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::error!(id, lang = self.lang.tag(), "missing message");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::error!(
                id,
                lang = self.lang.tag(),
                ?errors,
                "message did not format"
            );
        }
        text.into_owned()
    }

    /// The message `id` for a count of `n`: `$count` chooses the plural form, `$value` is
    /// the count written the language's way.
    pub fn count(&self, id: &str, n: u64) -> String {
        let mut args = FluentArgs::new();
        args.set("count", FluentValue::from(n));
        args.set("value", FluentValue::from(self.number(n)));
        self.format(id, Some(&args))
    }

    /// A count with the language's digit grouping (1,234 / 1.234).
    pub fn number(&self, n: u64) -> String {
        let separator = match self.lang {
            Lang::EnUs => ',',
            Lang::DeDe => '.',
        };
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(separator);
            }
            out.push(c);
        }
        out
    }

    /// A moment (unix seconds), in UTC, the language's way.
    pub fn date(&self, unix_secs: i64) -> String {
        let Ok(at) = jiff::Timestamp::from_second(unix_secs) else {
            return unix_secs.to_string();
        };
        let format = match self.lang {
            Lang::EnUs => "%m/%d/%Y %I:%M %p UTC",
            Lang::DeDe => "%d.%m.%Y %H:%M UTC",
        };
        at.strftime(format).to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ids(catalogue: &str) -> BTreeSet<&str> {
        catalogue
            .lines()
            .filter_map(|l| l.split_once(" ="))
            .map(|(id, _)| id)
            .filter(|id| !id.is_empty() && !id.starts_with([' ', '#', '.']))
            .collect()
    }

    #[test]
    fn every_catalogue_is_complete_and_formats() {
        let l10n = L10n::new();
        let english = ids(Lang::EnUs.catalogue());
        assert!(english.len() > 40, "{english:?}");
        for lang in Lang::ALL {
            assert_eq!(ids(lang.catalogue()), english, "{}", lang.tag());
            let tr = l10n.tr(lang);
            for id in &english {
                let text = tr.args(id, &[("value", "x"), ("max", "1"), ("count", "2")]);
                assert!(!text.is_empty() && text != *id, "{}: {id}", lang.tag());
            }
        }
    }

    #[test]
    fn clientlang_then_accept_language_then_english() {
        assert_eq!(Lang::choose(Some("de-DE"), Some("en-US")), Lang::DeDe);
        assert_eq!(Lang::choose(Some("de-AT"), None), Lang::DeDe);
        assert_eq!(Lang::choose(Some("fr-FR"), Some("de")), Lang::DeDe);
        assert_eq!(
            Lang::choose(None, Some("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.85")),
            Lang::DeDe
        );
        assert_eq!(Lang::choose(None, Some("de;q=0, en-GB")), Lang::EnUs);
        assert_eq!(Lang::choose(None, Some("fr")), Lang::EnUs);
        assert_eq!(Lang::choose(None, None), Lang::EnUs);
    }

    #[test]
    fn numbers_and_dates_per_language() {
        let l10n = L10n::new();
        let (en, de) = (l10n.tr(Lang::EnUs), l10n.tr(Lang::DeDe));
        assert_eq!(en.number(1_234_567), "1,234,567");
        assert_eq!(de.number(1_234_567), "1.234.567");
        assert_eq!(en.number(12), "12");
        assert_eq!(en.count("members-count", 1), "1 member");
        assert_eq!(en.count("members-count", 1234), "1,234 members");
        assert_eq!(de.count("members-count", 1), "1 Mitglied");
        assert_eq!(de.count("members-count", 2), "2 Mitglieder");
        // 2026-12-04 23:05:00 UTC
        assert_eq!(en.date(1_796_425_500), "12/04/2026 11:05 PM UTC");
        assert_eq!(de.date(1_796_425_500), "04.12.2026 23:05 UTC");
    }
}
