// Package keyframe limits how often an SFU asks a publisher for a keyframe.
//
// Every subscriber that joins or loses its picture wants a keyframe, and each
// one is expensive for the publisher: a video keyframe is many times the size
// of a delta frame. Limiter lets one request through per interval and folds
// the requests that arrive in between into a single trailing request, so a late
// subscriber is never left waiting for more than one interval.
//
// The package is pure logic: the caller passes the current time and arms its
// own timer, which keeps the rules testable without sleeping.
package keyframe
