package coresdk_test

// The value corpus (clients/conformance/values.json) through the real
// sidecar: EvaluatePolicy, EvaluatePolicies and Authorize must each give
// exactly the corpus's JSON with every digit kept (int64, *big.Int beyond
// 64 bits, float64 otherwise, -0 kept). The Node, Python and Java suites
// run the same corpus.

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

type valueCase struct {
	Query     string `json:"query"`
	JSON      string `json:"json"`
	Undefined bool   `json:"undefined"`
}

func valueCorpus(t *testing.T) []valueCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "clients", "conformance", "values.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []valueCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Cases
}

// want decodes a corpus value by the documented rule, independently of the
// client's decoder.
func want(t *testing.T, text string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	var conv func(any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if !strings.ContainsAny(string(x), ".eE") {
				b, _ := new(big.Int).SetString(string(x), 10)
				if b.IsInt64() {
					return b.Int64()
				}
				return b
			}
			f, _ := x.Float64()
			return f
		case []any:
			for i := range x {
				x[i] = conv(x[i])
			}
		case map[string]any:
			for k, e := range x {
				x[k] = conv(e)
			}
		}
		return v
	}
	return conv(v)
}

// same is equality that tells int64 from float64, -0 from 0, and compares
// *big.Int by value.
func same(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && x == y && math.Signbit(x) == math.Signbit(y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !same(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestValuesAreExactOnEveryCall(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed)
	cases := valueCorpus(t)
	items := make([]coresdk.PolicyQuery, len(cases))
	for i, vc := range cases {
		items[i] = coresdk.PolicyQuery{Query: vc.Query, Input: map[string]any{}}
	}
	batch, err := c.EvaluatePolicies(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, vc := range cases {
		var expected any
		if !vc.Undefined {
			expected = want(t, vc.JSON)
		}
		d, err := c.EvaluatePolicy(ctx, vc.Query, map[string]any{})
		if err != nil {
			t.Fatalf("%s: %v", vc.Query, err)
		}
		a := c.Authorize(ctx, w.tokens["valid"], vc.Query, map[string]any{})
		if batch[i].Err != nil {
			t.Fatalf("%s: %v", vc.Query, batch[i].Err)
		}
		for how, got := range map[string]struct {
			defined bool
			value   any
		}{
			"EvaluatePolicy":   {d.Defined, d.Value},
			"EvaluatePolicies": {batch[i].Decision.Defined, batch[i].Decision.Value},
			"Authorize":        {a.Defined, a.Value},
		} {
			if got.defined == vc.Undefined {
				t.Errorf("%s via %s: defined %v", vc.Query, how, got.defined)
			}
			if !same(got.value, expected) {
				t.Errorf("%s via %s: %#v, want %s", vc.Query, how, got.value, vc.JSON)
			}
		}
	}
}

func TestBigIntegersKeepEveryDigit(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed)
	d, err := c.EvaluatePolicy(ctx, "data.values.mixed", nil)
	if err != nil {
		t.Fatal(err)
	}
	items, _ := d.Value.([]any)
	if len(items) != 3 || items[0] != int64(9007199254740993) || items[1] != int64(1) {
		t.Fatalf("%#v", d.Value)
	}
	k, _ := items[2].(map[string]any)["k"].(*big.Int)
	if k == nil || k.String() != "12345678901234567890" {
		t.Fatalf("%#v", items[2])
	}
}
