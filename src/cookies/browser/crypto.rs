//! Chromium's cookie-value encryption on Linux, through the `openssl` crate (no hand-written
//! crypto). A value starts with `v10` (key from the fixed password "peanuts", used when no
//! keyring is there) or `v11` (key from a password kept in the Secret Service or KWallet);
//! both are AES-128-CBC with an IV of 16 spaces and a key from PBKDF2-HMAC-SHA1 with salt
//! "saltysalt" and one round. From `meta` version 24 on, the plaintext starts with
//! SHA-256(host_key), which binds the value to its host.

use openssl::hash::{MessageDigest, hash};
use openssl::pkcs5::pbkdf2_hmac;
use openssl::symm::{Cipher, decrypt};

/// The password Chromium uses on Linux when it has no keyring (`v10` values).
pub const V10_PASSWORD: &[u8] = b"peanuts";
const SALT: &[u8] = b"saltysalt";
const IV: [u8; 16] = [b' '; 16];

/// A 16-byte AES-128 key.
pub type Key = [u8; 16];

/// PBKDF2 rounds of the macOS key (the Keychain password, `v10` values there).
pub const MACOS_ROUNDS: u32 = 1003;

/// The key Chromium derives from `password` on Linux (one PBKDF2 round).
pub fn derive_key(password: &[u8]) -> Key {
    derive_key_rounds(password, 1)
}

/// The key Chromium derives from `password` with `rounds` PBKDF2-HMAC-SHA1 rounds.
pub fn derive_key_rounds(password: &[u8], rounds: u32) -> Key {
    let mut key = [0u8; 16];
    // PBKDF2 into a 16-byte buffer with a valid digest cannot fail; a zero key would only
    // make every decryption fail with a clear error.
    let _ = pbkdf2_hmac(
        password,
        SALT,
        usize::try_from(rounds).unwrap_or(1),
        MessageDigest::sha1(),
        &mut key,
    );
    key
}

/// How an encrypted value is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    V10,
    V11,
    /// Windows' app-bound encryption (`v20`): only the browser itself can read it.
    AppBound,
    Unknown,
}

/// The scheme of an `encrypted_value` and the ciphertext after its 3-byte mark.
pub fn split(encrypted: &[u8]) -> (Scheme, &[u8]) {
    let scheme = match encrypted.get(..3) {
        Some(b"v10") => Scheme::V10,
        Some(b"v11") => Scheme::V11,
        Some(b"v20") => Scheme::AppBound,
        _ => return (Scheme::Unknown, encrypted),
    };
    (scheme, &encrypted[3..])
}

/// AES-128-CBC decryption (PKCS#7 padding); `None` when the key is wrong.
pub fn decrypt_cbc(key: &Key, ciphertext: &[u8]) -> Option<Vec<u8>> {
    decrypt(Cipher::aes_128_cbc(), key, Some(&IV), ciphertext).ok()
}

/// The cookie value in a decrypted plaintext: with `meta` version 24 and later the first 32
/// bytes must be SHA-256(host_key) (anything else means a wrong key or a moved value).
pub fn strip_host_hash<'a>(plain: &'a [u8], host_key: &str, hashed: bool) -> Option<&'a [u8]> {
    if !hashed {
        return Some(plain);
    }
    let digest = hash(MessageDigest::sha256(), host_key.as_bytes()).ok()?;
    let (prefix, value) = plain.split_at_checked(32)?;
    (prefix == &digest[..]).then_some(value)
}

#[cfg(test)]
/// Encrypts as Chromium does (for the tests of this module): `v10`/`v11` mark + AES-CBC
/// of (SHA-256(host_key) when `hashed`) + value.
pub(crate) fn encrypt_for_test(
    mark: &[u8; 3],
    key: &Key,
    host_key: &str,
    value: &[u8],
    hashed: bool,
) -> Vec<u8> {
    let mut plain = Vec::new();
    if hashed {
        plain.extend_from_slice(
            &hash(MessageDigest::sha256(), host_key.as_bytes())
                .map(|d| d.to_vec())
                .unwrap_or_default(),
        );
    }
    plain.extend_from_slice(value);
    let mut out = mark.to_vec();
    out.extend(
        openssl::symm::encrypt(Cipher::aes_128_cbc(), key, Some(&IV), &plain).unwrap_or_default(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v10_key_is_chromiums() {
        // The well-known v10 key on Linux (as yt-dlp and browser_cookie3 hard-code it).
        assert_eq!(
            derive_key(V10_PASSWORD),
            *b"\xfd\x62\x1f\xe5\xa2\xb4\x02\x53\x9d\xfa\x14\x7c\xa9\x27\x27\x78"
        );
    }

    #[test]
    fn round_trip_with_and_without_host_hash() {
        let key = derive_key(V10_PASSWORD);
        for hashed in [false, true] {
            let enc = encrypt_for_test(b"v10", &key, ".example.com", b"a=b c", hashed);
            let (scheme, ct) = split(&enc);
            assert_eq!(scheme, Scheme::V10);
            let plain = decrypt_cbc(&key, ct).expect("decrypts");
            assert_eq!(
                strip_host_hash(&plain, ".example.com", hashed),
                Some(&b"a=b c"[..])
            );
        }
    }

    #[test]
    fn wrong_host_or_key_is_refused() {
        let key = derive_key(V10_PASSWORD);
        let enc = encrypt_for_test(b"v11", &key, "a.example", b"secret", true);
        let plain = decrypt_cbc(&key, &enc[3..]).expect("decrypts");
        assert_eq!(strip_host_hash(&plain, "b.example", true), None);
        let other = derive_key(b"not peanuts");
        assert!(
            decrypt_cbc(&other, &enc[3..])
                .is_none_or(|p| strip_host_hash(&p, "a.example", true).is_none())
        );
        assert_eq!(split(b"v20xyz").0, Scheme::AppBound);
        assert_eq!(split(b"").0, Scheme::Unknown);
    }
}
