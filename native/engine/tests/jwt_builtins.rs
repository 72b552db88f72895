//! `io.jwt.*` through the `Engine` (issue 28): the builtins answer in a
//! policy, in both call forms (`x := f(a)` and OPA's output argument
//! `f(a, x)`), a bundle verifies a token against a JWKS in its data, and
//! an error inside one in a deny rule denies (deny-on-error), on the fast
//! path's routes and the interpreter's.

use coresdk_engine::{Engine, EngineConfig};
use serde_json::{json, Value};

fn engine(src: &str, data: Value, fast: bool) -> Engine {
    let mut cfg = EngineConfig::inline(vec![("t.rego".into(), src.into())], data);
    cfg.fast_path = fast;
    cfg.decision_cache_entries = 0;
    Engine::new(cfg).unwrap()
}

/// The outcome on both evaluators (which must agree): a value, or the
/// error's code.
fn both(src: &str, data: &Value, query: &str, input: &Value) -> Result<Option<Value>, String> {
    let outcome = |fast: bool| {
        engine(src, data.clone(), fast)
            .evaluate_policy(query, input)
            .map(|d| d.value)
            .map_err(|e| e.code().to_string())
    };
    let (a, b) = (outcome(true), outcome(false));
    assert_eq!(
        a, b,
        "fast path and interpreter differ on {query} for {input}"
    );
    a
}

/// OPA's conformance token for `io.jwt.decode` (HS256, secret unknown).
const OPA_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwIiwiaXNzIjoib3BhIn0.XmVoLoHI3pxMtMO_WRONMSJzGUDP9pDjy8Jp0_tdRXY";

/// HS256 with the secret `secret` (OPA's conformance `verify_hs256` case).
const HS_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiYWxpY2UiLCJhenAiOiJhbGljZSIsInN1Ym9yZGluYXRlcyI6W10sImhyIjpmYWxzZX0.rz3jTY033z-NrKfwrK89_dcLF7TN4gwCMj-fVBDyLoM";

#[test]
fn both_call_forms_answer() {
    let src = r#"package t
a := x if { io.jwt.decode(input.token, x) }
b := io.jwt.decode(input.token)
c if { io.jwt.decode(input.token, [_, {"iss": iss}, _]); iss == "opa" }
d if io.jwt.verify_hs256(input.hs, "secret", true)
e if {
	io.jwt.decode_verify(
		input.hs,
		{"secret": "secret"},
		[valid, _, payload],
	)
	valid
	payload.user == "alice"
}
"#;
    let input = json!({"token": OPA_TOKEN, "hs": HS_TOKEN});
    let decoded = json!([{"alg": "HS256", "typ": "JWT"}, {"iss": "opa", "sub": "0"},
        "5e65682e81c8de9c4cb4c3bf59138d3122731940cff690e3cbc269d3fb5d4576"]);
    let data = json!({});
    assert_eq!(
        both(src, &data, "data.t.a", &input),
        Ok(Some(decoded.clone()))
    );
    assert_eq!(both(src, &data, "data.t.b", &input), Ok(Some(decoded)));
    for q in ["data.t.c", "data.t.d", "data.t.e"] {
        assert_eq!(both(src, &data, q, &input), Ok(Some(json!(true))), "{q}");
    }
}

#[test]
fn a_bundle_verifies_against_a_jwks_in_data() {
    // RFC 7515 appendix A.2's RSA key and token (RS256).
    let n = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    let data = json!({"jwks": json!({"keys": [{"kty": "RSA", "kid": "k", "n": n, "e": "AQAB"}]}).to_string()});
    let src = r#"package t
default allow := false
allow if {
	[valid, _, claims] := io.jwt.decode_verify(input.token, {"cert": data.jwks, "time": 1300819379000000000, "iss": "joe"})
	valid
	claims["http://example.com/is_root"]
}
"#;
    assert_eq!(
        both(src, &data, "data.t.allow", &json!({"token": token})),
        Ok(Some(json!(true)))
    );
    // Expired at the current time, and a tampered token.
    let expired = src.replace(", \"time\": 1300819379000000000", "");
    assert_eq!(
        both(&expired, &data, "data.t.allow", &json!({"token": token})),
        Ok(Some(json!(false)))
    );
    let tampered = token.replace("eyJpc3MiOiJqb2Ui", "eyJpc3MiOiJqb2Ki");
    assert_eq!(
        both(src, &data, "data.t.allow", &json!({"token": tampered})),
        Ok(Some(json!(false)))
    );
}

#[test]
fn an_error_inside_a_jwt_builtin_in_a_deny_rule_denies() {
    let src = r#"package t
default allow := false
allow if count(deny) == 0
deny contains "unverified" if {
	[valid, _, _] := io.jwt.decode_verify(input.token, {"secret": "secret"})
	not valid
}
deny contains "unsigned" if not io.jwt.verify_hs256(input.token, "secret")
"#;
    let data = json!({});
    assert_eq!(
        both(src, &data, "data.t.allow", &json!({"token": HS_TOKEN})),
        Ok(Some(json!(true)))
    );
    for bad in [
        json!("not.a-token"),
        json!("abc"),
        json!(5),
        json!("e30.e30.a(b"),
    ] {
        let input = json!({ "token": bad });
        assert_eq!(
            both(src, &data, "data.t.allow", &input),
            Err("ERR_EVAL".into()),
            "{input}"
        );
        for fast in [true, false] {
            assert!(
                !engine(src, data.clone(), fast)
                    .decide("data.t.allow", &input)
                    .allowed
            );
        }
    }
    // A constraint error (no key) is an error too.
    let nokey = src.replace("{\"secret\": \"secret\"}", "{}");
    assert_eq!(
        both(&nokey, &data, "data.t.allow", &json!({"token": HS_TOKEN})),
        Err("ERR_EVAL".into())
    );
}
