package main

// cmdRun is built in its own issue.
var cmdRun = notYet("run")
