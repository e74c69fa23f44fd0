package web

import (
	"checkpoint/cache"
)

// The daemon hands the status cache to the server as it is.
var (
	_ Cache     = (*cache.DB)(nil)
	_ Versioner = (*cache.DB)(nil)
)
