//! Property tests: display/parse round trips and verifier exactness.

use std::io::Write;

use hezi_digest::{Algorithm, Digest, GenericDigest};
use proptest::prelude::*;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    proptest::sample::select(Algorithm::ALL.to_vec())
}

proptest! {
    #[test]
    fn parse_display_round_trip(alg in algorithm(), data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let d = Digest::from_bytes(alg, &data);
        let parsed = Digest::parse(d.as_str()).unwrap();
        prop_assert_eq!(&parsed, &d);
        let g = GenericDigest::parse(d.as_str()).unwrap();
        prop_assert_eq!(g.to_supported().unwrap(), d);
    }

    #[test]
    fn verifier_accepts_exactly_the_content(
        alg in algorithm(),
        data in proptest::collection::vec(any::<u8>(), 0..512),
        other in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let d = Digest::from_bytes(alg, &data);
        let mut v = d.verifier();
        v.write_all(&other).unwrap();
        prop_assert_eq!(v.verified(), other == data);
        let mut v = d.verifier();
        v.write_all(&data).unwrap();
        prop_assert!(v.verified());
    }

    #[test]
    fn grammar_valid_strings_parse(
        comps in proptest::collection::vec("[a-z0-9]{1,6}", 1..4),
        seps in proptest::collection::vec("[+._-]", 3),
        enc in "[a-zA-Z0-9=_-]{1,40}",
    ) {
        let mut alg = comps[0].clone();
        for (i, c) in comps.iter().enumerate().skip(1) {
            alg.push_str(&seps[i - 1]);
            alg.push_str(c);
        }
        let s = format!("{alg}:{enc}");
        match Algorithm::from_name(&alg) {
            // Known algorithms keep their stricter encoding.
            Some(_) => prop_assert!(Digest::parse(&s).is_ok() == GenericDigest::parse(&s).is_ok()),
            None => {
                let g = GenericDigest::parse(&s).unwrap();
                prop_assert_eq!(g.algorithm_name(), alg.as_str());
                prop_assert_eq!(g.encoded(), enc.as_str());
                let is_unsupported = matches!(Digest::parse(&s), Err(hezi_digest::DigestError::Unsupported { .. }));
                prop_assert!(is_unsupported);
            }
        }
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,80}") {
        let _ = Digest::parse(&s);
        let _ = GenericDigest::parse(&s);
    }
}
