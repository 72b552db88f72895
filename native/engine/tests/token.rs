//! Token verification: valid tokens of every algorithm, every classic
//! attack, the verified-token cache, and the Wycheproof JWS/JWK vectors.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use coresdk_engine::token::{Alg, StaticKeys, TokenError, Verifier, VerifierConfig, ALL_ALGS};
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key of each family, with its public JWK.
enum Signer {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair, Alg),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn rsa() -> Self {
        Signer::Rsa(aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }
    fn es256() -> Self {
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        Signer::Ec(
            EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap(),
            Alg::ES256,
        )
    }
    fn es384() -> Self {
        let alg = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        Signer::Ec(
            EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap(),
            Alg::ES384,
        )
    }
    fn ed() -> Self {
        Signer::Ed(Ed25519KeyPair::generate().unwrap())
    }

    fn jwk(&self, kid: &str) -> Value {
        match self {
            Signer::Rsa(k) => {
                let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&c.n), "e": b64(&c.e)})
            }
            Signer::Ec(k, alg) => {
                let p = k.public_key().as_ref();
                let n = (p.len() - 1) / 2;
                let crv = if *alg == Alg::ES256 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "kid": kid, "crv": crv, "x": b64(&p[1..1 + n]), "y": b64(&p[1 + n..])})
            }
            Signer::Ed(k) => {
                json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        }
    }

    fn sign(&self, alg: Alg, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(k) => {
                let scheme: &'static dyn aws_lc_rs::signature::RsaEncoding = match alg {
                    Alg::RS256 => &signature::RSA_PKCS1_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_SHA512,
                    Alg::PS256 => &signature::RSA_PSS_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_SHA384,
                    Alg::PS512 => &signature::RSA_PSS_SHA512,
                    _ => unreachable!(),
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(scheme, &rng, input, &mut sig).unwrap();
                sig
            }
            Signer::Ec(k, _) => k.sign(&rng, input).unwrap().as_ref().to_vec(),
            Signer::Ed(k) => k.sign(input).as_ref().to_vec(),
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn mint_raw(signer: &Signer, alg: Alg, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = signer.sign(alg, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn mint(signer: &Signer, alg: Alg, kid: &str, claims: &Value) -> String {
    mint_raw(
        signer,
        alg,
        &json!({"alg": alg.name(), "kid": kid, "typ": "JWT"}),
        claims,
    )
}

fn std_claims() -> Value {
    json!({"iss": "https://issuer.test", "aud": "api", "sub": "alice", "exp": now() + 600, "iat": now()})
}

struct Fixture {
    rsa: Signer,
    es256: Signer,
    es384: Signer,
    ed: Signer,
    verifier: Verifier,
}

fn config() -> VerifierConfig {
    VerifierConfig {
        issuer: Some("https://issuer.test".into()),
        audiences: vec!["api".into()],
        ..VerifierConfig::default()
    }
}

fn fixture_with(config: VerifierConfig) -> Fixture {
    let (rsa, es256, es384, ed) = (
        Signer::rsa(),
        Signer::es256(),
        Signer::es384(),
        Signer::ed(),
    );
    let jwks =
        json!({"keys": [rsa.jwk("rsa-1"), es256.jwk("ec-1"), es384.jwk("ec-2"), ed.jwk("ed-1")]});
    let keys = StaticKeys::from_jwks(&jwks.to_string(), &ALL_ALGS).unwrap();
    Fixture {
        rsa,
        es256,
        es384,
        ed,
        verifier: Verifier::new(config, Arc::new(keys)),
    }
}

fn fixture() -> Fixture {
    fixture_with(config())
}

fn code(r: Result<impl std::fmt::Debug, TokenError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => {
            assert!(e.is_rejection(), "{e:?} should be a rejection");
            e.code()
        }
    }
}

#[test]
fn valid_tokens_of_every_algorithm_verify() {
    let f = fixture();
    let cases: Vec<(&Signer, Alg, &str)> = vec![
        (&f.rsa, Alg::RS256, "rsa-1"),
        (&f.rsa, Alg::RS384, "rsa-1"),
        (&f.rsa, Alg::RS512, "rsa-1"),
        (&f.rsa, Alg::PS256, "rsa-1"),
        (&f.rsa, Alg::PS384, "rsa-1"),
        (&f.rsa, Alg::PS512, "rsa-1"),
        (&f.es256, Alg::ES256, "ec-1"),
        (&f.es384, Alg::ES384, "ec-2"),
        (&f.ed, Alg::EdDSA, "ed-1"),
    ];
    for (signer, alg, kid) in cases {
        let t = mint(signer, alg, kid, &std_claims());
        let v = f
            .verifier
            .verify(&t)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(v.claims["sub"], "alice");
        assert_eq!(v.alg, alg);
    }
    // Without a kid, the fitting keys are tried.
    let t = mint_raw(
        &f.es256,
        Alg::ES256,
        &json!({"alg": "ES256"}),
        &std_claims(),
    );
    assert!(f.verifier.verify(&t).is_ok());
    // aud as an array.
    let mut c = std_claims();
    c["aud"] = json!(["other", "api"]);
    assert!(f
        .verifier
        .verify(&mint(&f.rsa, Alg::RS256, "rsa-1", &c))
        .is_ok());
}

#[test]
fn alg_none_in_any_case_and_hmac_confusion_are_refused() {
    let f = fixture();
    let claims = b64(std_claims().to_string().as_bytes());
    for none in ["none", "None", "NONE", "nOnE"] {
        let h = b64(json!({"alg": none, "kid": "rsa-1"}).to_string().as_bytes());
        // Unsigned (empty signature) and with a bogus signature.
        assert_eq!(
            code(f.verifier.verify(&format!("{h}.{claims}."))),
            "ERR_TOKEN_MALFORMED"
        );
        assert_eq!(
            code(f.verifier.verify(&format!("{h}.{claims}.AAAA"))),
            "ERR_TOKEN_ALGORITHM"
        );
    }
    // HS256 "signed" with the RSA public key (as JWK JSON and as modulus bytes).
    let h = b64(json!({"alg": "HS256", "kid": "rsa-1"})
        .to_string()
        .as_bytes());
    let input = format!("{h}.{claims}");
    let secret = f.rsa.jwk("rsa-1").to_string();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    assert_eq!(
        code(f.verifier.verify(&format!("{input}.{}", b64(tag.as_ref())))),
        "ERR_TOKEN_ALGORITHM"
    );
}

#[test]
fn tampering_is_refused() {
    let f = fixture();
    let t = mint(&f.rsa, Alg::RS256, "rsa-1", &std_claims());
    let [h, p, s]: [&str; 3] = t.split('.').collect::<Vec<_>>().try_into().unwrap();
    // Stripped and empty signature.
    assert_eq!(
        code(f.verifier.verify(&format!("{h}.{p}"))),
        "ERR_TOKEN_MALFORMED"
    );
    assert_eq!(
        code(f.verifier.verify(&format!("{h}.{p}."))),
        "ERR_TOKEN_MALFORMED"
    );
    // Tampered payload: admin claims under the old signature.
    let mut c = std_claims();
    c["sub"] = json!("admin");
    assert_eq!(
        code(
            f.verifier
                .verify(&format!("{h}.{}.{s}", b64(c.to_string().as_bytes())))
        ),
        "ERR_TOKEN_SIGNATURE"
    );
    // A flipped signature byte.
    let mut sig = URL_SAFE_NO_PAD.decode(s).unwrap();
    sig[10] ^= 1;
    assert_eq!(
        code(f.verifier.verify(&format!("{h}.{p}.{}", b64(&sig)))),
        "ERR_TOKEN_SIGNATURE"
    );
    // Signed by a key not in the set, same kid.
    let stranger = Signer::rsa();
    assert_eq!(
        code(
            f.verifier
                .verify(&mint(&stranger, Alg::RS256, "rsa-1", &std_claims()))
        ),
        "ERR_TOKEN_SIGNATURE"
    );
}

#[test]
fn time_and_claim_checks() {
    let f = fixture();
    let t = |c: Value| mint(&f.es256, Alg::ES256, "ec-1", &c);
    let mut c = std_claims();
    c["exp"] = json!(now() - 120);
    assert_eq!(code(f.verifier.verify(&t(c))), "ERR_TOKEN_EXPIRED");
    let mut c = std_claims();
    c["exp"] = json!(now() - 10); // within the 30 s tolerance
    assert!(f.verifier.verify(&t(c)).is_ok());
    let mut c = std_claims();
    c["nbf"] = json!(now() + 300);
    assert_eq!(code(f.verifier.verify(&t(c))), "ERR_TOKEN_NOT_YET_VALID");
    let mut c = std_claims();
    c["iss"] = json!("https://evil.test");
    assert_eq!(code(f.verifier.verify(&t(c))), "ERR_TOKEN_CLAIM");
    let mut c = std_claims();
    c["aud"] = json!("other");
    assert_eq!(code(f.verifier.verify(&t(c))), "ERR_TOKEN_CLAIM");
    let mut c = std_claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(code(f.verifier.verify(&t(c))), "ERR_TOKEN_CLAIM");
    let mut c = std_claims();
    c["exp"] = json!("tomorrow");
    assert_eq!(code(f.verifier.verify(&t(c))), "ERR_TOKEN_CLAIM");
    let mut c = std_claims();
    c["iat"] = json!(now() + 3600);
    assert_eq!(code(f.verifier.verify(&t(c))), "ERR_TOKEN_CLAIM");
}

#[test]
fn kid_is_only_a_lookup_key() {
    let f = fixture();
    for kid in [
        "../../dev/null",
        "' OR 1=1 --",
        "rsa-1\u{0}",
        "",
        "http://attacker.test/key",
    ] {
        let t = mint(&f.rsa, Alg::RS256, kid, &std_claims());
        assert_eq!(
            code(f.verifier.verify(&t)),
            "ERR_TOKEN_UNKNOWN_KEY",
            "{kid:?}"
        );
    }
    let t = mint_raw(
        &f.rsa,
        Alg::RS256,
        &json!({"alg": "RS256", "kid": 7}),
        &std_claims(),
    );
    assert_eq!(code(f.verifier.verify(&t)), "ERR_TOKEN_MALFORMED");
    // The kid of an EC key with an RSA algorithm: the key does not fit.
    let t = mint(&f.rsa, Alg::RS256, "ec-1", &std_claims());
    assert_eq!(code(f.verifier.verify(&t)), "ERR_TOKEN_UNKNOWN_KEY");
}

#[test]
fn header_key_references_are_never_followed() {
    let f = fixture();
    let attacker = Signer::rsa();
    for (name, value) in [
        ("jwk", attacker.jwk("evil")),
        ("jku", json!("https://attacker.test/jwks.json")),
        ("x5u", json!("https://attacker.test/cert.pem")),
        ("x5c", json!(["MIIB"])),
    ] {
        let header = json!({"alg": "RS256", name: value});
        let t = mint_raw(&attacker, Alg::RS256, &header, &std_claims());
        assert_eq!(code(f.verifier.verify(&t)), "ERR_TOKEN_SIGNATURE", "{name}");
        let header = json!({"alg": "RS256", "kid": "evil", name: value});
        let t = mint_raw(&attacker, Alg::RS256, &header, &std_claims());
        assert_eq!(
            code(f.verifier.verify(&t)),
            "ERR_TOKEN_UNKNOWN_KEY",
            "{name}"
        );
    }
}

#[test]
fn unknown_crit_is_refused() {
    let f = fixture();
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
        let header = json!({"alg": "ES256", "kid": "ec-1", "crit": crit, "exp": 1});
        let t = mint_raw(&f.es256, Alg::ES256, &header, &std_claims());
        assert_eq!(code(f.verifier.verify(&t)), "ERR_TOKEN_MALFORMED");
    }
}

#[test]
fn bad_ecdsa_signatures_are_refused() {
    let f = fixture();
    let t = mint(&f.es256, Alg::ES256, "ec-1", &std_claims());
    let [h, p, s]: [&str; 3] = t.split('.').collect::<Vec<_>>().try_into().unwrap();
    // r = s = 0.
    assert_eq!(
        code(f.verifier.verify(&format!("{h}.{p}.{}", b64(&[0u8; 64])))),
        "ERR_TOKEN_SIGNATURE"
    );
    // The same signature DER-encoded (as some libraries wrongly emit).
    let raw = URL_SAFE_NO_PAD.decode(s).unwrap();
    let int = |b: &[u8]| {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        if v.first().is_some_and(|x| x & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s2) = (int(&raw[..32]), int(&raw[32..]));
    let mut der = vec![0x30, (r.len() + s2.len()) as u8];
    der.extend(r);
    der.extend(s2);
    assert_eq!(
        code(f.verifier.verify(&format!("{h}.{p}.{}", b64(&der)))),
        "ERR_TOKEN_SIGNATURE"
    );
}

#[test]
fn malformed_tokens_are_refused_before_decoding() {
    let f = fixture();
    let t = mint(&f.ed, Alg::EdDSA, "ed-1", &std_claims());
    let cases = [
        format!("{t}\n"),
        format!("{t}="),
        format!(" {t}"),
        format!("{t}.x"),
        format!("{t}.x.y"), // 5 segments: a JWE
        t.replacen('.', "", 1),
        format!("+{}", &t[1..]),
        "a.b.c".to_string(),
        "e30.e30.AAAA".to_string(),
        format!("{}.{}.AAAA", b64(&[0xff, 0xfe]), b64(b"{}")),
        "x".repeat(9000),
    ];
    for bad in &cases {
        let c = code(f.verifier.verify(bad));
        assert!(
            matches!(c, "ERR_TOKEN_MALFORMED" | "ERR_TOKEN_SIGNATURE"),
            "{c} for {:.40}",
            bad
        );
    }
    assert_eq!(f.verifier.verify("").unwrap_err(), TokenError::Missing);
    // Duplicate header members.
    let h = b64(br#"{"alg":"EdDSA","alg":"none","kid":"ed-1"}"#);
    assert_eq!(
        code(f.verifier.verify(&format!("{h}.e30.AAAA"))),
        "ERR_TOKEN_MALFORMED"
    );
}

#[test]
fn weak_and_unfit_keys_are_never_used() {
    // The Wycheproof 1024-bit key: skipped at load.
    let weak = json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "RS256_1024",
        "n": "rJBIp6T1YK-RtPyvYqFFlcucqewSAA_IReSFchE8qyiQrbARqRlXWkB2DR8j_pJQnIpYELbQWZC5Cd0PTGAU8rMbar2AW6zpmBbi7aQf17lUBdt8XI9M9rq7FPVQ1dDdUXm1SVH_9qqWhvMPR422SbfHBEzCAtzK0ANDRo6qz78",
        "e": "AQAB"}]});
    let set = coresdk_engine::token::KeySet::from_jwks(&weak.to_string(), &ALL_ALGS).unwrap();
    assert!(set.is_empty());
    assert!(set.skipped[0].contains("1024 bits"), "{:?}", set.skipped);
    // Private key material refuses the whole document.
    let private = json!({"keys": [{"kty": "oct", "k": "AAAA"}]});
    assert_eq!(
        coresdk_engine::token::KeySet::from_jwks(&private.to_string(), &ALL_ALGS)
            .unwrap_err()
            .code(),
        "ERR_JWKS_INVALID"
    );
    // use=enc, key_ops without verify, alg that does not fit the curve.
    let ec = Signer::es256();
    let mut a = ec.jwk("a");
    a["use"] = json!("enc");
    let mut b = ec.jwk("b");
    b["key_ops"] = json!(["sign"]);
    let mut c = ec.jwk("c");
    c["alg"] = json!("ES384");
    let set = coresdk_engine::token::KeySet::from_jwks(
        &json!({"keys": [a, b, c]}).to_string(),
        &ALL_ALGS,
    )
    .unwrap();
    assert!(set.is_empty(), "{:?}", set.skipped);
}

#[test]
fn allow_list_and_typ_pin() {
    let f = fixture_with(VerifierConfig {
        algorithms: vec![Alg::ES256],
        typ: Some("at+jwt".into()),
        ..config()
    });
    let rs = mint_raw(
        &f.rsa,
        Alg::RS256,
        &json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}),
        &std_claims(),
    );
    assert_eq!(code(f.verifier.verify(&rs)), "ERR_TOKEN_ALGORITHM");
    let ok = mint_raw(
        &f.es256,
        Alg::ES256,
        &json!({"alg": "ES256", "kid": "ec-1", "typ": "application/AT+JWT"}),
        &std_claims(),
    );
    assert!(f.verifier.verify(&ok).is_ok());
    let wrong = mint_raw(
        &f.es256,
        Alg::ES256,
        &json!({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}),
        &std_claims(),
    );
    assert_eq!(code(f.verifier.verify(&wrong)), "ERR_TOKEN_CLAIM");
}

#[test]
fn verified_token_cache_rechecks_expiry() {
    let f = fixture();
    let mut c = std_claims();
    c["exp"] = json!(now() + 5);
    let t = mint(&f.rsa, Alg::RS256, "rsa-1", &c);
    assert!(f.verifier.verify(&t).is_ok());
    assert!(f.verifier.verify(&t).is_ok()); // a hit
    let later = (now() + 60) as f64;
    assert_eq!(
        f.verifier.verify_at(&t, later).unwrap_err(),
        TokenError::Expired
    );
    // A tampered copy of a cached token is a different key, verified afresh.
    let mut tampered = t.clone();
    tampered.push('A');
    assert!(f.verifier.verify(&tampered).is_err());
}

#[test]
fn errors_never_contain_the_token() {
    let f = fixture();
    let t = mint(&f.rsa, Alg::RS256, "no-such-kid", &std_claims());
    let sig = t.rsplit('.').next().unwrap().to_string();
    for bad in [
        t.clone(),
        format!("{t}x"),
        format!("{t}\n"),
        t.replace('.', ".."),
    ] {
        if let Err(e) = f.verifier.verify(&bad) {
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains(&sig[..20]) && !text.contains("no-such-kid"),
                "{text}"
            );
        }
    }
}

// ---------------------------------------------------------------- Wycheproof

/// The Wycheproof vectors vendored in tests/vectors (see its README).
fn vectors_dir() -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/wycheproof");
    assert!(p.is_dir(), "Wycheproof vectors missing at {}", p.display());
    Some(p)
}

/// Groups whose algorithm this verifier does not accept with a key set:
/// every one of their tests must then be rejected, `valid` ones included.
fn unsupported(group: &Value) -> Option<&'static str> {
    let keys = key_set(group);
    let has_oct = keys["keys"].as_array()?.iter().any(|k| k["kty"] == "oct");
    has_oct.then_some("symmetric (HS*) key sets are refused: a key set holds public keys only")
}

/// A valid vector this verifier rejects on purpose: an algorithm outside
/// the allow-list (ES512, HS*), or a key whose `alg` pins another algorithm
/// than the token's (RFC 7520 figure 20: a PS256 key verifying PS384).
fn deliberate_reject(keys: &Value, jws: &str) -> Option<&'static str> {
    let header = jws.split('.').next()?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let alg = header["alg"].as_str()?;
    if Alg::parse(alg).is_none() {
        return Some("algorithm outside the allow-list (ES512 / HS*)");
    }
    let pinned = keys["keys"]
        .as_array()?
        .iter()
        .any(|k| k["alg"].as_str().is_some_and(|a| a != alg));
    pinned
        .then_some("the key's alg pins another algorithm than the token's (deliberately stricter)")
}

/// The group's public key(s) as a JWKS (JWS groups carry one JWK, JWK
/// groups a set); groups with only a private key (the HS* ones) use it.
fn key_set(group: &Value) -> Value {
    let keys = group
        .get("public")
        .or_else(|| group.get("private"))
        .expect("a key");
    if keys.get("keys").is_some() {
        keys.clone()
    } else {
        json!({ "keys": [keys] })
    }
}

fn run_vectors(file: &str) -> (usize, usize, usize) {
    let Some(dir) = vectors_dir() else {
        return (0, 0, 0);
    };
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
    let (mut accepted_valid, mut rejected_invalid, mut skipped_valid) = (0, 0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        let keys = key_set(group);
        let provider = StaticKeys::from_jwks(&keys.to_string(), &ALL_ALGS).map(Arc::new);
        let why_unsupported = unsupported(group);
        for t in group["tests"].as_array().unwrap() {
            let id = t["tcId"].as_i64().unwrap();
            let jws = t["jws"].as_str().map(str::to_string).unwrap_or_else(|| {
                // JSON serialization is not compact JWS: never accepted.
                t["jws"].to_string()
            });
            let verdict = match &provider {
                Ok(p) => Verifier::new(VerifierConfig::default(), p.clone())
                    .verify_signature(&jws)
                    .map(|_| ()),
                Err(e) => Err(e.clone()),
            };
            match (t["result"].as_str().unwrap(), verdict) {
                ("invalid", Err(_)) => rejected_invalid += 1,
                ("invalid", Ok(())) => panic!(
                    "{file} tcId {id} ({}) is invalid but was accepted",
                    t["comment"]
                ),
                ("valid", Ok(())) => accepted_valid += 1,
                ("valid", Err(e)) => {
                    let reason = why_unsupported
                        .or_else(|| deliberate_reject(&keys, &jws))
                        .unwrap_or_else(|| {
                            panic!(
                                "{file} tcId {id} ({}) is valid but was rejected: {e}",
                                t["comment"]
                            )
                        });
                    eprintln!("{file} tcId {id}: valid but skipped: {reason}");
                    skipped_valid += 1;
                }
                (other, _) => panic!("unknown result {other}"),
            }
        }
    }
    (accepted_valid, rejected_invalid, skipped_valid)
}

#[test]
fn wycheproof_jws_vectors() {
    let (ok, rejected, skipped) = run_vectors("json_web_signature_test.json");
    if ok + rejected > 0 {
        println!("wycheproof JWS: {ok} valid accepted, {rejected} invalid rejected, {skipped} valid skipped (reasons above)");
        assert!(ok > 0 && rejected > 0);
    }
}

#[test]
fn wycheproof_jwk_vectors() {
    let (ok, rejected, skipped) = run_vectors("json_web_key_test.json");
    if ok + rejected > 0 {
        println!("wycheproof JWK: {ok} valid accepted, {rejected} invalid rejected, {skipped} valid skipped (reasons above)");
        assert!(rejected > 0);
    }
}

// ---------------------------------------------------------------- authorize

#[test]
fn authorize_verifies_then_decides_with_claims_in_the_input() {
    use coresdk_engine::token::{KeySourceConfig, TokenConfig};
    use coresdk_engine::{Engine, EngineConfig};
    let signer = Signer::es256();
    let jwks = json!({"keys": [signer.jwk("ec-1")]});
    let mut token_cfg = TokenConfig::new(KeySourceConfig::Inline(jwks.to_string()));
    token_cfg.verifier = config();
    let mut cfg = EngineConfig::inline(
        vec![(
            "a.rego".into(),
            "package a\nallow if input.claims.sub == \"alice\"\nallow if input.claims.role == input.need\n".into(),
        )],
        json!({}),
    );
    cfg.token = Some(token_cfg);
    let engine = Engine::new(cfg).unwrap();

    let alice = mint(&signer, Alg::ES256, "ec-1", &std_claims());
    let a = engine.authorize(&alice, "data.a.allow", "");
    assert!(a.allowed, "{a:?}");
    assert_eq!(a.reason, "allowed");
    assert_eq!(a.claims.as_ref().unwrap().claims["sub"], "alice");

    let mut c = std_claims();
    c["sub"] = json!("bob");
    c["role"] = json!("auditor");
    let bob = mint(&signer, Alg::ES256, "ec-1", &c);
    assert!(
        engine
            .authorize(&bob, "data.a.allow", r#"{"need": "auditor"}"#)
            .allowed
    );
    let denied = engine.authorize(&bob, "data.a.allow", r#"{"need": "admin"}"#);
    assert!(!denied.allowed);
    assert_eq!(denied.reason, "undefined");
    // A caller cannot smuggle claims past the verifier.
    let smuggled = engine.authorize(&bob, "data.a.allow", r#"{"claims": {"sub": "alice"}}"#);
    assert!(!smuggled.allowed);
    assert_eq!(smuggled.reason, "ERR_INPUT_INVALID");
    // A rejected token is never evaluated.
    let mut c = std_claims();
    c["exp"] = json!(now() - 3600);
    let expired = engine.authorize(&mint(&signer, Alg::ES256, "ec-1", &c), "data.a.allow", "");
    assert!(!expired.allowed && expired.decision.is_none() && expired.claims.is_none());
    assert_eq!(expired.reason, "ERR_TOKEN_EXPIRED");
    assert_eq!(
        expired.token_error().unwrap().rfc6750_error(),
        Some("invalid_token")
    );
    // Repeats are answered from the authorize decision cache, per token and input.
    let before = engine.decision_cache_stats().hits;
    for _ in 0..3 {
        assert!(
            engine
                .authorize(&bob, "data.a.allow", r#"{"need": "auditor"}"#)
                .allowed
        );
        assert!(
            !engine
                .authorize(&bob, "data.a.allow", r#"{"need": "admin"}"#)
                .allowed
        );
        assert!(
            engine
                .authorize(&alice, "data.a.allow", r#"{"need": "admin"}"#)
                .allowed
        );
    }
    let after = engine.decision_cache_stats();
    assert!(after.hits >= before + 8, "{before} -> {after:?}");
    // A plain evaluation can never reach an authorize decision.
    let probe = format!("{} {{\"need\": \"auditor\"}}", "00".repeat(32));
    assert!(engine.evaluate_policy_json("data.a.allow", &probe).is_err());
    let missing = engine.authorize("", "data.a.allow", "");
    assert_eq!(missing.reason, "ERR_TOKEN_MISSING");
    assert_eq!(missing.token_error().unwrap().rfc6750_error(), None);
}
