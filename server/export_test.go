package server

// SafeNext exposes safeNext to the tests of the sign-in redirect.
var SafeNext = safeNext
