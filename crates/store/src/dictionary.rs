//! The target dictionary of the compressed index: link-target titles → target ids, as a
//! finite-state transducer (the `fst` crate: shared prefixes and suffixes stored once,
//! looked up in place from bytes that may be memory-mapped). Keys are the namespace as four
//! big-endian bytes with the sign bit flipped (so keys sort by namespace number), then the
//! dbkey's UTF-8 — the order MediaWiki's `(namespace, title)` indexes use.

use fst::{Map, MapBuilder};

/// Bytes that are not a dictionary.
#[derive(Debug)]
pub struct Malformed(pub String);

fn key(ns: i32, dbkey: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + dbkey.len());
    k.extend_from_slice(&((ns as u32) ^ 0x8000_0000).to_be_bytes());
    k.extend_from_slice(dbkey.as_bytes());
    k
}

/// Builds a dictionary from `(namespace, dbkey, id)` entries in any order (sorted here; the
/// bulk build will feed it from an external sort).
pub fn build(entries: impl IntoIterator<Item = (i32, String, u64)>) -> Result<Vec<u8>, Malformed> {
    let mut keyed: Vec<(Vec<u8>, u64)> = entries
        .into_iter()
        .map(|(ns, t, id)| (key(ns, &t), id))
        .collect();
    keyed.sort_unstable();
    keyed.dedup_by(|a, b| a.0 == b.0);
    let mut b = MapBuilder::memory();
    for (k, id) in keyed {
        b.insert(k, id).map_err(|e| Malformed(e.to_string()))?;
    }
    b.into_inner().map_err(|e| Malformed(e.to_string()))
}

/// A dictionary read in place.
pub struct Dictionary<B: AsRef<[u8]>> {
    map: Map<B>,
}

impl<B: AsRef<[u8]>> Dictionary<B> {
    /// Checks the transducer's checksum first: `fst` trusts its bytes and may panic on
    /// damaged ones (found by the `dictionary` fuzz target), so none reach a lookup.
    pub fn new(bytes: B) -> Result<Self, Malformed> {
        let map = Map::new(bytes).map_err(|e| Malformed(e.to_string()))?;
        map.as_fst()
            .verify()
            .map_err(|e| Malformed(format!("checksum: {e}")))?;
        Ok(Dictionary { map })
    }

    pub fn get(&self, ns: i32, dbkey: &str) -> Option<u64> {
        self.map.get(key(ns, dbkey))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn namespaces_order_and_lookups() {
        let bytes = build([
            (0, "Main_Page".to_string(), 1),
            (-1, "Search".to_string(), 9),
            (10, "Infobox".to_string(), 2),
            (0, "Main_Page".to_string(), 7),
        ])
        .unwrap();
        let d = Dictionary::new(&bytes[..]).unwrap();
        assert_eq!(d.len(), 3, "one entry per title");
        assert_eq!(d.get(0, "Main_Page"), Some(1));
        assert_eq!(d.get(-1, "Search"), Some(9));
        assert_eq!(d.get(10, "Infobox"), Some(2));
        assert_eq!(d.get(1, "Main_Page"), None);
        assert!(key(-1, "") < key(0, "") && key(0, "zz") < key(1, ""));
    }

    proptest! {
        #[test]
        fn every_title_is_found(titles in proptest::collection::btree_map((-2i32..20, "\\\\PC{0,12}"), any::<u64>(), 0..300)) {
            let bytes = build(titles.iter().map(|((ns, t), id)| (*ns, t.clone(), *id))).unwrap();
            let d = Dictionary::new(bytes).unwrap();
            prop_assert_eq!(d.len(), titles.len());
            for ((ns, t), id) in &titles {
                prop_assert_eq!(d.get(*ns, t), Some(*id));
            }
        }

        #[test]
        fn garbage_is_refused_or_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(d) = Dictionary::new(bytes) {
                let _ = d.get(0, "x");
            }
        }
    }
}
