//! API keys: 256 random bits, shown once, stored as SHA-256.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Characters `haul keys list` shows and the key's row is found by (API.md).
pub const PREFIX_LEN: usize = 8;

/// 43 base62 characters carry 256 bits (62^43 > 2^256).
const KEY_LEN: usize = 43;
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new random key from the operating system's CSPRNG (rand's `ThreadRng`
/// is a CSPRNG seeded from it).
pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..KEY_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The key's lookup prefix, or `None` for input that cannot be a key.
pub fn prefix(key: &str) -> Option<&str> {
    let plausible = key.len() == KEY_LEN && key.bytes().all(|b| b.is_ascii_alphanumeric());
    plausible.then(|| &key[..PREFIX_LEN])
}

pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(prefix(&a), Some(&a[..8]));
        assert_eq!(prefix("short"), None);
        assert_eq!(prefix(&format!("{}!", &a[1..])), None);
        assert_ne!(hash(&a), hash(&b));
    }
}
