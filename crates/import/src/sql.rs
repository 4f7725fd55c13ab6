//! A tokenizer for mysqldump output as Wikimedia publishes it: `CREATE TABLE` gives the
//! table and its column order, each `INSERT INTO … VALUES (…),(…);` line holds rows.

use std::borrow::Cow;
use std::io::BufRead;

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Str(Cow<'a, [u8]>),
}

impl Value<'_> {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => std::str::from_utf8(s).ok()?.parse().ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(String::from_utf8_lossy(s)),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            _ => None,
        }
    }
}

/// A row of integers as the values `Visitor::row` takes.
pub fn int_values(row: &[i64]) -> Vec<Value<'static>> {
    row.iter().map(|&i| Value::Int(i)).collect()
}

/// A row that could not be read: byte position in the decompressed file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub position: u64,
    pub reason: String,
}

/// What a dump reader reports.
pub trait Visitor {
    /// A `CREATE TABLE` with its column names in order.
    fn table(&mut self, name: &str, columns: &[String]);
    /// One row, starting at `position` in the decompressed file; an `Err` reports the row
    /// as bad (at that position) and reading goes on.
    fn row(&mut self, row: &[Value<'_>], position: u64) -> Result<(), String>;
    /// A row of plain integers only (every row of the current link tables): what `row`
    /// would be given as [`Value::Int`]s, and by default handed to it so. Nearly every row of
    /// a dump is one, and a visitor may take them without the values.
    fn int_row(&mut self, row: &[i64], position: u64) -> Result<(), String> {
        self.row(&int_values(row), position)
    }
    fn bad(&mut self, bad: BadRow);
}

/// Reads a dump, reporting tables, rows and malformed rows to `v`. Lines that lie whole in
/// the reader's buffer are tokenised there; one cut by its end is pieced together (a
/// dump's `INSERT` lines are about 1 MB each, the readers of compressed dumps give chunks
/// of several: `read_until` copied every byte into a line of its own).
pub fn read_dump<R: BufRead>(mut input: R, v: &mut impl Visitor) -> std::io::Result<()> {
    let mut lines = Lines {
        offset: 0,
        columns: None,
    };
    // The start of a line cut by the end of the buffer before.
    let mut cut = Vec::new();
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            if !cut.is_empty() {
                lines.line(&cut, v);
            }
            return Ok(());
        }
        let len = chunk.len();
        let mut start = 0;
        if !cut.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(end) => {
                    cut.extend_from_slice(&chunk[..=end]);
                    lines.line(&cut, v);
                    cut.clear();
                    start = end + 1;
                }
                None => {
                    cut.extend_from_slice(chunk);
                    start = len;
                }
            }
        }
        while let Some(end) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + end + 1;
            lines.line(&chunk[start..end], v);
            start = end;
        }
        cut.extend_from_slice(&chunk[start..]);
        input.consume(len);
    }
}

/// What [`read_dump`] keeps from line to line.
struct Lines {
    /// Where the next line starts in the decompressed file.
    offset: u64,
    /// A `CREATE TABLE`'s name and its columns so far, until its `)`.
    columns: Option<Vec<String>>,
}

impl Lines {
    fn line(&mut self, line: &[u8], v: &mut impl Visitor) {
        let start = self.offset;
        self.offset += line.len() as u64;
        if let Some(cols) = self.columns.as_mut() {
            let l = trim(line);
            if l.starts_with(b")") {
                let cols = self.columns.take().expect("checked");
                v.table(current_name(&cols), &cols[1..]);
            } else if let Some(rest) = l.strip_prefix(b"`") {
                if let Some(end) = memchr::memchr(b'`', rest) {
                    cols.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                }
            }
            return;
        }
        if let Some(rest) = line.strip_prefix(b"CREATE TABLE `") {
            if let Some(end) = memchr::memchr(b'`', rest) {
                // The table name travels as the first element until the columns are complete.
                self.columns = Some(vec![String::from_utf8_lossy(&rest[..end]).into_owned()]);
            }
            return;
        }
        if let Some(rest) = line.strip_prefix(b"INSERT INTO `") {
            let Some(end) = memchr::memchr(b'`', rest) else {
                return;
            };
            let body = &rest[end + 1..];
            let Some(at) = find(body, b"VALUES ") else {
                v.bad(BadRow {
                    position: start,
                    reason: "INSERT without VALUES".into(),
                });
                return;
            };
            let base = start + (13 + end + 1 + at + 7) as u64;
            parse_tuples(&body[at + 7..], base, v);
        }
    }
}

fn current_name(cols: &[String]) -> &str {
    &cols[0]
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[s..]
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    memchr::memmem::find(h, n)
}

/// Parses `(…),(…);` calling `row` per tuple. A malformed tuple is reported and skipped:
/// parsing resumes at the next `),(`.
fn parse_tuples(b: &[u8], base: u64, v: &mut impl Visitor) {
    let mut values = Vec::new();
    let mut ints = [0i64; QUICK_INTS];
    // A table's rows are alike: once one is not all plain integers, the rest of the
    // statement is read the general way without trying the quick one first.
    let mut quick = true;
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() || b[i] == b';' {
            return;
        }
        let tuple_start = i;
        if let Some((end, n)) = quick.then(|| int_tuple(b, i, &mut ints)).flatten() {
            i = end;
            if let Err(reason) = v.int_row(&ints[..n], base + tuple_start as u64) {
                v.bad(BadRow {
                    position: base + tuple_start as u64,
                    reason,
                });
            }
            continue;
        }
        quick = false;
        values.clear();
        match parse_tuple(b, &mut i, &mut values) {
            Ok(()) => {
                if let Err(reason) = v.row(&values, base + tuple_start as u64) {
                    v.bad(BadRow {
                        position: base + tuple_start as u64,
                        reason,
                    });
                }
            }
            Err(reason) => {
                v.bad(BadRow {
                    position: base + i as u64,
                    reason,
                });
                match find(&b[i..], b"),(") {
                    Some(p) => i += p + 2,
                    None => return,
                }
            }
        }
    }
}

fn parse_tuple<'a>(b: &'a [u8], i: &mut usize, values: &mut Vec<Value<'a>>) -> Result<(), String> {
    if b.get(*i) != Some(&b'(') {
        return Err("expected '('".into());
    }
    *i += 1;
    loop {
        values.push(parse_value(b, i)?);
        match b.get(*i) {
            Some(b',') => *i += 1,
            Some(b')') => {
                *i += 1;
                return Ok(());
            }
            _ => return Err("expected ',' or ')' after a value".into()),
        }
    }
}

/// Integers a tuple is read the quick way with at most (the link tables' have three); a
/// longer one is read the general way.
const QUICK_INTS: usize = 8;

/// A tuple of plain integers at `i` into `ints`: where it ends and how many it holds;
/// `None` (and the general reading) for any other tuple. Inlined, with [`plain_int`], into
/// the loop over a statement's tuples: called, they were a third of reading a link row.
#[inline(always)]
fn int_tuple(b: &[u8], mut i: usize, ints: &mut [i64; QUICK_INTS]) -> Option<(usize, usize)> {
    if b.get(i) != Some(&b'(') {
        return None;
    }
    i += 1;
    let mut n = 0;
    loop {
        *ints.get_mut(n)? = plain_int(b, &mut i)?;
        n += 1;
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b')') => return Some((i + 1, n)),
            _ => return None,
        }
    }
}

fn parse_value<'a>(b: &'a [u8], i: &mut usize) -> Result<Value<'a>, String> {
    match b.get(*i) {
        Some(b'\'') => {
            *i += 1;
            let start = *i;
            let mut owned: Option<Vec<u8>> = None;
            loop {
                let Some(&c) = b.get(*i) else {
                    return Err("unterminated string".into());
                };
                match c {
                    b'\'' => {
                        let v = match owned {
                            Some(o) => Cow::Owned(o),
                            None => Cow::Borrowed(&b[start..*i]),
                        };
                        *i += 1;
                        return Ok(Value::Str(v));
                    }
                    b'\\' => {
                        let o = owned.get_or_insert_with(|| b[start..*i].to_vec());
                        let Some(&e) = b.get(*i + 1) else {
                            return Err("unterminated escape".into());
                        };
                        o.push(unescaped(e));
                        *i += 2;
                    }
                    _ => {
                        // Straight on to the next quote or backslash.
                        let run = memchr::memchr2(b'\'', b'\\', &b[*i..]).unwrap_or(b.len() - *i);
                        if let Some(o) = owned.as_mut() {
                            o.extend_from_slice(&b[*i..*i + run]);
                        }
                        *i += run;
                    }
                }
            }
        }
        Some(b'N') if b[*i..].starts_with(b"NULL") => {
            *i += 4;
            Ok(Value::Null)
        }
        Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'+' => {
            let start = *i;
            if let Some(v) = plain_int(b, i) {
                return Ok(Value::Int(v));
            }
            *i += 1;
            while *i < b.len()
                && (b[*i].is_ascii_digit() || matches!(b[*i], b'.' | b'e' | b'E' | b'-' | b'+'))
            {
                *i += 1;
            }
            let s = std::str::from_utf8(&b[start..*i]).map_err(|e| e.to_string())?;
            if let Ok(v) = s.parse::<i64>() {
                Ok(Value::Int(v))
            } else {
                s.parse::<f64>()
                    .map(Value::Float)
                    .map_err(|_| format!("bad number {s:?}"))
            }
        }
        _ => Err("expected a value".into()),
    }
}

/// The byte a backslash escape in a mysqldump string stands for.
fn unescaped(e: u8) -> u8 {
    match e {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'0' => 0,
        b'Z' => 0x1a,
        b'b' => 8,
        other => other,
    }
}

/// An optionally negative run of digits that fits an `i64` and is not followed by more of a
/// number (`.`, an exponent): the ids and namespaces that make up nearly every row. Leaves
/// `i` alone when the number is anything else.
#[inline(always)]
fn plain_int(b: &[u8], i: &mut usize) -> Option<i64> {
    let mut j = *i;
    let negative = b.get(j) == Some(&b'-');
    if negative {
        j += 1;
    }
    let digits = j;
    // Unchecked while it cannot overflow (18 digits), checked only past that: nearly
    // every number of a dump is an id, and this is a tenth of reading one.
    let mut v: u64 = 0;
    while let Some(d) = b.get(j).map(|d| d.wrapping_sub(b'0')).filter(|&d| d <= 9) {
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        j += 1;
    }
    if j == digits
        || b.get(j)
            .is_some_and(|c| matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    let v = if j - digits <= 18 {
        let v = v as i64;
        if negative {
            -v
        } else {
            v
        }
    } else {
        b[digits..j].iter().try_fold(0i64, |v, d| {
            let d = i64::from(d - b'0');
            v.checked_mul(10).and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
        })?
    };
    *i = j;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    #[test]
    fn tables_rows_escapes_and_bad_rows() {
        let dump = "-- MySQL dump\nCREATE TABLE `pagelinks` (\n  `pl_from` int(8) unsigned NOT NULL,\n  `pl_namespace` int(11) NOT NULL,\n  `pl_title` varbinary(255) NOT NULL,\n  PRIMARY KEY (`pl_from`)\n) ENGINE=InnoDB;\nINSERT INTO `pagelinks` VALUES (1,0,'It\\'s'),(2,-1,'A\\\\B'),(3,0,oops),(4,0,'Ok'),(5,NULL,'x');\n";
        #[derive(Default)]
        struct Rec {
            tables: Vec<(String, Vec<String>)>,
            rows: Vec<(Option<i64>, Option<i64>, Option<String>)>,
            bad: Vec<BadRow>,
        }
        impl Visitor for Rec {
            fn table(&mut self, name: &str, cols: &[String]) {
                self.tables.push((name.to_string(), cols.to_vec()));
            }
            fn row(&mut self, r: &[Value<'_>], _: u64) -> Result<(), String> {
                self.rows.push((
                    r[0].as_i64(),
                    r[1].as_i64(),
                    r[2].as_str().map(|s| s.into_owned()),
                ));
                Ok(())
            }
            fn bad(&mut self, b: BadRow) {
                self.bad.push(b);
            }
        }
        let mut rec = Rec::default();
        read_dump(dump.as_bytes(), &mut rec).unwrap();
        let Rec { tables, rows, bad } = rec;
        assert_eq!(
            tables,
            vec![(
                "pagelinks".to_string(),
                vec![
                    "pl_from".to_string(),
                    "pl_namespace".into(),
                    "pl_title".into()
                ]
            )]
        );
        assert_eq!(rows[0], (Some(1), Some(0), Some("It's".into())));
        assert_eq!(rows[1], (Some(2), Some(-1), Some("A\\B".into())));
        assert_eq!(rows[2], (Some(4), Some(0), Some("Ok".into())));
        assert_eq!(rows[3], (Some(5), None, Some("x".into())));
        assert_eq!(bad.len(), 1);
        let pos = bad[0].position as usize;
        assert!(dump[..pos].ends_with("(3,0,"), "{:?}", &dump[..pos]);
    }

    /// What the tokenizer made of a value before the fast paths: numbers through `str::parse`,
    /// strings byte by byte.
    fn reference_value(text: &[u8]) -> Option<Value<'static>> {
        if let Some(body) = text.strip_prefix(b"'").and_then(|t| t.strip_suffix(b"'")) {
            let mut out = Vec::new();
            let mut it = body.iter();
            while let Some(&c) = it.next() {
                if c == b'\\' {
                    out.push(unescaped(*it.next()?));
                } else if c == b'\'' {
                    return None;
                } else {
                    out.push(c);
                }
            }
            return Some(Value::Str(Cow::Owned(out)));
        }
        if !text
            .first()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+'))
        {
            return None;
        }
        let s = std::str::from_utf8(text).ok()?;
        s.parse::<i64>()
            .map(Value::Int)
            .ok()
            .or_else(|| s.parse::<f64>().ok().map(Value::Float))
    }

    proptest::proptest! {
        #[test]
        fn values_read_as_the_plain_reading_would(
            text in proptest::string::string_regex("-?[0-9]{0,21}([.eE][-+]?[0-9]{0,3})?|'([a-z_ ]|\\\\[nrt0Zb'\\\\x]){0,12}'").unwrap(),
            n in proptest::num::i64::ANY,
        ) {
            for text in [text, n.to_string()] {
                let tuple = format!("({text})");
                let mut i = 0;
                let mut values = Vec::new();
                let got = parse_tuple(tuple.as_bytes(), &mut i, &mut values).ok().map(|()| values);
                match reference_value(text.as_bytes()) {
                    Some(want) => {
                        let got = got.expect("a value the reference reads");
                        proptest::prop_assert_eq!(got.len(), 1);
                        match (&got[0], &want) {
                            (Value::Float(a), Value::Float(b)) => proptest::prop_assert_eq!(a.to_bits(), b.to_bits()),
                            (a, b) => proptest::prop_assert_eq!(a, b),
                        }
                        proptest::prop_assert_eq!(i, tuple.len());
                    }
                    None => proptest::prop_assert!(got.is_none(), "{text:?} read as {got:?}"),
                }
            }
        }

        /// A dump reads alike through buffers of any size, a line cut by the buffer's end
        /// or longer than the buffer, its last line ended or not, given in reads of any size.
        #[test]
        fn dumps_read_alike_through_any_buffer(
            statements in proptest::collection::vec(
                proptest::collection::vec((proptest::num::i32::ANY, 0u8..3, "[a-z']{0,6}"), 0..8),
                0..6,
            ),
            size in 1usize..300,
            piece in 1usize..50,
            last_ended in proptest::bool::ANY,
        ) {
            #[derive(Default, Debug, PartialEq)]
            struct Rec(Vec<String>);
            impl Visitor for Rec {
                fn table(&mut self, name: &str, cols: &[String]) {
                    self.0.push(format!("table {name} {cols:?}"));
                }
                fn row(&mut self, row: &[Value<'_>], position: u64) -> Result<(), String> {
                    self.0.push(format!("row {position} {row:?}"));
                    Ok(())
                }
                fn int_row(&mut self, row: &[i64], position: u64) -> Result<(), String> {
                    self.0.push(format!("int {position} {row:?}"));
                    Ok(())
                }
                fn bad(&mut self, b: BadRow) {
                    self.0.push(format!("bad {b:?}"));
                }
            }
            /// Gives at most `piece` bytes a read.
            struct Pieces<'a>(&'a [u8], usize);
            impl std::io::Read for Pieces<'_> {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    let n = buf.len().min(self.1).min(self.0.len());
                    buf[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut dump = String::from("-- a comment\nCREATE TABLE `t` (\n  `a` int,\n  `b` int,\n  `c` varbinary(9)\n);\n");
            for rows in &statements {
                let tuples: Vec<String> = rows
                    .iter()
                    .map(|(a, b, c)| if *b == 0 { format!("({a},{b},'{c}')") } else { format!("({a},{b},{b})") })
                    .collect();
                dump += &format!("INSERT INTO `t` VALUES {};\n", tuples.join(","));
            }
            if !last_ended {
                dump.pop();
            }
            let mut whole = Rec::default();
            read_dump(dump.as_bytes(), &mut whole).unwrap();
            let mut cut = Rec::default();
            read_dump(std::io::BufReader::with_capacity(size, Pieces(dump.as_bytes(), piece)), &mut cut).unwrap();
            proptest::prop_assert_eq!(&cut, &whole);
            proptest::prop_assert_eq!(whole.0.iter().filter(|l| !l.starts_with("table")).count() > 0, statements.iter().any(|r| !r.is_empty()));
        }

        /// Tuples of plain integers take the quick way (`int_row`) until a tuple of a
        /// statement is not one, and are read as any other tuple would be.
        #[test]
        fn integer_rows_read_as_any_row_would(
            rows in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        proptest::num::i64::ANY.prop_map(|n| n.to_string()),
                        proptest::string::string_regex("-?[0-9]{1,21}").unwrap(),
                        proptest::strategy::Just("NULL".to_string()),
                        proptest::strategy::Just("'a,b'".to_string()),
                        proptest::strategy::Just("1.5".to_string()),
                    ],
                    1..5,
                ),
                1..6,
            ),
        ) {
            #[derive(Default)]
            struct Seen(Vec<(u64, Vec<Value<'static>>, bool)>);
            fn owned(v: &Value<'_>) -> Value<'static> {
                match v {
                    Value::Null => Value::Null,
                    Value::Int(i) => Value::Int(*i),
                    Value::Float(f) => Value::Float(*f),
                    Value::Str(s) => Value::Str(Cow::Owned(s.to_vec())),
                }
            }
            impl Visitor for Seen {
                fn table(&mut self, _: &str, _: &[String]) {}
                fn row(&mut self, row: &[Value<'_>], position: u64) -> Result<(), String> {
                    self.0.push((position, row.iter().map(owned).collect(), false));
                    Ok(())
                }
                fn int_row(&mut self, row: &[i64], position: u64) -> Result<(), String> {
                    self.0.push((position, row.iter().map(|&i| Value::Int(i)).collect(), true));
                    Ok(())
                }
                fn bad(&mut self, b: BadRow) {
                    panic!("{b:?}");
                }
            }
            let tuples: Vec<String> = rows.iter().map(|r| format!("({})", r.join(","))).collect();
            let body = tuples.join(",") + ";";
            let mut seen = Seen::default();
            parse_tuples(body.as_bytes(), 0, &mut seen);
            proptest::prop_assert_eq!(seen.0.len(), rows.len());
            let mut at = 0;
            let mut all_plain = true;
            for ((position, got, quick), (texts, tuple)) in seen.0.iter().zip(rows.iter().zip(&tuples)) {
                let want: Vec<Value<'static>> = texts
                    .iter()
                    .map(|t| match t.as_str() {
                        "NULL" => Value::Null,
                        t => reference_value(t.as_bytes()).expect("a value"),
                    })
                    .collect();
                proptest::prop_assert_eq!(*position, at as u64);
                proptest::prop_assert_eq!(got, &want);
                all_plain &= want.iter().all(|v| matches!(v, Value::Int(_)));
                proptest::prop_assert_eq!(*quick, all_plain, "{}", tuple);
                at += tuple.len() + 1;
            }
        }
    }
}
