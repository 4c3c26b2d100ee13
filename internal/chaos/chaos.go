// Package chaos holds firewatch's end-to-end crash tests: the real
// binary's collector, uploader and agent are killed with SIGKILL at random
// moments while they work, and the tests check that nothing was lost and
// nothing was stored twice. They run only with FIREWATCH_CHAOS_TESTS=1
// (.ci/run sets it); every server they talk to is on loopback.
package chaos
