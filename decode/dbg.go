package decode

// Debugging hooks, set only by tests.
var (
	dbg  bool
	dbgf = func(string, ...any) {}
)

var noPlain, noUp bool

// SetDebug is a temporary switch for experiments.
func SetDebug(plain, up bool) { noPlain, noUp = plain, up }
