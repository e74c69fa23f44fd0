package main

// cmdCache is built in its own issue.
var cmdCache = notYet("cache")
