package policy_test

import (
	"fmt"

	"checkpoint"
	"checkpoint/policy"
)

// A 1405 code shows the last six digits of its holder's ID number; the
// CCCD card shows all twelve. Masked characters are skipped.
func ExampleCompare() {
	card := checkpoint.Document{Number: "001090012345", Year: 1990, Month: 5, Day: 17}
	own := checkpoint.Document{Number: "******012345", Year: 1990, Month: 5, Day: 17}
	other := checkpoint.Document{Number: "******054321", Year: 1978, Month: 11}
	fmt.Println(policy.Compare(card, own))
	fmt.Println(policy.Compare(card, other))
	// Output:
	// same person
	// different person
}
