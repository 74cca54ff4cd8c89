//! GPT-2's reversible map between bytes and printable characters.
//!
//! Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 onwards in order.

use std::sync::OnceLock;

use crate::hash::FastMap;

/// Both directions of the byte <-> character map.
pub(crate) struct ByteMap {
    /// Byte to character.
    pub to_char: [char; 256],
    /// Character back to byte.
    pub to_byte: FastMap<char, u8>,
}

fn is_printable_latin1(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The shared map.
pub(crate) fn byte_map() -> &'static ByteMap {
    static MAP: OnceLock<ByteMap> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut to_char = ['\0'; 256];
        let mut next_extra = 256u32;
        for b in 0..=255u8 {
            to_char[b as usize] = if is_printable_latin1(b) {
                b as char
            } else {
                let c = char::from_u32(next_extra).unwrap_or('\u{fffd}');
                next_extra += 1;
                c
            };
        }
        let to_byte = to_char.iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
        ByteMap { to_char, to_byte }
    })
}

/// The byte-level string of `bytes` (one character per byte).
pub(crate) fn bytes_to_token_string(bytes: &[u8]) -> String {
    let map = byte_map();
    bytes.iter().map(|b| map.to_char[*b as usize]).collect()
}

/// Bytes back from a byte-level token string; characters outside the map keep their UTF-8 bytes.
pub(crate) fn token_string_to_bytes(token: &str, out: &mut Vec<u8>) {
    let map = byte_map();
    for c in token.chars() {
        match map.to_byte.get(&c) {
            Some(b) => out.push(*b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_is_a_bijection_with_gpt2_landmarks() {
        let map = byte_map();
        assert_eq!(map.to_byte.len(), 256);
        assert_eq!(map.to_char[b' ' as usize], '\u{120}');
        assert_eq!(map.to_char[b'\n' as usize], '\u{10a}');
        assert_eq!(map.to_char[b'a' as usize], 'a');
    }
}
