# The value corpus (clients/conformance/values.json): every kind of value a
# decision can hold, evaluated on every path and in every client.
package values

safe_max := 9007199254740991

neg_safe := -9007199254740991

big := 9007199254740993

neg_big := -9007199254740993

u64_max := 18446744073709551615

beyond_u64 := 1e30

ns := time.parse_rfc3339_ns("2026-12-02T00:00:00Z")

ns_plus_one := ns + 1

sixteen_digits := 3000000000000000 * 3

float := 0.1

float_sum := 0.5 + 0.25

sci := 1.5e300

tiny := 5e-324

neg_zero := -0.0

whole_float := 3.0

half := 7 / 2

deep := {"a": [{"b": {"c": [1, 2.5, "x", null, true, false]}}]}

set_value := {3, 1, 2}

set_of_objects := {{"b": 1}, {"a": 2}}

unicode := "héllo ✓ 😀 \u0000 \"q\" \\ / \t"

empty_obj := {}

empty_arr := []

empty_set := set()

mixed := [9007199254740993, 1, {"k": 12345678901234567890, "n": -1}]

big_key := {"9007199254740993": 9007199254740993}

nested_arrays := [[[[[[[[[[[[[[["bottom"]]]]]]]]]]]]]]]

nested_objects := {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"ü ✓": [1.5, 9007199254740993]}}}}}}}}}}}}

nothing if input.never_set
