//go:build race

package main

// raceBuild: the race detector slows every process the tests start (the
// daemon and its hooks are this binary), so long random runs are cut.
const raceBuild = true
