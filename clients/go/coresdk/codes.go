package coresdk

// Code is a stable error code, the same string the Node package, the Python
// SDK and the Rust engine use. Branch on it, never on an error's message.
type Code string

// The error codes CoreSDK reports (the Node package's ERROR_CODES).
const (
	// CodeConfig means the configuration is invalid (the message names the key).
	CodeConfig Code = "ERR_CONFIG"
	// CodePolicyLoad means the policy bundle could not be loaded.
	CodePolicyLoad Code = "ERR_POLICY_LOAD"
	// CodePolicyCompile means the policy bundle does not compile.
	CodePolicyCompile Code = "ERR_POLICY_COMPILE"
	// CodeQueryInvalid means the query is not a valid Rego reference.
	CodeQueryInvalid Code = "ERR_QUERY_INVALID"
	// CodeUnknownRule means the query names a rule the bundle does not have.
	CodeUnknownRule Code = "ERR_UNKNOWN_RULE"
	// CodeInputInvalid means the policy input is not valid (JSON cannot carry it, or it is not an object where one is needed).
	CodeInputInvalid Code = "ERR_INPUT_INVALID"
	// CodeInputTooLarge means the policy input is over the sidecar's size limit.
	CodeInputTooLarge Code = "ERR_INPUT_TOO_LARGE"
	// CodeInputTooDeep means the policy input is nested over the depth limit.
	CodeInputTooDeep Code = "ERR_INPUT_TOO_DEEP"
	// CodeEvalTimeout means the evaluation ran over its time limit.
	CodeEvalTimeout Code = "ERR_EVAL_TIMEOUT"
	// CodeEval means the evaluation failed.
	CodeEval Code = "ERR_EVAL"
	// CodeEngineClosed means the client (or the engine behind it) is closed.
	CodeEngineClosed Code = "ERR_ENGINE_CLOSED"
	// CodeBundleNotActive means the sidecar has no policy bundle active yet (a remote bundle not fetched).
	CodeBundleNotActive Code = "ERR_BUNDLE_NOT_ACTIVE"
	// CodeBundleRefused means a remote policy bundle was refused (archive, signature or manifest).
	CodeBundleRefused Code = "ERR_BUNDLE_REFUSED"
	// CodeBundleFetch means a remote policy bundle could not be fetched.
	CodeBundleFetch Code = "ERR_BUNDLE_FETCH"
	// CodeTokenMissing means no bearer token was presented.
	CodeTokenMissing Code = "ERR_TOKEN_MISSING"
	// CodeTokenMalformed means the token is not a well-formed JWT.
	CodeTokenMalformed Code = "ERR_TOKEN_MALFORMED"
	// CodeTokenAlgorithm means the token's algorithm is not accepted.
	CodeTokenAlgorithm Code = "ERR_TOKEN_ALGORITHM"
	// CodeTokenUnknownKey means the token is signed by a key the key set does not have.
	CodeTokenUnknownKey Code = "ERR_TOKEN_UNKNOWN_KEY"
	// CodeTokenSignature means the token's signature is invalid.
	CodeTokenSignature Code = "ERR_TOKEN_SIGNATURE"
	// CodeTokenExpired means the token has expired.
	CodeTokenExpired Code = "ERR_TOKEN_EXPIRED"
	// CodeTokenNotYetValid means the token is not valid yet.
	CodeTokenNotYetValid Code = "ERR_TOKEN_NOT_YET_VALID"
	// CodeTokenClaim means the token was not issued for this service (issuer, audience or a required claim).
	CodeTokenClaim Code = "ERR_TOKEN_CLAIM"
	// CodeJWKSUnavailable means the sidecar has no signing keys (the key set could not be fetched).
	CodeJWKSUnavailable Code = "ERR_JWKS_UNAVAILABLE"
	// CodeJWKSInvalid means the key set is invalid.
	CodeJWKSInvalid Code = "ERR_JWKS_INVALID"
	// CodeInternal means an unexpected failure.
	CodeInternal Code = "ERR_INTERNAL"
	// CodeTLS means a TLS setup problem in the sidecar.
	CodeTLS Code = "ERR_TLS"
	// CodeBind means the sidecar could not bind its address.
	CodeBind Code = "ERR_BIND"
	// CodeRuntime means the sidecar's runtime failed.
	CodeRuntime Code = "ERR_RUNTIME"
	// CodeUnknownTenant means the sidecar does not know the tenant.
	CodeUnknownTenant Code = "ERR_UNKNOWN_TENANT"
	// CodeTenantInvalid means the tenant id is not valid.
	CodeTenantInvalid Code = "ERR_TENANT_INVALID"
	// CodeOverloaded means the sidecar is overloaded.
	CodeOverloaded Code = "ERR_OVERLOADED"
	// CodeMessageTooLarge means a message is over a gRPC size limit.
	CodeMessageTooLarge Code = "ERR_MESSAGE_TOO_LARGE"
	// CodeBatchTooLarge means a batch has more items than the sidecar's max_batch.
	CodeBatchTooLarge Code = "ERR_BATCH_TOO_LARGE"
	// CodeQueryNotAllowed means the sidecar does not serve this query to its clients
	// (outside --dev only the bundle's rules; allowed_queries widens it).
	CodeQueryNotAllowed Code = "ERR_QUERY_NOT_ALLOWED"
	// CodeTokensNotConfigured means the sidecar has no token verification configured.
	CodeTokensNotConfigured Code = "ERR_TOKENS_NOT_CONFIGURED"
	// CodePIIUnavailable means PII masking is not available.
	CodePIIUnavailable Code = "ERR_PII_UNAVAILABLE"
	// CodeSidecarUnavailable means the sidecar could not be reached (a transport failure: the fail mode applies).
	CodeSidecarUnavailable Code = "ERR_SIDECAR_UNAVAILABLE"
	// CodeSidecarTimeout means the sidecar did not answer within the deadline (a transport failure: the fail mode applies).
	CodeSidecarTimeout Code = "ERR_SIDECAR_TIMEOUT"
	// CodeAborted means the call was cancelled by its context.
	CodeAborted Code = "ERR_ABORTED"
)

// ErrorCodes lists every Code, in the Node package's order.
var ErrorCodes = []Code{
	CodeConfig,
	CodePolicyLoad,
	CodePolicyCompile,
	CodeQueryInvalid,
	CodeUnknownRule,
	CodeInputInvalid,
	CodeInputTooLarge,
	CodeInputTooDeep,
	CodeEvalTimeout,
	CodeEval,
	CodeEngineClosed,
	CodeBundleNotActive,
	CodeBundleRefused,
	CodeBundleFetch,
	CodeTokenMissing,
	CodeTokenMalformed,
	CodeTokenAlgorithm,
	CodeTokenUnknownKey,
	CodeTokenSignature,
	CodeTokenExpired,
	CodeTokenNotYetValid,
	CodeTokenClaim,
	CodeJWKSUnavailable,
	CodeJWKSInvalid,
	CodeInternal,
	CodeTLS,
	CodeBind,
	CodeRuntime,
	CodeUnknownTenant,
	CodeTenantInvalid,
	CodeOverloaded,
	CodeMessageTooLarge,
	CodeBatchTooLarge,
	CodeQueryNotAllowed,
	CodeTokensNotConfigured,
	CodePIIUnavailable,
	CodeSidecarUnavailable,
	CodeSidecarTimeout,
	CodeAborted,
}
