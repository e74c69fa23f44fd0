package main

// cmdEvents is built in its own issue.
var cmdEvents = notYet("events")
