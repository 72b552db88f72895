//! The allow-listed signature algorithms.

use jsonwebtoken::Algorithm as JwtAlg;

/// An asymmetric JWS algorithm CoreSDK accepts. `none` and the HMAC
/// algorithms are not representable: a key set holds public keys, and a
/// verifier that accepts HS* with a public key as the secret is the classic
/// algorithm-confusion hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// Every supported algorithm, the default allow-list.
pub const ALL_ALGS: [Alg; 9] = [
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::PS256,
    Alg::PS384,
    Alg::PS512,
    Alg::ES256,
    Alg::ES384,
    Alg::EdDSA,
];

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, at least 2048 bits.
    Rsa,
    /// EC on P-256.
    P256,
    /// EC on P-384.
    P384,
    /// OKP Ed25519.
    Ed25519,
}

impl Alg {
    /// Parses a JOSE `alg` name, case-sensitively (RFC 7515: `none` in any
    /// spelling, `HS256` and unknown names are `None`).
    pub fn parse(name: &str) -> Option<Alg> {
        ALL_ALGS.iter().copied().find(|a| a.name() == name)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The key family this algorithm verifies with.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                KeyKind::Rsa
            }
            Alg::ES256 => KeyKind::P256,
            Alg::ES384 => KeyKind::P384,
            Alg::EdDSA => KeyKind::Ed25519,
        }
    }

    /// The raw signature length, where fixed (ECDSA `r || s`, Ed25519).
    pub fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Alg::ES256 => Some(64),
            Alg::ES384 => Some(96),
            Alg::EdDSA => Some(64),
            _ => None,
        }
    }

    pub(crate) fn to_jwt(self) -> JwtAlg {
        match self {
            Alg::RS256 => JwtAlg::RS256,
            Alg::RS384 => JwtAlg::RS384,
            Alg::RS512 => JwtAlg::RS512,
            Alg::PS256 => JwtAlg::PS256,
            Alg::PS384 => JwtAlg::PS384,
            Alg::PS512 => JwtAlg::PS512,
            Alg::ES256 => JwtAlg::ES256,
            Alg::ES384 => JwtAlg::ES384,
            Alg::EdDSA => JwtAlg::EdDSA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_exact() {
        assert_eq!(Alg::parse("RS256"), Some(Alg::RS256));
        for bad in [
            "none", "None", "NONE", "nOnE", "HS256", "rs256", "ES256K", "",
        ] {
            assert_eq!(Alg::parse(bad), None, "{bad}");
        }
    }
}
