package coresdk

// Code is a stable error code, the same string the Node package, the Python
// SDK and the Rust engine use. Branch on it, never on an error's message.
type Code string

// The codes themselves and ErrorCodes, their list, are generated from the
// contract (proto/contract/errors.json) into contract_gen.go.
