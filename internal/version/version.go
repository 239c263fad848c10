// Package version holds goha's release version, set at link time with
// -ldflags "-X github.com/goha-ha/goha/internal/version.Version=...".
package version

// Version is the release of this build.
var Version = "0.1.0"
