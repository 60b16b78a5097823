//! When to make what, so that no admission fails while certificates change.
//!
//! The API server trusts the bundle in the ValidatingWebhookConfiguration's `caBundle`, and
//! each replica serves whatever serving certificate it last loaded. So a new CA joins the
//! bundle beside the old one first; only once the API server has been given it is a serving
//! certificate issued by it; the old CA leaves the bundle when it expires, by which time no
//! serving certificate it issued is valid any more. Serving certificates are renewed in the
//! last third of their lifetime, which leaves every replica time to load the new one.

use std::collections::BTreeSet;

use super::authority::Stored;

/// How long certificates last, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub ca: i64,
    pub serving: i64,
}

/// The next change to the stored certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Keep,
    /// Nothing usable is stored: a new CA and a serving certificate from it.
    Create,
    /// The newest CA is in its last third: a new CA in front of the bundle, serving unchanged.
    AddCa,
    /// A serving certificate from the newest CA (renewal, new hosts, or the CA changed).
    Issue,
    /// Drop the bundle's expired older CAs, keeping this many.
    Trim(usize),
}

/// What to change, given what is stored (None: nothing, or nothing readable), whether the API
/// server has been given the newest CA, the hosts the serving certificate must name, and the
/// time in Unix seconds.
pub fn next(
    stored: Option<&Stored>,
    newest_ca_published: bool,
    hosts: &BTreeSet<String>,
    now: i64,
) -> Change {
    let Some(stored) = stored else {
        return Change::Create;
    };
    let ca = stored.newest_ca();
    if ca.expired(now) {
        return Change::Create;
    }
    let serving = &stored.serving;
    let from_newest = serving.issuer == ca.subject;
    if ca.due(now) && from_newest {
        return Change::AddCa;
    }
    if !from_newest {
        // Issued by an older CA (or a CA no longer stored): move to the newest once the API
        // server trusts it, or at once if the old certificate is no use anyway.
        let trusted = stored.cas.iter().any(|c| c.subject == serving.issuer);
        if newest_ca_published || !trusted || serving.expired(now) {
            return Change::Issue;
        }
        return Change::Keep;
    }
    if serving.due(now) || serving.hosts != *hosts {
        return Change::Issue;
    }
    let live = 1 + stored.cas[1..]
        .iter()
        .take_while(|c| !c.expired(now))
        .count();
    if live < stored.cas.len() {
        return Change::Trim(live);
    }
    Change::Keep
}

#[cfg(test)]
mod tests {
    use super::super::authority::{Cert, new_ca};
    use super::*;

    const HOUR: i64 = 3600;

    fn hosts() -> BTreeSet<String> {
        ["webhook.ops.svc".to_owned()].into()
    }

    /// A CA valid from `from` to `to` and a serving certificate valid from `s_from` to `s_to`,
    /// issued by it; built by hand, since only dates and names matter here.
    fn cert(name: &str, issuer: &str, from: i64, to: i64) -> Cert {
        Cert {
            pem: String::new(),
            not_before: from,
            not_after: to,
            subject: name.as_bytes().to_vec(),
            issuer: issuer.as_bytes().to_vec(),
            hosts: hosts(),
        }
    }

    fn stored(cas: Vec<Cert>, serving: Cert) -> Stored {
        Stored {
            cas,
            ca_key: String::new(),
            serving,
            serving_key: String::new(),
        }
    }

    #[test]
    fn nothing_stored_or_an_expired_ca_starts_afresh() {
        assert_eq!(next(None, false, &hosts(), 0), Change::Create);
        let s = stored(
            vec![cert("ca1", "ca1", 0, 30 * HOUR)],
            cert("s", "ca1", 0, 3 * HOUR),
        );
        assert_eq!(next(Some(&s), true, &hosts(), 30 * HOUR), Change::Create);
    }

    #[test]
    fn a_fresh_pair_is_kept() {
        let s = stored(
            vec![cert("ca1", "ca1", 0, 30 * HOUR)],
            cert("s", "ca1", 0, 3 * HOUR),
        );
        assert_eq!(next(Some(&s), true, &hosts(), HOUR), Change::Keep);
    }

    #[test]
    fn a_serving_certificate_is_renewed_in_its_last_third_or_for_new_hosts() {
        let s = stored(
            vec![cert("ca1", "ca1", 0, 30 * HOUR)],
            cert("s", "ca1", 0, 3 * HOUR),
        );
        assert_eq!(next(Some(&s), true, &hosts(), 2 * HOUR), Change::Issue);
        let more: BTreeSet<String> = ["webhook.ops.svc".to_owned(), "127.0.0.1".to_owned()].into();
        assert_eq!(next(Some(&s), true, &more, HOUR), Change::Issue);
    }

    #[test]
    fn a_ca_rotation_publishes_the_new_ca_before_any_certificate_uses_it() {
        let old = cert("ca1", "ca1", 0, 30 * HOUR);
        let serving = cert("s", "ca1", 19 * HOUR, 22 * HOUR);
        // The CA's last third: a new CA joins, serving stays.
        let s = stored(vec![old.clone()], serving.clone());
        assert_eq!(next(Some(&s), true, &hosts(), 20 * HOUR), Change::AddCa);
        // Until the API server trusts it, the old CA's certificate keeps serving...
        let new = cert("ca2", "ca2", 20 * HOUR, 50 * HOUR);
        let s = stored(vec![new.clone(), old.clone()], serving);
        assert_eq!(next(Some(&s), false, &hosts(), 20 * HOUR), Change::Keep);
        // ...then the new CA issues.
        assert_eq!(next(Some(&s), true, &hosts(), 20 * HOUR), Change::Issue);
        // The old CA stays in the bundle until it expires.
        let s = stored(
            vec![new.clone(), old],
            cert("s2", "ca2", 20 * HOUR, 23 * HOUR),
        );
        assert_eq!(next(Some(&s), true, &hosts(), 21 * HOUR), Change::Keep);
        assert_eq!(next(Some(&s), true, &hosts(), 30 * HOUR), Change::Issue);
        let s = stored(
            vec![new, cert("ca1", "ca1", 0, 30 * HOUR)],
            cert("s3", "ca2", 30 * HOUR, 33 * HOUR),
        );
        assert_eq!(next(Some(&s), true, &hosts(), 30 * HOUR), Change::Trim(1));
    }

    #[test]
    fn a_certificate_from_a_ca_no_longer_stored_is_replaced_at_once() {
        let s = stored(
            vec![cert("ca2", "ca2", 0, 30 * HOUR)],
            cert("s", "someone-else", 0, 3 * HOUR),
        );
        assert_eq!(next(Some(&s), false, &hosts(), HOUR), Change::Issue);
    }

    #[test]
    fn real_certificates_decide_the_same() {
        let (ca, _) = new_ca(0, 30 * HOUR).unwrap();
        let serving = Cert {
            issuer: ca.subject.clone(),
            ..cert("s", "", 0, 3 * HOUR)
        };
        let s = stored(vec![ca], serving);
        assert_eq!(next(Some(&s), true, &hosts(), HOUR), Change::Keep);
    }
}
