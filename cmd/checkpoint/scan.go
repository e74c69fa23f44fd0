package main

// cmdScan is built in its own issue.
var cmdScan = notYet("scan")
