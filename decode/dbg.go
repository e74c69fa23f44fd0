package decode

// Debugging hooks, set only by tests.
var (
	dbg  bool
	dbgf = func(string, ...any) {}
)
