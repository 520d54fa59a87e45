//! Ascending lists of log positions (and times), delta-encoded: the audit index holds five of
//! them with an entry per event, so their size is the index's size. A `Vec<u64>` spends eight
//! bytes per entry; the gaps between one actor's or one stream's events mostly fit in one or
//! two bytes.
//!
//! Every `BLOCK`-th value is kept whole, with where the next values' deltas start, so a search
//! jumps to the right block by binary search and decodes at most one block.

use serde::{Deserialize, Serialize};

/// Values per block: a search decodes at most this many.
const BLOCK: usize = 32;

/// A non-decreasing list of `u64`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PositionList {
    /// The first value of each block, and the offset in `deltas` of the block's next value.
    heads: Vec<(u64, usize)>,
    /// LEB128 differences to the previous value, for every value that does not start a block.
    deltas: Vec<u8>,
    len: usize,
    last: u64,
}

/// A value that would make the list descend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{value} follows {last}: the list must not descend")]
pub struct Descending {
    pub last: u64,
    pub value: u64,
}

impl PositionList {
    pub const EMPTY: PositionList = PositionList { heads: Vec::new(), deltas: Vec::new(), len: 0, last: 0 };

    /// Appends `value`, which must not be smaller than the last one.
    pub fn push(&mut self, value: u64) -> Result<(), Descending> {
        if self.len > 0 && value < self.last {
            return Err(Descending { last: self.last, value });
        }
        if self.len.is_multiple_of(BLOCK) {
            self.heads.push((value, self.deltas.len()));
        } else {
            let mut delta = value - self.last;
            while delta >= 0x80 {
                self.deltas.push((delta as u8) | 0x80);
                delta >>= 7;
            }
            self.deltas.push(delta as u8);
        }
        self.last = value;
        self.len += 1;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every value, ascending.
    pub fn iter(&self) -> Iter<'_> {
        Iter { list: self, index: 0, offset: 0, value: 0 }
    }

    /// The values from the first one at least `min` on.
    pub fn iter_from(&self, min: u64) -> Iter<'_> {
        let block = self.heads.partition_point(|&(head, _)| head < min).saturating_sub(1);
        let mut it = Iter { list: self, index: block * BLOCK, offset: 0, value: 0 };
        loop {
            let mut ahead = it.clone();
            match ahead.next() {
                Some(v) if v < min => it = ahead,
                _ => return it,
            }
        }
    }

    /// How many values are smaller than `value`.
    pub fn count_below(&self, value: u64) -> usize {
        let block = self.heads.partition_point(|&(head, _)| head < value);
        if block == 0 {
            return 0;
        }
        let start = (block - 1) * BLOCK;
        let it = Iter { list: self, index: start, offset: 0, value: 0 };
        start + it.take(BLOCK).take_while(|&v| v < value).count()
    }
}

/// The values of a `PositionList`, ascending.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    list: &'a PositionList,
    index: usize,
    offset: usize,
    value: u64,
}

impl Iterator for Iter<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.index >= self.list.len {
            return None;
        }
        if self.index.is_multiple_of(BLOCK) {
            (self.value, self.offset) = self.list.heads[self.index / BLOCK];
        } else {
            let (mut delta, mut shift) = (0u64, 0);
            loop {
                let byte = self.list.deltas[self.offset];
                self.offset += 1;
                delta |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    break;
                }
                shift += 7;
            }
            self.value += delta;
        }
        self.index += 1;
        Some(self.value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.list.len - self.index.min(self.list.len);
        (left, Some(left))
    }
}

/// The parts of a `PositionList` as a binary checkpoint holds them: loaded without decoding
/// and re-encoding every value, and checked whole before use ([`PositionList::from_parts`]).
#[derive(Serialize, Deserialize)]
struct Parts {
    len: u64,
    last: u64,
    heads: Vec<(u64, u64)>,
    #[serde(with = "bytes")]
    deltas: Vec<u8>,
}

/// The same, borrowed from the list as it is written.
#[derive(Serialize)]
struct PartsOut<'a> {
    len: u64,
    last: u64,
    heads: &'a [(u64, usize)],
    #[serde(serialize_with = "bytes::serialize")]
    deltas: &'a [u8],
}

/// A byte string as one value (`serialize_bytes`), not a sequence of numbers.
mod bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

impl PositionList {
    /// A list from its parts, after checking that they are one: a head per block, offsets
    /// that ascend within `deltas`, each block's deltas exactly its values, no value above
    /// `u64::MAX`, no block starting below the one before it ends, and `last` the last value.
    /// Parts that are not (a damaged checkpoint) are an error naming the first fault, never a
    /// list that answers wrongly or panics.
    fn from_parts(parts: Parts) -> Result<Self, String> {
        let Parts { len, last, heads, deltas } = parts;
        let len = usize::try_from(len).map_err(|_| format!("{len} values cannot be held here"))?;
        if heads.len() != len.div_ceil(BLOCK) {
            return Err(format!("{} block heads for {len} values", heads.len()));
        }
        let mut value = 0u64;
        let mut offset = 0usize;
        for (b, &(head, start)) in heads.iter().enumerate() {
            if start != offset as u64 {
                return Err(format!(
                    "block {b} starts at byte {start}, the deltas before it end at {offset}"
                ));
            }
            if b > 0 && head < value {
                return Err(format!("block {b} starts at {head}, below {value}"));
            }
            value = head;
            for _ in 1..(len - b * BLOCK).min(BLOCK) {
                let (mut delta, mut shift) = (0u64, 0u32);
                loop {
                    let byte = *deltas.get(offset).ok_or_else(|| format!("the deltas end in block {b}"))?;
                    offset += 1;
                    if shift > 63 || (shift == 63 && byte > 1) {
                        return Err(format!("a delta of block {b} is too long"));
                    }
                    delta |= u64::from(byte & 0x7f) << shift;
                    if byte < 0x80 {
                        break;
                    }
                    shift += 7;
                }
                value = value.checked_add(delta).ok_or_else(|| format!("a value of block {b} overflows"))?;
            }
        }
        if offset != deltas.len() {
            return Err(format!("{} bytes of deltas after the last value", deltas.len() - offset));
        }
        if value != last {
            return Err(format!("the last value is {value}, the list says {last}"));
        }
        let heads = heads.into_iter().map(|(head, start)| (head, start as usize)).collect();
        Ok(PositionList { heads, deltas, len, last })
    }
}

/// Written as the plain list of values where people read it (JSON), and as its parts in a
/// binary checkpoint (loaded without re-encoding).
impl Serialize for PositionList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.collect_seq(self.iter());
        }
        PartsOut { len: self.len as u64, last: self.last, heads: &self.heads, deltas: &self.deltas }
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PositionList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return PositionList::from_parts(Parts::deserialize(d)?).map_err(serde::de::Error::custom);
        }
        let mut list = PositionList::default();
        for v in Vec::<u64>::deserialize(d)? {
            list.push(v).map_err(serde::de::Error::custom)?;
        }
        Ok(list)
    }
}

/// A non-decreasing list of times (microseconds since the epoch, which may be negative),
/// kept as a `PositionList` of order-preserving unsigned values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeList(PositionList);

fn unsigned(t: i64) -> u64 {
    (t as u64) ^ (1 << 63)
}

fn signed(v: u64) -> i64 {
    (v ^ (1 << 63)) as i64
}

impl TimeList {
    pub fn push(&mut self, micros: i64) -> Result<(), Descending> {
        self.0.push(unsigned(micros))
    }

    /// Appends `micros`, or the last time when that is later. The stores never let time run
    /// backwards along the log (and refuse imports that do); a log written before they checked
    /// imports is indexed as if such an event had been recorded with the one before it.
    pub fn push_clamped(&mut self, micros: i64) {
        let value = if self.0.is_empty() { unsigned(micros) } else { unsigned(micros).max(self.0.last) };
        // Never below the last value: cannot be refused.
        let _ = self.0.push(value);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The last time.
    pub fn last(&self) -> Option<i64> {
        (!self.0.is_empty()).then(|| signed(self.0.last))
    }

    /// How many times are earlier than `micros`.
    pub fn count_below(&self, micros: i64) -> usize {
        self.0.count_below(unsigned(micros))
    }

    /// How many times are at or before `micros`.
    pub fn count_at_most(&self, micros: i64) -> usize {
        match micros.checked_add(1) {
            Some(next) => self.count_below(next),
            None => self.len(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.0.iter().map(signed)
    }
}

impl Serialize for TimeList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.collect_seq(self.iter());
        }
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TimeList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return PositionList::deserialize(d).map(TimeList);
        }
        let mut list = TimeList::default();
        for t in Vec::<i64>::deserialize(d)? {
            list.push(t).map_err(serde::de::Error::custom)?;
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(values: &[u64]) -> PositionList {
        let mut l = PositionList::default();
        for &v in values {
            l.push(v).expect("ascending");
        }
        l
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_vec(mut values in proptest::collection::vec(0u64..1 << 40, 0..300), probes in proptest::collection::vec(0u64..1 << 40, 1..20)) {
            values.sort_unstable();
            let l = list(&values);
            prop_assert_eq!(l.len(), values.len());
            prop_assert_eq!(l.iter().collect::<Vec<_>>(), values.clone());
            for p in probes.into_iter().chain(values.iter().copied().take(5)) {
                let from = values.partition_point(|&v| v < p);
                prop_assert_eq!(l.iter_from(p).collect::<Vec<_>>(), values[from..].to_vec());
                prop_assert_eq!(l.count_below(p), from);
            }
            let json = serde_json::to_string(&l).expect("json");
            prop_assert_eq!(serde_json::from_str::<PositionList>(&json).expect("back"), l.clone());
            // The checkpoint's binary form: its parts, loaded as they are.
            let binary = postcard::to_allocvec(&l).expect("binary");
            prop_assert_eq!(postcard::from_bytes::<PositionList>(&binary).expect("back"), l);
        }

        /// Damaged parts (a byte changed, the end cut) are refused, or make a list that is
        /// whole in itself: it never panics or answers out of order.
        #[test]
        fn damaged_parts_never_make_a_broken_list(mut values in proptest::collection::vec(0u64..1 << 40, 0..200), at in any::<usize>(), xor in 1u8.., cut in any::<bool>()) {
            values.sort_unstable();
            let mut binary = postcard::to_allocvec(&list(&values)).expect("binary");
            let at = at % binary.len();
            if cut { binary.truncate(at) } else { binary[at] ^= xor }
            if let Ok(l) = postcard::from_bytes::<PositionList>(&binary) {
                let got: Vec<u64> = l.iter().collect();
                prop_assert_eq!(got.len(), l.len());
                prop_assert!(got.windows(2).all(|w| w[0] <= w[1]));
                for &p in got.iter().take(3) {
                    prop_assert_eq!(l.count_below(p), got.partition_point(|&v| v < p));
                    prop_assert_eq!(l.iter_from(p).count(), got.len() - got.partition_point(|&v| v < p));
                }
            }
        }

        #[test]
        fn times_keep_their_order_across_zero(mut times in proptest::collection::vec(any::<i64>(), 0..100), probe in any::<i64>()) {
            times.sort_unstable();
            let mut l = TimeList::default();
            for &t in &times {
                l.push(t).expect("ascending");
            }
            prop_assert_eq!(l.iter().collect::<Vec<_>>(), times.clone());
            prop_assert_eq!(l.count_below(probe), times.partition_point(|&t| t < probe));
            prop_assert_eq!(l.count_at_most(probe), times.partition_point(|&t| t <= probe));
        }
    }

    #[test]
    fn a_time_before_the_last_is_indexed_as_the_last() {
        let mut l = TimeList::default();
        for t in [5, 9, 7, 12] {
            l.push_clamped(t);
        }
        assert_eq!(l.iter().collect::<Vec<_>>(), [5, 9, 9, 12]);
        assert_eq!(l.last(), Some(12));
        assert_eq!(TimeList::default().last(), None);
    }

    #[test]
    fn a_descending_value_is_refused_and_changes_nothing() {
        let mut l = list(&[3, 9]);
        assert_eq!(l.push(8), Err(Descending { last: 9, value: 8 }));
        assert_eq!(l.iter().collect::<Vec<_>>(), [3, 9]);
        assert!(serde_json::from_str::<PositionList>("[5, 4]").is_err());
    }

    #[test]
    fn dense_positions_take_about_a_byte_each() {
        let l = list(&(1..=100_000).map(|p| p * 3).collect::<Vec<_>>());
        let bytes = l.deltas.len() + l.heads.len() * std::mem::size_of::<(u64, usize)>();
        assert!(bytes < 160_000, "{bytes} bytes for 100,000 positions");
    }
}
