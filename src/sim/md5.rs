//! Streaming MD5, only for Glance's legacy `checksum` field (the image data's MD5 in hex, which
//! clients still compare) and Nova's keypair fingerprints. Not used for anything that needs a
//! secure hash. The hashing is RustCrypto's `md-5`; this keeps the two callers' small API.

use ::md5::Digest;

#[derive(Default)]
pub struct Md5(::md5::Md5);

impl Md5 {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn hex(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Md5;

    fn md5(data: &[u8]) -> String {
        let mut hasher = Md5::default();
        hasher.update(data);
        hasher.hex()
    }

    #[test]
    fn rfc_1321_test_suite() {
        assert_eq!(md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn chunked_input_hashes_like_one_piece() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut hasher = Md5::default();
        for chunk in data.chunks(7) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.hex(), md5(&data));
    }
}
