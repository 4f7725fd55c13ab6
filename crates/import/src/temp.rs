//! Disk-backed scratch maps for imports (template texts, link-target ids), so that memory
//! stays bounded whatever the dump size. Recent writes stay in memory until they exceed a
//! budget, then go to a temporary redb file that is deleted with the map.
//!
//! Scratch files are unnamed ([`tempfile::tempfile`]): the system frees them when the
//! process ends, however it ends. Named ones stayed behind an import killed or interrupted
//! (Ctrl-C runs no destructors), a parked-pages file of an XML import among them.

use crate::ImportError;
use redb::backends::FileBackend;
use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, TableDefinition};
use std::cell::RefCell;
use std::collections::HashMap;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("scratch");

pub struct TempKv {
    pending: HashMap<Vec<u8>, Vec<u8>, foldhash::fast::RandomState>,
    /// The spilled table, opened once for the lookups that follow a spill (a read
    /// transaction per lookup showed in import profiles).
    reader: RefCell<Option<ReadOnlyTable<&'static [u8], &'static [u8]>>>,
    pending_bytes: usize,
    budget: usize,
    db: Option<Database>,
}

fn temp_err(e: impl std::fmt::Display) -> ImportError {
    ImportError::Temp(e.to_string())
}

impl TempKv {
    pub fn new(budget: usize) -> Result<Self, ImportError> {
        Ok(TempKv {
            pending: HashMap::default(),
            reader: RefCell::new(None),
            pending_bytes: 0,
            budget,
            db: None,
        })
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), ImportError> {
        self.pending_bytes += key.len() + value.len() + 32;
        self.pending.insert(key, value);
        if self.pending_bytes > self.budget {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ImportError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.db.is_none() {
            let file = scratch_file().map_err(temp_err)?;
            // redb's default cache (1 GiB) would take a 10-million-page import past 2 GB;
            // this map's share of the import's memory is its budget, once more for reads.
            self.db = Some(
                Database::builder()
                    .set_cache_size(self.budget.max(16 << 20))
                    .create_with_backend(FileBackend::new(file).map_err(temp_err)?)
                    .map_err(temp_err)?,
            );
        }
        let db = self.db.as_ref().expect("created above");
        let mut txn = db.begin_write().map_err(temp_err)?;
        // Scratch data need not survive a crash: the import starts over.
        let _ = txn.set_durability(Durability::None);
        {
            let mut t = txn.open_table(TABLE).map_err(temp_err)?;
            let mut entries: Vec<_> = self.pending.drain().collect();
            entries.sort_unstable();
            for (k, v) in entries {
                t.insert(k.as_slice(), v.as_slice()).map_err(temp_err)?;
            }
        }
        txn.commit().map_err(temp_err)?;
        self.pending_bytes = 0;
        self.reader.replace(None);
        Ok(())
    }

    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(v) = self.pending.get(key) {
            return Some(v.clone());
        }
        let db = self.db.as_ref()?;
        let mut reader = self.reader.borrow_mut();
        if reader.is_none() {
            *reader = Some(db.begin_read().ok()?.open_table(TABLE).ok()?);
        }
        let v = reader.as_ref()?.get(key).ok()??.value().to_vec();
        Some(v)
    }
}

/// A scratch file with no name, in the system's temporary directory.
pub(crate) fn scratch_file() -> std::io::Result<std::fs::File> {
    tempfile::tempfile()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_disk_and_reads_back() {
        let mut kv = TempKv::new(1000).unwrap();
        for i in 0u32..500 {
            kv.put(i.to_be_bytes().to_vec(), format!("value {i}").into_bytes())
                .unwrap();
        }
        assert!(kv.db.is_some(), "the budget forces a spill");
        for i in 0u32..500 {
            assert_eq!(
                kv.get(&i.to_be_bytes()).unwrap(),
                format!("value {i}").into_bytes()
            );
        }
        assert_eq!(kv.get(b"missing"), None);
    }
}
