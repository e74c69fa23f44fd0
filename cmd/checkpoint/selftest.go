package main

// cmdSelftest is built in its own issue.
var cmdSelftest = notYet("selftest")
