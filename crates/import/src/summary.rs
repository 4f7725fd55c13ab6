use crate::xml::Skipped;
use std::fmt;
use std::time::Duration;

/// What an import did. Printed at the end of `inlink import`.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub source: String,
    pub format: &'static str,
    pub pages: u64,
    pub redirects: u64,
    /// Link rows written per `LinkKind`, in `LinkKind::ALL` order.
    pub links: [u64; 4],
    pub skipped: u64,
    /// The first skipped records, with position and reason.
    pub skipped_examples: Vec<Skipped>,
    /// Pages whose templates appeared later in the dump, parsed again at the end.
    pub deferred: u64,
    /// Pages with parser functions or Lua calls left unexpanded.
    pub pages_with_unexpanded: u64,
    /// Blocks and block references of notes.
    pub blocks: u64,
    pub block_refs: u64,
    pub input_bytes: u64,
    pub elapsed: Duration,
    /// Time spent writing to the index (on the writer thread while parsing goes on).
    pub store_time: Duration,
}

const EXAMPLES: usize = 20;

impl Summary {
    pub(crate) fn skip(&mut self, s: Skipped) {
        self.skipped += 1;
        if self.skipped_examples.len() < EXAMPLES {
            self.skipped_examples.push(s);
        }
    }

    /// `count` records skipped, of which `examples` are the first.
    pub(crate) fn skip_many(&mut self, count: u64, examples: Vec<Skipped>) {
        self.skipped += count;
        let room = EXAMPLES.saturating_sub(self.skipped_examples.len());
        self.skipped_examples
            .extend(examples.into_iter().take(room));
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "{} ({}): {:.2} s, {:.1} MB/s of input",
            self.source,
            self.format,
            secs,
            self.input_bytes as f64 / 1e6 / secs.max(1e-9)
        )?;
        writeln!(
            f,
            "  pages {}  redirects {}  (index writes {:.2} s)",
            self.pages,
            self.redirects,
            self.store_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "  links: pagelinks {}  templatelinks {}  imagelinks {}  categorylinks {}",
            self.links[0], self.links[1], self.links[2], self.links[3]
        )?;
        if self.format == "mediawiki-xml" {
            writeln!(f, "  deferred (templates later in the dump) {}  pages with unexpanded parser functions {}", self.deferred, self.pages_with_unexpanded)?;
        }
        if self.blocks > 0 {
            writeln!(
                f,
                "  blocks {}  block references {}",
                self.blocks, self.block_refs
            )?;
        }
        write!(f, "  skipped records {}", self.skipped)?;
        for s in &self.skipped_examples {
            write!(f, "\n    at byte {}: {}", s.position, s.reason)?;
        }
        if self.skipped > self.skipped_examples.len() as u64 {
            write!(
                f,
                "\n    … and {} more",
                self.skipped - self.skipped_examples.len() as u64
            )?;
        }
        Ok(())
    }
}
