//! Cookies read from files, waiting to be used: kept in file order with an index by domain,
//! so that a request looks only at the domains that can match its host, and saving writes
//! the untouched ones back where they were. Which cookies match, and how responses change
//! them, is `cookie_store`'s business once a cookie has moved there.

use std::collections::HashMap;

use super::netscape::{CompactRecord, Line, Record};

#[derive(Debug, Default)]
pub struct FileCookies {
    records: Vec<CompactRecord>,
    /// Domain to group, group to the indexes of its cookies. Files list a domain's cookies
    /// together, so the last group is checked before hashing.
    by_domain: HashMap<String, usize>,
    groups: Vec<Vec<usize>>,
    last_group: usize,
    /// Which cookies were handed to the store, by index.
    moved: Vec<bool>,
}

/// The domains a cookie must have to match `host`, each with whether host-only cookies
/// count: the host itself (all of its cookies), then each parent domain (domain cookies
/// only). An IP address is only itself.
pub fn candidate_domains(host: &str) -> impl Iterator<Item = (&str, bool)> {
    let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
    let parents = host
        .match_indices('.')
        .map(move |(i, _)| &host[i + 1..])
        .filter(move |_| !is_ip);
    std::iter::once((host, true)).chain(parents.map(|d| (d, false)))
}

impl FileCookies {
    pub fn push(&mut self, r: CompactRecord) {
        let i = self.records.len();
        let same_as_last = self
            .records
            .last()
            .is_some_and(|l| l.domain() == r.domain());
        let group = if same_as_last {
            self.last_group
        } else if let Some(&g) = self.by_domain.get(r.domain()) {
            g
        } else {
            self.groups.push(Vec::new());
            self.by_domain
                .insert(r.domain().to_owned(), self.groups.len() - 1);
            self.groups.len() - 1
        };
        self.last_group = group;
        self.groups[group].push(i);
        self.records.push(r);
        self.moved.push(false);
    }

    /// The waiting cookies that could match `host`, with their index.
    pub fn candidates<'a>(
        &'a self,
        host: &'a str,
    ) -> impl Iterator<Item = (usize, &'a CompactRecord)> {
        candidate_domains(host)
            .filter_map(|(d, exact)| Some((&self.groups[*self.by_domain.get(d)?], exact)))
            .flat_map(move |(indexes, exact)| {
                indexes
                    .iter()
                    .map(move |&i| (i, &self.records[i]))
                    .filter(move |(_, r)| exact || r.flags.include_subdomains)
            })
            .filter(|(i, _)| !self.moved[*i])
    }

    /// Marks the cookies that could match `host` as moved and returns copies of them.
    pub fn take(&mut self, host: &str) -> Vec<Record> {
        let taken: Vec<(usize, Record)> = self
            .candidates(host)
            .map(|(i, r)| (i, r.to_record()))
            .collect();
        taken
            .into_iter()
            .map(|(i, r)| {
                self.moved[i] = true;
                r
            })
            .collect()
    }

    /// Every cookie in file order, with whether it moved to the store.
    pub fn iter(&self) -> impl Iterator<Item = (bool, &CompactRecord)> {
        self.records
            .iter()
            .enumerate()
            .map(|(i, r)| (self.moved[i], r))
    }

    /// The indexes of the cookies whose domain is `domain`.
    pub fn indexes_of(&self, domain: &str) -> &[usize] {
        self.by_domain
            .get(domain)
            .map_or(&[], |&g| self.groups[g].as_slice())
    }

    pub fn get(&self, i: usize) -> &CompactRecord {
        &self.records[i]
    }

    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookies::netscape::parse_compact;

    #[test]
    fn candidates_are_the_host_and_domain_cookies_of_its_parents() {
        let d: Vec<(&str, bool)> = candidate_domains("a.b.example.com").collect();
        assert_eq!(
            d,
            [
                ("a.b.example.com", true),
                ("b.example.com", false),
                ("example.com", false),
                ("com", false)
            ]
        );
        assert_eq!(candidate_domains("127.0.0.1").count(), 1);
        let mut f = FileCookies::default();
        let compact = |r: Record| parse_compact(&r.to_string()).records.remove(0);
        f.push(compact(Record::new("example.com", "host-only", "1")));
        f.push(compact(Record {
            include_subdomains: true,
            ..Record::new("example.com", "domain", "1")
        }));
        f.push(compact(Record::new("www.example.com", "www", "1")));
        let names = |f: &FileCookies, h: &str| -> Vec<String> {
            f.candidates(h).map(|(_, r)| r.name().to_owned()).collect()
        };
        assert_eq!(names(&f, "www.example.com"), ["www", "domain"]);
        assert_eq!(names(&f, "example.com"), ["host-only", "domain"]);
        assert_eq!(f.take("www.example.com").len(), 2);
        assert_eq!(names(&f, "example.com"), ["host-only"]);
        let moved: Vec<bool> = f.iter().map(|(m, _)| m).collect();
        assert_eq!(moved, [false, true, true]);
    }
}
