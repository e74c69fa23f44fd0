package main

// cmdSync is built in its own issue.
var cmdSync = notYet("sync")
