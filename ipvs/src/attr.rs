//! Netlink attribute (TLV) writer and reader for the IPVS payloads.
//!
//! Layout of one attribute: `u16 nla_len` (header + value, unpadded), `u16 nla_type`, value,
//! then zero padding to a 4-byte boundary. Integers are host order unless the kernel uses a
//! `__be16`/`__be32` (ports, IPv4 netmask, IPv4 multicast group), which are written as such.

use crate::error::DecodeError;

const HEADER_LEN: usize = 4;
/// Attribute type bits; the top two bits are the NESTED and NET_BYTEORDER flags.
const TYPE_MASK: u16 = 0x3fff;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends attributes to a byte buffer.
#[derive(Debug, Default)]
pub struct AttrWriter {
    buf: Vec<u8>,
}

impl AttrWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn bytes(&mut self, kind: u16, value: &[u8]) {
        // nla_len is a u16; callers validate names first, so this only guards against misuse.
        let value = &value[..value.len().min(usize::from(u16::MAX) - HEADER_LEN)];
        let len16 = (HEADER_LEN + value.len()) as u16;
        self.buf.extend_from_slice(&len16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    pub fn u8(&mut self, kind: u16, v: u8) {
        self.bytes(kind, &[v]);
    }

    pub fn u16(&mut self, kind: u16, v: u16) {
        self.bytes(kind, &v.to_ne_bytes());
    }

    pub fn be16(&mut self, kind: u16, v: u16) {
        self.bytes(kind, &v.to_be_bytes());
    }

    pub fn u32(&mut self, kind: u16, v: u32) {
        self.bytes(kind, &v.to_ne_bytes());
    }

    /// A NUL-terminated string, as the kernel's NLA_NUL_STRING policy wants.
    pub fn string(&mut self, kind: u16, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.bytes(kind, &v);
    }

    /// A nested attribute whose content is written by `f`. The NLA_F_NESTED flag is not set,
    /// as the kernel itself does not set it in IPVS replies and its IPVS parser ignores it.
    pub fn nested(&mut self, kind: u16, f: impl FnOnce(&mut AttrWriter)) {
        let mut inner = AttrWriter::new();
        f(&mut inner);
        self.bytes(kind, &inner.buf);
    }
}

/// One attribute as read from a buffer.
#[derive(Debug, Clone, Copy)]
pub struct Attr<'a> {
    pub kind: u16,
    pub value: &'a [u8],
}

/// Splits a buffer into attributes, failing on truncation rather than panicking.
pub fn parse(mut buf: &[u8]) -> Result<Vec<Attr<'_>>, DecodeError> {
    let mut out = Vec::new();
    while buf.len() >= HEADER_LEN {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & TYPE_MASK;
        if len < HEADER_LEN || len > buf.len() {
            return Err(DecodeError::BadAttrLength {
                kind,
                len,
                available: buf.len(),
            });
        }
        out.push(Attr {
            kind,
            value: &buf[HEADER_LEN..len],
        });
        buf = &buf[align4(len).min(buf.len())..];
    }
    Ok(out)
}

/// Attributes indexed by type for lookups; the last occurrence wins, as in the kernel.
pub struct AttrSet<'a> {
    attrs: Vec<Attr<'a>>,
    context: &'static str,
}

impl<'a> AttrSet<'a> {
    pub fn parse(buf: &'a [u8], context: &'static str) -> Result<Self, DecodeError> {
        Ok(Self {
            attrs: parse(buf)?,
            context,
        })
    }

    pub fn get(&self, kind: u16) -> Option<&'a [u8]> {
        self.attrs
            .iter()
            .rev()
            .find(|a| a.kind == kind)
            .map(|a| a.value)
    }

    pub fn has(&self, kind: u16) -> bool {
        self.get(kind).is_some()
    }

    fn fixed<const N: usize>(&self, kind: u16) -> Result<Option<[u8; N]>, DecodeError> {
        match self.get(kind) {
            None => Ok(None),
            Some(v) if v.len() >= N => {
                let mut a = [0u8; N];
                a.copy_from_slice(&v[..N]);
                Ok(Some(a))
            }
            Some(v) => Err(DecodeError::BadValue {
                context: self.context,
                kind,
                len: v.len(),
            }),
        }
    }

    pub fn u8(&self, kind: u16) -> Result<Option<u8>, DecodeError> {
        Ok(self.fixed::<1>(kind)?.map(|b| b[0]))
    }

    pub fn u16(&self, kind: u16) -> Result<Option<u16>, DecodeError> {
        Ok(self.fixed::<2>(kind)?.map(u16::from_ne_bytes))
    }

    pub fn be16(&self, kind: u16) -> Result<Option<u16>, DecodeError> {
        Ok(self.fixed::<2>(kind)?.map(u16::from_be_bytes))
    }

    pub fn u32(&self, kind: u16) -> Result<Option<u32>, DecodeError> {
        Ok(self.fixed::<4>(kind)?.map(u32::from_ne_bytes))
    }

    /// A counter the kernel sends as u32 (STATS) or u64 (STATS64).
    pub fn uint(&self, kind: u16) -> Result<Option<u64>, DecodeError> {
        match self.get(kind).map(|v| v.len()) {
            None => Ok(None),
            Some(8) => Ok(self.fixed::<8>(kind)?.map(u64::from_ne_bytes)),
            Some(_) => Ok(self.u32(kind)?.map(u64::from)),
        }
    }

    /// A string up to its first NUL (the kernel's strings are NUL-terminated).
    pub fn string(&self, kind: u16) -> Result<Option<String>, DecodeError> {
        match self.get(kind) {
            None => Ok(None),
            Some(v) => {
                let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
                String::from_utf8(v[..end].to_vec())
                    .map(Some)
                    .map_err(|_| DecodeError::BadValue {
                        context: self.context,
                        kind,
                        len: v.len(),
                    })
            }
        }
    }

    pub fn require<T>(&self, kind: u16, v: Option<T>) -> Result<T, DecodeError> {
        v.ok_or(DecodeError::Missing {
            context: self.context,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_padded_tlvs_and_reads_them_back() {
        let mut w = AttrWriter::new();
        w.u8(7, 0xab);
        w.string(6, "rr");
        w.be16(4, 80);
        let b = w.into_bytes();
        // 5 bytes padded to 8, "rr\0" -> 7 padded to 8, be16 -> 6 padded to 8.
        assert_eq!(b.len(), 24);
        assert_eq!(&b[0..8], &[5, 0, 7, 0, 0xab, 0, 0, 0]);
        assert_eq!(&b[8..16], &[7, 0, 6, 0, b'r', b'r', 0, 0]);
        assert_eq!(&b[16..24], &[6, 0, 4, 0, 0, 80, 0, 0]);
        let set = AttrSet::parse(&b, "test").unwrap();
        assert_eq!(set.u8(7).unwrap(), Some(0xab));
        assert_eq!(set.string(6).unwrap().as_deref(), Some("rr"));
        assert_eq!(set.be16(4).unwrap(), Some(80));
        assert_eq!(set.u32(9).unwrap(), None);
    }

    #[test]
    fn truncated_attribute_is_an_error_not_a_panic() {
        let b = [12u8, 0, 1, 0, 1, 2];
        assert!(parse(&b).is_err());
        let short_value = [5u8, 0, 1, 0, 9, 0, 0, 0];
        let set = AttrSet::parse(&short_value, "test").unwrap();
        assert!(set.u32(1).is_err());
    }

    #[test]
    fn nested_flag_is_masked_on_read() {
        let b = [8u8, 0, 0x01, 0x80, 1, 0, 0, 0];
        let attrs = parse(&b).unwrap();
        assert_eq!(attrs[0].kind, 1);
    }
}
