package cache

import (
	"checkpoint/credential"
	"checkpoint/policy"
)

// The cache is the policy's store and the HC1 parser's trust list; the
// checks live here so that the cache does not import its consumers.
var (
	_ policy.Store          = (*DB)(nil)
	_ credential.TrustStore = (*DB)(nil)
)
