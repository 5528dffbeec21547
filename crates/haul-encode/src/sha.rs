//! SHA-256 whose running state can be saved in a checkpoint and restored by
//! another process, so the published digest covers the whole object even when
//! an export resumes after a crash. The compression function is `sha2`'s; this
//! file only keeps the state, the partial block and the length (FIPS 180-4 §5-6).

use serde::{Deserialize, Serialize};
use sha2::digest::generic_array::GenericArray;

const BLOCK: usize = 64;
const INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumableSha256 {
    state: [u32; 8],
    /// Bytes not yet forming a whole 64-byte block.
    pending: Vec<u8>,
    /// Total bytes hashed so far.
    len: u64,
}

impl Default for ResumableSha256 {
    fn default() -> Self {
        Self {
            state: INITIAL,
            pending: Vec::with_capacity(BLOCK),
            len: 0,
        }
    }
}

impl ResumableSha256 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.pending.is_empty() {
            let take = (BLOCK - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() < BLOCK {
                return;
            }
            let block = std::mem::take(&mut self.pending);
            sha2::compress256(&mut self.state, &[*GenericArray::from_slice(&block)]);
            self.pending = block;
            self.pending.clear();
        }
        let whole = data.len() - data.len() % BLOCK;
        let blocks: Vec<_> = data[..whole]
            .chunks_exact(BLOCK)
            .map(|b| *GenericArray::from_slice(b))
            .collect();
        sha2::compress256(&mut self.state, &blocks);
        self.pending.extend_from_slice(&data[whole..]);
    }

    /// The digest of everything hashed so far (the state itself is unchanged).
    pub fn finalize(&self) -> [u8; 32] {
        let mut state = self.state;
        let mut tail = self.pending.clone();
        tail.push(0x80);
        while tail.len() % BLOCK != BLOCK - 8 {
            tail.push(0);
        }
        tail.extend_from_slice(&(self.len * 8).to_be_bytes());
        let blocks: Vec<_> = tail
            .chunks_exact(BLOCK)
            .map(|b| *GenericArray::from_slice(b))
            .collect();
        sha2::compress256(&mut state, &blocks);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    pub fn finalize_hex(&self) -> String {
        self.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn reference(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(
            ResumableSha256::new().finalize_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = ResumableSha256::new();
        h.update(b"abc");
        assert_eq!(
            h.finalize_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    proptest! {
        /// Any split of the input, with the state serialized and restored at
        /// every split, hashes like one pass over the whole input.
        #[test]
        fn resumes_across_any_split(data in proptest::collection::vec(any::<u8>(), 0..700), cuts in proptest::collection::vec(0usize..700, 0..6)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut h = ResumableSha256::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                h.update(&data[at..cut]);
                at = cut;
                let saved = serde_json::to_string(&h).unwrap();
                h = serde_json::from_str(&saved).unwrap();
            }
            prop_assert_eq!(h.finalize(), reference(&data));
            prop_assert_eq!(h.len(), data.len() as u64);
        }
    }
}
