//! Which watch events of a cached kind change what a reconcile would decide, and so must wake the
//! VRG that owns the object. Each object's signature (its phase, whether it is being deleted) is
//! remembered by name. A relist after a watch gap replaces the memory wholesale: an object whose
//! signature changed in the gap, or that appeared or went in it, wakes its owner, and a name that
//! went is forgotten. The first listing wakes no one: every VRG is reconciled at start anyway.

use std::collections::HashMap;

pub struct Signatures<O> {
    /// Signature and owner of each object, by name.
    seen: HashMap<String, (String, O)>,
    /// The listing under way, once a relist started.
    relisting: Option<HashMap<String, (String, O)>>,
    /// A listing completed before: the next one is a relist after a gap.
    listed_before: bool,
}

impl<O> Default for Signatures<O> {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
            relisting: None,
            listed_before: false,
        }
    }
}

impl<O: Clone> Signatures<O> {
    /// A (re)list starts.
    pub fn list_started(&mut self) {
        self.relisting = Some(HashMap::new());
    }

    /// An object of the listing: its owner, if it must be woken.
    pub fn listed(&mut self, name: &str, signature: String, owner: O) -> Option<O> {
        let changed = self.listed_before
            && self
                .seen
                .get(name)
                .is_none_or(|(before, _)| *before != signature);
        match self.relisting.as_mut() {
            Some(listing) => listing.insert(name.to_owned(), (signature, owner.clone())),
            None => self
                .seen
                .insert(name.to_owned(), (signature, owner.clone())),
        };
        changed.then_some(owner)
    }

    /// The listing is complete: the owners of the objects that went while the watch was away.
    pub fn list_done(&mut self) -> Vec<O> {
        let Some(listing) = self.relisting.take() else {
            self.listed_before = true;
            return vec![];
        };
        let before = std::mem::replace(&mut self.seen, listing);
        let gone = if self.listed_before {
            before
                .into_iter()
                .filter(|(name, _)| !self.seen.contains_key(name))
                .map(|(_, (_, owner))| owner)
                .collect()
        } else {
            vec![]
        };
        self.listed_before = true;
        gone
    }

    /// An object was added or modified: its owner, if its signature changed.
    pub fn applied(&mut self, name: &str, signature: String, owner: O) -> Option<O> {
        let before = self
            .seen
            .insert(name.to_owned(), (signature.clone(), owner.clone()));
        (before.is_none_or(|(b, _)| b != signature)).then_some(owner)
    }

    /// An object was deleted: forget it.
    pub fn deleted(&mut self, name: &str) {
        self.seen.remove(name);
    }

    /// How many objects are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Signatures;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn the_first_listing_wakes_no_one_and_a_phase_change_wakes_the_owner_once() {
        let mut sig = Signatures::default();
        sig.list_started();
        assert_eq!(sig.listed("b1", s("InProgress/false"), "vrg-a"), None);
        assert_eq!(sig.list_done(), Vec::<&str>::new());
        assert_eq!(sig.applied("b1", s("InProgress/false"), "vrg-a"), None);
        assert_eq!(
            sig.applied("b1", s("Completed/false"), "vrg-a"),
            Some("vrg-a")
        );
        assert_eq!(sig.applied("b2", s("/false"), "vrg-b"), Some("vrg-b"));
        sig.deleted("b2");
        assert_eq!(sig.len(), 1);
    }

    #[test]
    fn a_relist_wakes_owners_of_what_changed_appeared_or_went_during_the_gap_and_forgets_the_gone()
    {
        let mut sig = Signatures::default();
        sig.list_started();
        sig.listed("same", s("Completed/false"), "a");
        sig.listed("changes", s("InProgress/false"), "b");
        sig.listed("goes", s("Completed/false"), "c");
        sig.list_done();

        sig.list_started();
        assert_eq!(sig.listed("same", s("Completed/false"), "a"), None);
        assert_eq!(sig.listed("changes", s("Failed/false"), "b"), Some("b"));
        assert_eq!(sig.listed("new", s("/false"), "d"), Some("d"));
        assert_eq!(sig.list_done(), vec!["c"]);
        assert_eq!(sig.len(), 3);
        // What the relist showed is what is remembered now.
        assert_eq!(sig.applied("changes", s("Failed/false"), "b"), None);
    }
}
