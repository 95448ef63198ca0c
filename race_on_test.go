//go:build race

package chatring_test

// raceEnabled reports whether the tests run under the race detector, whose
// instrumentation changes allocation counts.
const raceEnabled = true
