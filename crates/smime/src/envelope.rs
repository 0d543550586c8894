//! The enveloped-data message (RFC 8551 section 3.3), written as a stream.
//!
//! The message is the outer header (`outer.rs`) and, base64-encoded in lines of 76
//! characters (RFC 2045 6.8), a CMS `ContentInfo` holding an `EnvelopedData` (RFC 5652
//! section 6):
//!
//! ```text
//! ContentInfo ::= SEQUENCE { contentType id-envelopedData, content [0] EXPLICIT
//!   EnvelopedData ::= SEQUENCE {
//!     version 0,                                  -- RFC 5652 6.1: no originatorInfo,
//!     recipientInfos SET { KeyTransRecipientInfo { --   v0 recipients, no attributes
//!       version 0, rid issuerAndSerialNumber,
//!       keyEncryptionAlgorithm rsaEncryption,     -- RFC 8551 2.3, RFC 3370 4.2.1
//!       encryptedKey OCTET STRING } },             -- PKCS #1 v1.5 of the content key
//!     encryptedContentInfo SEQUENCE {
//!       contentType id-data,                      -- RFC 8551 3.2.2: MIME inside
//!       contentEncryptionAlgorithm aes128-CBC with the IV,
//!       encryptedContent [0] IMPLICIT OCTET STRING } } }
//! ```
//!
//! Content encryption is AES-128 CBC (RFC 8551 2.7: "MUST- support encryption and
//! decryption with AES-128 CBC"; 2.7.1.2: a sending agent that knows nothing of the
//! recipient's capabilities and does not use AES-256 GCM "SHOULD use AES-128 CBC".
//! GCM needs `authEnveloped-data`, which fewer clients read than `enveloped-data`).
//!
//! Streaming: the encrypted content's length is known before the first octet is read
//! (PKCS #7 padding, RFC 5652 6.3, always adds 1 to 16 octets), so every DER length is
//! known at the start and the encoding stays DER. Everything before the encrypted content
//! is encoded by `der` from the `cms` types with the content left out, then the
//! content's header, then each chunk as it is encrypted.

use crate::cert::Recipient;
use aes::Aes128;
use cbc::cipher::array::Array;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::enveloped_data::{
    EncryptedContentInfo, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo, RecipientInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{Null, OctetString};
use der::{Any, Encode, EncodeValue, Header, Length, Tag, TagNumber};
use rsa::rand_core::TryCryptoRng;
use rsa::traits::PublicKeyParts;
use rsa::Pkcs1v15Encrypt;
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroize;

/// AES block size.
const BLOCK: usize = 16;
/// Octets per base64 line: 57 octets make 76 characters (RFC 2045 6.8: "lines of no
/// more than 76 characters each").
const LINE_OCTETS: usize = 57;

/// Why a message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Larger than a DER length can say.
    #[error("message too large to encrypt ({0} octets)")]
    TooLarge(u64),
    /// The random source failed.
    #[error("random source failed: {0}")]
    Random(String),
    /// RSA encryption of the content key failed.
    #[error("RSA encryption of the content key failed: {0}")]
    Rsa(String),
    /// DER encoding failed.
    #[error("DER encoding failed: {0}")]
    Der(String),
    /// More content than announced to [`Enveloper::new`].
    #[error("message content longer than its announced {0} octets")]
    TooLong(u64),
    /// Less content than announced.
    #[error("message content shorter than its announced size ({missing} octets missing)")]
    TooShort {
        /// Octets not given.
        missing: u64,
    },
}

impl From<der::Error> for EnvelopeError {
    fn from(e: der::Error) -> EnvelopeError {
        EnvelopeError::Der(e.to_string())
    }
}

/// Writes one S/MIME enveloped-data message while the original is fed to it.
///
/// ```ignore
/// let outer = mailroom_smime::outer_header(&head, whole);
/// let mut out = Vec::new();
/// let mut e = Enveloper::new(&recipient, &outer, size, &mut rng, &mut out)?;
/// for chunk in original { e.update(chunk, &mut out)?; /* write out, clear it */ }
/// e.finish(&mut out)?;
/// ```
///
/// Each call appends the output it can make to `out` (the base64 of every whole line);
/// it keeps less than one line and one cipher block. [`Enveloper::len`] is the whole
/// message's length, known from the start.
pub struct Enveloper {
    cipher: cbc::Encryptor<Aes128>,
    /// Plaintext octets not yet a whole block.
    carry: [u8; BLOCK],
    carry_len: usize,
    /// Work buffer for one call's blocks.
    scratch: Vec<u8>,
    b64: Base64Lines,
    /// Plaintext octets still expected.
    remaining: u64,
    announced: u64,
    len: u64,
}

impl std::fmt::Debug for Enveloper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enveloper")
            .field("remaining", &self.remaining)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Enveloper {
    /// Starts a message to `recipient` whose original is `content_len` octets: appends
    /// `outer` (the outer header, see [`crate::outer_header`]) and the first base64
    /// lines to `out`. A fresh content-encryption key and IV come from `rng`.
    pub fn new<R: TryCryptoRng + ?Sized>(
        recipient: &Recipient,
        outer: &[u8],
        content_len: u64,
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> Result<Enveloper, EnvelopeError> {
        let mut cek = [0u8; BLOCK];
        let mut iv = [0u8; BLOCK];
        rng.try_fill_bytes(&mut cek)
            .and_then(|()| rng.try_fill_bytes(&mut iv))
            .map_err(|e| EnvelopeError::Random(e.to_string()))?;
        let enc_key = recipient
            .key()
            .encrypt(rng, Pkcs1v15Encrypt, &cek)
            .map_err(|e| EnvelopeError::Rsa(e.to_string()))?;
        let cipher = cbc::Encryptor::<Aes128>::new(&Array::from(cek), &Array::from(iv));
        cek.zeroize();
        let layout = layout(recipient, enc_key, &iv, content_len)?;
        let len = (outer.len() as u64).saturating_add(base64_len(layout.total));
        out.extend_from_slice(outer);
        let mut b64 = Base64Lines::default();
        b64.push(&layout.prefix, out);
        Ok(Enveloper {
            cipher,
            carry: [0; BLOCK],
            carry_len: 0,
            scratch: Vec::new(),
            b64,
            remaining: content_len,
            announced: content_len,
            len,
        })
    }

    /// The length of the whole message (outer header included) that `new` started.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: a message has at least its MIME fields and its envelope.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The length of the message [`Enveloper::new`] would write for an outer header of
    /// `outer_len` octets and an original of `content_len` octets (for quota checks
    /// before the original is read).
    pub fn message_len(
        recipient: &Recipient,
        outer_len: usize,
        content_len: u64,
    ) -> Result<u64, EnvelopeError> {
        // The encrypted key is as long as the modulus whatever the key (RFC 8017 7.2.1),
        // so zeros of that length give the same layout.
        let k = recipient.key().size();
        let layout = layout(recipient, vec![0; k], &[0; BLOCK], content_len)?;
        Ok((outer_len as u64).saturating_add(base64_len(layout.total)))
    }

    /// Encrypts the next octets of the original and appends the output to `out`.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if data.len() as u64 > self.remaining {
            return Err(EnvelopeError::TooLong(self.announced));
        }
        self.remaining -= data.len() as u64;
        let total = self.carry_len + data.len();
        if total < BLOCK {
            self.carry[self.carry_len..total].copy_from_slice(data);
            self.carry_len = total;
            return Ok(());
        }
        let whole = total / BLOCK * BLOCK;
        let keep = total - whole;
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&self.carry[..self.carry_len]);
        self.scratch.extend_from_slice(&data[..data.len() - keep]);
        self.carry[..keep].copy_from_slice(&data[data.len() - keep..]);
        self.carry_len = keep;
        let (blocks, _) = Array::slice_as_chunks_mut(&mut self.scratch);
        self.cipher.encrypt_blocks(blocks);
        self.b64.push(&self.scratch, out);
        Ok(())
    }

    /// Pads and encrypts the last block and appends the rest of the message to `out`.
    /// Fails if fewer octets came than announced.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if self.remaining > 0 {
            return Err(EnvelopeError::TooShort {
                missing: self.remaining,
            });
        }
        let mut last = [0u8; BLOCK];
        let mut b64 = self.b64;
        let block = self
            .cipher
            .encrypt_padded_b2b::<Pkcs7>(&self.carry[..self.carry_len], &mut last)
            .map_err(|_| EnvelopeError::Der("padding".into()))?;
        b64.push(block, out);
        b64.finish(out);
        Ok(())
    }
}

/// The DER before the encrypted content, and the length of the whole `ContentInfo`.
struct Layout {
    prefix: Vec<u8>,
    total: u64,
}

fn layout(
    recipient: &Recipient,
    enc_key: Vec<u8>,
    iv: &[u8; BLOCK],
    content_len: u64,
) -> Result<Layout, EnvelopeError> {
    let tbs = recipient.certificate().tbs_certificate();
    let ktri = KeyTransRecipientInfo {
        // RFC 5652 6.2.1: "If the RecipientIdentifier is issuerAndSerialNumber, then the
        // version MUST be 0."
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        // RFC 3370 4.2.1: rsaEncryption, "the parameters field MUST be present and MUST
        // contain NULL".
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: rfc5912::RSA_ENCRYPTION,
            parameters: Some(Any::from(Null)),
        },
        enc_key: OctetString::new(enc_key)?,
    };
    let recip_infos = RecipientInfos::try_from(vec![RecipientInfo::Ktri(ktri)])?;
    // RFC 3565 4.1: the AES-CBC parameters are the IV, an OCTET STRING.
    let eci = EncryptedContentInfo {
        content_type: rfc5911::ID_DATA,
        content_enc_alg: AlgorithmIdentifierOwned {
            oid: rfc5911::ID_AES_128_CBC,
            parameters: Some(Any::new(Tag::OctetString, iv.to_vec())?),
        },
        encrypted_content: None,
    };
    let too_large = || EnvelopeError::TooLarge(content_len);
    let ct =
        u32::try_from((content_len / BLOCK as u64 + 1) * BLOCK as u64).map_err(|_| too_large())?;
    let ct_len = Length::new(ct);
    let ct_header = Header::new(
        Tag::ContextSpecific {
            constructed: false,
            number: TagNumber(0),
        },
        ct_len,
    );
    let eci_len =
        (eci.value_len()? + ct_header.encoded_len()? + ct_len).map_err(|_| too_large())?;
    let eci_header = Header::new(Tag::Sequence, eci_len);
    // RFC 5652 6.1: no originatorInfo, no unprotectedAttrs, every RecipientInfo v0:
    // version 0.
    let version = CmsVersion::V0;
    let ed_len =
        (version.encoded_len()? + recip_infos.encoded_len()? + eci_header.encoded_len()? + eci_len)
            .map_err(|_| too_large())?;
    let ed_header = Header::new(Tag::Sequence, ed_len);
    let explicit_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    let ed_tlv = ed_len.for_tlv(Tag::Sequence).map_err(|_| too_large())?;
    let explicit = Header::new(explicit_tag, ed_tlv);
    let ci_len = (rfc5911::ID_ENVELOPED_DATA.encoded_len()?
        + ed_tlv.for_tlv(explicit_tag).map_err(|_| too_large())?)
    .map_err(|_| too_large())?;
    let ci_header = Header::new(Tag::Sequence, ci_len);
    let total = ci_len.for_tlv(Tag::Sequence).map_err(|_| too_large())?;

    let mut prefix = Vec::with_capacity(1024);
    ci_header.encode(&mut prefix)?;
    rfc5911::ID_ENVELOPED_DATA.encode(&mut prefix)?;
    explicit.encode(&mut prefix)?;
    ed_header.encode(&mut prefix)?;
    version.encode(&mut prefix)?;
    recip_infos.encode(&mut prefix)?;
    eci_header.encode(&mut prefix)?;
    eci.encode_value(&mut prefix)?;
    ct_header.encode(&mut prefix)?;
    let total = u64::from(u32::from(total));
    debug_assert_eq!(prefix.len() as u64 + u64::from(ct), total);
    Ok(Layout { prefix, total })
}

/// Length of `n` octets in base64 lines of 76 characters, each ending with CRLF.
fn base64_len(n: u64) -> u64 {
    let lines = n / LINE_OCTETS as u64;
    let rest = n % LINE_OCTETS as u64;
    let last = if rest == 0 {
        0
    } else {
        rest.div_ceil(3) * 4 + 2
    };
    lines * 78 + last
}

/// base64 (RFC 2045 6.8) in lines of 76 characters, fed in pieces.
#[derive(Default)]
struct Base64Lines {
    pending: Vec<u8>,
}

impl Base64Lines {
    fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let take = (LINE_OCTETS - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() < LINE_OCTETS {
                return;
            }
            line(&self.pending, out);
            self.pending.clear();
        }
        let mut lines = data.chunks_exact(LINE_OCTETS);
        out.reserve(data.len() / LINE_OCTETS * 78);
        for l in &mut lines {
            line(l, out);
        }
        self.pending.extend_from_slice(lines.remainder());
    }

    fn finish(self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            line(&self.pending, out);
        }
    }
}

fn line(octets: &[u8], out: &mut Vec<u8>) {
    use base64::Engine;
    let at = out.len();
    out.resize(at + octets.len().div_ceil(3) * 4, 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(octets, &mut out[at..])
        .unwrap_or(0);
    out.truncate(at + n);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cbc::cipher::BlockModeDecrypt;
    use cms::content_info::ContentInfo;
    use cms::enveloped_data::EnvelopedData;
    use der::Decode;
    use rsa::rand_core::{TryCryptoRng, TryRng};

    const CERT: &[u8] = include_bytes!("../testdata/rsa2048.cert.pem");
    const KEY: &[u8] = include_bytes!("../testdata/rsa2048.key.der");

    /// A deterministic generator (splitmix64), for tests only.
    #[derive(Clone)]
    struct TestRng(u64);

    impl TryRng for TestRng {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for c in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                c.copy_from_slice(&v[..c.len()]);
            }
            Ok(())
        }
    }
    impl TryCryptoRng for TestRng {}

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 253) as u8).collect()
    }

    /// The message for `data` fed in pieces of `split` octets, with the RNG seeded 1.
    fn envelope(r: &Recipient, outer: &[u8], data: &[u8], split: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rng = TestRng(1);
        let mut e = Enveloper::new(r, outer, data.len() as u64, &mut rng, &mut out).unwrap();
        let len = e.len();
        for c in data.chunks(split.max(1)) {
            e.update(c, &mut out).unwrap();
        }
        e.finish(&mut out).unwrap();
        assert_eq!(out.len() as u64, len, "announced length");
        assert_eq!(
            Enveloper::message_len(r, outer.len(), data.len() as u64).unwrap(),
            len
        );
        out
    }

    /// The DER of the message body (after the outer header), with every line checked.
    fn body_der(msg: &[u8], outer: &[u8]) -> Vec<u8> {
        use base64::Engine;
        let body = msg.strip_prefix(outer).unwrap();
        assert!(body.ends_with(b"\r\n"));
        let mut b64 = Vec::new();
        for line in body.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let line = line.strip_suffix(b"\r").unwrap();
            assert!(line.len() <= 76);
            b64.extend_from_slice(line);
        }
        let lines: Vec<&[u8]> = body.split(|&c| c == b'\n').collect();
        for l in &lines[..lines.len().saturating_sub(2)] {
            assert_eq!(
                l.len(),
                77,
                "every line but the last is 76 characters and CR"
            );
        }
        base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .unwrap()
    }

    #[test]
    fn the_stream_is_the_der_of_the_cms_types_and_decrypts() {
        let r = Recipient::from_pem_or_der(CERT).unwrap();
        let outer = crate::outer_header(b"Subject: s\r\n\r\n", false);
        for n in [0usize, 1, 15, 16, 17, 56, 57, 100, 1000, 65_536, 70_001] {
            let data = sample(n);
            let msg = envelope(&r, &outer, &data, 4096);
            let der = body_der(&msg, &outer);
            // Strict DER decoding, and the same octets as the cms types encode.
            let ci = ContentInfo::from_der(&der).unwrap();
            assert_eq!(ci.content_type, rfc5911::ID_ENVELOPED_DATA);
            let ed: EnvelopedData = ci.content.decode_as().unwrap();
            assert_eq!(ed.version, CmsVersion::V0);
            assert_eq!(ci.to_der().unwrap(), der);
            let eci = &ed.encrypted_content;
            assert_eq!(eci.content_type, rfc5911::ID_DATA);
            assert_eq!(eci.content_enc_alg.oid, rfc5911::ID_AES_128_CBC);
            let ct = eci.encrypted_content.as_ref().unwrap().as_bytes();
            assert_eq!(ct.len(), (n / 16 + 1) * 16);
            // The key and IV are the generator's first 32 octets.
            let mut rng = TestRng(1);
            let (mut cek, mut iv) = ([0u8; 16], [0u8; 16]);
            rng.try_fill_bytes(&mut cek).unwrap();
            rng.try_fill_bytes(&mut iv).unwrap();
            let iv_param = eci.content_enc_alg.parameters.as_ref().unwrap();
            assert_eq!(iv_param.value(), iv);
            let mut buf = ct.to_vec();
            let plain = cbc::Decryptor::<Aes128>::new(&Array::from(cek), &Array::from(iv))
                .decrypt_padded::<Pkcs7>(&mut buf)
                .unwrap();
            assert_eq!(plain, data, "{n} octets");
        }
    }

    #[test]
    fn the_content_key_is_encrypted_to_the_certificate() {
        use rsa::pkcs8::DecodePrivateKey;
        let r = Recipient::from_pem_or_der(CERT).unwrap();
        let msg = envelope(&r, b"", b"hello", 3);
        let ci = ContentInfo::from_der(&body_der(&msg, b"")).unwrap();
        let ed: EnvelopedData = ci.content.decode_as().unwrap();
        assert_eq!(ed.recip_infos.0.len(), 1);
        let Some(RecipientInfo::Ktri(k)) = ed.recip_infos.0.iter().next() else {
            panic!("not a KeyTransRecipientInfo");
        };
        assert_eq!(k.version, CmsVersion::V0);
        assert_eq!(k.key_enc_alg.oid, rfc5912::RSA_ENCRYPTION);
        let RecipientIdentifier::IssuerAndSerialNumber(ias) = &k.rid else {
            panic!("not issuerAndSerialNumber");
        };
        let tbs = r.certificate().tbs_certificate();
        assert_eq!(&ias.issuer, tbs.issuer());
        assert_eq!(&ias.serial_number, tbs.serial_number());
        let key = rsa::PrivateKey::from_pkcs8_der(KEY).unwrap();
        let cek = key.decrypt(Pkcs1v15Encrypt, k.enc_key.as_bytes()).unwrap();
        let mut rng = TestRng(1);
        let mut want = [0u8; 16];
        rng.try_fill_bytes(&mut want).unwrap();
        assert_eq!(cek, want);
    }

    #[test]
    fn any_split_gives_the_same_message() {
        let r = Recipient::from_pem_or_der(CERT).unwrap();
        let data = sample(3000);
        let whole = envelope(&r, b"X: y\r\n\r\n", &data, 3000);
        for split in [1, 2, 15, 16, 17, 57, 64, 999] {
            assert_eq!(
                envelope(&r, b"X: y\r\n\r\n", &data, split),
                whole,
                "split {split}"
            );
        }
    }

    #[test]
    fn content_must_match_the_announced_size() {
        let r = Recipient::from_pem_or_der(CERT).unwrap();
        let mut out = Vec::new();
        let mut e = Enveloper::new(&r, b"", 10, &mut TestRng(2), &mut out).unwrap();
        e.update(b"12345", &mut out).unwrap();
        assert_eq!(
            e.update(b"123456", &mut out),
            Err(EnvelopeError::TooLong(10))
        );
        assert_eq!(
            e.finish(&mut out),
            Err(EnvelopeError::TooShort { missing: 5 })
        );
    }

    #[test]
    fn base64_lengths() {
        for n in [0u64, 1, 2, 3, 56, 57, 58, 114, 1000] {
            let mut out = Vec::new();
            let mut b = Base64Lines::default();
            b.push(&sample(n as usize), &mut out);
            b.finish(&mut out);
            assert_eq!(out.len() as u64, base64_len(n), "{n}");
        }
    }
}
