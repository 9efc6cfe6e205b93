//! go-digest's and image-spec's digest test tables, known-answer vectors, and the
//! streaming types.

use std::io::{Read, Write};

use hezi_digest::{Algorithm, Digest, DigestError, GenericDigest, HashingReader};

#[derive(Debug, PartialEq)]
enum Kind {
    Ok,
    Format,
    Unsupported,
    Length,
}

fn kind(r: &Result<Digest, DigestError>) -> Kind {
    match r {
        Ok(_) => Kind::Ok,
        Err(DigestError::InvalidFormat { .. }) => Kind::Format,
        Err(DigestError::Unsupported { .. }) => Kind::Unsupported,
        Err(DigestError::InvalidLength { .. }) => Kind::Length,
        Err(e) => panic!("an error kind these tables do not know: {e}"),
    }
}

const SHA384_HEX: &str =
    "d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d";

/// go-digest `TestParseDigest`, with its expected error kinds.
#[test]
fn go_digest_parse_table() {
    let mut cases: Vec<(String, Kind)> = vec![
        (
            "sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b".into(),
            Kind::Ok,
        ),
        (format!("sha384:{SHA384_HEX}"), Kind::Ok),
        ("".into(), Kind::Format),
        ("     ".into(), Kind::Format),
        ("sha256:".into(), Kind::Format),
        (format!("sha256:{}", " ".repeat(64)), Kind::Format),
        (":".into(), Kind::Format),
        ("d41d8cd98f00b204e9800998ecf8427e".into(), Kind::Format),
        (
            "sha256:d41d8cd98f00b204e9800m98ecf8427e".into(),
            Kind::Length,
        ),
        ("sha256:abcdef0123456789".into(), Kind::Length),
        (
            "sha512:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789".into(),
            Kind::Length,
        ),
        (
            "foo:d41d8cd98f00b204e9800998ecf8427e".into(),
            Kind::Unsupported,
        ),
        (format!("sha384__foo+bar:{SHA384_HEX}"), Kind::Format),
        (format!("sha384.foo+bar:{SHA384_HEX}"), Kind::Unsupported),
        (format!("sha384_foo+bar:{SHA384_HEX}"), Kind::Unsupported),
        (
            "sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564".into(),
            Kind::Unsupported,
        ),
        (
            "sha256:E58FCF7418D4390DEC8E8FB69D88C06EC07039D651FEDD3AA72AF9972E7D046B".into(),
            Kind::Format,
        ),
    ];
    // go-digest registers blake3 through an extension package; here it is a feature.
    let blake3_ok = if cfg!(feature = "blake3") {
        Kind::Ok
    } else {
        Kind::Unsupported
    };
    let blake3_short = if cfg!(feature = "blake3") {
        Kind::Length
    } else {
        Kind::Unsupported
    };
    cases.push((
        "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262".into(),
        blake3_ok,
    ));
    cases.push((
        "blake3:abcdef0123456789abcdef0123456789abcdef01234".into(),
        blake3_short,
    ));
    for (input, want) in cases {
        let got = Digest::parse(&input);
        assert_eq!(kind(&got), want, "input {input:?}: got {got:?}");
        if let Ok(d) = got {
            let (alg, enc) = input.split_once(':').unwrap();
            assert_eq!(d.algorithm().name(), alg);
            assert_eq!(d.encoded(), enc);
            assert_eq!(d.to_string(), input);
        }
    }
}

/// Digests from image-spec `descriptor.md` and its schema tests, under both views.
#[test]
fn image_spec_grammar_table() {
    // (input, grammar view accepts, strict view result)
    let cases = [
        ("sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b", true, Kind::Ok),
        (
            "sha512:401b09eab3c013d4ca54922bb802bec8fd5318192b0a75f201d8b3727429080fb337591abd3e44453b954555b7a0812e1081c39b740293f765eae731f5a65ed1",
            true,
            Kind::Ok,
        ),
        ("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", true, Kind::Unsupported),
        ("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", true, Kind::Unsupported),
        ("sha256:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", false, Kind::Length),
        ("sha256:5B0BCABD1ED22E9FB1310CF6C2DEC7CDEF19F0AD69EFA1F392E94A4333501270", false, Kind::Format),
        ("SHA256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270", false, Kind::Format),
        ("sha256", false, Kind::Format),
        ("sha256+:abc", false, Kind::Format),
        // go-digest checks the length of a known algorithm before its characters.
        ("sha256:abc/def", false, Kind::Length),
    ];
    for (input, grammar_ok, strict) in cases {
        let g = GenericDigest::parse(input);
        assert_eq!(g.is_ok(), grammar_ok, "grammar view of {input:?}: {g:?}");
        let s = Digest::parse(input);
        assert_eq!(kind(&s), strict, "strict view of {input:?}: {s:?}");
        if let Ok(g) = g {
            assert_eq!(g.to_string(), input);
            assert_eq!(g.to_supported().is_ok(), strict == Kind::Ok);
        }
    }
    let g = GenericDigest::parse("multihash+base58:QmRZ").unwrap();
    assert_eq!(g.algorithm_name(), "multihash+base58");
    assert_eq!(g.encoded(), "QmRZ");
    assert_eq!(g.algorithm(), None);
}

#[test]
fn errors_name_the_input() {
    let e = Digest::parse("sha256:abc").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("sha256:abc") && msg.contains("64"), "{msg}");
    let e = Digest::parse("md5:abc").unwrap_err();
    assert!(e.to_string().contains("\"md5\""), "{e}");
}

fn kat(alg: Algorithm, data: &[u8], hex: &str) {
    let d = Digest::from_bytes(alg, data);
    assert_eq!(d.encoded(), hex, "{alg} of {data:?}");
    assert_eq!(d.to_string(), format!("{alg}:{hex}"));
    assert_eq!(Digest::from_reader(alg, data).unwrap(), d);
    assert_eq!(d.hash_bytes().len(), alg.size());
}

#[test]
fn known_answers() {
    kat(
        Algorithm::Sha256,
        b"",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    kat(
        Algorithm::Sha256,
        b"abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    kat(
        Algorithm::Sha384,
        b"",
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
    );
    kat(
        Algorithm::Sha384,
        b"abc",
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    );
    kat(
        Algorithm::Sha512,
        b"",
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    );
    kat(
        Algorithm::Sha512,
        b"abc",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    );
    // Longer than one block, crossing chunk boundaries of from_reader.
    let million_a = vec![b'a'; 1_000_000];
    kat(
        Algorithm::Sha256,
        &million_a,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    );
}

#[cfg(feature = "blake3")]
#[test]
fn known_answers_blake3() {
    kat(
        Algorithm::Blake3,
        b"",
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    );
    let d =
        Digest::parse("blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    assert_eq!(d.unwrap().algorithm(), Algorithm::Blake3);
}

#[test]
fn algorithm_names() {
    assert_eq!(Algorithm::default(), Algorithm::Sha256);
    assert_eq!("sha512".parse::<Algorithm>().unwrap(), Algorithm::Sha512);
    assert!(matches!(
        "md5".parse::<Algorithm>(),
        Err(DigestError::Unsupported { .. })
    ));
    for a in Algorithm::ALL {
        assert_eq!(Algorithm::from_name(a.name()), Some(*a));
        assert_eq!(a.encoded_len(), a.digester().finish().encoded().len());
    }
}

#[test]
fn from_encoded_checks() {
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(
        Digest::from_encoded(Algorithm::Sha256, hex).unwrap(),
        Digest::sha256(b"")
    );
    assert!(matches!(
        Digest::from_encoded(Algorithm::Sha512, hex),
        Err(DigestError::InvalidLength {
            expected: 128,
            actual: 64,
            ..
        })
    ));
}

#[test]
fn serde_as_string() {
    let d = Digest::sha256(b"x");
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(json, format!("\"{d}\""));
    assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    let err = serde_json::from_str::<Digest>("\"sha256:abc\"").unwrap_err();
    assert!(err.to_string().contains("invalid digest length"), "{err}");
    assert!(serde_json::from_str::<Digest>("42").is_err());
    let g: GenericDigest = serde_json::from_str("\"a+b:xyz\"").unwrap();
    assert_eq!(serde_json::to_string(&g).unwrap(), "\"a+b:xyz\"");
}

#[test]
fn verifier_and_digester_stream() {
    let data = b"some layer content".repeat(1000);
    let d = Digest::sha256(&data);
    let mut v = d.verifier();
    for chunk in data.chunks(777) {
        assert!(!v.verified() || chunk.is_empty());
        v.write_all(chunk).unwrap();
    }
    assert!(v.verified());
    assert_eq!(v.bytes_written(), data.len() as u64);
    v.write_all(b"!").unwrap();
    assert!(!v.verified());
    assert_ne!(v.actual(), d);

    let mut g = Algorithm::Sha256.digester();
    g.write_all(&data).unwrap();
    assert_eq!(g.current(), d);
    assert_eq!(g.finish(), d);
}

#[test]
fn hashing_reader_counts_and_hashes() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut r = HashingReader::new(&data[..], Algorithm::Sha512);
    let mut first = [0u8; 10];
    r.read_exact(&mut first).unwrap();
    assert_eq!(r.bytes_read(), 10);
    assert_eq!(
        r.digest(),
        Digest::from_bytes(Algorithm::Sha512, &data[..10])
    );
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    let (_, d, n) = r.into_parts();
    assert_eq!(n, data.len() as u64);
    assert_eq!(d, Digest::from_bytes(Algorithm::Sha512, &data));
    let (d2, n2) = HashingReader::new(&data[..], Algorithm::Sha256)
        .drain()
        .unwrap();
    assert_eq!((d2, n2), (Digest::sha256(&data), data.len() as u64));
}
