package main

// cmdDemo is built in its own issue.
var cmdDemo = notYet("demo")
