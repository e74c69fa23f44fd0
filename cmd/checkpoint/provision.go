package main

// cmdProvision is built in its own issue.
var cmdProvision = notYet("provision")
